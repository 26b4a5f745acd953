"""Earth gravity with the J2 zonal harmonic, in ECEF [m/s^2], and its potential [m^2/s^2].

Acceleration from the potential U = -GM/r [1 - J2 (a/r)^2 (3 sin^2(phi) - 1)/2]
(Vallado, *Fundamentals of Astrodynamics*, eq. 8-31). ``j2=False`` gives the point mass.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from warnlink.geo.wgs84 import A_M, GM_M3_S2, J2


def _gravity(x, y, z, j2_scale):
    r2 = x * x + y * y + z * z
    r = np.sqrt(r2)
    k = -GM_M3_S2 / (r2 * r)
    c = 1.5 * J2 * j2_scale * (A_M * A_M / r2)
    zr2 = 5.0 * z * z / r2
    gx = k * x * (1.0 + c * (1.0 - zr2))
    gy = k * y * (1.0 + c * (1.0 - zr2))
    gz = k * z * (1.0 + c * (3.0 - zr2))
    return gx, gy, gz


def _potential(x, y, z, j2_scale):
    r2 = x * x + y * y + z * z
    r = np.sqrt(r2)
    return -GM_M3_S2 / r * (1.0 - 0.5 * J2 * j2_scale * (A_M * A_M / r2) * (3.0 * z * z / r2 - 1.0))


def gravity_ecef(pos_ecef_m, j2: bool = True):
    """Gravitational acceleration [m/s^2] at ECEF positions ``pos_ecef_m`` of shape (..., 3)."""
    p = np.asarray(pos_ecef_m, float)
    gx, gy, gz = _gravity(p[..., 0], p[..., 1], p[..., 2], 1.0 if j2 else 0.0)
    return np.stack([gx, gy, gz], axis=-1)


def gravity_potential(pos_ecef_m, j2: bool = True):
    """Gravitational potential energy per unit mass [m^2/s^2] (negative) at ``pos_ecef_m`` (..., 3)."""
    p = np.asarray(pos_ecef_m, float)
    return _potential(p[..., 0], p[..., 1], p[..., 2], 1.0 if j2 else 0.0)


gravity_kernel = njit(cache=True)(_gravity)
"""Scalar (x, y, z, j2_scale) -> (gx, gy, gz) kernel for Numba code."""
