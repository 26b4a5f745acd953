"""Powered flight of the notional classes: burn times, staging, spent stages, variants, cut-off."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from warnlink.geo import distance_m, ecef2geodetic
from warnlink.geo.wgs84 import A_M, GM_M3_S2
from warnlink.physics import CLASSES, fly
from warnlink.physics.flight import VARIANTS, PhysicsOptions

LAUNCH = (39.0, 125.7)
# A typical ballistic shot per class (loft control kick [deg], cut-off), eastwards: ranges from ~600 km
# (SRBM) to ~12 000 km (solid ICBM), all well short of half the globe.
TYPICAL = {
    "SRBM-solid": (20.0, 1.0),
    "MRBM-liquid": (10.0, 1.0),
    "IRBM-liquid": (20.0, 1.0),
    "ICBM-liquid": (5.0, 0.8),
    "ICBM-solid": (20.0, 1.0),
}
TIME_TOL_S = 1e-9  # burn and staging times are segment end points handed to the integrator: exact


def _range_m(traj):
    return float(distance_m(*LAUNCH, *traj.impact_point()))


def test_typical_table_covers_every_class():
    assert set(TYPICAL) == set(CLASSES)


@pytest.fixture(scope="module", params=list(CLASSES))
def typical(request):
    kick, cut = TYPICAL[request.param]
    return CLASSES[request.param], fly(CLASSES[request.param], *LAUNCH, 90.0, kick, cut), cut


def test_flies_and_impacts(typical):
    m, f, _ = typical
    w = f.warhead
    assert w.kind == "warhead" and w.impacted
    assert np.all(np.diff(w.t) >= 0.0)
    assert w.t_start == 0.0 and w.t_end > f.burnout_time_s
    _, _, h_end = ecef2geodetic(*w.y[-1, :3])
    assert abs(float(h_end)) < 1e-3  # stops on the ellipsoid (regula falsi to 1e-6 m)
    fig = f.figures()
    assert fig["apogee_km"] > 100.0
    assert fig["range_km"] == pytest.approx(_range_m(w) / 1e3, rel=1e-12)
    assert fig["flight_time_s"] == w.t_end
    # an eastward launch lands to the east (the Earth's rotation bends the ground track, by up to ~17 deg
    # of bearing for the 11 700-km ICBM shot, but cannot turn it around)
    assert 0.0 < fig["impact_azimuth_deg"] < 180.0
    assert m.category in {"SRBM", "MRBM", "IRBM", "ICBM"}


def test_burnout_at_documented_burn_time(typical):
    m, f, cut = typical
    n = len(m.stages)
    expected = m.burn_time_s - (1.0 - cut) * m.stages[-1].burn_s
    assert f.burnout_time_s == pytest.approx(expected, abs=TIME_TOL_S)
    if cut == 1.0:
        assert f.burnout_time_s == pytest.approx(m.burn_time_s, abs=TIME_TOL_S)
    bi = f.warhead.burn_intervals
    assert bi.shape == (n, 2)
    for k, st in enumerate(m.stages):
        want = st.burn_s * (cut if k == n - 1 else 1.0)
        assert bi[k, 1] - bi[k, 0] == pytest.approx(want, abs=TIME_TOL_S)
        if k:
            assert bi[k, 0] - bi[k - 1, 1] == pytest.approx(m.staging_coast_s, abs=TIME_TOL_S)
    assert bi[0, 0] == 0.0 and bi[-1, 1] == pytest.approx(f.burnout_time_s, abs=TIME_TOL_S)
    w = f.warhead
    assert w.burning([0.0, 0.5 * bi[0, 1], f.burnout_time_s + 1.0]).tolist() == [True, True, False]


def test_stages_separate(typical):
    m, f, _ = typical
    n = len(m.stages)
    assert len(f.objects) == n + 1
    assert [o.kind for o in f.objects] == ["warhead"] + ["stage"] * n
    assert len({o.object_id for o in f.objects}) == n + 1
    for k, st in enumerate(f.objects[1:]):
        # each spent stage starts at its own burnout, where the stack was
        assert st.t_start == pytest.approx(f.warhead.burn_intervals[k, 1], abs=TIME_TOL_S)
        p_stack, v_stack, _ = f.warhead.sample([st.t_start])
        assert np.linalg.norm(st.y[0, :3] - p_stack[0]) < 1e-6
        # pushed back along the velocity by SEPARATION_DV_M_S (3 m/s)
        assert np.linalg.norm(st.y[0, 3:] - v_stack[0]) == pytest.approx(3.0, rel=1e-9)
        assert st.impacted
        _, _, h_end = ecef2geodetic(*st.y[-1, :3])
        assert abs(float(h_end)) < 1e-3
    single = fly(m, *LAUNCH, 90.0, *TYPICAL[m.name], separate_stages=False)
    assert len(single.objects) == 1
    np.testing.assert_allclose(single.warhead.y, f.warhead.y, rtol=0, atol=0)


def test_spent_stages_land_short_of_the_warhead(typical):
    _, f, _ = typical
    r_w = _range_m(f.warhead)
    r_st = [_range_m(o) for o in f.objects[1:]]
    assert all(r < r_w for r in r_st), (r_w, r_st)
    # and in order: the first stage falls closest to the launch point
    assert r_st == sorted(r_st)


@pytest.mark.parametrize("name", list(CLASSES))
def test_vertical_boost_matches_rocket_equation_integral(name):
    # Launched from the equator with no pitch-over (kick 0) and no rotation, J2 or drag, the flight is
    # radial: r'' = -GM/r^2 + T / m(t), with m falling at the mass flow and dropping each spent stage.
    # Solved independently (DOP853, rtol 1e-13); burnout radius and speed to 1e-6 relative.
    m = CLASSES[name]
    f = fly(m, 0.0, 0.0, 90.0, 0.0, opts=PhysicsOptions(rotation=False, j2=False, drag=False))
    r, v, t, mass = A_M, 0.0, 0.0, m.launch_mass_kg
    for k, st in enumerate(m.stages):
        thrust, mdot, m0, t0 = st.thrust_n, st.mass_flow_kg_s, mass, t

        def rhs(tt, s, thrust=thrust, mdot=mdot, m0=m0, t0=t0):
            return [s[1], -GM_M3_S2 / s[0] ** 2 + thrust / (m0 - mdot * (tt - t0))]

        sol = solve_ivp(rhs, (t, t + st.burn_s), [r, v], method="DOP853", rtol=1e-13, atol=1e-9)
        (r, v), t = sol.y[:, -1], t + st.burn_s
        mass = m0 - st.propellant_kg - st.dry_kg
        if k < len(m.stages) - 1 and m.staging_coast_s > 0:
            sol = solve_ivp(lambda tt, s: [s[1], -GM_M3_S2 / s[0] ** 2], (t, t + m.staging_coast_s), [r, v],
                            method="DOP853", rtol=1e-13, atol=1e-9)
            (r, v), t = sol.y[:, -1], t + m.staging_coast_s
    assert f.burnout_time_s == pytest.approx(t, abs=TIME_TOL_S)
    pos, vel, _ = f.warhead.sample([f.burnout_time_s])
    assert np.linalg.norm(pos[0]) == pytest.approx(r, rel=1e-6)
    assert np.linalg.norm(vel[0]) == pytest.approx(v, rel=1e-6)
    # the rocket equation bounds it: gravity losses only
    assert v < m.ideal_delta_v_m_s
    assert np.max(np.abs(f.warhead.y[:, 1:3])) < 1e-6  # stays on the radial line


@pytest.mark.parametrize(("name", "kick"),
                         [("SRBM-solid", 40.0), ("MRBM-liquid", 20.0), ("IRBM-liquid", 30.0)])
def test_pullup_and_glide_fly_further_than_ballistic(name, kick):
    m = CLASSES[name]
    flights = {v: fly(m, *LAUNCH, 90.0, kick, variant=v) for v in VARIANTS}
    ranges = {v: _range_m(f.warhead) for v, f in flights.items()}
    assert ranges["pullup"] > ranges["ballistic"], ranges
    assert ranges["glide"] > ranges["ballistic"], ranges
    # same controls, same boost: the variants differ only after burnout
    b = flights["ballistic"]
    for v in ("pullup", "glide"):
        assert flights[v].burnout_time_s == b.burnout_time_s
        assert flights[v].variant == v
        np.testing.assert_array_equal(flights[v].warhead.sample([b.burnout_time_s])[0],
                                      b.warhead.sample([b.burnout_time_s])[0])


@pytest.mark.parametrize("name", list(CLASSES))
def test_cutoff_reduces_range(name):
    kick, cut = TYPICAL[name]
    m = CLASSES[name]
    full = fly(m, *LAUNCH, 90.0, kick, cut)
    short = fly(m, *LAUNCH, 90.0, kick, 0.9 * cut)
    assert _range_m(short.warhead) < _range_m(full.warhead)
    assert short.burnout_time_s == pytest.approx(full.burnout_time_s - 0.1 * cut * m.stages[-1].burn_s,
                                                 abs=TIME_TOL_S)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.0001, 1.5, math.nan])
def test_bad_cutoff_raises(bad):
    with pytest.raises(ValueError, match="cutoff"):
        fly(CLASSES["SRBM-solid"], *LAUNCH, 90.0, 20.0, bad)


@pytest.mark.parametrize("bad", ["Ballistic", "boost-glide", "", "lofted"])
def test_bad_variant_raises(bad):
    with pytest.raises(ValueError, match="variant"):
        fly(CLASSES["SRBM-solid"], *LAUNCH, 90.0, 20.0, variant=bad)


def test_object_prefix():
    f = fly(CLASSES["IRBM-liquid"], *LAUNCH, 90.0, 20.0, object_prefix="L1/")
    assert [o.object_id for o in f.objects] == ["L1/warhead", "L1/stage1", "L1/stage2"]


def test_impacted_flag_reports_flights_that_do_not_come_down():
    # ICBM-liquid with a 7-degree kick at full burn leaves the atmosphere at near-orbital speed and is
    # still flying at the coast's time limit (20 000 s): it has not impacted.
    f = fly(CLASSES["ICBM-liquid"], *LAUNCH, 90.0, 7.0, 1.0)
    for o in f.objects:
        _, _, h_end = ecef2geodetic(*o.y[-1, :3])
        on_ground = abs(float(h_end)) < 1.0
        assert o.impacted == on_ground, (o.object_id, o.t_end, float(h_end))
