"""Event figures (class by burnout energy, trajectory shape) and predicted ground paths, against closed forms
and the simulator's own flights."""

import numpy as np
import pytest

from warnlink.assessment.figures import (
    LINK_CHI2,
    TrackLink,
    continuation_d2,
    flight_class,
    flight_max_range_km,
    max_range_km,
    min_energy_apogee_km,
    missile_category,
    object_tracks,
    trajectory_shape,
    whole_flight_apogee_m,
)
from warnlink.assessment.paths import ground_paths, overflown
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


def test_flight_max_range_is_the_burnout_energy_of_a_ballistic_flight():
    # vertical limit: the speed that reaches apogee h from the surface, nu = 2 (1 - R / (R + h))
    from warnlink.assessment.figures import R_EARTH_M

    h = 3000.0
    nu = 2.0 * (1.0 - R_EARTH_M / (R_EARTH_M + h * 1e3))
    want = 2.0 * R_EARTH_M / 1e3 * np.arcsin(nu / (2.0 - nu))
    assert float(flight_max_range_km(h, 1e-3)[0]) == pytest.approx(want, rel=1e-6)
    # a minimum-energy flight's energy is its own range
    assert float(flight_max_range_km(min_energy_apogee_km(2700.0), 2700.0)[0]) == pytest.approx(2700.0, rel=1e-6)
    assert np.isnan(flight_max_range_km(0.0, 500.0)[0]) and np.isnan(flight_max_range_km(100.0, np.nan)[0])


@pytest.mark.parametrize("name,kick,cutoff,expect,basis", [
    ("ICBM-liquid", 0.6, 0.9, "ICBM", "apogee and range"),   # lofted: ~3 500 km up for ~800 km (2017-07-28)
    ("SRBM-solid", 60.0, 1.0, "SRBM", "highest coasting energy"),   # depressed: 46 km up, in the air throughout
])
def test_class_from_the_whole_flight_not_the_drag_slowed_state(name, kick, cutoff, expect, basis):
    """The class read from a re-entering state falls with the drag (2017-11-29 and 2023-03-16 came out IRBM);
    from the whole flight's apogee and range (or the highest energy of a flight that stays in the air) it is the
    missile's, whatever state the estimate was last read from."""
    f = fly(CLASSES[name], 39.0, 125.7, 80.0, kick, cutoff, separate_stages=False)
    fg, w = f.figures(), f.warhead
    ts = np.linspace(f.burnout_time_s + 5.0, w.t_end - 0.05, 4000)
    p, v, _ = w.sample(ts)
    e = max_range_km(np.hstack([p, v]))
    assert flight_class(fg["apogee_km"], fg["range_km"], float(e.max()))[::2] == (expect, basis)
    if basis == "apogee and range":
        assert flight_class(fg["apogee_km"], fg["range_km"], float(e[-1]))[0] == expect   # the last state aside
        assert str(missile_category(e[-1])[0]) != expect   # ... which alone gives a smaller class
    # a gliding flight goes further than its apogee allows: its class is that of its coasting energy
    assert flight_class(50.0, 860.0, 394.0, lifting=True)[0] == "SRBM"
    assert flight_class(50.0, 860.0, 394.0)[0] == "SRBM"   # (below the air, the apogee/range figure is not used)


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


def test_a_lost_track_is_linked_to_its_reacquisition_and_not_to_a_salvo_partner():
    """A lofted MRBM lost 60 s after burnout and re-acquired 20 minutes later (state noise drawn from the
    covariances given): the earlier state flown forward gates with the re-acquired one; the same missile
    fired 20 s later (a salvo partner on the same path) does not. The stage separated at burnout (3 m/s)
    coasts in vacuum like the warhead and gates too: a link to it still gives the flight's apogee."""
    f = fly(CLASSES["IRBM-liquid"], 39.2, 125.7, 90.0, 4.0)
    w = f.warhead
    stage = [o for o in f.objects if o.kind == "stage"][-1]
    t1, t2 = f.burnout_time_s + 60.0, f.burnout_time_s + 1260.0
    assert t2 < w.t[-1] - 60.0 and t2 < stage.t[-1]
    rng = np.random.default_rng(7)
    P1 = np.diag([300.0**2] * 3 + [3.0**2] * 3)
    P2 = np.diag([500.0**2] * 3 + [20.0**2] * 3)

    def state(traj, t, P):
        p, v, ok = traj.sample([t])
        assert ok[0]
        return np.hstack([p, v])[0] + rng.multivariate_normal(np.zeros(6), P)

    x1 = state(w, t1, P1)
    same = continuation_d2(x1, P1, t1, state(w, t2, P2), P2, t2)
    partner = continuation_d2(x1, P1, t1, state(w, t2 - 20.0, P2), P2, t2)
    sep = continuation_d2(x1, P1, t1, state(stage, t2, P2), P2, t2)
    print("d2 same / salvo partner / stage:", same, partner, sep, "gate", LINK_CHI2)
    assert same[0] < LINK_CHI2 < partner[0]
    assert sep[0] < LINK_CHI2
    with pytest.raises(ValueError, match="finite"):
        continuation_d2(np.full(6, np.nan), P1, t1, x1, P2, t2)


def test_whole_flight_apogee_over_the_track_structures_a_tracker_gives():
    """One lofted ICBM's tracks, as the tracker left them (2022-11-18, 2017-11-29): the first-stage track 0
    (0-200 s, 300 km up), the missile parting from it while still boosting, track 1 (apogee 6 000 km, lost at
    3 800 s) with a duplicate 2; in the terminal phase track 3 re-acquires 1, and track 4, born beside 3 two
    seconds later, parts from 3 (it is the one with the re-entry vehicle's ballistic coefficient, so the
    event's figures are read from it). Every terminal track carries the 6 000 km apogee; the first stage only
    its own and the missile's flight up to the separation, never the missile's later apogee."""
    km = 1e3

    def climb(t0, t1, h0, h1):  # running highest altitude rising linearly from h0 to h1 over [t0, t1]
        ts = list(np.linspace(t0, t1, 5))
        return ts, [h0 + (h1 - h0) * (t - t0) / (t1 - t0) for t in ts]

    tracks = {
        0: TrackLink(end_s=900.0, apogee_m=300 * km, alt_t_s=climb(70, 400, 20 * km, 300 * km)[0],
                     alt_m=climb(70, 400, 20 * km, 300 * km)[1]),
        1: TrackLink(parent=0, split_s=200.0, end_s=3800.0, apogee_m=6000 * km,
                     alt_t_s=climb(200, 2200, 150 * km, 6000 * km)[0], alt_m=climb(200, 2200, 150 * km, 6000 * km)[1]),
        2: TrackLink(duplicate_of=1, end_s=2000.0, apogee_m=5990 * km),
        3: TrackLink(same_as=1, apogee_m=1900 * km, alt_t_s=[3872.0], alt_m=[1900 * km]),
        4: TrackLink(parent=3, split_s=3874.0, apogee_m=1896 * km, alt_t_s=[3874.0], alt_m=[1896 * km]),
    }
    assert object_tracks(tracks, 3) == [1, 2, 3] == object_tracks(tracks, 2)
    for k in (1, 2, 3, 4):
        assert whole_flight_apogee_m(tracks, k) == pytest.approx(6000 * km)
    # the first stage shares the missile's flight only up to the separation (by 200 s: 168 km)
    assert whole_flight_apogee_m(tracks, 0) == pytest.approx(300 * km)
    s = {**tracks, 5: TrackLink(parent=1, split_s=300.0, apogee_m=250 * km, alt_t_s=[300.0], alt_m=[250 * km])}
    # a second stage parting from the missile at 300 s: its own 250 km (the missile's track had reached 150 km;
    # its next highest point is recorded at 700 s)
    assert whole_flight_apogee_m(s, 5) == pytest.approx(250 * km)
    assert tracks[1].highest_until(700.0) == pytest.approx((150 + 5850 / 4) * km)
    assert tracks[1].highest_until(4000.0) == pytest.approx(6000 * km)  # ended by then: its whole figure
    # cycles of links (a parted pair each naming the other) end; the other's later 2 km is not counted
    cyc = {0: TrackLink(parent=1, split_s=10.0, apogee_m=1 * km), 1: TrackLink(parent=0, split_s=10.0, apogee_m=2 * km)}
    assert whole_flight_apogee_m(cyc, 0) == pytest.approx(1 * km)
    with pytest.raises(KeyError, match="no track 9"):
        whole_flight_apogee_m(tracks, 9)


def test_overflight_is_a_pass_over_land_not_the_descent_onto_it():
    """Paths (sub-vehicle points) crossing Hokkaido out to the Pacific overfly Japan; a lofted shot whose path
    ends on Hokkaido's coast lands there (an impact, no overflight); a path over Hokkaido that ends on Honshu
    overflew Hokkaido; a path in the Sea of Japan overflies nothing."""
    nan = np.nan
    lat = np.array([[41.5, 42.5, 43.0, 42.8, 42.0, 41.0],      # Sea of Japan - Hokkaido - Pacific
                    [41.5, 42.0, 42.6, 43.0, nan, nan],        # Sea of Japan - onto Hokkaido
                    [43.0, 42.9, 41.0, 40.5, 40.0, 39.5],      # Pacific - Hokkaido - sea - onto Honshu
                    [39.0, 39.5, 40.0, 40.5, 41.0, nan]])      # Sea of Japan only
    lon = np.array([[138.0, 141.0, 142.5, 144.5, 146.0, 148.0],
                    [138.0, 139.0, 141.0, 141.5, nan, nan],
                    [147.0, 143.0, 141.0, 140.5, 140.3, 140.2],
                    [131.0, 132.0, 133.0, 134.0, 135.0, nan]])
    got = overflown(lat, lon, ("JPN", "KOR"))
    np.testing.assert_array_equal(got, [[True, False], [False, False], [True, False], [False, False]])
