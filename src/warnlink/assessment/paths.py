"""Predicted ground paths of ballistic states, vectorised over M states (for overflights).

``ground_paths`` flies each ECEF state (coast: J2, rotating Earth, drag for a given ballistic
coefficient; the simulator's own derivative, ``warnlink.physics.integrator.derivative``) with fixed
fourth-order Runge-Kutta steps of ``step_s`` and records the position at every step until the point
comes down on the ellipsoid or ``horizon_s`` has passed. Compiled with Numba, one call for all points.
A 5 s step errs by well under a kilometre over a 20-minute coast, far below the width of any land
territory that an overflight verdict turns on.

``overflown`` decides, per path, which nations' land it overflies. The definition (also that of
``warnlink.geo.regions.overflights(..., ends_at_impact=True)`` for the times): the object overflies a
nation when its geodetic sub-vehicle point (the foot of the normal to the WGS-84 ellipsoid; a
geocentric projection would move it by up to ~3 km at 1000 km height) lies over that nation's land
at any height and the object leaves it again before it comes down. No altitude floor or ceiling:
what the public is warned of is the vehicle, its stages or its debris falling on the land below,
the same at 50 or 1000 km, and Japan announces passes in space as overflights. The descent onto
the land itself (the last run of land points of a path that ends on land) is an *impact* there,
counted by the impact probability, not an overflight: a lofted shot whose uncertain impact reaches
the coast is no overflight.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from warnlink.assessment.launch import _rk4
from warnlink.geo import ecef2geodetic
from warnlink.geo.frames import ecef2geodetic_kernel
from warnlink.geo.regions import land_of
from warnlink.physics import integrator as ig

DEFAULT_STEP_S = 5.0
"""Runge-Kutta step [s] and spacing of the recorded path points."""


@njit(cache=True, nogil=True)
def _paths(y0, beta, step, n_max, out, n_out):
    p = np.zeros(ig.P_SIZE)
    p[ig.P_ROT] = 1.0
    p[ig.P_J2] = 1.0
    p[ig.P_DRAG] = 1.0
    p[ig.P_LIFT_T1] = np.inf
    p[ig.P_KICK_DT] = 1.0
    k1 = np.empty(6)
    k2 = np.empty(6)
    k3 = np.empty(6)
    k4 = np.empty(6)
    tmp = np.empty(6)
    y = np.empty(6)
    y_next = np.empty(6)
    for i in range(y0.shape[0]):
        if np.isfinite(beta[i]):
            p[ig.P_MASS0] = beta[i]
            p[ig.P_CDA] = 1.0
        else:
            p[ig.P_MASS0] = 1.0
            p[ig.P_CDA] = 0.0
        y[:] = y0[i]
        out[i, 0] = y[:3]
        n = 1
        h_prev = ecef2geodetic_kernel(y[0], y[1], y[2])[2]
        while n < n_max:
            _rk4((n - 1) * step, y, step, p, y_next, k1, k2, k3, k4, tmp)
            y[:] = y_next
            out[i, n] = y[:3]
            n += 1
            h = ecef2geodetic_kernel(y[0], y[1], y[2])[2]
            if h <= 0.0 or (h_prev <= 0.0 and n > 1):
                break
            h_prev = h
        n_out[i] = n


def ground_paths(x, beta=None, step_s: float = DEFAULT_STEP_S, horizon_s: float = 10_800.0):
    """Sub-vehicle points of the predicted coasts of M ECEF states ``x`` (M, 6) [m, m/s].

    ``beta`` (M,) ballistic coefficients [kg/m^2] (None or inf: no drag). Returns ``lat_deg``,
    ``lon_deg`` (M, K) geodetic sub-vehicle points, ``dt_s`` (K,) the time of each column after the
    states' time, and ``n`` (M,) the number of valid columns per path (the last one at or just below
    the ellipsoid); columns past ``n`` are NaN.
    """
    x = np.ascontiguousarray(np.asarray(x, float).reshape(-1, 6))
    if not np.all(np.isfinite(x)):
        raise ValueError("ground_paths: states must be finite")
    if not (step_s > 0 and horizon_s > step_s):
        raise ValueError(f"ground_paths: need step_s > 0 and horizon_s > step_s, got {step_s}, {horizon_s}")
    m = len(x)
    b = np.full(m, np.inf) if beta is None else np.ascontiguousarray(np.broadcast_to(np.asarray(beta, float), (m,)))
    n_max = int(np.ceil(horizon_s / step_s)) + 1
    pos = np.full((m, n_max, 3), np.nan)
    n = np.zeros(m, np.int64)
    _paths(x, b, float(step_s), n_max, pos, n)
    k = int(n.max()) if m else 1
    pos = pos[:, :k]
    lat, lon, _ = ecef2geodetic(pos[..., 0], pos[..., 1], pos[..., 2], deg=True)
    return {"lat_deg": lat, "lon_deg": lon, "dt_s": np.arange(k) * step_s, "n": n}


def overflown(lat_deg, lon_deg, nations) -> np.ndarray:
    """(M, len(nations)) True where path m (rows of ``lat_deg``, ``lon_deg`` (M, K) [deg] from
    ``ground_paths``, NaN past the end) overflies nation ``nations[j]``'s land (module docstring: any
    height, the final descent onto land excluded)."""
    lat = np.atleast_2d(np.asarray(lat_deg, float))
    lon = np.atleast_2d(np.asarray(lon_deg, float))
    if lat.shape != lon.shape:
        raise ValueError(f"overflown: lat and lon shapes differ: {lat.shape} vs {lon.shape}")
    valid = np.isfinite(lat) & np.isfinite(lon)
    land = np.full(lat.shape, "", dtype="<U3")
    if valid.any():
        land[valid] = land_of(lat[valid], lon[valid])
    n = valid.sum(axis=1)
    last = land[np.arange(len(lat)), np.maximum(n - 1, 0)]
    # the final run of the impact's land code: from after the last point of another code to the end
    col = np.arange(lat.shape[1])[None, :]
    other = valid & (land != last[:, None])
    start = np.where(other.any(axis=1), lat.shape[1] - 1 - np.argmax(other[:, ::-1], axis=1) + 1, 0)
    terminal = (last[:, None] != "") & (col >= start[:, None]) & valid
    over = valid & ~terminal
    return np.stack([np.any(over & (land == nat), axis=1) for nat in nations], axis=1)
