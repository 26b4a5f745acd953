"""Motion models for tracks, vectorised over N tracks: ballistic flight over the rotating Earth.

The state is ECEF ``[x, y, z, vx, vy, vz]`` [m, m/s]. The ballistic model has J2 gravity, the
Coriolis and centrifugal terms of the Earth-fixed frame and, where the track carries a ballistic
coefficient ``beta = m / (Cd A)`` [kg/m^2], drag from the US Standard Atmosphere 1976. It is the
same force model as the simulator's coast (``warnlink.physics.integrator``), written here over arrays
so that hundreds of tracks advance in one call.

Covariance propagation uses the state-transition matrix from the linearised dynamics
(point-mass gravity gradient, which is within 0.2% of the J2 gradient, plus the exact rotating-frame
terms), integrated alongside the state with the same fourth-order Runge-Kutta steps.

Process noise: continuous white acceleration of spectral density ``q`` [m^2/s^3] on each ECEF axis
(``white_acceleration_q``), the discrete form of Bar-Shalom, Li, Kirubarajan (2001), sec. 6.2.2.
"""

from __future__ import annotations

import numpy as np

from warnlink.geo import ecef2geodetic, gravity_ecef
from warnlink.geo.wgs84 import GM_M3_S2, OMEGA_RAD_S
from warnlink.physics.atmosphere import density_array

MAX_STEP_S = 5.0
"""Largest Runge-Kutta step [s]; one step's error stays below a millimetre in midcourse."""
_W = np.array([0.0, 0.0, OMEGA_RAD_S])
_CORIOLIS = -2.0 * np.array([[0.0, -OMEGA_RAD_S, 0.0], [OMEGA_RAD_S, 0.0, 0.0], [0.0, 0.0, 0.0]])
_CENTRIFUGAL = np.diag([OMEGA_RAD_S**2, OMEGA_RAD_S**2, 0.0])


def ballistic_acceleration(pos, vel, beta=None):
    """Acceleration [m/s^2] (N, 3) of unpowered objects at ECEF ``pos`` [m] with ECEF ``vel`` [m/s].

    ``beta`` (N,) ballistic coefficient [kg/m^2] enables drag; ``None`` or ``inf`` means no drag.
    """
    acc = gravity_ecef(pos)
    acc[:, 0] += 2.0 * OMEGA_RAD_S * vel[:, 1] + OMEGA_RAD_S**2 * pos[:, 0]
    acc[:, 1] += -2.0 * OMEGA_RAD_S * vel[:, 0] + OMEGA_RAD_S**2 * pos[:, 1]
    if beta is not None:
        finite = np.isfinite(beta)
        if finite.any():
            alt = ecef2geodetic(pos[finite, 0], pos[finite, 1], pos[finite, 2])[2]
            rho = density_array(alt)
            v = vel[finite]
            speed = np.linalg.norm(v, axis=1)
            acc[finite] -= (0.5 * rho * speed / beta[finite])[:, None] * v
    return acc


def dynamics_jacobian(pos):
    """Jacobian (N, 6, 6) of the ballistic state derivative with respect to the state (no drag)."""
    n = len(pos)
    r2 = np.einsum("ij,ij->i", pos, pos)
    r = np.sqrt(r2)
    # point-mass gravity gradient: GM (3 r r^T / r^5 - I / r^3)
    grad = GM_M3_S2 * (3.0 * pos[:, :, None] * pos[:, None, :] / (r2 * r2 * r)[:, None, None]
                       - np.eye(3)[None] / (r2 * r)[:, None, None])
    a = np.zeros((n, 6, 6))
    a[:, 0:3, 3:6] = np.eye(3)
    a[:, 3:6, 0:3] = grad + _CENTRIFUGAL
    a[:, 3:6, 3:6] = _CORIOLIS
    return a


def _deriv(x, phi, beta):
    dx = np.empty_like(x)
    dx[:, :3] = x[:, 3:6]
    dx[:, 3:6] = ballistic_acceleration(x[:, :3], x[:, 3:6], beta)
    dphi = None if phi is None else dynamics_jacobian(x[:, :3]) @ phi
    return dx, dphi


def propagate(x, dt, beta=None, with_stm: bool = True):
    """Advance N ballistic states ``x`` (N, 6) by ``dt`` (scalar or (N,)) [s], forward or backward.

    Returns the new states and, with ``with_stm``, the state-transition matrices (N, 6, 6).
    Every track takes the same number of Runge-Kutta steps (``ceil(max|dt| / MAX_STEP_S)``), each
    its own step length, so the whole batch advances in one vectorised loop.
    """
    x = np.array(x, dtype=float, copy=True)
    n = len(x)
    dt = np.broadcast_to(np.asarray(dt, float), (n,))
    steps = max(1, int(np.ceil(np.max(np.abs(dt), initial=0.0) / MAX_STEP_S)))
    h = (dt / steps)[:, None]
    phi = np.broadcast_to(np.eye(6), (n, 6, 6)).copy() if with_stm else None
    h3 = h[:, :, None]
    for _ in range(steps):
        k1, p1 = _deriv(x, phi, beta)
        k2, p2 = _deriv(x + 0.5 * h * k1, None if phi is None else phi + 0.5 * h3 * p1, beta)
        k3, p3 = _deriv(x + 0.5 * h * k2, None if phi is None else phi + 0.5 * h3 * p2, beta)
        k4, p4 = _deriv(x + h * k3, None if phi is None else phi + h3 * p3, beta)
        x = x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        if phi is not None:
            phi = phi + h3 / 6.0 * (p1 + 2 * p2 + 2 * p3 + p4)
    return x, phi


def white_acceleration_q(dt, q):
    """Discrete process noise (N, 6, 6) of continuous white acceleration with spectral density ``q``
    [m^2/s^3] (scalar or (N,)) on each axis over ``dt`` [s] (scalar or (N,))."""
    dt = np.atleast_1d(np.asarray(dt, float))
    q = np.broadcast_to(np.asarray(q, float), dt.shape)
    n = len(dt)
    a = np.abs(dt)
    out = np.zeros((n, 6, 6))
    eye = np.eye(3)
    out[:, :3, :3] = (q * a**3 / 3.0)[:, None, None] * eye
    out[:, :3, 3:] = (q * a**2 / 2.0)[:, None, None] * eye
    out[:, 3:, :3] = out[:, :3, 3:]
    out[:, 3:, 3:] = (q * a)[:, None, None] * eye
    return out
