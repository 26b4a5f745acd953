"""WGS-84 frame conversions (geodetic, ECEF, ENU, AER) against pymap3d and pyproj.

Tolerances: 1e-6 m for positions and ranges, 1e-10 deg for angles (the project issue's figures).
Points are random over the globe, from 50 km below the ellipsoid out past geostationary altitude.
"""

from __future__ import annotations

import numpy as np
import pymap3d as pm
import pytest
from pyproj import Transformer

from warnlink.geo import (
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
from warnlink.geo.wgs84 import A_M, B_M

TOL_M = 1e-6  # [m] positions, slant ranges
TOL_DEG = 1e-10  # [deg] latitudes, longitudes, azimuths, elevations
GEO_ALT_M = 35_786e3
N = 5000


def _wrap180(d):
    return (np.asarray(d) + 180.0) % 360.0 - 180.0


@pytest.fixture(scope="module")
def points():
    """Random geodetic points: uniform on the sphere of directions, heights from -50 km to 1.2 x GEO."""
    rng = np.random.default_rng(20230819)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, N)))
    lon = rng.uniform(-180.0, 180.0, N)
    alt = np.concatenate([
        rng.uniform(-50e3, 100e3, N // 2),  # near the surface (launch sites, sensors, re-entry)
        10.0 ** rng.uniform(5.0, np.log10(1.2 * GEO_ALT_M), N - N // 2),  # 100 km .. beyond GEO
    ])
    # exact poles, equator and the GEO belt itself
    lat[:4] = [90.0, -90.0, 0.0, 0.0]
    alt[:4] = [1000.0, GEO_ALT_M, 0.0, GEO_ALT_M]
    return lat, lon, alt


def test_geodetic2ecef_matches_pymap3d_and_pyproj(points):
    lat, lon, alt = points
    x, y, z = geodetic2ecef(lat, lon, alt, deg=True)
    rx, ry, rz = pm.geodetic2ecef(lat, lon, alt)
    assert np.max(np.abs(np.stack([x - rx, y - ry, z - rz]))) < TOL_M
    px, py, pz = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True).transform(lon, lat, alt)
    assert np.max(np.abs(np.stack([x - px, y - py, z - pz]))) < TOL_M


def test_ecef2geodetic_inverts_pymap3d_forward_map_up_to_geo(points):
    # pymap3d's and pyproj's own *inverse* lose accuracy far from the surface (pymap3d 3.2 in latitude by
    # up to 7e-8 deg below 1000 km, 3e-5 deg below 10 000 km and 1.3e-4 deg at GEO; pyproj 9.x in height by
    # 8 mm, 16 cm and 34 cm), so at every
    # altitude the reference is the geodetic point itself, mapped to ECEF by pymap3d's closed-form
    # forward map.
    lat, lon, alt = points
    x, y, z = pm.geodetic2ecef(lat, lon, alt)
    la, lo, h = ecef2geodetic(x, y, z, deg=True)
    assert np.max(np.abs(la - lat)) < TOL_DEG
    ok = np.abs(lat) < 90.0  # longitude is undefined at the poles
    assert np.max(np.abs(_wrap180(lo - lon)[ok])) < TOL_DEG
    assert np.max(np.abs(h - alt)) < TOL_M


def test_ecef2geodetic_matches_pymap3d_inverse_near_surface(points):
    # where pymap3d's inverse is itself exact (|h| <= 100 km; see above)
    lat, lon, alt = points
    near = np.abs(alt) <= 100e3
    assert near.sum() > N // 3
    x, y, z = geodetic2ecef(lat[near], lon[near], alt[near], deg=True)
    la, lo, h = ecef2geodetic(x, y, z, deg=True)
    rla, rlo, rh = pm.ecef2geodetic(x, y, z)
    assert np.max(np.abs(la - rla)) < TOL_DEG
    ok = np.abs(la) < 90.0
    assert np.max(np.abs(_wrap180(lo - rlo)[ok])) < TOL_DEG
    assert np.max(np.abs(h - rh)) < TOL_M


def test_geodetic_round_trip_radians_and_degrees(points):
    lat, lon, alt = points
    la, lo, h = ecef2geodetic(*geodetic2ecef(np.radians(lat), np.radians(lon), alt))
    assert np.max(np.abs(np.degrees(la) - lat)) < TOL_DEG
    ok = np.abs(lat) < 90.0
    assert np.max(np.abs(_wrap180(np.degrees(lo) - lon)[ok])) < TOL_DEG
    assert np.max(np.abs(h - alt)) < TOL_M
    # ECEF -> geodetic -> ECEF
    x, y, z = geodetic2ecef(lat, lon, alt, deg=True)
    x2, y2, z2 = geodetic2ecef(*ecef2geodetic(x, y, z))
    assert np.max(np.abs(np.stack([x2 - x, y2 - y, z2 - z]))) < TOL_M


def test_known_points():
    x, y, z = geodetic2ecef(0.0, 0.0, 0.0, deg=True)
    assert (float(x), float(y), float(z)) == pytest.approx((A_M, 0.0, 0.0), abs=TOL_M)
    x, y, z = geodetic2ecef(90.0, 0.0, 0.0, deg=True)
    assert (float(x), float(y), float(z)) == pytest.approx((0.0, 0.0, B_M), abs=TOL_M)
    lat, _, h = ecef2geodetic(0.0, 0.0, -(B_M + 500.0), deg=True)
    assert float(lat) == pytest.approx(-90.0, abs=TOL_DEG)
    assert float(h) == pytest.approx(500.0, abs=TOL_M)
    lat, lon, h = ecef2geodetic(0.0, A_M + GEO_ALT_M, 0.0, deg=True)
    assert (float(lat), float(lon), float(h)) == pytest.approx((0.0, 90.0, GEO_ALT_M), abs=TOL_M)


def test_vectorised_shapes_and_broadcasting():
    lat = np.linspace(-80, 80, 12).reshape(3, 4)
    x, y, z = geodetic2ecef(lat, 10.0, 0.0, deg=True)
    assert x.shape == y.shape == z.shape == (3, 4)
    la, lo, h = ecef2geodetic(x, y, z, deg=True)
    assert la.shape == lo.shape == h.shape == (3, 4)
    np.testing.assert_allclose(la, lat, rtol=0, atol=TOL_DEG)
    e, n, u = ecef2enu(x, y, z, 35.0, 125.0, 10.0, deg=True)
    assert e.shape == n.shape == u.shape == (3, 4)
    # an array of sites with a scalar longitude broadcasts too
    e2, _, _ = uvw2enu(x, y, z, lat, 10.0, deg=True)
    assert e2.shape == (3, 4)
    east, north, up = enu_basis(lat, 10.0, deg=True)
    assert east.shape == north.shape == up.shape == (3, 4, 3)
    # orthonormal, right-handed (east x north = up)
    np.testing.assert_allclose(np.cross(east, north), up, atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(up, axis=-1), 1.0, atol=1e-15)


@pytest.fixture(scope="module")
def sites_and_targets(points):
    """Sites on or near the surface and targets anywhere up to past GEO."""
    lat, lon, alt = points
    rng = np.random.default_rng(7)
    lat0 = np.degrees(np.arcsin(rng.uniform(-0.999, 0.999, N)))
    lon0 = rng.uniform(-180.0, 180.0, N)
    alt0 = rng.uniform(-100.0, 5000.0, N)
    x, y, z = pm.geodetic2ecef(lat, lon, alt)
    return x, y, z, lat0, lon0, alt0


def test_ecef2enu_and_back_match_pymap3d(sites_and_targets):
    x, y, z, lat0, lon0, alt0 = sites_and_targets
    e, n, u = ecef2enu(x, y, z, lat0, lon0, alt0, deg=True)
    re, rn, ru = pm.ecef2enu(x, y, z, lat0, lon0, alt0)
    assert np.max(np.abs(np.stack([e - re, n - rn, u - ru]))) < TOL_M
    x2, y2, z2 = enu2ecef(e, n, u, lat0, lon0, alt0, deg=True)
    assert np.max(np.abs(np.stack([x2 - x, y2 - y, z2 - z]))) < TOL_M
    rx, ry, rz = pm.enu2ecef(re, rn, ru, lat0, lon0, alt0)
    assert np.max(np.abs(np.stack([x2 - rx, y2 - ry, z2 - rz]))) < TOL_M


def test_uvw_rotation_matches_pymap3d(sites_and_targets):
    x, y, z, lat0, lon0, _ = sites_and_targets
    e, n, u = uvw2enu(x, y, z, lat0, lon0, deg=True)
    re, rn, ru = pm.uvw2enu(x, y, z, lat0, lon0)
    assert np.max(np.abs(np.stack([e - re, n - rn, u - ru]))) < TOL_M
    bx, by, bz = enu2uvw(e, n, u, lat0, lon0, deg=True)
    rx, ry, rz = pm.enu2uvw(re, rn, ru, lat0, lon0)
    assert np.max(np.abs(np.stack([bx - rx, by - ry, bz - rz]))) < TOL_M
    assert np.max(np.abs(np.stack([bx - x, by - y, bz - z]))) < TOL_M


def test_ecef2aer_and_back_match_pymap3d(sites_and_targets):
    x, y, z, lat0, lon0, alt0 = sites_and_targets
    az, el, rng = ecef2aer(x, y, z, lat0, lon0, alt0, deg=True)
    raz, rel, rrng = pm.ecef2aer(x, y, z, lat0, lon0, alt0)
    e, n, _ = ecef2enu(x, y, z, lat0, lon0, alt0, deg=True)
    defined = np.hypot(e, n) > 1e3  # azimuth is ill-conditioned straight overhead
    assert defined.sum() > N - 10
    assert np.all((az >= 0.0) & (az < 360.0))
    assert np.max(np.abs(_wrap180(az - raz)[defined])) < TOL_DEG
    assert np.max(np.abs(el - rel)) < TOL_DEG
    assert np.max(np.abs(rng - rrng)) < TOL_M
    x2, y2, z2 = aer2ecef(az, el, rng, lat0, lon0, alt0, deg=True)
    assert np.max(np.abs(np.stack([x2 - x, y2 - y, z2 - z]))) < TOL_M
    rx, ry, rz = pm.aer2ecef(raz, rel, rrng, lat0, lon0, alt0)
    assert np.max(np.abs(np.stack([x2 - rx, y2 - ry, z2 - rz]))) < TOL_M


def test_enu_aer_round_trip_and_pymap3d():
    rng = np.random.default_rng(3)
    e, n, u = rng.uniform(-4e7, 4e7, (3, N))
    az, el, sr = enu2aer(e, n, u, deg=True)
    raz, rel, rsr = pm.enu2aer(e, n, u)
    assert np.max(np.abs(_wrap180(az - raz))) < TOL_DEG
    assert np.max(np.abs(el - rel)) < TOL_DEG
    assert np.max(np.abs(sr - rsr)) < TOL_M
    e2, n2, u2 = aer2enu(az, el, sr, deg=True)
    assert np.max(np.abs(np.stack([e2 - e, n2 - n, u2 - u]))) < TOL_M
    re, rn, ru = pm.aer2enu(raz, rel, rsr)
    assert np.max(np.abs(np.stack([e2 - re, n2 - rn, u2 - ru]))) < TOL_M
    # radians give the same as degrees
    azr, elr, _ = enu2aer(e, n, u)
    assert np.max(np.abs(np.degrees(azr) - az)) < TOL_DEG
    assert np.max(np.abs(np.degrees(elr) - el)) < TOL_DEG


def test_azimuth_range_is_half_open():
    # a target a hair west of north: atan2 gives -1e-300, which must map to 0, not to 2 pi / 360 deg
    for e in (-1e-300, -0.0, -1e-17):
        az_deg = float(enu2aer(e, 1.0, 0.0, deg=True)[0])
        az_rad = float(enu2aer(e, 1.0, 0.0)[0])
        assert 0.0 <= az_deg < 360.0
        assert 0.0 <= az_rad < 2.0 * np.pi
    az = enu2aer(-np.geomspace(1e-300, 1e-3, 50), 1.0, 0.0, deg=True)[0]
    assert np.all((az >= 0.0) & (az < 360.0))


def test_aer_conventions():
    # north, east, south, west, zenith from a site on the equator
    az, el, r = enu2aer([0.0, 1.0, 0.0, -1.0, 0.0], [1.0, 0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 2.0],
                        deg=True)
    np.testing.assert_allclose(az[:4], [0.0, 90.0, 180.0, 270.0], atol=TOL_DEG)
    np.testing.assert_allclose(el, [0, 0, 0, 0, 90.0], atol=TOL_DEG)
    np.testing.assert_allclose(r, [1, 1, 1, 1, 2.0], atol=TOL_M)
    # a geostationary satellite over the site's meridian is straight up at the equator
    az, el, r = ecef2aer(A_M + GEO_ALT_M, 0.0, 0.0, 0.0, 0.0, 0.0, deg=True)
    assert float(el) == pytest.approx(90.0, abs=TOL_DEG)
    assert float(r) == pytest.approx(GEO_ALT_M, abs=TOL_M)


# ---------------------------------------------------------------------------------------------
# Line of sight through the ellipsoid


def _ray_reference(origin, target, shrink_m=0.0):
    """Independent test: the segment o + s (t - o), s in [0, 1], meets the solid ellipsoid iff the
    quadratic (x^2 + y^2)/a^2 + z^2/b^2 = 1 along it has real roots s1 <= s2 with [s1, s2] meeting [0, 1]."""
    a, b = A_M - shrink_m, B_M - shrink_m
    w = np.array([1 / a**2, 1 / a**2, 1 / b**2])
    o, d = np.asarray(origin, float), np.asarray(target, float) - np.asarray(origin, float)
    qa = np.sum(w * d * d, -1)
    qb = 2 * np.sum(w * o * d, -1)
    qc = np.sum(w * o * o, -1) - 1.0
    disc = qb * qb - 4 * qa * qc
    sq = np.sqrt(np.maximum(disc, 0.0))
    s1, s2 = (-qb - sq) / (2 * qa), (-qb + sq) / (2 * qa)
    return (disc > 0) & (s2 > 0.0) & (s1 < 1.0)


def test_ray_hits_ellipsoid_constructed_cases():
    L = 2.0e7
    cases = [
        # (origin, target, shrink, expected)
        ((A_M + 1e6, 0, 0), (-(A_M + 1e6), 0, 0), 0.0, True),  # straight through the centre
        ((A_M + 1e6, 0, 0), (A_M + 4e7, 0, 0), 0.0, False),  # both on the same side, pointing away
        ((A_M + 1.0, -L, 0), (A_M + 1.0, L, 0), 0.0, False),  # grazes 1 m above the equator
        ((A_M - 1.0, -L, 0), (A_M - 1.0, L, 0), 0.0, True),  # 1 m below the equator's surface
        ((A_M - 1.0, -L, 0), (A_M - 1.0, L, 0), 2.0, False),  # ... but above the 2-m-shrunk one
        ((-L, 0, B_M + 1.0), (L, 0, B_M + 1.0), 0.0, False),  # 1 m above the pole: uses b, not a
        ((-L, 0, B_M - 1.0), (L, 0, B_M - 1.0), 0.0, True),  # 1 m below the pole
        # inside the sphere of radius a but outside the ellipsoid
        ((-L, 0, A_M - 1e3), (L, 0, A_M - 1e3), 0.0, False),
        ((3 * A_M, 0, 0), (1.5 * A_M, 0, 0), 0.0, False),  # aimed at the Earth but stops short
        ((3 * A_M, 0, 0), (0.5 * A_M, 0, 0), 0.0, True),  # ends inside the Earth
    ]
    for o, t, shrink, want in cases:
        o, t = np.array(o, float), np.array(t, float)
        assert bool(ray_hits_ellipsoid(o, t, shrink)) is want, (o, t, shrink)
        assert bool(_ray_reference(o, t, shrink)) is want, (o, t, shrink)


def test_ray_from_ground_station():
    # a site on the surface (the typical shrink of a few metres keeps its own horizon clear)
    lat0, lon0 = 35.0, 139.0
    site = np.array(geodetic2ecef(lat0, lon0, 0.0, deg=True))
    up_target = np.array(aer2ecef(0.0, 45.0, 2e6, lat0, lon0, 0.0, deg=True))
    below = np.array(aer2ecef(0.0, -5.0, 2e6, lat0, lon0, 0.0, deg=True))
    assert not ray_hits_ellipsoid(site, up_target, shrink_m=10.0)
    assert ray_hits_ellipsoid(site, below, shrink_m=10.0)
    antipode = -np.array(geodetic2ecef(lat0, lon0, 1e6, deg=True))
    assert ray_hits_ellipsoid(site, antipode, shrink_m=10.0)


def test_ray_hits_ellipsoid_random_vs_quadratic():
    rng = np.random.default_rng(11)
    n = 20000
    # origins and targets from low orbit to GEO so that many segments graze the Earth
    dirs = rng.normal(size=(2, n, 3))
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    radii = A_M + 10.0 ** rng.uniform(3.0, np.log10(GEO_ALT_M), (2, n, 1))
    o, t = dirs[0] * radii[0], dirs[1] * radii[1]
    got = ray_hits_ellipsoid(o, t)
    want = _ray_reference(o, t)
    assert got.shape == (n,)
    assert 0.2 < want.mean() < 0.8
    # disagreement only allowed for segments within a millimetre of tangency
    bad = got != want
    if bad.any():
        for oo, tt in zip(o[bad], t[bad], strict=True):
            assert _ray_reference(oo, tt, 1e-3) != _ray_reference(oo, tt, -1e-3)
    # broadcasting: one origin, an array of targets of shape (4, 5, 3)
    many = t[:20].reshape(4, 5, 3)
    got2 = ray_hits_ellipsoid(o[0], many)
    assert got2.shape == (4, 5)
    np.testing.assert_array_equal(got2, _ray_reference(o[0], many))
