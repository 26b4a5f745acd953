"""Geodesics on WGS-84 against published values (GeographicLib and pyproj documentation)."""

from __future__ import annotations

import numpy as np
import pytest

from warnlink.geo import direct, distance_m, inverse
from warnlink.geo.wgs84 import A_M

# Published values are given to the millimetre (distances) and 1e-3 deg / 1e-8 deg (angles); the
# tolerances are the half unit of the last published digit.


def test_wellington_salamanca_geographiclib_example():
    # GeographicLib documentation: "The distance is 19959679.267 m."
    # (azimuths 161.067669986160 and 18.825195123247)
    az12, az21, s = inverse(-41.32, 174.81, 40.96, -5.50)
    assert float(s) == pytest.approx(19959679.267, abs=5e-4)
    assert float(distance_m(-41.32, 174.81, 40.96, -5.50)) == pytest.approx(19959679.267, abs=5e-4)
    assert float(az12) == pytest.approx(161.067669986160, abs=1e-10)
    # pyproj returns the back azimuth (from point 2 towards point 1) = forward azimuth at 2 + 180
    assert (float(az21) - 180.0) % 360.0 == pytest.approx(18.825195123247, abs=1e-10)


def test_perth_direct_geographiclib_example():
    # GeographicLib documentation: 20000 km SW of Perth -> "(32.11195529, -63.95925278)"
    lat, lon = direct(-32.06, 115.74, 225.0, 20000e3)
    assert float(lat) == pytest.approx(32.11195529, abs=5e-9)
    assert float(lon) == pytest.approx(-63.95925278, abs=5e-9)


def test_boston_portland_pyproj_example():
    # pyproj's tests: "distance between boston and portland, WGS84: -66.530 75.654 4164074.239"
    boston = (42.0 + 15.0 / 60.0, -71.0 - 7.0 / 60.0)
    portland = (45.0 + 31.0 / 60.0, -123.0 - 41.0 / 60.0)
    az12, az21, s = inverse(*boston, *portland)
    assert float(s) == pytest.approx(4164074.239, abs=5e-4)
    assert float(az12) == pytest.approx(-66.530, abs=5e-4)
    assert float(az21) == pytest.approx(75.654, abs=5e-4)


def test_quarter_meridian_and_equator():
    # WGS-84 quarter meridian 10 001 965.729 m; along the equator the geodesic is the circle of radius a
    assert float(distance_m(0.0, 0.0, 90.0, 0.0)) == pytest.approx(10001965.729, abs=5e-4)
    assert float(distance_m(0.0, 10.0, 0.0, 100.0)) == pytest.approx(A_M * np.pi / 2, abs=1e-6)


def test_vectorised_and_direct_inverse_round_trip():
    rng = np.random.default_rng(5)
    n = 1000
    lat1, lon1 = rng.uniform(-89, 89, n), rng.uniform(-180, 180, n)
    az, dist = rng.uniform(0, 360, n), rng.uniform(1.0, 19e6, n)
    lat2, lon2 = direct(lat1, lon1, az, dist)
    assert lat2.shape == lon2.shape == (n,)
    az12, _, s = inverse(lat1, lon1, lat2, lon2)
    np.testing.assert_allclose(s, dist, rtol=0, atol=1e-6)
    np.testing.assert_allclose((az12 - az + 180.0) % 360.0 - 180.0, 0.0, atol=1e-9)
