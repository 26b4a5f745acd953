"""Event figures (class by burnout energy, trajectory shape) and predicted ground paths, against closed forms
and the simulator's own flights."""

import numpy as np
import pytest

from warnlink.assessment.figures import (
    max_range_km,
    min_energy_apogee_km,
    missile_category,
    trajectory_shape,
)
from warnlink.assessment.paths import ground_paths
from warnlink.geo import distance_m, geodetic2ecef
from warnlink.geo.wgs84 import GM_M3_S2
from warnlink.physics import CLASSES, fly
from warnlink.physics.flight import PhysicsOptions


def test_min_energy_apogee_is_a_quarter_of_a_short_range():
    # flat-Earth limit of the minimum-energy trajectory: 45 deg launch, apogee = range / 4
    assert min_energy_apogee_km(10.0) == pytest.approx(2.5, rel=2e-3)
    # and lower than range / 4 as the Earth curves away (e.g. ~1,300 km for 10,000 km)
    assert 1000.0 < float(min_energy_apogee_km(10000.0)) < 1600.0


def test_max_range_closed_form():
    # at the surface, circular speed (nu = 1) is orbital; nu = 2/3 gives sin(psi/2) = 1/2, psi = 60 deg
    r = np.array(geodetic2ecef(0.0, 0.0, 0.0, deg=True))
    up = r / np.linalg.norm(r)
    from warnlink.assessment.figures import R_EARTH_M

    r = r / np.linalg.norm(r) * R_EARTH_M
    v_circ = np.sqrt(GM_M3_S2 / R_EARTH_M)
    x = np.r_[r, np.sqrt(2.0 / 3.0) * v_circ * up]
    assert float(max_range_km(x)[0]) == pytest.approx(R_EARTH_M / 1e3 * np.pi / 3.0, rel=1e-9)
    # the same energy higher up gives the same range
    r2 = r * 1.1
    v2 = np.sqrt(2.0 / 3.0 * v_circ**2 - 2 * GM_M3_S2 / R_EARTH_M + 2 * GM_M3_S2 / np.linalg.norm(r2))
    assert float(max_range_km(np.r_[r2, v2 * up])[0]) == pytest.approx(R_EARTH_M / 1e3 * np.pi / 3.0, rel=1e-9)
    assert np.isinf(max_range_km(np.r_[r, 1.01 * v_circ * up])[0])


def test_categories_and_shapes():
    assert list(missile_category([300, 1500, 4000, 9000, np.inf])) == ["SRBM", "MRBM", "IRBM", "ICBM", "ICBM"]
    # published shapes: Hwasong-17 6000 km up for 1000 km (lofted), KN-23 50 km for 400 km (depressed),
    # Hwasong-12 over Hokkaido 550 km for 2700 km (about minimum-energy)
    assert list(trajectory_shape([6000, 50, 550], [1000, 400, 2700])) == ["lofted", "depressed", "minimum-energy"]


@pytest.mark.parametrize("name,kick,expect", [("SRBM-solid", 25.0, "SRBM"), ("MRBM-liquid", 15.0, "MRBM"),
                                              ("ICBM-solid", 8.0, "ICBM")])
def test_category_from_the_burnout_state_of_notional_flights(name, kick, expect):
    """A lofted ICBM flying ~1000 km is still an ICBM: the class comes from the energy, not the range flown."""
    f = fly(CLASSES[name], 39.0, 125.7, 80.0, kick, separate_stages=False)
    p, v, _ = f.warhead.sample([f.burnout_time_s + 5.0])
    x = np.hstack([p, v])[0]
    assert str(missile_category(max_range_km(x))[0]) == expect
    assert float(max_range_km(x)[0]) >= 0.9 * f.figures()["range_km"]


def test_ground_path_ends_at_the_simulators_impact():
    f = fly(CLASSES["MRBM-liquid"], 39.17, 127.45, 90.0, 10.0, separate_stages=False, opts=PhysicsOptions(drag=False))
    fg = f.figures()
    p, v, _ = f.warhead.sample([200.0])
    gp = ground_paths(np.hstack([p, v]), None, step_s=5.0)
    k = int(gp["n"][0])
    assert k >= 2 and np.all(np.isnan(gp["lat_deg"][0, k:]))
    err = float(distance_m(gp["lat_deg"][0, k - 1], gp["lon_deg"][0, k - 1], fg["impact_lat"], fg["impact_lon"]))
    # the last point is the first step at or below the ground: within one step's ground travel (< 20 km)
    assert err < 20e3
    assert abs(gp["dt_s"][k - 1] + 200.0 - fg["flight_time_s"]) <= 5.0
    with pytest.raises(ValueError, match="finite"):
        ground_paths(np.full(6, np.nan))
