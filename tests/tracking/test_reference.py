"""The Stone Soup reference tracker: its models against warnlink's, its filter steps against warnlink's
EKF, and the whole tracker against warnlink's on a small salvo."""

from __future__ import annotations

import sys
from datetime import timedelta

import numpy as np
import pytest
from scipy.stats import chi2

pytest.importorskip("stonesoup")

from stonesoup.models.base import ReversibleModel
from stonesoup.types.angle import Bearing, Elevation
from stonesoup.types.array import StateVectors
from stonesoup.types.detection import Detection
from stonesoup.types.hypothesis import SingleHypothesis
from stonesoup.types.state import GaussianState, State
from stonesoup.updater.kalman import ExtendedKalmanUpdater

from warnlink.geo import aer2ecef, geodetic2ecef
from warnlink.scenario.model import decode_scenario
from warnlink.scenario.simulate import simulate
from warnlink.sensors.reports import KIND_IR, KIND_RADAR, ReportBatch
from warnlink.tracking import reference
from warnlink.tracking.kalman import predict, update
from warnlink.tracking.measurement import (
    innovation,
    ir_h,
    ir_jacobian,
    radar_h,
    radar_jacobian,
    radar_to_ecef,
    wrap_pi,
)
from warnlink.tracking.motion import propagate, white_acceleration_q
from warnlink.tracking.score import score
from warnlink.tracking.tracker import CONFIRMED, Tracker, TrackerConfig

SITE = np.array(geodetic2ecef(36.0, 128.1, 300.0, deg=True))
SAT = np.array(geodetic2ecef(0.0, 127.5, 35_786_000.0, deg=True))
R4 = np.diag([25.0**2, 2e-3**2, 2e-3**2, 5.0**2])
R_IR = np.diag([3e-5**2, 3e-5**2])
T0 = reference.DEFAULT_EPOCH


def _states(rng, n, az=None):
    """ECEF states (n, 6) seen from SITE at 100-900 km range, 5-60 deg elevation, with 0.5-7 km/s velocities."""
    az = rng.uniform(0, 2 * np.pi, n) if az is None else az
    el = rng.uniform(np.radians(5), np.radians(60), n)
    r = rng.uniform(1e5, 9e5, n)
    p = np.stack(aer2ecef(az, el, r, np.radians(36.0), np.radians(128.1), 300.0), axis=-1)
    v = rng.normal(size=(n, 3))
    v *= (rng.uniform(500, 7000, n) / np.linalg.norm(v, axis=1))[:, None]
    return np.hstack([p, v])


def _gs(x, P=None, t=T0):
    return GaussianState(x.reshape(6, 1), np.eye(6) if P is None else P, timestamp=t)


def _radar_detection(model, z, t=T0):
    vec = [[z[0]], [Bearing(z[1])], [Elevation(z[2])]] + ([[z[3]]] if len(z) == 4 else [])
    return Detection(np.array(vec, dtype=object), timestamp=t, measurement_model=model)


# ------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize("m", [3, 4])
def test_radar_model_is_warnlinks_radar_h_and_jacobian(m):
    rng = np.random.default_rng(1)
    model = reference.radar_measurement_model(SITE, R4[:m, :m])
    X = _states(rng, 40)
    for x in X:
        z = model.function(State(x.reshape(6, 1)))
        assert isinstance(z[1, 0], Bearing) and isinstance(z[2, 0], Elevation)
        zw = radar_h(x[None], SITE, m == 4)[0, :m]
        zf = np.asarray(z, float)[:, 0]
        np.testing.assert_array_equal(zf[[0, 2]], zw[[0, 2]])
        assert abs(wrap_pi(zf[1] - zw[1])) < 1e-15  # Bearing holds the azimuth in (-pi, pi]
        if m == 4:
            assert zf[3] == zw[3]
        np.testing.assert_array_equal(model.jacobian(State(x.reshape(6, 1))), radar_jacobian(x[None], SITE)[0, :m])
    # all columns at once (Stone Soup's StateVectors)
    zs = np.asarray(model.function(State(StateVectors(X.T))), float)
    np.testing.assert_array_equal(zs[[0, 2]], radar_h(X, SITE)[:, [0, 2]].T)


@pytest.mark.parametrize("m", [3, 4])
def test_radar_model_inverse_is_radar_to_ecef(m):
    rng = np.random.default_rng(2)
    model = reference.radar_measurement_model(SITE, R4[:m, :m])
    assert isinstance(model, ReversibleModel)
    for x in _states(rng, 20):
        z = radar_h(x[None], SITE)[0, :m]
        back = np.asarray(model.inverse_function(_radar_detection(model, z)), float)[:, 0]
        np.testing.assert_allclose(back[:3], radar_to_ecef(z[None], SITE)[0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(back[:3], x[:3], rtol=0, atol=1e-6)
        los = (x[:3] - SITE) / np.linalg.norm(x[:3] - SITE)
        if m == 4:  # velocity: the range-rate along the line of sight
            np.testing.assert_allclose(back[3:], (x[3:] @ los) * los, atol=1e-9)
        else:
            assert not back[3:].any()


def test_infrared_model_is_warnlinks_ir_h_and_jacobian():
    rng = np.random.default_rng(3)
    model = reference.infrared_measurement_model(SAT, R_IR)
    assert not isinstance(model, ReversibleModel)  # two angles cannot start a track
    for x in _states(rng, 30):
        np.testing.assert_array_equal(np.asarray(model.function(State(x.reshape(6, 1))), float)[:, 0],
                                      ir_h(x[None], SAT)[0])
        np.testing.assert_array_equal(model.jacobian(State(x.reshape(6, 1))), ir_jacobian(x[None], SAT)[0])


def test_transition_model_is_warnlinks_propagate_and_phase_noise():
    rng = np.random.default_rng(4)
    cfg = TrackerConfig()
    model = reference.ballistic_transition_model(cfg)
    for x, dt in zip(_states(rng, 10), [0.3, 1.0, 4.9, 5.1, 12.0, 37.5, 60.0, 2.0, 0.01, 20.0], strict=True):
        s = State(x.reshape(6, 1), timestamp=T0)
        xw, phi = propagate(x[None], dt)
        np.testing.assert_array_equal(np.asarray(model.function(s, time_interval=timedelta(seconds=dt)))[:, 0], xw[0])
        np.testing.assert_array_equal(model.jacobian(s, time_interval=timedelta(seconds=dt)), phi[0])
        q = reference.phase_q(x[None], cfg)[0]
        np.testing.assert_array_equal(model.covar(time_interval=timedelta(seconds=dt), noise_state=s),
                                      white_acceleration_q(dt, q)[0])
        np.testing.assert_array_equal(model.covar(time_interval=timedelta(seconds=dt)),
                                      white_acceleration_q(dt, reference.reference_noise(cfg)["q_midcourse"])[0])
    # several states at once (Stone Soup's StateVectors)
    X = _states(rng, 5)
    out = model.function(State(StateVectors(X.T), timestamp=T0), time_interval=timedelta(seconds=7.0))
    np.testing.assert_array_equal(np.asarray(out).T, propagate(X, 7.0)[0])


def test_phase_noise_follows_height_and_climb():
    cfg = TrackerConfig()
    noise = reference.reference_noise(cfg)
    lat, lon = np.radians(39.0), np.radians(126.0)
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])

    def state(h_m, climb_m_s):
        p = np.array(geodetic2ecef(39.0, 126.0, h_m, deg=True))
        return np.hstack([p, 2000.0 * east + climb_m_s * up])

    X = np.array([state(50e3, 500.0), state(50e3, -500.0), state(100e3, -500.0), state(300e3, 500.0),
                  state(300e3, -500.0), state(100e3, 500.0)])
    expect = [noise["q_boost"], noise["q_terminal"], noise["q_midcourse"], noise["q_midcourse"],
              noise["q_midcourse"], noise["q_boost"]]
    np.testing.assert_array_equal(reference.phase_q(X, cfg), expect)
    assert noise["q_midcourse"] == cfg.q_coast  # warnlink's coast density in midcourse
    assert noise["q_boost"] > noise["q_terminal"] > noise["q_midcourse"]


def test_ekf_predict_and_update_equal_warnlinks_filter():
    """Stone Soup's EKF steps with these models give warnlink's ``kalman.predict`` and ``update``
    (Joseph form), with the azimuth innovation wrapped across north."""
    rng = np.random.default_rng(5)
    cfg = TrackerConfig()
    predictor = reference.stonesoup_components().PhaseNoiseEKFPredictor(reference.ballistic_transition_model(cfg))
    updater = ExtendedKalmanUpdater(measurement_model=None, use_joseph_cov=True)
    radar = reference.radar_measurement_model(SITE, R4)
    ir = reference.infrared_measurement_model(SAT, R_IR)
    # azimuths straddling north, so the measured and predicted azimuths sit either side of 0 / 2pi
    X = _states(rng, 12, az=np.concatenate([rng.uniform(-3e-3, 3e-3, 6), rng.uniform(0, 2 * np.pi, 6)]))
    X[:6, 3:] *= 0.01  # slow, so that they stay within a few mrad of north
    A = rng.normal(size=(12, 6, 6)) * np.array([300.0, 300, 300, 30, 30, 30])
    P = A @ np.swapaxes(A, 1, 2) + np.diag([1e2, 1e2, 1e2, 1.0, 1.0, 1.0])
    dt = 3.7
    wrapped = 0
    for x, p in zip(X, P, strict=True):
        pred = predictor.predict(_gs(x, p), timestamp=T0 + timedelta(seconds=dt))
        xp, Pp = predict(x[None], p[None], dt, reference.phase_q(x[None], cfg))
        np.testing.assert_allclose(np.asarray(pred.state_vector, float)[:, 0], xp[0], rtol=1e-14)
        np.testing.assert_allclose(pred.covar, Pp[0], rtol=1e-12, atol=1e-12 * np.abs(Pp[0]).max())
        for model, kind in ((radar, KIND_RADAR), (ir, KIND_IR)):
            m = model.ndim_meas
            zhat = radar_h(xp, SITE)[0] if kind == KIND_RADAR else ir_h(xp, SAT)[0]
            H = radar_jacobian(xp, SITE)[:, :m] if kind == KIND_RADAR else ir_jacobian(xp, SAT)
            R = model.covar()
            z = zhat + rng.multivariate_normal(np.zeros(m), R)
            if kind == KIND_RADAR:
                z[1] = np.mod(z[1], 2 * np.pi)  # as a report: [0, 2pi)
                wrapped += abs(z[1] - zhat[1]) > np.pi
                det = _radar_detection(model, z, pred.timestamp)
            else:
                det = Detection(z.reshape(m, 1), timestamp=pred.timestamp, measurement_model=model)
            nu = innovation(z[None], zhat[None], kind)
            xu, Pu, _S, nis = update(xp, Pp, nu, H, np.asarray(R)[None])
            post = updater.update(SingleHypothesis(pred, det))
            np.testing.assert_allclose(np.asarray(post.state_vector, float)[:, 0], xu[0], rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(post.covar, Pu[0], rtol=1e-8, atol=1e-9 * np.abs(Pu[0]).max())
            # the gate distance is warnlink's normalised innovation squared over the chi-square gate
            meas_pred = updater.predict_measurement(pred, model)
            d = reference.stonesoup_components().GateScaledMahalanobis(gate_probability=cfg.gate_probability)(
                meas_pred, det)
            np.testing.assert_allclose(d**2 * chi2.ppf(cfg.gate_probability, m), nis[0], rtol=1e-8)
    assert wrapped > 0  # some innovations really crossed north


# -------------------------------------------------------------------------------------- feeding


def _batch(t_s, sensor, kind, z, cov, pos):
    n = len(t_s)
    return ReportBatch(np.asarray(t_s, float), np.asarray(t_s, float) + 1.0, np.asarray(sensor, np.int32),
                       np.asarray(kind, np.int8), np.asarray(z, float), np.asarray(cov, float),
                       np.asarray(pos, float), np.full(n, -1, np.int32), ["R", "IR"], [])


def _radar_rows(rng, n, t):
    X = _states(rng, n)
    z = radar_h(X, SITE)
    return list(np.full(n, t)), z, np.broadcast_to(R4, (n, 4, 4))


def test_reports_become_time_ordered_scans_and_bad_ones_are_dropped():
    rng = np.random.default_rng(6)
    zs, covs, ts, sensors, kinds, pos = [], [], [], [], [], []
    for t in (3.0, 1.0000004, 2.0):  # out of order; a time finer than a microsecond
        t_list, z, cov = _radar_rows(rng, 3, t)
        zs.append(z)
        covs.append(cov)
        ts += t_list
        sensors += [0] * 3
        kinds += [KIND_RADAR] * 3
        pos += [SITE] * 3
    zir = np.full((2, 4), np.nan)
    zir[:, :2] = ir_h(_states(rng, 2), SAT)
    cir = np.full((2, 4, 4), np.nan)
    cir[:, :2, :2] = R_IR
    zs.append(zir)
    covs.append(cir)
    ts += [2.0, 2.0]
    sensors += [1, 1]
    kinds += [KIND_IR, KIND_IR]
    pos += [SAT, SAT]
    b = _batch(ts, sensors, kinds, np.vstack(zs), np.concatenate(covs), pos)
    b.z[0, 0] = -1.0  # bad range
    b.cov[4, 1, 1] = 0.0  # bad variance
    scans, t_of, n_used = reference.to_detections(b)
    assert n_used == len(b) - 2
    times = [stamp for stamp, _ in scans]
    assert times == sorted(times) and len(scans) == 4  # (1, R), (2, R), (2, IR), (3, R)
    assert [t_of[s] for s in times] == [1.0000004, 2.0, 2.0, 3.0]
    assert sum(len(d) for _, d in scans) == n_used
    models = {id(det.measurement_model) for _, dets in scans for det in dets}
    assert len(models) == 2  # one model per (sensor, kind, dimension, noise)
    for stamp, dets in scans:
        for det in dets:
            i = det.metadata["report"]
            assert det.timestamp == stamp and b.t_s[i] == t_of[stamp]
            np.testing.assert_allclose(np.asarray(det.state_vector, float)[:, 0] % (2 * np.pi),
                                       b.z[i][np.isfinite(b.z[i])] % (2 * np.pi), rtol=1e-15)
    with pytest.raises(TypeError, match="ReportBatch"):
        reference.to_detections([1, 2, 3])


def test_infrared_reports_alone_start_no_track():
    rng = np.random.default_rng(7)
    X = _states(rng, 2)
    t = np.repeat(np.arange(0.0, 50.0, 5.0), 2)
    z = np.full((len(t), 4), np.nan)
    z[:, :2] = ir_h(np.tile(X, (10, 1)), SAT)
    cov = np.full((len(t), 4, 4), np.nan)
    cov[:, :2, :2] = R_IR
    b = _batch(t, np.ones(len(t)), np.full(len(t), KIND_IR), z, cov, np.broadcast_to(SAT, (len(t), 3)))
    hist, stats = reference.run_stonesoup(b)
    assert stats["reports_used"] == len(t) and stats["tracks_confirmed"] == 0 and len(hist.t_s) == 0


def test_bad_model_inputs_are_named():
    with pytest.raises(ValueError, match="radar noise covariance"):
        reference.radar_measurement_model(SITE, np.eye(2))
    with pytest.raises(ValueError, match="positive variances"):
        reference.radar_measurement_model(SITE, np.diag([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="site_ecef"):
        reference.radar_measurement_model([np.nan, 0.0, 0.0], np.eye(3))
    with pytest.raises(ValueError, match="infrared noise covariance"):
        reference.infrared_measurement_model(SAT, np.eye(3))
    with pytest.raises(ValueError, match="6 columns"):
        reference.phase_q(np.zeros((2, 3)))


def test_missing_stonesoup_names_the_extra(monkeypatch):
    reference.stonesoup_components.cache_clear()
    monkeypatch.setitem(sys.modules, "stonesoup", None)
    try:
        with pytest.raises(ImportError, match=r"pip install 'warnlink\[bench\]'"):
            reference.run_stonesoup(ReportBatch.empty())
    finally:
        monkeypatch.undo()
        reference.stonesoup_components.cache_clear()


# -------------------------------------------------------------------------------- whole tracker

SALVO = """
name: reference-test
exercise: true
seed: 5
sensors: {include: [USA-TPY2-SEONGJU]}
launches:
  - id: L
    site: {lat: 39.2, lon: 125.673}
    time: 2026-01-01T00:00:00Z
    missile: SRBM-solid
    azimuth_deg: 95
    apogee_km: 97
    range_km: 380
    count: 2
    spacing_s: 3
    azimuth_spread_deg: 4
    separate_stages: false
"""


@pytest.fixture(scope="module")
def runs():
    sim = simulate(decode_scenario(SALVO))
    wl = Tracker().run(sim.reports.sorted_by_arrival())
    ss_hist, stats = reference.run_stonesoup(sim.reports)
    return sim, score(wl, sim.objects), ss_hist, stats, score(ss_hist, sim.objects)


def test_stonesoup_tracks_every_missile_as_well_as_warnlink(runs):
    sim, wl, ss_hist, _stats, ss = runs
    a = ss_hist.arrays()
    # every object is followed by a confirmed Stone Soup track (median error under 1 km) ...
    followed = set()
    for k in np.unique(a["track"]):
        m = a["track"] == k
        for o in sim.objects:
            p, _, ok = o.trajectory.sample(a["t_s"][m] - o.offset_s)
            if ok.sum() > 20 and np.median(np.linalg.norm(p[ok] - a["x"][m][ok, :3], axis=1)) < 1000.0:
                followed.add(o.index)
    assert followed == {o.index for o in sim.objects}
    assert ss["missed_mean"] < 0.5 and ss["n_tracks_confirmed"] <= 2 * len(sim.objects)
    # ... in midcourse better than one report (cross-range error range x angle sigma on two axes) ...
    r = sim.reports
    single = np.sqrt(np.mean(r.z[r.truth >= 0, 0] ** 2 * 2 * r.cov[r.truth >= 0, 1, 1]))
    assert ss["rmse_m"]["midcourse"] < single
    # ... and in the same range as warnlink's tracker on the same reports
    assert 1 / 3 < ss["rmse_m"]["midcourse"] / wl["rmse_m"]["midcourse"] < 3
    assert 1 / 3 < ss["gospa_mean"] / wl["gospa_mean"] < 3
    # the midcourse filter is consistent (6-state NEES near 6)
    assert 2 < ss["nees_phase"]["midcourse"] < 12


def test_history_rows_are_confirmed_updates_at_report_times(runs):
    sim, _, ss_hist, stats, _ = runs
    a = ss_hist.arrays()
    assert len(a["t_s"]) == stats["updates"]["radar"] + stats["updates"]["ir"] > 0
    assert np.all(a["status"] == CONFIRMED)
    assert np.isin(a["t_s"], sim.reports.t_s).all()  # exact report times, not rounded timestamps
    assert a["x"].shape[1:] == (6,) and a["P"].shape[1:] == (6, 6)
    assert np.allclose(a["P"], np.swapaxes(a["P"], 1, 2), rtol=1e-9, atol=1e-6)
    assert stats["reports"] == stats["reports_used"] == len(sim.reports)
    assert stats["wall_s"] > 0 and stats["reports_per_s"] == pytest.approx(len(sim.reports) / stats["wall_s"])
    assert stats["order"] == "measurement-time"
