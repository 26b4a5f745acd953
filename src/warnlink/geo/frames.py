"""WGS-84 frame conversions: geodetic, ECEF, ENU and AER, vectorised over NumPy arrays.

Every function accepts scalars or arrays that broadcast together and returns arrays of the
broadcast shape. Angles are radians unless ``deg=True``; distances are metres. Azimuth is
measured from north, clockwise; elevation is above the local (ellipsoid-normal) horizontal.
The scalar kernels at the bottom are compiled with Numba for the flight integrator.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from warnlink.geo.wgs84 import A_M, B_M, E2, EP2


def _geodetic2ecef(lat, lon, alt):
    sin_lat = np.sin(lat)
    n = A_M / np.sqrt(1.0 - E2 * sin_lat * sin_lat)
    x = (n + alt) * np.cos(lat) * np.cos(lon)
    y = (n + alt) * np.cos(lat) * np.sin(lon)
    z = (n * (1.0 - E2) + alt) * sin_lat
    return x, y, z


def _ecef2geodetic(x, y, z):
    # Heikkinen (1982) closed form, exact to well below a millimetre from the centre of the
    # Earth's shell out to geostationary altitude (tested against pymap3d).
    p = np.sqrt(x * x + y * y)
    zz = z * z
    f = 54.0 * B_M * B_M * zz
    g = p * p + (1.0 - E2) * zz - E2 * (A_M * A_M - B_M * B_M)
    c = E2 * E2 * f * p * p / (g * g * g)
    s = (1.0 + c + np.sqrt(c * c + 2.0 * c)) ** (1.0 / 3.0)
    k = s + 1.0 + 1.0 / s
    pp = f / (3.0 * k * k * g * g)
    q = np.sqrt(1.0 + 2.0 * E2 * E2 * pp)
    r0 = -(pp * E2 * p) / (1.0 + q) + np.sqrt(
        np.maximum(
            0.5 * A_M * A_M * (1.0 + 1.0 / q) - pp * (1.0 - E2) * zz / (q * (1.0 + q)) - 0.5 * pp * p * p,
            0.0,
        )
    )
    t = p - E2 * r0
    u = np.sqrt(t * t + zz)
    v = np.sqrt(t * t + (1.0 - E2) * zz)
    z0 = B_M * B_M * z / (A_M * v)
    alt = u * (1.0 - B_M * B_M / (A_M * v))
    lat = np.arctan2(z + EP2 * z0, p)
    lon = np.arctan2(y, x)
    return lat, lon, alt


def geodetic2ecef(lat, lon, alt, deg: bool = False):
    """Geodetic latitude, longitude and ellipsoidal height [m] to ECEF x, y, z [m]."""
    lat, lon, alt = np.asarray(lat, float), np.asarray(lon, float), np.asarray(alt, float)
    if deg:
        lat, lon = np.radians(lat), np.radians(lon)
    return _geodetic2ecef(lat, lon, alt)


def ecef2geodetic(x, y, z, deg: bool = False):
    """ECEF x, y, z [m] to geodetic latitude, longitude and ellipsoidal height [m]."""
    lat, lon, alt = _ecef2geodetic(np.asarray(x, float), np.asarray(y, float), np.asarray(z, float))
    if deg:
        return np.degrees(lat), np.degrees(lon), alt
    return lat, lon, alt


def enu_basis(lat, lon, deg: bool = False):
    """Unit east, north and up vectors in ECEF at geodetic ``lat``, ``lon``; each of shape (..., 3)."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    if deg:
        lat, lon = np.radians(lat), np.radians(lon)
    lat, lon = np.broadcast_arrays(lat, lon)  # a scalar lon with an array lat (or vice versa)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    east = np.stack([-so, co, np.zeros_like(so * cl)], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return east, north, up


def ecef2enu(x, y, z, lat0, lon0, alt0, deg: bool = False):
    """ECEF point(s) to east, north, up [m] relative to the geodetic origin (lat0, lon0, alt0)."""
    x0, y0, z0 = geodetic2ecef(lat0, lon0, alt0, deg=deg)
    return uvw2enu(np.asarray(x, float) - x0, np.asarray(y, float) - y0, np.asarray(z, float) - z0,
                   lat0, lon0, deg=deg)


def uvw2enu(u, v, w, lat0, lon0, deg: bool = False):
    """Rotate an ECEF-aligned vector (u, v, w) into east, north, up at (lat0, lon0)."""
    east, north, up = enu_basis(lat0, lon0, deg=deg)
    e = east[..., 0] * u + east[..., 1] * v + east[..., 2] * w
    n = north[..., 0] * u + north[..., 1] * v + north[..., 2] * w
    uu = up[..., 0] * u + up[..., 1] * v + up[..., 2] * w
    return e, n, uu


def enu2uvw(e, n, u, lat0, lon0, deg: bool = False):
    """Rotate an east, north, up vector at (lat0, lon0) into the ECEF axes."""
    east, north, up = enu_basis(lat0, lon0, deg=deg)
    x = east[..., 0] * e + north[..., 0] * n + up[..., 0] * u
    y = east[..., 1] * e + north[..., 1] * n + up[..., 1] * u
    z = east[..., 2] * e + north[..., 2] * n + up[..., 2] * u
    return x, y, z


def enu2ecef(e, n, u, lat0, lon0, alt0, deg: bool = False):
    """East, north, up [m] relative to (lat0, lon0, alt0) to ECEF x, y, z [m]."""
    x0, y0, z0 = geodetic2ecef(lat0, lon0, alt0, deg=deg)
    dx, dy, dz = enu2uvw(e, n, u, lat0, lon0, deg=deg)
    return x0 + dx, y0 + dy, z0 + dz


def enu2aer(e, n, u, deg: bool = False):
    """East, north, up [m] to azimuth (from north, clockwise, [0, 2pi)), elevation, slant range [m]."""
    e, n, u = np.asarray(e, float), np.asarray(n, float), np.asarray(u, float)
    horiz = np.hypot(e, n)
    az = np.mod(np.mod(np.arctan2(e, n), 2.0 * np.pi), 2.0 * np.pi)  # 2nd mod: -tiny -> 2pi -> 0
    el = np.arctan2(u, horiz)
    rng = np.hypot(horiz, u)
    if deg:
        return np.degrees(az), np.degrees(el), rng
    return az, el, rng


def aer2enu(az, el, rng, deg: bool = False):
    """Azimuth, elevation, slant range [m] to east, north, up [m]."""
    az, el, rng = np.asarray(az, float), np.asarray(el, float), np.asarray(rng, float)
    if deg:
        az, el = np.radians(az), np.radians(el)
    horiz = rng * np.cos(el)
    return horiz * np.sin(az), horiz * np.cos(az), rng * np.sin(el)


def ecef2aer(x, y, z, lat0, lon0, alt0, deg: bool = False):
    """ECEF point(s) to azimuth, elevation and slant range seen from the geodetic site (lat0, lon0, alt0)."""
    e, n, u = ecef2enu(x, y, z, lat0, lon0, alt0, deg=deg)
    return enu2aer(e, n, u, deg=deg)


def aer2ecef(az, el, rng, lat0, lon0, alt0, deg: bool = False):
    """Azimuth, elevation and slant range from the geodetic site (lat0, lon0, alt0) to ECEF x, y, z [m]."""
    e, n, u = aer2enu(az, el, rng, deg=deg)
    return enu2ecef(e, n, u, lat0, lon0, alt0, deg=deg)


def ray_hits_ellipsoid(origin, target, shrink_m: float = 0.0):
    """True where the straight segment from ``origin`` to ``target`` (ECEF, (..., 3) [m]) passes
    through the WGS-84 ellipsoid (shrunk inwards by ``shrink_m``), i.e. the Earth masks the line of sight.

    The ellipsoid is scaled to the unit sphere, where the test is the closest approach of a segment.
    """
    origin = np.asarray(origin, float)
    target = np.asarray(target, float)
    scale = np.array([A_M - shrink_m, A_M - shrink_m, B_M - shrink_m])
    o = origin / scale
    d = target / scale - o
    dd = np.einsum("...i,...i->...", d, d)
    s = np.clip(-np.einsum("...i,...i->...", o, d) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
    closest = o + s[..., None] * d
    return np.einsum("...i,...i->...", closest, closest) < 1.0


geodetic2ecef_kernel = njit(cache=True, fastmath=False)(_geodetic2ecef)
"""Scalar geodetic (rad, rad, m) -> ECEF kernel, compiled for use inside other Numba code."""
ecef2geodetic_kernel = njit(cache=True, fastmath=False)(_ecef2geodetic)
"""Scalar ECEF -> geodetic (rad, rad, m) kernel, compiled for use inside other Numba code."""
