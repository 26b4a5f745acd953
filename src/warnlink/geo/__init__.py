"""WGS-84 geodesy: frame conversions, gravity with J2, geodesics.

Later issues add region geometry (land, EEZ) here.
"""

from warnlink.geo.frames import (
    aer2ecef,
    aer2enu,
    ecef2aer,
    ecef2enu,
    ecef2geodetic,
    enu2aer,
    enu2ecef,
    enu2uvw,
    enu_basis,
    geodetic2ecef,
    ray_hits_ellipsoid,
    uvw2enu,
)
from warnlink.geo.geodesic import direct, distance_m, inverse
from warnlink.geo.gravity import gravity_ecef, gravity_potential

__all__ = [
    "aer2ecef",
    "aer2enu",
    "direct",
    "distance_m",
    "ecef2aer",
    "ecef2enu",
    "ecef2geodetic",
    "enu2aer",
    "enu2ecef",
    "enu2uvw",
    "enu_basis",
    "geodetic2ecef",
    "gravity_ecef",
    "gravity_potential",
    "inverse",
    "ray_hits_ellipsoid",
    "uvw2enu",
]
