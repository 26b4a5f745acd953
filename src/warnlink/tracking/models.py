"""The tracker's extended state and its two motion models (boost, coast), vectorised over N tracks.

State (8,): ECEF position [m], ECEF velocity [m/s], thrust acceleration ``a_T`` [m/s^2] along the
Earth-relative velocity, and ``kappa = Cd A / m`` [m^2/kg], the inverse ballistic coefficient::

    dr/dt = v
    dv/dt = g_J2(r) + rotating-frame terms + a_T v/|v| - 0.5 rho(h) kappa |v| v
    da_T/dt = 0, dkappa/dt = 0       (random walks)

``rho`` is the US Standard Atmosphere 1976 (``warnlink.physics.atmosphere``). Two models share this
state and are mixed by the tracker's interacting multiple model (IMM):

* **coast** (``MODEL_COAST``): ``a_T`` is held at zero (mixing sets it and its covariance to zero);
  white acceleration of density ``q_coast`` covers unmodelled forces (lift, J3+, wind-free
  atmosphere error); ``kappa`` follows a random walk of density ``q_kappa`` so that drag in the
  atmosphere is estimated;
* **boost** (``MODEL_BOOST``): ``a_T`` is estimated (random walk of density ``q_thrust``, which also
  covers its growth as propellant burns, a_T^2 / v_e ~ 0.2-1 m/s^3: a deterministic growth term was
  tried and dropped, since it diverges in finite time when a track coasts unobserved with a large
  ``a_T``), white acceleration ``q_boost`` covers steering.

The state-transition matrix comes from the analytic Jacobian (point-mass gravity gradient, exact
rotating-frame, thrust and drag terms; the density gradient by a 100 m difference), integrated with
the state by the same fourth-order Runge-Kutta steps as ``warnlink.tracking.motion``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from warnlink.geo import ecef2geodetic
from warnlink.geo.frames import ecef2geodetic_kernel
from warnlink.geo.gravity import gravity_kernel
from warnlink.geo.wgs84 import A_M, GM_M3_S2, OMEGA_RAD_S
from warnlink.physics.atmosphere import density_array, density_kernel
from warnlink.tracking.motion import ballistic_acceleration, dynamics_jacobian

N_STATE = 8
I_THRUST = 6
I_KAPPA = 7
MODEL_COAST, MODEL_BOOST = 0, 1
MAX_STEP_S = 5.0
"""Largest Runge-Kutta step [s] above the dense atmosphere (as in ``warnlink.tracking.motion``)."""
DENSE_STEP_S = 1.0
"""Largest step [s] for a track within ``DENSE_TOP_M`` of the surface, where drag changes fast
(5 s steps err by 1 m over 10 s of re-entry at 60 km, 1 s steps by 3 mm)."""
DENSE_TOP_M = 80_000.0
STIFF_LIMIT = 1.0
"""Largest ``|h| rho kappa |v|`` of a Runge-Kutta step in the dense atmosphere: the drag's velocity
Jacobian has eigenvalues down to ``-rho kappa |v|``, and RK4 diverges past 2.8 (a falling stage at
15 km and 1 km/s: ``rho kappa |v|`` ~ 0.3-4 /s, so 1 s steps blew its covariance up to 1e24 m over a
38 s coast); 1 keeps each step well inside the stability region. Steps are split only where needed."""
DRAG_TOP_M = 150_000.0
"""Above this height drag is left out of the model (density below 3e-9 kg/m^3)."""
MAX_STEPS = 100_000
"""Most Runge-Kutta steps of one propagation (2.3 days at ``MAX_STEP_S``): a time step no track can need, from
a corrupted time, is cut to this many steps instead of running for hours."""
MAX_SUBSTEPS = 10_000
"""Most stiffness sub-steps of one step. A real object needs at most a few hundred (``rho kappa |v|`` ~ 360 /s
for debris of 10 kg/m^2 at sea level at 3 km/s); a diverged estimate (a ballistic-coefficient state of 1e12,
or a speed of 1e9 m/s) asked for 1e15 and more, and the compiled predict never returned. Cut, the step is
unstable and the estimate comes back non-finite (left out of the scan by the tracker's finiteness guard) or far
off (gated out)."""


def _drag_terms(pos, vel, kappa):
    """Drag acceleration (N, 3) and its partial derivatives for states in the atmosphere.

    Returns ``acc``, ``d_acc/d_pos`` (N, 3, 3), ``d_acc/d_vel`` (N, 3, 3), ``d_acc/d_kappa`` (N, 3).
    """
    n = len(pos)
    acc = np.zeros((n, 3))
    dpos = np.zeros((n, 3, 3))
    dvel = np.zeros((n, 3, 3))
    dkap = np.zeros((n, 3))
    r = np.linalg.norm(pos, axis=1)
    # cheap pre-selection on geocentric radius (the ellipsoid is within 21.4 km of a 6357 km sphere)
    cand = r < 6_378_137.0 + DRAG_TOP_M
    if not cand.any():
        return acc, dpos, dvel, dkap
    idx = np.flatnonzero(cand)
    p, v, k = pos[idx], vel[idx], np.maximum(kappa[idx], 0.0)
    lat, lon, alt = ecef2geodetic(p[:, 0], p[:, 1], p[:, 2])
    inside = alt < DRAG_TOP_M
    if not inside.any():
        return acc, dpos, dvel, dkap
    idx, p, v, k, lat, lon, alt = idx[inside], p[inside], v[inside], k[inside], lat[inside], lon[inside], alt[inside]
    rho = density_array(np.maximum(alt, 0.0))
    drho = (density_array(np.maximum(alt, 0.0) + 100.0) - rho) / 100.0
    speed = np.linalg.norm(v, axis=1)
    up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
    a = -(0.5 * rho * k * speed)[:, None] * v
    acc[idx] = a
    dkap[idx] = -(0.5 * rho * speed)[:, None] * v
    dpos[idx] = -(0.5 * drho * k * speed)[:, None, None] * v[:, :, None] * up[:, None, :]
    safe = np.maximum(speed, 1e-9)
    dvel[idx] = -(0.5 * rho * k)[:, None, None] * (speed[:, None, None] * np.eye(3)[None]
                                                      + v[:, :, None] * v[:, None, :] / safe[:, None, None])
    return acc, dpos, dvel, dkap


def derivative(x, with_jacobian: bool = True):
    """State derivative (N, 8) and, with ``with_jacobian``, its Jacobian (N, 8, 8) of states ``x`` (N, 8).

    NumPy reference of the compiled kernel ``propagate`` uses (the tests check one against the other)."""
    pos, vel = x[:, 0:3], x[:, 3:6]
    a_t = x[:, I_THRUST]
    dx = np.zeros_like(x)
    dx[:, 0:3] = vel
    speed = np.linalg.norm(vel, axis=1)
    safe = np.maximum(speed, 1e-9)
    vhat = vel / safe[:, None]
    drag, d_pos, d_vel, d_kap = _drag_terms(pos, vel, x[:, I_KAPPA])
    dx[:, 3:6] = ballistic_acceleration(pos, vel) + a_t[:, None] * vhat + drag
    if not with_jacobian:
        return dx, None
    A = np.zeros((len(x), N_STATE, N_STATE))
    A[:, :6, :6] = dynamics_jacobian(pos)
    A[:, 3:6, 0:3] += d_pos
    thrust_dv = (a_t / safe)[:, None, None] * (np.eye(3)[None] - vhat[:, :, None] * vhat[:, None, :])
    A[:, 3:6, 3:6] += thrust_dv + d_vel
    A[:, 3:6, I_THRUST] = vhat
    A[:, 3:6, I_KAPPA] = d_kap
    return dx, A


def propagate(x, dt, with_stm: bool = True):
    """Advance N extended states ``x`` (N, 8) by ``dt`` (scalar or (N,)) [s], forward or backward.

    Returns the new states and, with ``with_stm``, the state-transition matrices (N, 8, 8) (else
    ``None``). Each track takes its own number of fourth-order Runge-Kutta steps, none longer than
    ``MAX_STEP_S`` (``DENSE_STEP_S`` for a track starting in the dense atmosphere). Compiled with Numba:
    a few microseconds per track and step (``derivative`` is the same model in NumPy, its reference).
    """
    x = np.ascontiguousarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != N_STATE:
        raise ValueError(f"states must be (N, {N_STATE}), got {x.shape}")
    dt = np.ascontiguousarray(np.broadcast_to(np.asarray(dt, float), (len(x),)))
    xn, phi = _propagate_kernel(x, dt, bool(with_stm), MAX_STEP_S, DENSE_STEP_S, A_M + DENSE_TOP_M)
    return xn, (phi if with_stm else None)


@njit(cache=True, nogil=True)
def _deriv_kernel(x, dx, A, want_jac):
    """State derivative of one extended state into ``dx`` (8,) and, if ``want_jac``, its Jacobian into ``A``."""
    px, py, pz, vx, vy, vz, a_t, kap = x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
    w = OMEGA_RAD_S
    gx, gy, gz = gravity_kernel(px, py, pz, 1.0)
    speed = np.sqrt(vx * vx + vy * vy + vz * vz)
    s = max(speed, 1e-9)
    ux, uy, uz = vx / s, vy / s, vz / s
    r2 = px * px + py * py + pz * pz
    r = np.sqrt(r2)
    rho = 0.0
    drho = 0.0
    upx = upy = upz = 0.0
    if r < A_M + DRAG_TOP_M:
        lat, lon, h = ecef2geodetic_kernel(px, py, pz)
        if h < DRAG_TOP_M:
            hh = max(h, 0.0)
            rho = density_kernel(hh)
            drho = (density_kernel(hh + 100.0) - rho) / 100.0
            upx, upy, upz = np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)
    k = max(kap, 0.0)
    f = 0.5 * rho * k * speed
    dx[0], dx[1], dx[2] = vx, vy, vz
    dx[3] = gx + 2.0 * w * vy + w * w * px + a_t * ux - f * vx
    dx[4] = gy - 2.0 * w * vx + w * w * py + a_t * uy - f * vy
    dx[5] = gz + a_t * uz - f * vz
    dx[6] = 0.0
    dx[7] = 0.0
    if not want_jac:
        return
    A[:, :] = 0.0
    A[0, 3] = A[1, 4] = A[2, 5] = 1.0
    p = (px, py, pz)
    v = (vx, vy, vz)
    u = (ux, uy, uz)
    up = (upx, upy, upz)
    r5 = r2 * r2 * r
    r3 = r2 * r
    for i in range(3):
        for j in range(3):
            dij = 1.0 if i == j else 0.0
            A[3 + i, j] = GM_M3_S2 * (3.0 * p[i] * p[j] / r5 - dij / r3) - 0.5 * drho * k * speed * v[i] * up[j]
            A[3 + i, 3 + j] = a_t / s * (dij - u[i] * u[j]) - 0.5 * rho * k * (speed * dij + v[i] * v[j] / s)
        A[3 + i, 6] = u[i]
        A[3 + i, 7] = -0.5 * rho * speed * v[i]
    A[3, 0] += w * w
    A[4, 1] += w * w
    A[3, 4] += 2.0 * w
    A[4, 3] -= 2.0 * w


@njit(cache=True, nogil=True)
def _a_times(A, M, out):
    """``out = A @ M`` for a dynamics Jacobian ``A`` (8, 8) of ``_deriv_kernel`` (rows 0-2 the identity
    block on the velocity, rows 3-5 full, rows 6-7 zero) and any (8, 8) ``M``: 192 products, not 512."""
    for i in range(3):
        for c in range(8):
            out[i, c] = M[3 + i, c]
    for i in range(3, 6):
        for c in range(8):
            acc = 0.0
            for q in range(8):
                acc += A[i, q] * M[q, c]
            out[i, c] = acc
    for c in range(8):
        out[6, c] = 0.0
        out[7, c] = 0.0


@njit(cache=True, nogil=True)
def _propagate_kernel(X, dt, with_stm, max_step, dense_step, dense_r):
    """Fourth-order Runge-Kutta steps of states ``X`` (n, 8) by ``dt`` (n,) and (``with_stm``) of their
    state-transition matrices; allocation-free inner loop (``propagate``)."""
    n = X.shape[0]
    out = np.empty_like(X)
    phis = np.zeros((n, 8, 8))
    k1, k2, k3, k4 = np.empty(8), np.empty(8), np.empty(8), np.empty(8)
    a1, a2, a3, a4 = np.empty((8, 8)), np.empty((8, 8)), np.empty((8, 8)), np.empty((8, 8))
    p1, p2, p3, p4 = np.empty((8, 8)), np.empty((8, 8)), np.empty((8, 8)), np.empty((8, 8))
    tmp = np.empty((8, 8))
    phi = np.empty((8, 8))
    xt = np.empty(8)
    x = np.empty(8)
    for i in range(n):
        x[:] = X[i]
        r = np.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])
        lim = dense_step if r < dense_r else max_step
        steps = max(1, int(np.ceil(min(abs(dt[i]) / lim, MAX_STEPS))))
        h = dt[i] / steps
        phi[:, :] = 0.0
        for d in range(8):
            phi[d, d] = 1.0
        for _ in range(steps):
            sub = 1
            if r < dense_r:  # drag stiffness: RK4 is unstable for |h| * rho kappa |v| > 2.8
                sub = max(1, int(np.ceil(min(abs(h) * _drag_rate(x) / STIFF_LIMIT, MAX_SUBSTEPS))))
            for _ in range(sub):
                _rk4_step(x, phi, h / sub, with_stm, k1, k2, k3, k4, a1, a2, a3, a4, p1, p2, p3, p4, tmp, xt)
            r = np.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])
        out[i] = x
        if with_stm:
            phis[i] = phi
        else:
            for d in range(8):
                phis[i, d, d] = 1.0
    return out, phis


@njit(cache=True, nogil=True)
def _drag_rate(x):
    """``rho(h) kappa |v|`` [1/s] of state ``x``: the largest eigenvalue of the drag's velocity Jacobian."""
    _, _, h = ecef2geodetic_kernel(x[0], x[1], x[2])
    if h >= DRAG_TOP_M:
        return 0.0
    return density_kernel(max(h, 0.0)) * max(x[7], 0.0) * np.sqrt(x[3] * x[3] + x[4] * x[4] + x[5] * x[5])


@njit(cache=True, nogil=True)
def _rk4_step(x, phi, h, with_stm, k1, k2, k3, k4, a1, a2, a3, a4, p1, p2, p3, p4, tmp, xt):
    """One fourth-order Runge-Kutta step of ``h`` [s] of state ``x`` (8,) and (``with_stm``) of its
    state-transition matrix ``phi`` (8, 8), in place (the other arguments are work buffers)."""
    _deriv_kernel(x, k1, a1, with_stm)
    for d in range(8):
        xt[d] = x[d] + 0.5 * h * k1[d]
    _deriv_kernel(xt, k2, a2, with_stm)
    for d in range(8):
        xt[d] = x[d] + 0.5 * h * k2[d]
    _deriv_kernel(xt, k3, a3, with_stm)
    for d in range(8):
        xt[d] = x[d] + h * k3[d]
    _deriv_kernel(xt, k4, a4, with_stm)
    if with_stm:
        _a_times(a1, phi, p1)
        for u in range(8):
            for v in range(8):
                tmp[u, v] = phi[u, v] + 0.5 * h * p1[u, v]
        _a_times(a2, tmp, p2)
        for u in range(8):
            for v in range(8):
                tmp[u, v] = phi[u, v] + 0.5 * h * p2[u, v]
        _a_times(a3, tmp, p3)
        for u in range(8):
            for v in range(8):
                tmp[u, v] = phi[u, v] + h * p3[u, v]
        _a_times(a4, tmp, p4)
        for u in range(8):
            for v in range(8):
                phi[u, v] += h / 6.0 * (p1[u, v] + 2.0 * p2[u, v] + 2.0 * p3[u, v] + p4[u, v])
    for d in range(8):
        x[d] += h / 6.0 * (k1[d] + 2.0 * k2[d] + 2.0 * k3[d] + k4[d])


def process_noise(dt, q_acc, q_thrust, q_kappa):
    """Discrete process noise (N, 8, 8) over ``dt`` [s] (N,): white acceleration of density ``q_acc``
    [m^2/s^3] on each ECEF axis, random walks of densities ``q_thrust`` [m^2/s^5] on ``a_T`` and
    ``q_kappa`` [m^4/kg^2/s] on ``kappa`` (each scalar or (N,))."""
    a = np.abs(np.atleast_1d(np.asarray(dt, float)))
    n = len(a)
    q_acc, q_thrust, q_kappa = (np.broadcast_to(np.asarray(v, float), (n,)) for v in (q_acc, q_thrust, q_kappa))
    out = np.zeros((n, N_STATE, N_STATE))
    eye = np.eye(3)
    out[:, :3, :3] = (q_acc * a**3 / 3.0)[:, None, None] * eye
    out[:, :3, 3:6] = (q_acc * a**2 / 2.0)[:, None, None] * eye
    out[:, 3:6, :3] = out[:, :3, 3:6]
    out[:, 3:6, 3:6] = (q_acc * a)[:, None, None] * eye
    out[:, I_THRUST, I_THRUST] = q_thrust * a
    out[:, I_KAPPA, I_KAPPA] = q_kappa * a
    return out


def predict(x, P, dt, q_acc, q_thrust, q_kappa):
    """EKF prediction of N extended states and covariances ``dt`` seconds ahead (backwards allowed):
    ``Phi P Phi^T + Q`` with ``Q = process_noise(dt, q_acc, q_thrust, q_kappa)``, symmetrised, in one
    compiled pass after ``propagate``."""
    xn, phi = propagate(x, dt)
    n = len(xn)
    dt, q_acc, q_thrust, q_kappa = (np.ascontiguousarray(np.broadcast_to(np.asarray(v, float), (n,)))
                                    for v in (dt, q_acc, q_thrust, q_kappa))
    return xn, _predict_cov_kernel(phi, np.ascontiguousarray(P, dtype=float), dt, q_acc, q_thrust, q_kappa)


@njit(cache=True, nogil=True)
def _predict_cov_kernel(phi, P, dt, q_acc, q_thr, q_kap):
    n = phi.shape[0]
    out = np.empty((n, N_STATE, N_STATE))
    for k in range(n):
        M = phi[k] @ P[k] @ phi[k].T
        a = abs(dt[k])
        for i in range(3):
            M[i, i] += q_acc[k] * a**3 / 3.0
            M[i, i + 3] += q_acc[k] * a**2 / 2.0
            M[i + 3, i] += q_acc[k] * a**2 / 2.0
            M[i + 3, i + 3] += q_acc[k] * a
        M[I_THRUST, I_THRUST] += q_thr[k] * a
        M[I_KAPPA, I_KAPPA] += q_kap[k] * a
        out[k] = 0.5 * (M + M.T)
    return out


__all__ = [
    "I_KAPPA",
    "I_THRUST",
    "MODEL_BOOST",
    "MODEL_COAST",
    "N_STATE",
    "derivative",
    "predict",
    "process_noise",
    "propagate",
]
