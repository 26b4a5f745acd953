"""Geodesics on the WGS-84 ellipsoid (Karney's algorithm through pyproj), vectorised.

Distances in metres, azimuths in degrees from north, clockwise, as geodesy users expect.
"""

from __future__ import annotations

import numpy as np
from pyproj import Geod

_GEOD = Geod(ellps="WGS84")


def inverse(lat1_deg, lon1_deg, lat2_deg, lon2_deg):
    """Forward azimuth at point 1, back azimuth at point 2 [deg] and distance [m] between two points."""
    az12, az21, dist = _GEOD.inv(lon1_deg, lat1_deg, lon2_deg, lat2_deg)
    return np.asarray(az12), np.asarray(az21), np.asarray(dist)


def distance_m(lat1_deg, lon1_deg, lat2_deg, lon2_deg):
    """Geodesic distance [m] between two points."""
    return inverse(lat1_deg, lon1_deg, lat2_deg, lon2_deg)[2]


def direct(lat_deg, lon_deg, azimuth_deg, distance_m_):
    """The point reached from (lat, lon) along ``azimuth_deg`` after ``distance_m_`` metres: (lat, lon) [deg]."""
    lon2, lat2, _ = _GEOD.fwd(lon_deg, lat_deg, azimuth_deg, distance_m_)
    return np.asarray(lat2), np.asarray(lon2)
