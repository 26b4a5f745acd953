"""US Standard Atmosphere 1976: air density [kg/m^3] and temperature [K] by geometric altitude.

Below 86 km: the seven USSA-1976 layers in geopotential altitude (NOAA-S/T 76-1562, table 4),
exact. From 86 km to 1000 km: the exponential fit to USSA-1976 tabulated in Vallado,
*Fundamentals of Astrodynamics and Applications*, table 8-4 (density only; drag there is
negligible for missiles), with the 86-90 km scale height set so density is continuous at 90 km.
Above 1000 km the density is taken as zero.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_R0_KM = 6356.766  # effective Earth radius for geopotential altitude
_R_AIR = 287.0531  # specific gas constant of air [J/(kg K)] (R* / M0 of USSA-1976)
_G0 = 9.80665
# base geopotential altitude [km], base temperature [K], lapse rate [K/km], base pressure [Pa]
_LAYERS = np.array(
    [
        [0.0, 288.15, -6.5, 101325.0],
        [11.0, 216.65, 0.0, 22632.06],
        [20.0, 216.65, 1.0, 5474.889],
        [32.0, 228.65, 2.8, 868.0187],
        [47.0, 270.65, 0.0, 110.9063],
        [51.0, 270.65, -2.8, 66.93887],
        [71.0, 214.65, -2.0, 3.956420],
    ]
)
# base geometric altitude [km], base density [kg/m^3], scale height [km]
_EXP = np.array(
    [
        [86.0, 6.958e-6, 5.5765],  # scale height joins the 90 km value (continuous density)
        [90.0, 3.396e-6, 5.382],
        [100.0, 5.297e-7, 5.877],
        [110.0, 9.661e-8, 7.263],
        [120.0, 2.438e-8, 9.473],
        [130.0, 8.484e-9, 12.636],
        [140.0, 3.845e-9, 16.149],
        [150.0, 2.070e-9, 22.523],
        [180.0, 5.464e-10, 29.740],
        [200.0, 2.789e-10, 37.105],
        [250.0, 7.248e-11, 45.546],
        [300.0, 2.418e-11, 53.628],
        [350.0, 9.518e-12, 53.298],
        [400.0, 3.725e-12, 58.515],
        [450.0, 1.585e-12, 60.828],
        [500.0, 6.967e-13, 63.822],
        [600.0, 1.454e-13, 71.835],
        [700.0, 3.614e-14, 88.667],
        [800.0, 1.170e-14, 124.64],
        [900.0, 5.245e-15, 181.05],
        [1000.0, 3.019e-15, 268.00],
    ]
)
_TOP_KM = 1000.0


@njit(cache=True, nogil=True)
def _temperature_pressure(alt_m):
    z_km = alt_m / 1000.0
    hgp = _R0_KM * z_km / (_R0_KM + z_km)
    i = 0
    for k in range(_LAYERS.shape[0]):
        if hgp >= _LAYERS[k, 0]:
            i = k
    hb, tb, lapse, pb = _LAYERS[i, 0], _LAYERS[i, 1], _LAYERS[i, 2], _LAYERS[i, 3]
    dh = hgp - hb
    t = tb + lapse * dh
    if lapse == 0.0:
        p = pb * np.exp(-_G0 * dh * 1000.0 / (_R_AIR * tb))
    else:
        p = pb * (tb / t) ** (_G0 * 1000.0 / (_R_AIR * lapse))
    return t, p


@njit(cache=True, nogil=True)
def density_kernel(alt_m):
    """Density [kg/m^3] at geometric altitude ``alt_m`` (scalar, Numba)."""
    if alt_m < 86000.0:
        t, p = _temperature_pressure(max(alt_m, -5000.0))
        return p / (_R_AIR * t)
    z_km = alt_m / 1000.0
    if z_km >= _TOP_KM:
        return 0.0
    i = 0
    for k in range(_EXP.shape[0]):
        if z_km >= _EXP[k, 0]:
            i = k
    return _EXP[i, 1] * np.exp(-(z_km - _EXP[i, 0]) / _EXP[i, 2])


def density(alt_m):
    """Air density [kg/m^3] at geometric altitude(s) ``alt_m`` [m] (USSA-1976; see module docstring)."""
    a = np.asarray(alt_m, float)
    out = np.array([density_kernel(v) for v in a.ravel()])
    return out.reshape(a.shape) if a.shape else float(out[0])


def temperature(alt_m):
    """Temperature [K] at geometric altitude(s) ``alt_m`` [m] below 86 km (USSA-1976; molecular-scale
    temperature, which equals the kinetic temperature below 80 km and is 0.04% above it at 86 km)."""
    a = np.asarray(alt_m, float)
    out = np.array([_temperature_pressure(v)[0] for v in a.ravel()])
    return out.reshape(a.shape) if a.shape else float(out[0])


@njit(cache=True, nogil=True)
def _density_array(alt_m):
    out = np.empty(alt_m.shape[0])
    for i in range(alt_m.shape[0]):
        out[i] = density_kernel(alt_m[i])
    return out


def density_array(alt_m: np.ndarray) -> np.ndarray:
    """Density [kg/m^3] for a 1-D array of geometric altitudes [m] (compiled loop; for hot paths)."""
    return _density_array(np.ascontiguousarray(alt_m, dtype=np.float64))
