"""The posterior Cramér-Rao bound: the Kalman filter's covariance in the linear-Gaussian case, an EKF's
Monte Carlo error on a ballistic coast, more sensors, the two-point start, a simulated salvo, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from warnlink.geo import geodetic2ecef
from warnlink.physics import CLASSES, fly
from warnlink.physics.flight import PhysicsOptions
from warnlink.scenario.model import decode_scenario
from warnlink.scenario.simulate import TruthObject, simulate
from warnlink.sensors.reports import KIND_IR, KIND_RADAR, ReportBatch
from warnlink.tracking.kalman import predict, update
from warnlink.tracking.measurement import innovation, radar_cov_to_ecef, radar_h, radar_jacobian
from warnlink.tracking.motion import white_acceleration_q
from warnlink.tracking.pcrlb import (
    PHASES,
    information_predict,
    pcrlb,
    pcrlb_phase_rms,
    pcrlb_recursion,
    truth_phase,
)

SIG = np.array([20.0, 1e-3, 1e-3, 1.0])  # range [m], azimuth, elevation [rad], range-rate [m/s]
Q_TINY = 1e-6  # m^2/s^3: the truth flies the filter's force model; this covers the STM's J2 neglect only


# ------------------------------------------------------------------------------------ helpers


@pytest.fixture(scope="module")
def coast():
    """An MRBM-class flight (1 280 km, apogee 213 km) with drag off, as a truth object."""
    f = fly(CLASSES["MRBM-liquid"], 39.0, 125.7, 100.0, 20.0, separate_stages=False,
            opts=PhysicsOptions(drag=False))
    return TruthObject(0, "mrbm/warhead", "warhead", "L", 1, f.warhead, 0.0)


def _site(lat, lon):
    return np.array(geodetic2ecef(lat, lon, 0.0, deg=True))


def _radar_reports(obj, site, times, sig=SIG, truth=0, sensor=0):
    """Noise-free radar reports of ``obj`` (the bound reads only times, sensors and noise)."""
    p, v, _ = obj.trajectory.sample(times - obj.offset_s)
    z = radar_h(np.hstack([p, v]), site)
    n = len(times)
    cov = np.broadcast_to(np.diag(sig**2), (n, 4, 4)).copy()
    z[:, 3] = np.where(np.isfinite(sig[3]), z[:, 3], np.nan)
    return ReportBatch(np.asarray(times, float), np.asarray(times, float), np.full(n, sensor, np.int32),
                       np.full(n, KIND_RADAR, np.int8), z, cov, np.broadcast_to(site, (n, 3)).copy(),
                       np.full(n, truth, np.int32))


def _at(res, i, times, key="pos_rms_m"):
    o = res["objects"][i]
    j = np.searchsorted(o["t_s"], times)
    assert np.array_equal(o["t_s"][j], times)
    return o[key][j]


# ------------------------------------------------------------------- (1) linear-Gaussian case


def test_bound_equals_kalman_covariance_in_the_linear_gaussian_case():
    """Constant velocity in 3-D, linear position measurements, irregular steps, a step without and a
    step with two measurements, four objects at once: inv(J) equals the Kalman filter's P to 1e-9."""
    rng = np.random.default_rng(3)
    n_obj, K = 4, 60
    dts = rng.uniform(0.2, 3.0, K)
    F = np.zeros((K, n_obj, 6, 6))
    F[:] = np.eye(6)
    for k in range(K):
        F[k, :, :3, 3:] = dts[k] * np.eye(3)
    Q = np.broadcast_to(white_acceleration_q(dts, 0.5)[:, None], (K, n_obj, 6, 6)).copy()
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    Rs = np.empty((K, 2, n_obj, 3, 3))
    for idx in np.ndindex(K, 2, n_obj):
        a = rng.normal(size=(3, 3))
        Rs[idx] = a @ a.T * 400.0 + 100.0 * np.eye(3)
    n_meas = np.full(K, 1)
    n_meas[7], n_meas[20] = 0, 2
    info = np.zeros((K, n_obj, 6, 6))
    for k in range(K):
        for m in range(n_meas[k]):
            info[k] += H.T @ np.linalg.inv(Rs[k, m]) @ H
    P0 = np.diag([1e6, 2e6, 3e6, 1e4, 1e4, 2e4])
    J = pcrlb_recursion(np.broadcast_to(np.linalg.inv(P0), (n_obj, 6, 6)), F, Q, info)
    P = np.broadcast_to(P0, (n_obj, 6, 6)).copy()
    for k in range(K):
        P = F[k] @ P @ np.swapaxes(F[k], -1, -2) + Q[k]
        for m in range(n_meas[k]):
            S = H @ P @ H.T + Rs[k, m]
            K_gain = P @ H.T @ np.linalg.inv(S)
            P = P - K_gain @ H @ P
        Pb = np.linalg.inv(J[k + 1])
        np.testing.assert_allclose(Pb, P, rtol=1e-9, atol=1e-9 * np.abs(P).max())


def test_prediction_from_no_information_and_the_two_point_closed_form():
    """J = 0 predicts to 0; two position fixes (no prior) give the closed-form information of a
    two-point start: the later fix plus the earlier one mapped through the motion with its process noise."""
    dt, q = 2.0, 3.0
    F = np.eye(6)
    F[:3, 3:] = dt * np.eye(3)
    Q = white_acceleration_q(dt, q)[0]
    assert np.array_equal(information_predict(np.zeros((6, 6)), F, Q), np.zeros((6, 6)))
    Ra, Rb = np.diag([100.0, 400.0, 900.0]), np.diag([50.0, 60.0, 70.0])
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    Ia, Ib = H.T @ np.linalg.inv(Ra) @ H, H.T @ np.linalg.inv(Rb) @ H
    J = pcrlb_recursion(Ia, F[None], Q[None], Ib[None])[1]
    # z_a = p_b - dt v_b - (w_p - dt w_v) + n_a, with (w_p, w_v) the process noise over the step
    G = np.hstack([np.eye(3), -dt * np.eye(3)])
    Cw = Q[:3, :3] - dt * (Q[:3, 3:] + Q[3:, :3]) + dt**2 * Q[3:, 3:]
    J_exact = Ib + G.T @ np.linalg.inv(Ra + Cw) @ G
    np.testing.assert_allclose(J, J_exact, rtol=1e-10, atol=1e-14)
    # the position bound after a two-point start is the later fix's covariance
    np.testing.assert_allclose(np.linalg.inv(J)[:3, :3], Rb, rtol=1e-9)


# ------------------------------------------------------------- (2) an EKF on a ballistic coast


def test_ekf_monte_carlo_error_meets_the_bound_on_a_ballistic_coast(coast):
    """One radar (range, angles, range-rate) every 2 s over 320 s of an MRBM's midcourse; 200 EKF runs
    (vectorised) from the bound's own prior. The midcourse RMSE is >= the bound within 3 Monte Carlo
    standard errors and within 1.2x of it; the EKF's own covariance ends within 1% of the bound."""
    site = _site(37.5, 129.0)
    t = np.arange(120.0, 441.0, 2.0)
    reports = _radar_reports(coast, site, t)
    sp, sv = 500.0, 20.0
    res = pcrlb([coast], reports, q=(Q_TINY,) * 3, init="diffuse", prior_sigma=(sp, sv))
    bound = _at(res, 0, t)
    phase = _at(res, 0, t, "phase")
    assert np.all(phase == PHASES.index("midcourse")) and np.all(np.isfinite(bound))

    p, v, _ = coast.trajectory.sample(t)
    x_true = np.hstack([p, v])
    z_true = radar_h(x_true, site)
    runs = 200
    rng = np.random.default_rng(11)
    P0 = np.diag([sp**2] * 3 + [sv**2] * 3)
    R = np.broadcast_to(np.diag(SIG**2), (runs, 4, 4))
    x = x_true[0] + rng.multivariate_normal(np.zeros(6), P0, size=runs)
    P = np.broadcast_to(P0, (runs, 6, 6)).copy()
    err2 = np.zeros((len(t), runs))
    for k in range(len(t)):
        if k:
            x, P = predict(x, P, t[k] - t[k - 1], Q_TINY)
        z = z_true[k] + rng.standard_normal((runs, 4)) * SIG
        nu = innovation(z, radar_h(x, site), KIND_RADAR)
        x, P, _, _ = update(x, P, nu, radar_jacobian(x, site), R)
        err2[k] = np.sum((x[:, :3] - x_true[k, :3]) ** 2, axis=1)
    per_run = err2.mean(axis=0) / np.mean(bound**2)  # each run's mean squared error over the bound's
    ratio2, se = per_run.mean(), per_run.std(ddof=1) / np.sqrt(runs)
    assert ratio2 >= 1.0 - 3.0 * se
    assert np.sqrt(ratio2) <= 1.2
    # the bound falls as the radar integrates (so it is no constant the test could meet by accident)
    assert bound[-1] < 0.5 * bound[0]
    ekf_pos = np.sqrt(np.trace(P[:, :3, :3], axis1=1, axis2=2))
    np.testing.assert_allclose(ekf_pos, bound[-1], rtol=0.01)


# -------------------------------------------------------------- (3) more sensors, lower bound


@pytest.mark.parametrize("init", ["two_point", "diffuse"])
def test_more_sensors_give_a_lower_bound(coast, init):
    t = np.arange(120.0, 441.0, 2.0)
    a = _radar_reports(coast, _site(37.5, 129.0), t)
    b = _radar_reports(coast, _site(35.5, 133.5), t + 1.0, sig=np.array([50.0, 2e-3, 2e-3, np.nan]), sensor=1)
    both = ReportBatch.concat([a, b])
    kw = dict(q=(2e3, 1e-2, 2e2), init=init, prior_sigma=(1e4, 1e3))
    one, two = pcrlb([coast], a, **kw), pcrlb([coast], both, **kw)
    assert two["n_reports_used"] == 2 * one["n_reports_used"]
    tt = np.arange(124.0, 441.0)
    b1, b2 = _at(one, 0, tt), _at(two, 0, tt)
    assert np.all(np.isfinite(b1)) and np.all(np.isfinite(b2))
    assert np.all(b2 <= b1 * (1 + 1e-9))
    assert np.mean(b2) < 0.9 * np.mean(b1)
    v1, v2 = _at(one, 0, tt, "vel_rms_m_s"), _at(two, 0, tt, "vel_rms_m_s")
    assert np.all(v2 <= v1 * (1 + 1e-9))


# -------------------------------------------------------------------------- the two-point start


def test_two_point_start_gives_the_converted_position_covariance(coast):
    """At the second radar report the position bound is that report's converted-position covariance
    (the first fix only informs the velocity); before it there is no bound; range-rate is not used."""
    site = _site(37.5, 129.0)
    t = np.arange(120.0, 200.0, 2.0)
    reports = _radar_reports(coast, site, t)
    res = pcrlb([coast], reports, q=(2e3, 1e-2, 2e2), init="two_point")
    o = res["objects"][0]
    assert o["t_init_s"] == 122.0
    assert np.all(np.isnan(o["pos_rms_m"][o["t_s"] < 122.0]))
    C = radar_cov_to_ecef(reports.z[1:2], reports.cov[1:2], site)[0]
    assert _at(res, 0, np.array([122.0]))[0] == pytest.approx(np.sqrt(np.trace(C)), rel=1e-6)
    # the diffuse start with the same reports uses range-rate and the prior: a different, lower bound
    d = pcrlb([coast], reports, q=(2e3, 1e-2, 2e2), init="diffuse")
    assert _at(d, 0, np.array([122.0]), "vel_rms_m_s")[0] < _at(res, 0, np.array([122.0]), "vel_rms_m_s")[0]


# ---------------------------------------------------------------------- a simulated salvo


SALVO = """
name: pcrlb-test
exercise: true
seed: 5
sensors: {include: [KOR-AEGIS-EAST, USA-TPY2-SEONGJU, KOR-GP-CHUNGCHEONG, USA-SBIRS-GEO]}
launches:
  - id: L
    site: {lat: 39.2, lon: 125.673}
    time: 2026-01-01T00:00:00Z
    missile: SRBM-solid
    azimuth_deg: 95
    apogee_km: 97
    range_km: 380
    count: 4
    spacing_s: 3
    azimuth_spread_deg: 4
"""


@pytest.fixture(scope="module")
def salvo():
    return simulate(decode_scenario(SALVO))


def test_simulated_salvo_bound_grid_and_phases(salvo):
    objects, reports = salvo.objects, salvo.reports
    res = pcrlb(objects, reports)
    # the grid of tracking.score.score
    grid = np.arange(np.ceil(min(o.t_start_s for o in objects)), max(o.t_end_s for o in objects), 1.0)
    assert np.array_equal(res["t_s"], grid)
    assert res["n_reports_used"] + res["n_reports_dropped"] <= int((reports.truth >= 0).sum())
    seen = set()
    for o, e in zip(objects, res["objects"], strict=True):
        p, v, ok = o.trajectory.sample(grid - o.offset_s)
        assert np.array_equal(e["t_s"], grid[ok])
        burning = o.trajectory.burning(grid - o.offset_s)[ok]
        assert np.array_equal(e["phase"], truth_phase(p[ok], v[ok], burning))
        seen |= set(np.unique(e["phase"]).tolist())
        if e["n_reports"]:
            fin = np.isfinite(e["pos_rms_m"])
            assert fin.any() and e["t_init_s"] == e["t_s"][fin][0]
    assert seen == {0, 1, 2}
    mid = pcrlb_phase_rms(res)["midcourse"]
    # far below one radar report's cross-range error (2 mrad x hundreds of km), above zero
    assert 1.0 < mid < 300.0
    # counting stretches out of coverage can only raise the terminal figure, which the process noise inflates
    assert pcrlb_phase_rms(res, max_age_s=None)["terminal"] >= pcrlb_phase_rms(res)["terminal"]
    # restricted to given (time, object) pairs: here object 0's fresh midcourse points, computed by hand
    o = res["objects"][0]
    m = (o["phase"] == 1) & np.isfinite(o["pos_rms_m"]) & (o["age_s"] <= 5.0)
    pts = (o["t_s"][m], np.full(m.sum(), o["index"]))
    assert pcrlb_phase_rms(res, points=pts)["midcourse"] == pytest.approx(np.sqrt(np.mean(o["pos_rms_m"][m] ** 2)))
    assert pcrlb_phase_rms(res, points=pts)["boost"] is None
    # clutter (irf < 1) weakens every report: the bound rises
    assert pcrlb_phase_rms(pcrlb(objects, reports, irf=0.5))["midcourse"] > mid


def test_phase_rules(coast):
    p, v, _ = coast.trajectory.sample(np.array([50.0, 300.0, 530.0]))
    ph = truth_phase(p, v, coast.trajectory.burning(np.array([50.0, 300.0, 530.0])))
    assert [PHASES[i] for i in ph] == ["boost", "midcourse", "terminal"]


# ------------------------------------------------------------------------------ (4) bad input


def test_empty_reports_give_no_bound(coast):
    res = pcrlb([coast], ReportBatch.empty())
    o = res["objects"][0]
    assert len(o["t_s"]) > 0 and np.all(np.isnan(o["pos_rms_m"])) and np.all(np.isnan(o["vel_rms_m_s"]))
    assert o["n_reports"] == 0 and np.isnan(o["t_init_s"])
    assert pcrlb_phase_rms(res) == {"boost": None, "midcourse": None, "terminal": None}
    assert res["n_reports_used"] == 0


def test_object_without_reports_and_unusable_reports(coast):
    ir_obj = TruthObject(1, "ir-only", "warhead", "L", 2, coast.trajectory, 30.0)
    silent = TruthObject(2, "silent", "warhead", "L", 3, coast.trajectory, 60.0)
    t = np.arange(120.0, 300.0, 2.0)
    r = _radar_reports(coast, _site(37.5, 129.0), t)
    r.cov[5] = np.nan  # unusable noise: dropped and counted
    r.z[9, 1] = np.nan  # no azimuth: dropped and counted
    r.truth[7] = -1  # a false alarm: ignored
    geo = np.array(geodetic2ecef(0.0, 140.0, 35_786_000.0, deg=True))
    ir_only = ReportBatch(np.array([200.0]), np.array([200.0]), np.zeros(1, np.int32), np.full(1, KIND_IR, np.int8),
                          np.array([[0.01, 0.02, np.nan, np.nan]]), np.diag([1e-8, 1e-8, np.nan, np.nan])[None],
                          geo[None], np.array([1], np.int32))
    both = ReportBatch.concat([r, ir_only])
    for init in ("diffuse", "two_point"):
        res = pcrlb([coast, ir_obj, silent], both, init=init)
        a, b, c = res["objects"]
        assert res["n_reports_dropped"] == 2
        assert a["n_reports"] == len(t) - 3 and np.isfinite(a["pos_rms_m"]).sum() > 100
        # no reports at all: the object is there, in flight on the grid, with no bound
        assert len(c["t_s"]) > 0 and c["n_reports"] == 0 and np.all(np.isnan(c["pos_rms_m"]))
        assert np.isnan(c["t_init_s"])
        if init == "two_point":  # one infrared report cannot start a two-point bound
            assert b["n_reports"] == 0 and np.all(np.isnan(b["pos_rms_m"])) and np.isnan(b["t_init_s"])
        else:  # the prior plus one line of sight: a bound from that time on, tighter across the line of sight
            assert b["n_reports"] == 1 and b["t_init_s"] == 200.0
            assert np.all(np.isnan(b["pos_rms_m"][b["t_s"] < 200.0]))
            assert _at(res, 1, np.array([200.0]))[0] < np.sqrt(3) * 1e4


def test_bad_arguments_are_refused_with_a_reason(coast):
    r = _radar_reports(coast, _site(37.5, 129.0), np.arange(120.0, 140.0, 2.0))
    with pytest.raises(ValueError, match="no truth objects"):
        pcrlb([], r)
    with pytest.raises(ValueError, match="not among"):
        pcrlb([coast], _radar_reports(coast, _site(37.5, 129.0), np.array([130.0]), truth=4))
    with pytest.raises(ValueError, match="q must be"):
        pcrlb([coast], r, q=(1.0, -1.0, 1.0))
    with pytest.raises(ValueError, match="q must be"):
        pcrlb([coast], r, q=(1.0, 1.0))
    with pytest.raises(ValueError, match="step_s"):
        pcrlb([coast], r, step_s=0.0)
    with pytest.raises(ValueError, match="unknown init"):
        pcrlb([coast], r, init="magic")
    with pytest.raises(ValueError, match="irf"):
        pcrlb([coast], r, irf=0.0)
    with pytest.raises(ValueError, match="prior_sigma"):
        pcrlb([coast], r, init="diffuse", prior_sigma=(0.0, 1.0))
    with pytest.raises(TypeError, match="ReportBatch"):
        pcrlb([coast], {"t_s": []})
    with pytest.raises(ValueError, match="kind must be"):
        pcrlb_phase_rms(pcrlb([coast], r), kind="acc")
