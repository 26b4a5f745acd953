"""Gravity with J2: consistency with its potential, and surface values against WGS-84 normal gravity."""

from __future__ import annotations

import numpy as np
import pytest

from warnlink.geo import geodetic2ecef, gravity_ecef, gravity_potential
from warnlink.geo.wgs84 import A_M, B_M, GM_M3_S2, OMEGA_RAD_S

# WGS-84 normal gravity (NIMA TR8350.2, table 3.4): at the equator and at the poles [m/s^2]. It includes
# the centrifugal acceleration (omega^2 a at the equator, zero at the poles) that gravity_ecef does not.
GAMMA_E = 9.7803253359
GAMMA_P = 9.8321849378
# Zonal coefficients of the WGS-84 normal field beyond J2 (TR8350.2: normalised C40 = 0.790304073e-6,
# C60 = -0.168725117e-8; J_n = -sqrt(2n+1) C_n0).
J4 = -3.0 * 0.790304073e-6
J6 = -np.sqrt(13.0) * -0.168725117e-8


@pytest.mark.parametrize("j2", [False, True])
def test_gravity_is_minus_gradient_of_potential(j2):
    rng = np.random.default_rng(42 + j2)
    n = 2000
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    alt = np.concatenate([rng.uniform(-1e4, 1e5, n // 2), 10.0 ** rng.uniform(5.0, 7.7, n - n // 2)])
    p = np.stack(geodetic2ecef(lat, lon, alt, deg=True), axis=-1)
    g = gravity_ecef(p, j2=j2)
    assert g.shape == (n, 3)
    # Central differences with step h = 20 m: truncation h^2 |U'''| / 6 ~ 1e-10 |g| (U''' ~ 6 GM/r^4) and
    # round-off eps |U| / h ~ 1e-10 |g| at the surface, both smaller further out: 1e-9 |g| is a
    # sound bound, while the J2 term itself is 1e-3 |g| and any error in it shows up at >= 1e-6 |g|.
    h = 20.0
    num = np.empty_like(p)
    for i in range(3):
        d = np.zeros(3)
        d[i] = h
        num[:, i] = -(gravity_potential(p + d, j2=j2) - gravity_potential(p - d, j2=j2)) / (2 * h)
    rel = np.linalg.norm(num - g, axis=1) / np.linalg.norm(g, axis=1)
    assert rel.max() < 1e-9


def test_j2_switch_changes_field():
    p = np.array([A_M, 0.0, 0.0])
    g0, g1 = gravity_ecef(p, j2=False), gravity_ecef(p, j2=True)
    assert np.linalg.norm(g0) == pytest.approx(GM_M3_S2 / A_M**2, rel=1e-15)
    # J2 strengthens gravity at the equator by 1.5 J2 (a/r)^2
    assert np.linalg.norm(g1) / np.linalg.norm(g0) - 1.0 == pytest.approx(1.5 * 1.08262982131e-3, rel=1e-12)
    assert float(gravity_potential(p, j2=False)) == pytest.approx(-GM_M3_S2 / A_M, rel=1e-15)


def test_surface_gravity_magnitude_equator_and_pole():
    ge = gravity_ecef(np.array([A_M, 0.0, 0.0]))
    gp = gravity_ecef(np.array([0.0, 0.0, -B_M]))
    # pointing at the centre
    assert ge[1] == 0.0 and ge[2] == 0.0 and ge[0] < 0.0
    assert gp[0] == 0.0 and gp[1] == 0.0 and gp[2] > 0.0
    ge, gp = float(np.linalg.norm(ge)), float(np.linalg.norm(gp))
    # The round figures, to their last digit (half a unit: 5e-4 m/s^2)
    assert ge == pytest.approx(9.814, abs=5e-4)
    assert gp == pytest.approx(9.832, abs=5e-4)
    # Precisely: normal gravity minus centrifugal is the full normal gravitational field; the J2-only
    # model lacks the J4 term, -5 J4 (a/r)^4 P4 GM/r^2 radially (P4 = 3/8 at the equator, 1 at the poles),
    # which is added back here. What remains is J6 and beyond: 7 |J6| g |P6| <= 4.3e-7 m/s^2, so 1e-6.
    ref_e = GAMMA_E + OMEGA_RAD_S**2 * A_M - GM_M3_S2 / A_M**2 * (-5.0 * J4 * 3.0 / 8.0)
    ref_p = GAMMA_P - GM_M3_S2 / B_M**2 * (-5.0 * J4 * (A_M / B_M) ** 4)
    assert 7.0 * J6 * 9.84 * (A_M / B_M) ** 6 < 5e-7
    assert ge == pytest.approx(ref_e, abs=1e-6)
    assert gp == pytest.approx(ref_p, abs=1e-6)
