"""Shared harness for the assessment tests: Monte Carlo truths from the simulator and a small
standalone single-target EKF per run (vectorised across runs), fed radar measurements made from the
truth with ``radar_h`` plus the sensor's notional noise.

The EKF is deliberately independent of ``warnlink.tracking.tracker`` (whose internals are changing):
it uses ``warnlink.tracking.kalman`` (predict/update with the ballistic motion model) and
``warnlink.tracking.measurement`` (radar model and Jacobian). One radar scans every ``DT_S`` seconds
with detection probability 1 inside its coverage (``warnlink.sensors.radar_visible``: range,
elevation, sector, Earth masking). A track starts at the first detection from that report's position
(``radar_to_ecef``, ``radar_cov_to_ecef``) with zero velocity and ``INIT_VEL_SIGMA_M_S`` per axis.
Process noise is ``Q_BOOST`` until the end of boost (taken from the truth's burnout time, standing
for plume loss seen from space) plus ``BOOST_MARGIN_S``, then ``Q_MIDCOURSE``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest

from warnlink.assessment.impact import DEFAULT_BETA_KG_M2, DEFAULT_BETA_LOG_SIGMA
from warnlink.physics import CLASSES, fly
from warnlink.sensors import KIND_RADAR, default_laydown, radar_sigmas, radar_visible
from warnlink.tracking.kalman import predict, update
from warnlink.tracking.measurement import innovation, radar_cov_to_ecef, radar_h_and_jacobian, radar_to_ecef

DT_S = 1.0
Q_BOOST = 2.0e3
Q_MIDCOURSE = 1.0e-6
BOOST_MARGIN_S = 10.0
INIT_VEL_SIGMA_M_S = 3000.0


@dataclass(frozen=True)
class Scenario:
    """A family of notional flights: class, launch area, azimuth and kick ranges, and the radar."""

    missile: str
    lat_deg: float
    lon_deg: float
    azimuth_deg: tuple[float, float]
    kick_deg: tuple[float, float]
    radar_id: str
    jitter_deg: float = 0.3


MRBM = Scenario("MRBM-liquid", 39.17, 127.45, (70.0, 110.0), (8.0, 12.0), "USA-TPY2-KYOGA")
"""MRBM-class flights of ~900-1150 km from the Wonsan area into the Sea of Japan, seen by the AN/TPY-2
at Kyogamisaki (NOTIONAL performance)."""
SRBM = Scenario("SRBM-solid", 39.17, 127.45, (60.0, 100.0), (18.0, 26.0), "USA-TPY2-SEONGJU")
"""SRBM-class lofted flights of ~600-750 km from the same area, seen by the AN/TPY-2 at Seongju."""


def radar_spec(sensor_id: str):
    """The laydown's sensor ``sensor_id`` (from ``warnlink/data/sensors.csv``)."""
    for s in default_laydown():
        if s.sensor_id == sensor_id:
            return s
    raise KeyError(sensor_id)


def make_flights(sc: Scenario, n: int, rng, beta_prior: bool = True) -> list:
    """``n`` flights of the scenario with uniform random azimuth, kick and launch-point jitter and,
    with ``beta_prior``, a re-entry vehicle whose ballistic coefficient is drawn from the prior that
    ``predict_impact`` assumes (log-normal, median ``DEFAULT_BETA_KG_M2``, ``DEFAULT_BETA_LOG_SIGMA``):
    the population that prior describes."""
    out = []
    for _ in range(n):
        m = CLASSES[sc.missile]
        if beta_prior:
            beta = DEFAULT_BETA_KG_M2 * np.exp(DEFAULT_BETA_LOG_SIGMA * rng.standard_normal())
            m = dataclasses.replace(m, rv_cda_m2=m.payload_kg / beta)
        az = rng.uniform(*sc.azimuth_deg)
        kick = rng.uniform(*sc.kick_deg)
        lat = sc.lat_deg + rng.uniform(-sc.jitter_deg, sc.jitter_deg)
        lon = sc.lon_deg + rng.uniform(-sc.jitter_deg, sc.jitter_deg)
        out.append(fly(m, lat, lon, az, kick, separate_stages=False))
    return out


def run_ekf(flights, spec, rng, eval_times):
    """Track every flight with its own EKF (all runs in one batch) and return the estimates.

    Args:
        flights: list of ``Flight`` (all launched at t = 0).
        spec: the radar ``SensorSpec``.
        rng: ``numpy.random.Generator`` for the measurement noise.
        eval_times: (R, E) times [s after launch] per run at which to record the estimate.

    Returns:
        dict with ``x`` (R, E, 6), ``P`` (R, E, 6, 6), ``truth`` (R, E, 6), ``tracked`` (R, E) bool
        (a track existed and had been updated at least 10 times), ``first_detection_s`` (R,).
    """
    r = len(flights)
    eval_times = np.asarray(eval_times, float)
    t_end = float(np.max(eval_times))
    grid = np.arange(0.0, t_end + DT_S / 2, DT_S)
    kk = len(grid)
    truth = np.empty((r, kk, 6))
    for i, f in enumerate(flights):
        p, v, ok = f.warhead.sample(grid)
        truth[i, :, :3], truth[i, :, 3:] = p, v
        truth[i, ~ok] = np.nan
    vis = np.zeros((r, kk), bool)
    okp = np.isfinite(truth[..., 0])
    vis[okp] = radar_visible(spec, truth[okp][:, :3])
    burnout = np.array([f.burnout_time_s for f in flights])
    sig = radar_sigmas(spec)
    use_rr = bool(spec.measures_range_rate)
    m = 4 if use_rr else 3
    R = np.diag(sig[:m] ** 2)
    site = spec.position_ecef_m
    first = np.where(vis.any(axis=1), np.argmax(vis, axis=1), kk)

    x = np.zeros((r, 6))
    P = np.zeros((r, 6, 6))
    started = np.zeros(r, bool)
    n_upd = np.zeros(r, int)
    ev_idx = np.rint(eval_times / DT_S).astype(int)
    out_x = np.full((r, eval_times.shape[1], 6), np.nan)
    out_P = np.full((r, eval_times.shape[1], 6, 6), np.nan)
    out_ok = np.zeros((r, eval_times.shape[1]), bool)
    for k in range(kk):
        t = grid[k]
        if started.any():
            a = np.flatnonzero(started)
            q = np.where(t <= burnout[a] + BOOST_MARGIN_S, Q_BOOST, Q_MIDCOURSE)
            x[a], P[a] = predict(x[a], P[a], DT_S, q)
        new = (first == k) & ~started
        upd = vis[:, k] & started
        if new.any():
            b = np.flatnonzero(new)
            z = _measure(truth[b, k], site, sig, m, rng)
            x[b, :3] = radar_to_ecef(z, site)
            x[b, 3:] = 0.0
            P[b] = 0.0
            P[b, :3, :3] = radar_cov_to_ecef(z, np.broadcast_to(R[:3, :3], (len(b), 3, 3)), site)
            P[b, 3:, 3:] = INIT_VEL_SIGMA_M_S**2 * np.eye(3)
            started[b] = True
        if upd.any():
            u = np.flatnonzero(upd)
            z = _measure(truth[u, k], site, sig, m, rng)
            zhat, H = radar_h_and_jacobian(x[u], site, with_range_rate=use_rr)
            nu = innovation(z, zhat[:, :m], KIND_RADAR)
            x[u], P[u], _, _ = update(x[u], P[u], nu, H[:, :m], np.broadcast_to(R, (len(u), m, m)))
            n_upd[u] += 1
        hit = ev_idx == k
        if hit.any():
            ri, ei = np.nonzero(hit)
            out_x[ri, ei] = x[ri]
            out_P[ri, ei] = P[ri]
            out_ok[ri, ei] = started[ri] & (n_upd[ri] >= 10)
    tr = np.take_along_axis(truth, ev_idx[..., None], axis=1)
    return {"x": out_x, "P": out_P, "truth": tr, "tracked": out_ok, "first_detection_s": grid[np.minimum(first, kk - 1)]
            * np.where(first < kk, 1.0, np.nan)}


def _measure(state, site, sig, m, rng):
    zhat, _ = radar_h_and_jacobian(state, site, with_range_rate=m == 4)
    z = zhat[:, :m] + rng.standard_normal((len(state), m)) * sig[:m]
    z[:, 1] = np.mod(z[:, 1], 2.0 * np.pi)
    return z


def impact_truth(flights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True impact latitude, longitude [deg] and time [s after launch] of each flight's warhead."""
    lat = np.array([f.warhead.impact_point()[0] for f in flights])
    lon = np.array([f.warhead.impact_point()[1] for f in flights])
    t = np.array([f.warhead.t_end for f in flights])
    return lat, lon, t


def rv_beta(flight) -> float:
    """The re-entry vehicle's true ballistic coefficient [kg/m^2] (payload over its drag area)."""
    return flight.missile.payload_kg / flight.missile.rv_cda_m2


@pytest.fixture(scope="session")
def mc():
    """Namespace of the harness: ``MRBM``, ``SRBM``, ``radar_spec``, ``make_flights``, ``run_ekf``,
    ``impact_truth``, ``rv_beta``."""

    class _NS:
        pass

    ns = _NS()
    for name in ("MRBM", "SRBM", "radar_spec", "make_flights", "run_ekf", "impact_truth", "rv_beta", "Scenario"):
        setattr(ns, name, globals()[name])
    return ns
