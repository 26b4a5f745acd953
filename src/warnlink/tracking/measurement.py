"""Measurement models of the tracker: radar (range, azimuth, elevation, range-rate) and space infrared
(two line-of-sight angles), with analytic Jacobians, vectorised over N (track, report) pairs.

Conventions (identical to the simulator, ``warnlink.sensors.radar`` and ``warnlink.sensors.infrared``):

* **State** ``x``: ECEF (WGS-84) position [m] and velocity [m/s], ``[x, y, z, vx, vy, vz]``; arrays
  (N, 6) or (N, >= 6) (only the first six columns are read; Jacobians are (.., 6)).
* **Radar** ``z`` = range [m], azimuth [rad, from north clockwise, in [0, 2pi)], elevation [rad,
  above the ellipsoid-normal horizontal at the site], range-rate [m/s, d(range)/dt with the site
  fixed in ECEF, positive receding] (NaN when not measured). The site's geodetic latitude and
  longitude, which orient the local east-north-up (ENU) frame, are recovered from its ECEF position.
* **Infrared** ``z`` = ``alpha, beta`` [rad], NaN, NaN: with ``u`` the line of sight from the
  geostationary satellite to the target and ``(x, y, z)`` the satellite's nadir frame
  (``warnlink.sensors.infrared.ir_frame``: z to the Earth's centre, x east, y = z cross x),
  ``alpha = atan2(u.x, u.z)`` and ``beta = atan2(u.y, u.z)``.
* Rows of ``z`` are numbered 0..3 in both kinds; ``measurement_dims`` says which are in use, so a
  filter can pick its active measurement dimensions (radar 3 or 4, infrared 2).

Singularities: azimuth and its Jacobian are undefined at the zenith (zero horizontal distance) and
every angle at zero range; the infrared angles are undefined for a satellite over a pole (never a
geostationary one). Callers keep such pairs out (a real target is never exactly at a radar's zenith).
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

from warnlink.geo import ecef2geodetic, enu_basis
from warnlink.sensors.infrared import ir_frame
from warnlink.sensors.reports import KIND_IR, KIND_RADAR

TWO_PI = 2.0 * np.pi
N_Z = 4
"""Columns of a report's measurement vector ``z`` (both kinds)."""
N_X = 6
"""States read from a track state (ECEF position and velocity)."""

__all__ = [
    "innovation",
    "ir_h",
    "ir_jacobian",
    "measurement_dims",
    "measurement_h",
    "measurement_jacobian",
    "radar_cov_to_ecef",
    "radar_h",
    "radar_h_and_jacobian",
    "radar_jacobian",
    "radar_to_ecef",
    "radar_to_ecef_jacobian",
    "sensor_h_and_jacobian",
    "site_enu_basis",
    "wrap_pi",
]


# ----------------------------------------------------------------------------------------- helpers


def _state(x) -> tuple[np.ndarray, np.ndarray]:
    """Position (N, 3) [m] and velocity (N, 3) [m/s] from states (N, >= 6) (or one state (>= 6,))."""
    x = np.atleast_2d(np.asarray(x, float))
    if x.shape[-1] < N_X:
        raise ValueError(f"track states need at least {N_X} columns (ECEF position, velocity), got {x.shape}")
    return x[:, 0:3], x[:, 3:6]


def _points(p, n: int, name: str) -> np.ndarray:
    """(n, 3) ECEF positions from (n, 3) or one (3,) position broadcast to n."""
    p = np.asarray(p, float)
    if p.shape[-1] != 3 or p.ndim > 2:
        raise ValueError(f"{name} must be (N, 3) or (3,) ECEF positions, got shape {p.shape}")
    return np.broadcast_to(p, (n, 3)) if p.ndim == 1 else p


def _dot(a, b):
    return np.einsum("ni,ni->n", a, b)


def wrap_pi(angle_rad):
    """Angle [rad] wrapped to (-pi, pi]."""
    a = np.asarray(angle_rad, float)
    w = np.pi - np.mod(np.pi - a, TWO_PI)
    return np.where(w <= -np.pi, w + TWO_PI, w)


def _wrap_2pi(angle_rad):
    # Same expression as warnlink.geo.enu2aer (second mod: -tiny -> 2pi -> 0).
    return np.mod(np.mod(angle_rad, TWO_PI), TWO_PI)


def site_enu_basis(site_ecef) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit east, north, up vectors (each (N, 3), in ECEF) at radar sites ``site_ecef`` (N, 3) [m]
    (geodetic latitude and longitude recovered with ``warnlink.geo.ecef2geodetic``); one site (3,)
    gives (1, 3) each, from a per-site cache."""
    s = np.asarray(site_ecef, float)
    if s.shape == (3,):
        b = _sensor_basis(KIND_RADAR, s.tobytes())
        return b[0:1], b[1:2], b[2:3]
    s = np.atleast_2d(s)
    lat, lon, _ = ecef2geodetic(s[:, 0], s[:, 1], s[:, 2])
    return enu_basis(lat, lon)


def _as_pair_bool(flag, n: int, name: str) -> np.ndarray:
    f = np.asarray(flag)
    if f.ndim > 1 or (f.ndim == 1 and len(f) != n):
        raise ValueError(f"{name} must be a bool or an (N,) array of bools with N={n}, got shape {f.shape}")
    return np.broadcast_to(f.astype(bool), (n,))


# ------------------------------------------------------------------------------------------- radar


def _radar_geometry(x, site_ecef):
    pos, vel = _state(x)
    n = len(pos)
    site = _points(site_ecef, n, "site_ecef")
    east, north, up = site_enu_basis(site)
    d = pos - site  # line of sight, ECEF [m]
    e, nn, u = _dot(d, east), _dot(d, north), _dot(d, up)
    return d, vel, east, north, up, e, nn, u


def _radar_values(d, vel, e, nn, u, with_range_rate):
    rho = np.hypot(e, nn)  # horizontal distance [m]
    rng = np.hypot(rho, u)
    az = _wrap_2pi(np.arctan2(e, nn))
    el = np.arctan2(u, rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        rr = np.where(rng > 0, _dot(d, vel) / rng, 0.0)
    rr = np.where(with_range_rate, rr, np.nan)
    return np.stack([rng, az, el, rr], axis=-1), rho, rng


def radar_h(x, site_ecef, with_range_rate=True) -> np.ndarray:
    """Predicted radar measurement of N track states from N radar sites.

    Args:
        x: ECEF states (N, >= 6) [m, m/s].
        site_ecef: ECEF radar sites (N, 3) or one site (3,) [m].
        with_range_rate: bool or (N,) bool; where False the range-rate column is NaN.

    Returns:
        (N, 4): range [m], azimuth [rad, from north clockwise, [0, 2pi)], elevation [rad, above the
        site's ellipsoid-normal horizontal], range-rate [m/s] (site fixed in ECEF, positive receding;
        0 at zero range, as the simulator). Equal to ``warnlink.sensors.radar.radar_measurement``.
    """
    d, vel, _, _, _, e, nn, u = _radar_geometry(x, site_ecef)
    wrr = _as_pair_bool(with_range_rate, len(d), "with_range_rate")
    return _radar_values(d, vel, e, nn, u, wrr)[0]


def _radar_jac(d, vel, east, north, up, e, nn, u, rho, rng, rr):
    n = len(d)
    H = np.zeros((n, N_Z, N_X))
    with np.errstate(invalid="ignore", divide="ignore"):
        los = d / rng[:, None]  # unit line of sight
        # range: d r / d p = los.
        H[:, 0, 0:3] = los
        # azimuth = atan2(e, n): d az / d p = (n * east - e * north) / rho^2.
        H[:, 1, 0:3] = (nn[:, None] * east - e[:, None] * north) / (rho * rho)[:, None]
        # elevation = atan2(u, rho): d el / d p = (rho * up - u * (e * east + n * north) / rho) / r^2.
        horiz = (e[:, None] * east + nn[:, None] * north) / rho[:, None]
        H[:, 2, 0:3] = (rho[:, None] * up - u[:, None] * horiz) / (rng * rng)[:, None]
        # range-rate = d.v / r: d / d p = (v - rr * los) / r, d / d v = los.
        H[:, 3, 0:3] = (vel - rr[:, None] * los) / rng[:, None]
        H[:, 3, 3:6] = los
    return H


def radar_jacobian(x, site_ecef) -> np.ndarray:
    """Analytic Jacobian (N, 4, 6) of ``radar_h`` with respect to the ECEF state ``[p, v]``.

    Rows: range [m], azimuth [rad], elevation [rad], range-rate [m/s]; columns: d/dx, d/dy, d/dz
    [per m], d/dvx, d/dvy, d/dvz [per m/s]. Range, azimuth and elevation do not depend on velocity.
    ``x`` (N, >= 6) ECEF [m, m/s], ``site_ecef`` (N, 3) or (3,) [m]. Not finite at the zenith
    (azimuth row) or at zero range.
    """
    return radar_h_and_jacobian(x, site_ecef, True)[1]


def radar_h_and_jacobian(x, site_ecef, with_range_rate=True) -> tuple[np.ndarray, np.ndarray]:
    """``(radar_h(x, site_ecef, with_range_rate), radar_jacobian(x, site_ecef))`` sharing the
    geometry (the Jacobian's range-rate row is always filled; drop it where not measured)."""
    d, vel, east, north, up, e, nn, u = _radar_geometry(x, site_ecef)
    wrr = _as_pair_bool(with_range_rate, len(d), "with_range_rate")
    zhat, rho, rng = _radar_values(d, vel, e, nn, u, True)
    H = _radar_jac(d, vel, east, north, up, e, nn, u, rho, rng, zhat[:, 3])
    zhat[:, 3] = np.where(wrr, zhat[:, 3], np.nan)
    return zhat, H


def radar_to_ecef(z, site_ecef) -> np.ndarray:
    """ECEF position (N, 3) [m] of radar measurements ``z`` (N, >= 3): range [m], azimuth [rad, from
    north clockwise], elevation [rad]; sites ``site_ecef`` (N, 3) or (3,) [m]. Inverse of ``radar_h``
    (for track initiation; range-rate, if present, is ignored)."""
    z = np.atleast_2d(np.asarray(z, float))
    site = _points(site_ecef, len(z), "site_ecef")
    east, north, up = site_enu_basis(site_ecef if np.shape(site_ecef) == (3,) else site)
    r, az, el = z[:, 0], z[:, 1], z[:, 2]
    ce = np.cos(el)
    los = (ce * np.sin(az))[:, None] * east + (ce * np.cos(az))[:, None] * north + np.sin(el)[:, None] * up
    return site + r[:, None] * los


def radar_to_ecef_jacobian(z, site_ecef) -> np.ndarray:
    """Jacobian (N, 3, 3) of ``radar_to_ecef`` with respect to (range [m], azimuth [rad], elevation
    [rad]); columns in that order, rows ECEF x, y, z [m per unit of the measurement]."""
    z = np.atleast_2d(np.asarray(z, float))
    _points(site_ecef, len(z), "site_ecef")
    east, north, up = site_enu_basis(site_ecef)
    r, az, el = z[:, 0], z[:, 1], z[:, 2]
    sa, ca, se, ce = np.sin(az), np.cos(az), np.sin(el), np.cos(el)
    J = np.empty((len(z), 3, 3))
    J[:, :, 0] = (ce * sa)[:, None] * east + (ce * ca)[:, None] * north + se[:, None] * up
    J[:, :, 1] = (r * ce)[:, None] * (ca[:, None] * east - sa[:, None] * north)
    J[:, :, 2] = r[:, None] * (-(se * sa)[:, None] * east - (se * ca)[:, None] * north + ce[:, None] * up)
    return J


def radar_cov_to_ecef(z, R, site_ecef) -> np.ndarray:
    """First-order ECEF position covariance (N, 3, 3) [m^2] of ``radar_to_ecef(z, site_ecef)``:
    ``J R J^T`` with ``J = radar_to_ecef_jacobian``.

    ``R``: covariance of (range [m], azimuth [rad], elevation [rad]), (N, 3, 3); a larger matrix such
    as a report's (N, 4, 4) ``cov`` is accepted and its leading 3 x 3 block used (NaN range-rate rows
    and columns are then ignored). Good while range * angle sigma is small against range.
    """
    R = np.asarray(R, float)
    if R.ndim == 2:
        R = R[None]
    R3 = R[:, :3, :3]
    J = radar_to_ecef_jacobian(z, site_ecef)
    C = J @ R3 @ np.swapaxes(J, -1, -2)
    return 0.5 * (C + np.swapaxes(C, -1, -2))


# ---------------------------------------------------------------------------------------- infrared


def _ir_geometry(x, sat_ecef):
    pos, _ = _state(x)
    sat = _points(sat_ecef, len(pos), "sat_ecef")
    fx, fy, fz = ir_frame(sat)
    d = pos - sat
    return fx, fy, fz, _dot(d, fx), _dot(d, fy), _dot(d, fz)


def ir_h(x, sat_ecef) -> np.ndarray:
    """Predicted infrared line-of-sight angles (N, 2) ``alpha, beta`` [rad] of N ECEF track states
    ``x`` (N, >= 6) [m, m/s] seen from satellites at ECEF ``sat_ecef`` (N, 3) or (3,) [m], in each
    satellite's nadir frame (module docstring). Equal to ``warnlink.sensors.infrared.ir_los_angles``."""
    _, _, _, lx, ly, lz = _ir_geometry(x, sat_ecef)
    return np.stack([np.arctan2(lx, lz), np.arctan2(ly, lz)], axis=-1)


def ir_jacobian(x, sat_ecef) -> np.ndarray:
    """Analytic Jacobian (N, 2, 6) of ``ir_h`` with respect to the ECEF state ``[p, v]``: rows alpha,
    beta [rad]; position columns [rad/m], velocity columns zero.

    ``alpha = atan2(l.x, l.z)`` gives ``d alpha / d p = (l.z * x - l.x * z) / (l.x^2 + l.z^2)``, and
    likewise for beta with the y axis.
    """
    fx, fy, fz, lx, ly, lz = _ir_geometry(x, sat_ecef)
    H = np.zeros((len(lx), 2, N_X))
    with np.errstate(invalid="ignore", divide="ignore"):
        H[:, 0, 0:3] = (lz[:, None] * fx - lx[:, None] * fz) / (lx * lx + lz * lz)[:, None]
        H[:, 1, 0:3] = (lz[:, None] * fy - ly[:, None] * fz) / (ly * ly + lz * lz)[:, None]
    return H


# ------------------------------------------------------------------------------------- both kinds


def measurement_dims(kind, z=None) -> np.ndarray:
    """Which of the 4 rows of ``z`` each report uses, (N, 4) bool.

    ``kind`` (N,) (``KIND_RADAR`` / ``KIND_IR``); ``z`` (N, 4) the reports' measurements. Radar: range,
    azimuth, elevation always, range-rate where ``z[:, 3]`` is finite (if ``z`` is None: never).
    Infrared: rows 0 and 1. Reports of any other kind use none. ``z[:, mask[i]]`` and
    ``cov[i][np.ix_(mask[i], mask[i])]`` are the active measurement and its noise.
    """
    kind = np.atleast_1d(np.asarray(kind))
    n = len(kind)
    radar = kind == KIND_RADAR
    ir = kind == KIND_IR
    has_rr = np.zeros(n, bool) if z is None else np.isfinite(np.atleast_2d(np.asarray(z, float))[:, 3])
    mask = np.zeros((n, N_Z), bool)
    mask[:, 0:3] = radar[:, None]
    mask[:, 3] = radar & has_rr
    mask[:, 0:2] |= ir[:, None]
    return mask


def measurement_h(x, sensor_ecef, kind, mask=None) -> np.ndarray:
    """Predicted measurement (N, 4) of a mixed batch of radar and infrared pairs, in the layout of a
    report's ``z``: radar rows by ``radar_h``, infrared rows 0-1 by ``ir_h``; unused rows NaN.

    ``x`` (N, >= 6) ECEF [m, m/s]; ``sensor_ecef`` (N, 3) [m] (radar site or satellite, as the reports'
    ``sensor_pos_ecef_m``); ``kind`` (N,); ``mask`` (N, 4) from ``measurement_dims`` (None: radar
    range-rate predicted for every radar pair).
    """
    pos, _ = _state(x)
    n = len(pos)
    kind = np.broadcast_to(np.asarray(kind), (n,))
    sensor = _points(sensor_ecef, n, "sensor_ecef")
    x = np.atleast_2d(np.asarray(x, float))
    out = np.full((n, N_Z), np.nan)
    r = kind == KIND_RADAR
    if r.any():
        out[r] = radar_h(x[r], sensor[r], True)
    i = kind == KIND_IR
    if i.any():
        out[i, 0:2] = ir_h(x[i], sensor[i])
    if mask is not None:
        out = np.where(mask, out, np.nan)
    return out


def measurement_jacobian(x, sensor_ecef, kind, mask=None) -> np.ndarray:
    """Jacobian (N, 4, 6) of ``measurement_h`` (rows in the layout of ``z``; unused rows zero).
    Arguments as ``measurement_h``."""
    pos, _ = _state(x)
    n = len(pos)
    kind = np.broadcast_to(np.asarray(kind), (n,))
    sensor = _points(sensor_ecef, n, "sensor_ecef")
    x = np.atleast_2d(np.asarray(x, float))
    H = np.zeros((n, N_Z, N_X))
    r = kind == KIND_RADAR
    if r.any():
        H[r] = radar_jacobian(x[r], sensor[r])
    i = kind == KIND_IR
    if i.any():
        H[i, 0:2] = ir_jacobian(x[i], sensor[i])
    if mask is not None:
        H = np.where(np.asarray(mask, bool)[:, :, None], H, 0.0)
    return H


def innovation(z, zhat, kind) -> np.ndarray:
    """Innovation ``z - zhat`` (N, m) (m >= 2; same layout as a report's ``z``, or its leading m rows)
    with the radar azimuth residual (row 1 where ``kind == KIND_RADAR``) wrapped to (-pi, pi] [rad].

    ``kind`` is (N,) or a scalar for the whole batch. NaN entries (unused rows) stay NaN. The
    infrared angles are not wrapped (they lie well inside (-pi/2, pi/2) for any visible target).
    """
    z = np.atleast_2d(np.asarray(z, float))
    zhat = np.atleast_2d(np.asarray(zhat, float))
    nu = z - zhat
    radar = np.broadcast_to(np.asarray(kind) == KIND_RADAR, (len(nu),))
    nu[:, 1] = np.where(radar, wrap_pi(nu[:, 1]), nu[:, 1])
    return nu


# ------------------------------------------------------------------------- one sensor, compiled


def sensor_h_and_jacobian(x, sensor_ecef, kind) -> tuple[np.ndarray, np.ndarray]:
    """Predicted measurement (N, 4) and Jacobian (N, 4, 6) of N states ``x`` (N, >= 6) [m, m/s] seen by
    one sensor at ECEF ``sensor_ecef`` (3,) [m] of kind ``kind`` (``KIND_RADAR`` or ``KIND_IR``).

    The same values as ``measurement_h`` (radar range-rate always predicted; infrared rows 2-3 NaN)
    and ``measurement_jacobian``, in one compiled pass with the sensor's frame computed once: the
    tracker's hot path (every scan is one sensor at one time)."""
    x = np.ascontiguousarray(np.atleast_2d(np.asarray(x, float)))
    if x.ndim != 2 or x.shape[1] < N_X:
        raise ValueError(f"track states need at least {N_X} columns (ECEF position, velocity), got {x.shape}")
    s = np.asarray(sensor_ecef, float)
    if s.shape != (3,):
        raise ValueError(f"sensor_ecef must be one ECEF position (3,) [m], got shape {s.shape}")
    if kind not in (KIND_RADAR, KIND_IR):
        raise ValueError(f"unknown report kind {kind!r} (radar {KIND_RADAR}, infrared {KIND_IR})")
    basis = _sensor_basis(int(kind), s.tobytes())
    return _sensor_hj_kernel(x, s, basis, kind == KIND_RADAR)


@functools.lru_cache(maxsize=256)
def _sensor_basis(kind: int, sensor_bytes: bytes) -> np.ndarray:
    """(3, 3) rows east, north, up of a radar site, or the x, y, z axes of a satellite's nadir frame
    (cached per sensor position: radar sites are fixed, a satellite repeats its few positions)."""
    s = np.frombuffer(sensor_bytes, float)
    if kind == KIND_RADAR:
        lat, lon, _ = ecef2geodetic(s[0:1], s[1:2], s[2:3])
        out = np.stack([b[0] for b in enu_basis(lat, lon)])
    else:
        out = np.stack(ir_frame(s))
    out.flags.writeable = False
    return out


@njit(cache=True, nogil=True)
def _sensor_hj_kernel(x, s, basis, radar):
    n = x.shape[0]
    z = np.full((n, N_Z), np.nan)
    H = np.zeros((n, N_Z, N_X))
    b0, b1, b2 = basis[0], basis[1], basis[2]
    for k in range(n):
        d0, d1, d2 = x[k, 0] - s[0], x[k, 1] - s[1], x[k, 2] - s[2]
        e = d0 * b0[0] + d1 * b0[1] + d2 * b0[2]
        nn = d0 * b1[0] + d1 * b1[1] + d2 * b1[2]
        u = d0 * b2[0] + d1 * b2[1] + d2 * b2[2]
        if radar:
            vx, vy, vz = x[k, 3], x[k, 4], x[k, 5]
            rho = np.hypot(e, nn)
            rng = np.hypot(rho, u)
            z[k, 0] = rng
            z[k, 1] = (np.arctan2(e, nn) % TWO_PI) % TWO_PI  # as _wrap_2pi
            z[k, 2] = np.arctan2(u, rho)
            rr = (d0 * vx + d1 * vy + d2 * vz) / rng if rng > 0 else 0.0
            z[k, 3] = rr
            lx, ly, lz = d0 / rng, d1 / rng, d2 / rng
            los = (lx, ly, lz)
            vel = (vx, vy, vz)
            for j in range(3):
                H[k, 0, j] = los[j]
                H[k, 1, j] = (nn * b0[j] - e * b1[j]) / (rho * rho)
                horiz = (e * b0[j] + nn * b1[j]) / rho
                H[k, 2, j] = (rho * b2[j] - u * horiz) / (rng * rng)
                H[k, 3, j] = (vel[j] - rr * los[j]) / rng
                H[k, 3, 3 + j] = los[j]
        else:
            z[k, 0] = np.arctan2(e, u)
            z[k, 1] = np.arctan2(nn, u)
            ax = e * e + u * u
            by = nn * nn + u * u
            for j in range(3):
                H[k, 0, j] = (u * b0[j] - e * b2[j]) / ax
                H[k, 1, j] = (u * b1[j] - nn * b2[j]) / by
    return z, H
