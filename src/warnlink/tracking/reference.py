"""The Stone Soup reference tracker, built from Stone Soup's own components as close to warnlink's
tracker (``warnlink.tracking.tracker``) as they allow, and run on the same ``ReportBatch``.

Stone Soup (https://github.com/dstl/Stone-Soup, ``pip install 'warnlink[bench]'``) is imported lazily,
inside functions: it is an optional dependency.

Components (Stone Soup 1.9):

* **Motion**: a ``GaussianTransitionModel`` (``BallisticTransition``) wrapping warnlink's 6-state
  ballistic model ``warnlink.tracking.motion.propagate`` (J2 gravity, rotating Earth, no drag; Stone
  Soup has no ballistic model of its own): ``function`` = propagated state, ``jacobian`` = its
  state-transition matrix (both from one Runge-Kutta integration, cached between the two calls),
  ``covar`` = ``white_acceleration_q`` with a ``q`` per flight phase (``reference_noise``): warnlink's
  ``q_coast`` in midcourse and its phase heights, but larger boost and terminal densities than
  warnlink's, whose IMM estimates thrust and drag as states that this model lacks. The phase is that
  of the prior (height and climb). Stone Soup's ``KalmanPredictor`` calls ``covar`` without the prior,
  so ``PhaseNoiseEKFPredictor`` (an ``ExtendedKalmanPredictor`` with one override) passes it through
  as ``noise_state``; without it ``covar`` uses the midcourse ``q``. warnlink's IMM (boost/coast
  models), drag estimation and JPDA have no counterpart here: this is a single-model EKF with GNN.
* **Measurements**: one model per (sensor, kind, dimension, noise): ``RadarMeasurement`` (range,
  azimuth, elevation[, range-rate]) wrapping ``measurement.radar_h`` / ``radar_jacobian``, a
  ``ReversibleModel`` whose ``inverse_function`` is ``measurement.radar_to_ecef`` (plus range-rate
  along the line of sight); ``InfraredMeasurement`` (two line-of-sight angles) wrapping ``ir_h`` /
  ``ir_jacobian``, not reversible (two angles cannot start a track, as in warnlink). Azimuth and
  elevation carry Stone Soup's ``Bearing`` and ``Elevation`` angle types, so innovations and gating
  distances are wrapped by Stone Soup itself.
* **Filter**: ``ExtendedKalmanUpdater`` with the Joseph form (as warnlink).
* **Association**: ``DistanceHypothesiser`` with a Mahalanobis measure, gated at warnlink's
  ``gate_probability`` (chi-square 0.9999 of the measurement dimension; ``GateScaledMahalanobis``
  divides the distance by the gate so that one ``missed_distance = 1`` serves radar (3 or 4 rows) and
  infrared (2 rows) alike - within a scan all reports share one dimension, so the assignment is the
  one plain Mahalanobis distances give); ``GNNWith2DAssignment``. Costs are Stone Soup's (sum of
  Mahalanobis distances), not warnlink's ``d^2 + ln det S``.
* **Initiation**: ``MultiMeasurementInitiator`` (``min_points = confirm_hits`` updates) over
  ``SimpleMeasurementInitiator`` (prior: position from the radar report, velocity zero with a sigma of
  ``init_max_speed_m_s / sqrt(3)`` per axis); infrared reports update holding tracks but never start
  one. Holding tracks are deleted ``tentative_timeout_s`` after their last update.
* **Deletion**: ``UpdateTimeDeleter`` after ``delete_after_s`` without an update (warnlink's rule; no
  covariance-based deletion, warnlink has none).
* **Tracker**: ``MultiTargetTracker``.

Feeding: reports are converted to ``Detection`` objects grouped by scan (sensor, time) with timestamps
``epoch + t_s`` (microsecond resolution: at most 0.5 us of rounding), and fed in **measurement-time
order**: Stone Soup has no out-of-sequence handling, so it is given the reports sorted by ``t_s``,
an advantage over warnlink, which takes them in arrival order. Reports warnlink's tracker rejects
(non-finite values, non-positive range or variance) are dropped the same way. ``run_stonesoup``
times only the tracker loop; the conversion to Stone Soup objects and the extraction of the history
afterwards are timed apart (``convert_s``, ``extract_s``) and not counted in ``reports_per_s``.
"""

from __future__ import annotations

import functools
import time
from datetime import datetime, timedelta
from types import SimpleNamespace

import numpy as np
from scipy.stats import chi2

from warnlink.geo import ecef2geodetic
from warnlink.sensors.reports import KIND_IR, KIND_RADAR, ReportBatch
from warnlink.tracking.measurement import (
    ir_h,
    ir_jacobian,
    measurement_dims,
    radar_h,
    radar_jacobian,
    radar_to_ecef,
)
from warnlink.tracking.motion import propagate, white_acceleration_q
from warnlink.tracking.tracker import CONFIRMED, TrackerConfig, TrackHistory

INSTALL_HINT = "pip install 'warnlink[bench]'"
DEFAULT_EPOCH = datetime(2000, 1, 1)
"""Epoch of the Stone Soup timestamps (naive UTC) when none is given; only differences matter."""
N_X = 6
REFERENCE_Q_BOOST = 2.0e3
"""Boost white-acceleration density [m^2/s^3] of the 6-state model: unmodelled thrust (tens of m/s^2
changing over seconds); the value warnlink's own 6-state EKF used before it gained a thrust state."""
REFERENCE_Q_TERMINAL = 5.0e2
"""Terminal density [m^2/s^3] of the 6-state model: unmodelled drag and manoeuvres (warnlink's former
6-state value; its tracker now estimates the drag parameter instead)."""

__all__ = [
    "DEFAULT_EPOCH",
    "INSTALL_HINT",
    "ballistic_transition_model",
    "build_tracker",
    "infrared_measurement_model",
    "phase_q",
    "radar_measurement_model",
    "reference_noise",
    "run_stonesoup",
    "stonesoup_components",
    "to_detections",
]


def reference_noise(config: TrackerConfig | None = None) -> dict[str, float]:
    """Process noise of the 6-state reference model from warnlink's ``config``: ``q_boost``,
    ``q_midcourse``, ``q_terminal`` [m^2/s^3] and the phase heights ``boost_alt_m``, ``terminal_alt_m``.

    Midcourse ``q`` and the heights are warnlink's (``q_coast``, ``boost_alt_m``, ``terminal_alt_m``).
    Boost and terminal are ``REFERENCE_Q_BOOST`` and ``REFERENCE_Q_TERMINAL``: warnlink's IMM estimates
    the thrust and the drag parameter as states, so its own ``q_boost`` and ``q_terminal`` are too small
    for a 6-state ballistic model, which must cover thrust and drag with white acceleration.
    """
    cfg = config or TrackerConfig()
    q_mid = getattr(cfg, "q_coast", None)
    if q_mid is None:
        q_mid = cfg.q_midcourse
    return {"q_boost": REFERENCE_Q_BOOST, "q_midcourse": float(q_mid), "q_terminal": REFERENCE_Q_TERMINAL,
            "boost_alt_m": float(cfg.boost_alt_m), "terminal_alt_m": float(cfg.terminal_alt_m)}


def phase_q(x, config: TrackerConfig | None = None) -> np.ndarray:
    """White-acceleration density ``q`` [m^2/s^3] (N,) of ECEF states ``x`` (N, >= 6) by flight phase
    (``reference_noise``): boost (climbing below ``boost_alt_m``), terminal (not climbing below
    ``terminal_alt_m``), midcourse otherwise (warnlink's phase rule without its IMM mode probability)."""
    noise = reference_noise(config)
    x = np.atleast_2d(np.asarray(x, float))
    if x.ndim != 2 or x.shape[-1] < N_X:
        raise ValueError(f"states need at least {N_X} columns (ECEF position, velocity), got shape {x.shape}")
    lat, lon, alt = ecef2geodetic(x[:, 0], x[:, 1], x[:, 2])
    up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
    climb = np.einsum("ij,ij->i", x[:, 3:6], up)
    q = np.full(len(x), noise["q_midcourse"])
    q[(alt < noise["boost_alt_m"]) & (climb > 0)] = noise["q_boost"]
    q[(alt < noise["terminal_alt_m"]) & (climb <= 0)] = noise["q_terminal"]
    return q


@functools.cache
def stonesoup_components() -> SimpleNamespace:
    """Import Stone Soup and define the warnlink models on its base classes (once).

    Returns a namespace of the classes (``BallisticTransition``, ``RadarMeasurement``,
    ``InfraredMeasurement``, ``PhaseNoiseEKFPredictor``, ``GateScaledMahalanobis``) and the Stone Soup
    classes ``build_tracker`` uses. Raises ``ImportError`` naming ``pip install 'warnlink[bench]'``
    when Stone Soup is not installed.
    """
    try:
        import stonesoup
        from stonesoup.base import Property
        from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
        from stonesoup.deleter.time import UpdateTimeDeleter
        from stonesoup.hypothesiser.distance import DistanceHypothesiser
        from stonesoup.initiator.simple import MultiMeasurementInitiator, SimpleMeasurementInitiator
        from stonesoup.measures import Mahalanobis
        from stonesoup.models.base import ReversibleModel, TimeVariantModel
        from stonesoup.models.measurement.nonlinear import NonLinearGaussianMeasurement
        from stonesoup.models.transition.nonlinear import GaussianTransitionModel
        from stonesoup.predictor.kalman import ExtendedKalmanPredictor
        from stonesoup.tracker.simple import MultiTargetTracker
        from stonesoup.types.angle import Bearing, Elevation
        from stonesoup.types.array import CovarianceMatrix, StateVector, StateVectors
        from stonesoup.types.detection import Detection
        from stonesoup.types.state import GaussianState
        from stonesoup.types.update import Update
        from stonesoup.updater.kalman import ExtendedKalmanUpdater
    except ImportError as exc:
        raise ImportError(f"the Stone Soup reference tracker needs Stone Soup, an optional dependency: "
                          f"{INSTALL_HINT} ({exc})") from exc

    def _states(state) -> np.ndarray:
        """(k, 6) float states from a Stone Soup state (its vector may hold angle types)."""
        return np.asarray(state.state_vector, dtype=float).T

    def _noise(model, noise, k):
        if isinstance(noise, bool) or noise is None:
            return model.rvs(num_samples=k) if noise else 0.0
        return noise

    class BallisticTransition(GaussianTransitionModel, TimeVariantModel):
        """warnlink's ballistic motion (``motion.propagate``, no drag) as a Stone Soup transition model;
        process noise ``white_acceleration_q`` with the per-phase ``q`` of ``phase_q``."""

        config: TrackerConfig = Property(default=None, doc="warnlink tracker tuning (phase heights, q_coast)")

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if self.config is None:
                self.config = TrackerConfig()
            self._last = None

        @property
        def ndim_state(self) -> int:
            return N_X

        def _propagated(self, state, time_interval):
            x = _states(state)
            dt = 0.0 if time_interval is None else time_interval.total_seconds()
            key = (x.tobytes(), dt)
            if self._last is None or self._last[0] != key:
                xn, phi = propagate(x, dt, with_stm=True)
                self._last = (key, xn, phi)
            return self._last[1], self._last[2]

        def function(self, state, noise=False, time_interval=None, **kwargs):
            """Propagated state(s) ``time_interval`` ahead (6, k), plus noise if asked."""
            xn, _ = self._propagated(state, time_interval)
            out = StateVectors(xn.T) if xn.shape[0] > 1 else StateVector(xn[0])
            return out + _noise(self, noise, xn.shape[0])

        def jacobian(self, state, time_interval=None, **kwargs):
            """State-transition matrix (6, 6) of the propagation from ``state``."""
            return self._propagated(state, time_interval)[1][0]

        def covar(self, time_interval=None, noise_state=None, **kwargs):
            """``white_acceleration_q`` over ``time_interval`` with the phase ``q`` of ``noise_state``
            (the prior; ``q_midcourse`` when not given)."""
            dt = 0.0 if time_interval is None else time_interval.total_seconds()
            if noise_state is None:
                q = reference_noise(self.config)["q_midcourse"]
            else:
                q = phase_q(_states(noise_state)[:1], self.config)
            return CovarianceMatrix(white_acceleration_q(dt, q)[0])

    class PhaseNoiseEKFPredictor(ExtendedKalmanPredictor):
        """``ExtendedKalmanPredictor`` that hands the prior to the transition model's ``covar`` (as
        ``noise_state``), so the process noise follows the prior's flight phase as in warnlink."""

        def _predicted_covariance(self, prior, predict_over_interval, control_input=None, **kwargs):
            return super()._predicted_covariance(prior, predict_over_interval, control_input=control_input,
                                                 noise_state=prior, **kwargs)

    class RadarMeasurement(NonLinearGaussianMeasurement, ReversibleModel):
        """Radar range [m], azimuth (``Bearing``) [rad], elevation (``Elevation``) [rad][, range-rate
        [m/s]] of an ECEF state from the site ``site_ecef``: ``measurement.radar_h`` and
        ``radar_jacobian``; 3 or 4 rows as ``noise_covar``."""

        site_ecef: np.ndarray = Property(doc="Radar site, ECEF [m] (3,)")
        ndim_state: int = Property(default=N_X, doc="State dimensions (ECEF position, velocity)")
        mapping: tuple = Property(default=(0, 1, 2), doc="Position dimensions of the state")
        velocity_mapping: tuple = Property(default=(3, 4, 5), doc="Velocity dimensions of the state")

        @property
        def ndim_meas(self) -> int:
            return self.noise_covar.shape[0]

        def function(self, state, noise=False, **kwargs):
            m = self.ndim_meas
            x = _states(state)
            z = radar_h(x, self.site_ecef, m == 4)[:, :m].T
            typed = np.array([[0.0], [Bearing(0.0)], [Elevation(0.0)], [0.0]], dtype=object)[:m]
            return StateVectors(typed + z + _noise(self, noise, x.shape[0]))

        def jacobian(self, state, **kwargs):
            return radar_jacobian(_states(state)[:1], self.site_ecef)[0, : self.ndim_meas]

        def inverse_function(self, detection, **kwargs):
            """ECEF state (6, 1): position of the report (``radar_to_ecef``), velocity its range-rate
            along the line of sight (zero without range-rate)."""
            z = np.asarray(detection.state_vector, dtype=float)[:, 0]
            pos = radar_to_ecef(z[None, :3], self.site_ecef)[0]
            out = np.zeros(N_X)
            out[0:3] = pos
            if len(z) == 4:
                out[3:6] = z[3] * (pos - self.site_ecef) / z[0]
            return StateVector(out)

    class InfraredMeasurement(NonLinearGaussianMeasurement):
        """Infrared line-of-sight angles ``alpha, beta`` [rad] of an ECEF state from the satellite at
        ``sat_ecef``: ``measurement.ir_h`` and ``ir_jacobian``. Not reversible."""

        sat_ecef: np.ndarray = Property(doc="Satellite, ECEF [m] (3,)")
        ndim_state: int = Property(default=N_X, doc="State dimensions (ECEF position, velocity)")
        mapping: tuple = Property(default=(0, 1, 2), doc="Position dimensions of the state")

        @property
        def ndim_meas(self) -> int:
            return 2

        def function(self, state, noise=False, **kwargs):
            x = _states(state)
            return StateVectors(ir_h(x, self.sat_ecef).T + _noise(self, noise, x.shape[0]))

        def jacobian(self, state, **kwargs):
            return ir_jacobian(_states(state)[:1], self.sat_ecef)[0]

    class GateScaledMahalanobis(Mahalanobis):
        """Mahalanobis distance divided by the square root of the chi-square gate of the measurement
        dimension at ``gate_probability``: a ``missed_distance`` of 1 gates every dimension alike."""

        gate_probability: float = Property(default=0.9999, doc="Gate probability (chi-square)")

        def __call__(self, state1, state2):
            d = super().__call__(state1, state2)
            return d / _gate_sqrt(self.gate_probability, len(state1.state_vector))

    return SimpleNamespace(
        version=stonesoup.__version__,
        BallisticTransition=BallisticTransition,
        PhaseNoiseEKFPredictor=PhaseNoiseEKFPredictor,
        RadarMeasurement=RadarMeasurement,
        InfraredMeasurement=InfraredMeasurement,
        GateScaledMahalanobis=GateScaledMahalanobis,
        ExtendedKalmanUpdater=ExtendedKalmanUpdater,
        DistanceHypothesiser=DistanceHypothesiser,
        GNNWith2DAssignment=GNNWith2DAssignment,
        MultiMeasurementInitiator=MultiMeasurementInitiator,
        SimpleMeasurementInitiator=SimpleMeasurementInitiator,
        UpdateTimeDeleter=UpdateTimeDeleter,
        MultiTargetTracker=MultiTargetTracker,
        Detection=Detection,
        GaussianState=GaussianState,
        StateVector=StateVector,
        CovarianceMatrix=CovarianceMatrix,
        Bearing=Bearing,
        Elevation=Elevation,
        Update=Update,
    )


@functools.cache
def _gate_sqrt(probability: float, m: int) -> float:
    return float(np.sqrt(chi2.ppf(probability, m)))


def _site(p, name: str) -> np.ndarray:
    p = np.asarray(p, float)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be one finite ECEF position (3,) [m], got {p!r}")
    return p


def _noise_cov(R, dims: tuple[int, ...], what: str) -> np.ndarray:
    R = np.asarray(R, float)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] not in dims:
        raise ValueError(f"{what} noise covariance must be square with {' or '.join(map(str, dims))} rows, "
                         f"got shape {R.shape}")
    if not np.all(np.isfinite(R)) or np.any(np.diag(R) <= 0):
        raise ValueError(f"{what} noise covariance must be finite with positive variances, got {R.tolist()}")
    return R


def ballistic_transition_model(config: TrackerConfig | None = None):
    """Stone Soup transition model of warnlink's ballistic motion with ``config``'s per-phase ``q``."""
    return stonesoup_components().BallisticTransition(config=config or TrackerConfig())


def radar_measurement_model(site_ecef, R):
    """Stone Soup radar model at ECEF ``site_ecef`` (3,) [m] with noise ``R`` (3, 3) (range, azimuth,
    elevation) or (4, 4) (and range-rate), SI units."""
    ss = stonesoup_components()
    return ss.RadarMeasurement(site_ecef=_site(site_ecef, "site_ecef"),
                               noise_covar=ss.CovarianceMatrix(_noise_cov(R, (3, 4), "radar")))


def infrared_measurement_model(sat_ecef, R):
    """Stone Soup infrared model from the satellite at ECEF ``sat_ecef`` (3,) [m] with noise ``R``
    (2, 2) [rad^2] on ``alpha, beta``."""
    ss = stonesoup_components()
    return ss.InfraredMeasurement(sat_ecef=_site(sat_ecef, "sat_ecef"),
                                  noise_covar=ss.CovarianceMatrix(_noise_cov(R, (2,), "infrared")))


def _usable(r: ReportBatch) -> np.ndarray:
    """Reports warnlink's tracker accepts: finite time, known kind, finite used rows and positive noise,
    finite sensor position, positive radar range."""
    dims = measurement_dims(r.kind, r.z)
    zok = np.all(np.isfinite(np.where(dims, r.z, 0.0)), axis=1)
    var = np.diagonal(r.cov, axis1=1, axis2=2)
    rok = np.all(np.where(dims, np.isfinite(var) & (var > 0), True), axis=1) & dims.any(axis=1)
    pos_ok = np.all(np.isfinite(r.sensor_pos_ecef_m), axis=1)
    range_ok = np.where(r.kind == KIND_RADAR, r.z[:, 0] > 0, True)
    return np.isfinite(r.t_s) & zok & rok & pos_ok & range_ok


def to_detections(reports: ReportBatch, epoch: datetime | None = None) -> tuple[list, dict, int]:
    """Stone Soup scans from a report batch, in measurement-time order.

    Returns ``(scans, t_of, n_used)``: ``scans`` a list of ``(timestamp, set of Detection)``, one per
    (sensor, time), sorted by time (then sensor); ``t_of`` maps each timestamp back to its exact
    ``t_s`` [s after the epoch]; ``n_used`` the reports kept (unusable ones, as warnlink's tracker
    rejects them, are dropped). Timestamps are ``epoch + t_s`` (``DEFAULT_EPOCH`` if None). Each
    detection carries the measurement model of its (sensor, kind, dimension, noise), one instance per
    distinct combination, and ``metadata['report']`` its row in ``reports``.
    """
    if not isinstance(reports, ReportBatch):
        raise TypeError(f"reports must be a warnlink ReportBatch, got {type(reports).__name__}")
    ss = stonesoup_components()
    epoch = DEFAULT_EPOCH if epoch is None else epoch
    idx = np.flatnonzero(_usable(reports))
    idx = idx[np.lexsort((reports.sensor[idx], reports.t_s[idx]))]
    dims = measurement_dims(reports.kind, reports.z)
    models: dict = {}
    scans: list = []
    t_of: dict = {}
    if not len(idx):
        return scans, t_of, 0
    sensor, t_s = reports.sensor[idx], reports.t_s[idx]
    breaks = np.flatnonzero((np.diff(sensor) != 0) | (np.diff(t_s) != 0)) + 1
    for part in np.split(idx, breaks):
        t = float(reports.t_s[part[0]])
        stamp = epoch + timedelta(seconds=t)
        t_of.setdefault(stamp, t)
        dets = set()
        for i in part:
            used = dims[i]
            z = reports.z[i, used]
            R = reports.cov[i][np.ix_(used, used)]
            kind = int(reports.kind[i])
            pos = reports.sensor_pos_ecef_m[i]
            key = (int(reports.sensor[i]), kind, len(z), R.tobytes(), pos.tobytes())
            model = models.get(key)
            if model is None:
                model = (radar_measurement_model(pos, R) if kind == KIND_RADAR
                         else infrared_measurement_model(pos, R))
                models[key] = model
            if kind == KIND_RADAR:
                vec = [[z[0]], [ss.Bearing(z[1])], [ss.Elevation(z[2])]] + ([[z[3]]] if len(z) == 4 else [])
                sv = ss.StateVector(np.array(vec, dtype=object))
            elif kind == KIND_IR:
                sv = ss.StateVector(z)
            else:  # pragma: no cover - _usable keeps only the two kinds
                continue
            dets.add(ss.Detection(sv, timestamp=stamp, measurement_model=model, metadata={"report": int(i)}))
        scans.append((stamp, dets))
    return scans, t_of, len(idx)


def build_tracker(config: TrackerConfig | None = None, detector=None):
    """The Stone Soup ``MultiTargetTracker`` matching warnlink's ``config`` (module docstring), reading
    scans ``(timestamp, set of Detection)`` from ``detector`` (any iterable, e.g. ``to_detections``)."""
    cfg = config or TrackerConfig()
    ss = stonesoup_components()
    transition = ss.BallisticTransition(config=cfg)
    predictor = ss.PhaseNoiseEKFPredictor(transition)
    updater = ss.ExtendedKalmanUpdater(measurement_model=None, use_joseph_cov=True)

    def associator():
        measure = ss.GateScaledMahalanobis(gate_probability=cfg.gate_probability)
        return ss.GNNWith2DAssignment(ss.DistanceHypothesiser(predictor, updater, measure, missed_distance=1.0))

    sv = cfg.init_max_speed_m_s / np.sqrt(3.0)
    prior = ss.GaussianState(ss.StateVector(np.zeros(N_X)),
                             ss.CovarianceMatrix(np.diag([0.0, 0.0, 0.0, sv * sv, sv * sv, sv * sv])))
    initiator = ss.MultiMeasurementInitiator(
        prior_state=prior,
        deleter=ss.UpdateTimeDeleter(timedelta(seconds=cfg.tentative_timeout_s)),
        data_associator=associator(),
        updater=updater,
        min_points=cfg.confirm_hits,
        initiator=ss.SimpleMeasurementInitiator(prior, skip_non_reversible=True),
    )
    return ss.MultiTargetTracker(
        initiator=initiator,
        deleter=ss.UpdateTimeDeleter(timedelta(seconds=cfg.delete_after_s)),
        detector=detector,
        data_associator=associator(),
        updater=updater,
    )


def run_stonesoup(reports: ReportBatch, config: TrackerConfig | None = None,
                  epoch: datetime | None = None) -> tuple[TrackHistory, dict]:
    """Run the Stone Soup reference tracker over ``reports`` (fed in measurement-time order).

    Returns ``(history, stats)``: ``history`` a warnlink ``TrackHistory`` with one row per Stone Soup
    update of a released (confirmed) track, from the update that released it on (``status`` =
    ``CONFIRMED``; ``t_s`` the exact report time), so that ``warnlink.tracking.score.score`` scores it
    as warnlink's; ``stats``: ``wall_s`` (tracker loop only), ``reports`` (input), ``reports_used``,
    ``rejected``, ``reports_per_s`` (input reports / ``wall_s``), ``scans``, ``tracks_confirmed``,
    ``updates`` (updates of released tracks by report kind, ``radar`` and ``ir``), ``convert_s`` and
    ``extract_s`` (conversion in and out, not in ``wall_s``), ``stonesoup`` (version), ``order``
    (``"measurement-time"``).
    """
    ss = stonesoup_components()
    t0 = time.perf_counter()
    scans, t_of, n_used = to_detections(reports, epoch)
    convert_s = time.perf_counter() - t0

    tracker = build_tracker(config, scans)
    first_seen: dict = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for stamp, tracks in tracker:
        for tr in tracks:  # bookkeeping: when each track was released (one dict look-up per track)
            first_seen.setdefault(tr, stamp)
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0

    t0 = time.perf_counter()
    hist = TrackHistory()
    n_by_kind = np.zeros(2, int)
    for k, (tr, since) in enumerate(first_seen.items()):
        rows = [s for s in tr.states if isinstance(s, ss.Update) and s.hypothesis and s.timestamp >= since]
        if not rows:
            continue
        hist.t_s.append(np.array([t_of[s.timestamp] for s in rows]))
        hist.track.append(np.full(len(rows), k))
        hist.x.append(np.array([np.asarray(s.state_vector, float)[:, 0] for s in rows]))
        hist.P.append(np.array([np.asarray(s.covar, float) for s in rows]))
        hist.status.append(np.full(len(rows), CONFIRMED))
        kinds = reports.kind[[s.hypothesis.measurement.metadata["report"] for s in rows]]
        n_by_kind += np.bincount(kinds, minlength=2)[:2]
    extract_s = time.perf_counter() - t0
    stats = {
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "reports": len(reports),
        "reports_used": n_used,
        "rejected": len(reports) - n_used,
        "reports_per_s": len(reports) / wall_s if wall_s > 0 else float("inf"),
        "scans": len(scans),
        "tracks_confirmed": len(first_seen),
        "updates": {"radar": int(n_by_kind[KIND_RADAR]), "ir": int(n_by_kind[KIND_IR])},
        "convert_s": convert_s,
        "extract_s": extract_s,
        "stonesoup": ss.version,
        "order": "measurement-time",
    }
    return hist, stats
