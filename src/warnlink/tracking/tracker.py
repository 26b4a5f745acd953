"""The multi-target tracker: IMM (boost/coast) extended Kalman filters, gating, global nearest
neighbour or JPDA association, two-point initiation, M-of-N confirmation and deletion, over batches of
columnar sensor reports.

Tracks live in arrays (per-model states and covariances, mode probabilities, times, counters); a scan
(the reports one sensor made at one time) is processed in a handful of steps, with the extended filters
in two compiled passes (``_ekf_front_kernel``: steps 1-2; ``_imm_update_kernel``: step 4, GNN and JPDA
alike) and only the assignment, the JPDA weights' bookkeeping and the history in Python:

1. IMM mixing and prediction of every live track to the scan time with both motion models of
   ``warnlink.tracking.models`` (coast: ballistic with estimated drag; boost: thrust along the
   velocity), backwards for out-of-sequence reports, which are used, not dropped;
2. the (tracks x reports) matrix of Mahalanobis distances of the mixed prediction, gated at
   ``gate_probability``;
3. association: the 2-D assignment (``scipy.optimize.linear_sum_assignment``) on
   ``d^2 + ln det S`` (global nearest neighbour); where a track's gate holds more than one report or a
   report falls in more than one gate (closely spaced salvo objects) and ``jpda`` is on, the track is
   instead updated with the probabilistically weighted innovation of every report in its gate, with
   the spread-of-innovations covariance term (JPDA; the weights summed over every joint association
   event of the cluster of tracks that share reports, ``_jpda_exact_kernel``, or Fitzgerald's cheap
   approximation), the assignment still deciding which reports are "used" for initiation;
4. the EKF update of each model (Joseph form, ``warnlink.tracking.kalman.update``) and of the mode
   probabilities from each model's measurement likelihood;
5. leftover radar reports paired with the previous scan's leftovers of the same sensor into new
   tentative tracks (two-point initiation); a new track inside the gate of a track that has just burnt
   out is an object separated from it and starts from that track's state instead (track splitting,
   ``TrackerConfig.split_window_s``); for two minutes after, while both coast above the air, the two
   tracks' means are held to parting along the parent's velocity (``TrackerConfig.pair_window_s``).
   Infrared line-of-sight reports update existing tracks only.

Flight phase per track: boost while the boost model's probability exceeds 1/2, then terminal when
descending below ``terminal_alt_m``, midcourse otherwise. Burnout time: the time the boost probability
of a track that was boosting first falls below 1/2 (cleared if it rises again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

from warnlink.geo.frames import ecef2geodetic_kernel
from warnlink.geo.wgs84 import A_M
from warnlink.sensors.reports import KIND_IR, KIND_RADAR, ReportBatch
from warnlink.tracking import models
from warnlink.tracking.kalman import symmetrise
from warnlink.tracking.measurement import (
    _sensor_basis,
    _sensor_hj_kernel,
    innovation,
    sensor_h_and_jacobian,
)
from warnlink.tracking.models import _propagate_kernel
from warnlink.tracking.unscented import statistical_linearisation, ukf_predict

PHASES = ("boost", "midcourse", "terminal")
FILTERS = ("ekf", "ukf")
JPDA_WEIGHTS = ("exact", "cheap")
TENTATIVE, CONFIRMED, DELETED = 0, 1, 2
_USED = {KIND_RADAR: np.array([True, True, True, False]), KIND_IR: np.array([True, True, False, False])}
_USED_RADAR_RR = np.array([True, True, True, True])
N = models.N_STATE
_COAST, _BOOST = models.MODEL_COAST, models.MODEL_BOOST
_I_T, _I_K = models.I_THRUST, models.I_KAPPA


@dataclass(frozen=True)
class TrackerConfig:
    """Tuning of the tracker (SI units).

    Process noise (see ``warnlink.tracking.models``): white acceleration densities ``q_*`` [m^2/s^3],
    thrust random walk ``q_thrust`` [m^2/s^5], drag-parameter random walk ``q_kappa`` [m^4/kg^2/s].
    Values chosen on simulated salvos and ICBM shots so that the 6-state NEES sits at its expected value
    (see the README's tracker table); the model error they cover is named beside each.
    """

    filter: str = "ekf"
    """``"ekf"``: extended Kalman filters (analytic Jacobians; the compiled fast path); ``"ukf"``: unscented
    (cubature) filters of ``warnlink.tracking.unscented`` for both IMM models' prediction and update."""
    q_coast: float = 1.0e-2
    """Coast above the dense atmosphere: gravity-model error (J3 and beyond, point-mass STM) only."""
    q_terminal: float = 5.0e1
    """Coast below ``terminal_alt_m`` descending: density error, lift, tumbling (kappa changes)."""
    q_boost: float = 4.0e1
    """Boost: steering (pitch programme) the thrust-along-velocity model does not know."""
    q_thrust: float = 2.0e1
    """Boost: thrust-acceleration changes beyond the mass-loss growth (staging, throttling)."""
    q_manoeuvre: float = 3.0e2
    """Manoeuvre (pull-up, glide, lift in the atmosphere): white-acceleration density [m^2/s^3] of the coast
    model while the track's innovations show an unmodelled force (adaptive noise level, see
    ``manoeuvre_nis``); 3e2 m^2/s^3 is ~8 m/s^2 (about 1 g) of unknown acceleration sustained over a
    4 s revisit, the lift of a glide or pull-up. 0 turns the adaptation off."""
    manoeuvre_nis: float = 2.0
    """Threshold on the fading-memory average of NIS / m (1 expected for a consistent filter) above which
    a track's coast model uses ``q_manoeuvre``; it falls back once the average drops below the threshold
    (the continuous noise-level adjustment of Bar-Shalom, Li and Kirubarajan 2001, sec. 11.2). With m = 3-4
    and a memory of ~5 updates a consistent ballistic track exceeds 2 by chance well under 1% of the time;
    on ``examples/manoeuvring.yaml`` 2 removes the glide vehicle's track breaks (3 keeps them, 1.5 also
    raises the noise of ballistic tracks)."""
    manoeuvre_memory: float = 0.8
    """Fading-memory weight of the previous average in that NIS / m average (0.8: about 5 updates)."""
    q_kappa: float = 1.0e-9
    """Drag parameter drift (tumbling stages, ablation)."""
    burnout_rate_per_s: float = 1.0 / 30.0
    """IMM switching rate boost -> coast [1/s] (mean boost time left ~ 30 s)."""
    ignition_rate_per_s: float = 1.0e-3
    """IMM switching rate coast -> boost [1/s] (a later stage igniting)."""
    boost_alt_m: float = 120_000.0
    """A new track below this height and climbing starts with boost probability ``init_boost_probability``."""
    terminal_alt_m: float = 80_000.0
    gate_probability: float = 0.9999
    jpda: bool = True
    """Use JPDA weights for tracks whose gate holds several reports (or share reports)."""
    jpda_weights: str = "exact"
    """How the JPDA weights are computed. ``"exact"``: from every joint association event of the cluster
    (tracks linked by shared gated reports; each report to at most one track, each track at most one
    report or none), so that two tracks on closely spaced objects (a warhead and its stage after
    separation) share the reports in proportion to the two permutations' likelihoods; clusters with more
    than ``jpda_max_events`` events use the cheap weights. ``"cheap"``: Fitzgerald's cheap JPDA
    (row and column sums), which on two equally likely reports gives each 1/3 and the no-detection
    hypothesis 1/3, and lets two tracks on unresolved objects drift together (on the 2022-11-18 ICBM benchmark
    window, 2.2-11x the bound after the last stage separates, against 1.0-1.2x exact on most seeds)."""
    jpda_max_events: int = 20_000
    """Largest number of joint events enumerated per cluster for ``jpda_weights="exact"``."""
    pd: float = 0.9
    """Detection probability assumed by the JPDA weights."""
    clutter_density: float = 1.0e-12
    """Clutter density [per unit measurement volume] assumed by the JPDA weights."""
    init_max_speed_m_s: float = 8_000.0
    init_min_speed_m_s: float = 100.0
    init_max_gap_s: float = 12.0
    init_vel_sigma_m_s: float = 300.0
    """Added velocity uncertainty of a two-point track (acceleration over the gap)."""
    init_boost_probability: float = 0.8
    """Boost-model probability of a new track low and climbing (a rising object below ``boost_alt_m``
    is a booster unless it has just burnt out)."""
    init_thrust_m_s2: float = 20.0
    init_thrust_sigma_m_s2: float = 30.0
    split_window_s: float = 20.0
    """A new track whose report falls inside the gate of a confirmed track that burnt out at most this long
    before (its boost probability now below 1/2) is a separated object (a spent stage pushed off, or the
    payload it leaves): it starts from that parent's predicted state, widened by ``split_vel_sigma_m_s``,
    and updated with its own report, instead of from the two-point difference, and the parent's covariance
    is widened by the same separation uncertainty (track splitting, ``Tracker._split_prior``). Not for a new
    track low and climbing (below ``boost_alt_m``), which may be an igniting upper stage whose velocity
    departs from the parent's at its thrust. 0 turns this off."""
    split_vel_sigma_m_s: float = 5.0
    """Separation-velocity uncertainty [m/s] per axis of a separated object's track against its parent's
    velocity (staging impulses push a spent stage off at a few m/s; the simulator uses 3 m/s)."""
    pair_window_s: float = 120.0
    """For this long after a split (``split_window_s``), the separated object's track and its parent's are
    held to the physics of the separation while both fly ballistic above ``terminal_alt_m``: the two
    objects part along the parent's velocity at the split, so their relative position and velocity across
    that axis stay near zero (``Tracker._pair_constraint``). 0 turns this off."""
    pair_cross_sigma_m_s: float = 0.5
    """Relative velocity across the separation axis [m/s] allowed by the pair constraint (misalignment of
    the impulse with the velocity); the relative position across it is allowed ``pair_cross_pos_m`` plus this
    times the time since the split."""
    pair_cross_pos_m: float = 10.0
    """Relative position across the separation axis [m] allowed by the pair constraint at the split."""
    init_kappa: float = 1.0e-3
    """Initial drag parameter [m^2/kg] (between a re-entry vehicle, ~2e-4, and a tumbling stage, ~3e-3)."""
    init_kappa_sigma: float = 1.5e-3
    oos_before_birth_s: float = 10.0
    """Reports of an out-of-sequence scan that fall in the gate of a track born up to this long after
    the scan's time are claimed by that track (no duplicate track starts from them) but not used."""
    confirm_hits: int = 3
    tentative_timeout_s: float = 15.0
    delete_after_s: float = 40.0
    """A confirmed track with no update for this long is deleted."""


@dataclass
class TrackHistory:
    """Every track estimate the tracker produced, as columns (one row per track update).

    ``x`` (k, 8) and ``P`` (k, 8, 8) are the IMM-combined extended state (``warnlink.tracking.models``):
    the first six columns are the ECEF position and velocity.
    """

    t_s: list = field(default_factory=list)
    track: list = field(default_factory=list)
    x: list = field(default_factory=list)
    P: list = field(default_factory=list)
    status: list = field(default_factory=list)
    phase: list = field(default_factory=list)
    p_boost: list = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        """The history as arrays: ``t_s`` (k,), ``track`` (k,), ``x`` (k, n), ``P`` (k, n, n), ``status``,
        ``phase`` (index into ``PHASES``) and ``p_boost`` (boost-model probability; NaN if not an IMM)."""
        if not self.t_s:
            return {"t_s": np.zeros(0), "track": np.zeros(0, int), "x": np.zeros((0, N)), "P": np.zeros((0, N, N)),
                    "status": np.zeros(0, int), "phase": np.zeros(0, int), "p_boost": np.zeros(0)}
        out = {"t_s": np.concatenate(self.t_s), "track": np.concatenate(self.track), "x": np.concatenate(self.x),
               "P": np.concatenate(self.P), "status": np.concatenate(self.status)}
        k = len(out["t_s"])
        out["phase"] = np.concatenate(self.phase) if self.phase else _phase_from_state(out["x"], None)
        out["p_boost"] = np.concatenate(self.p_boost) if self.p_boost else np.full(k, np.nan)
        return out


class Tracker:
    """Multi-target tracker over report batches. Push batches as they arrive (``push``) or replay a
    recorded stream (``run``); read the live tracks (``live``, ``x``, ``P``, ``phase()``,
    ``t_burnout``) and the history (``history``)."""

    def __init__(self, config: TrackerConfig | None = None):
        self.cfg = config or TrackerConfig()
        if self.cfg.filter not in FILTERS:
            raise ValueError(f"TrackerConfig.filter must be one of {', '.join(FILTERS)}, got {self.cfg.filter!r}")
        if self.cfg.jpda_weights not in JPDA_WEIGHTS:
            raise ValueError(f"TrackerConfig.jpda_weights must be one of {', '.join(JPDA_WEIGHTS)}, "
                             f"got {self.cfg.jpda_weights!r}")
        self.xm = np.zeros((0, 2, N))
        self.Pm = np.zeros((0, 2, N, N))
        self.mu = np.zeros((0, 2))
        self.x = np.zeros((0, N))
        self.P = np.zeros((0, N, N))
        self.t = np.zeros(0)
        self.t_update = np.zeros(0)
        self.t_born = np.zeros(0)
        self.t_burnout = np.zeros(0)
        self.was_boost = np.zeros(0, bool)
        self.separated = np.zeros(0, bool)
        """Tracks whose covariance was widened for a separated object since their last burnout."""
        self.pairs = (np.zeros(0, int), np.zeros(0, int), np.zeros((0, 3)), np.zeros(0))
        """Split pairs: (parent rows, child rows, unit separation axis (n, 3) in ECEF, split time [s])."""
        self.hits = np.zeros(0, int)
        self.nis_avg = np.zeros(0)
        """Fading-memory average of each track's NIS / m (``manoeuvre_nis``)."""
        self.status = np.zeros(0, int)
        self.ids = np.zeros(0, int)
        self._next_id = 0
        self._leftovers: dict[int, tuple] = {}  # sensor -> (t, pos, cov, earlier leftovers): ``_initiate``
        self.history = TrackHistory()
        self.rejected = 0
        self._gate = {m: chi2.ppf(self.cfg.gate_probability, m) for m in (2, 3, 4)}
        c = self.cfg
        self._predict_args = (c.burnout_rate_per_s, c.ignition_rate_per_s, c.q_coast, c.q_terminal, c.terminal_alt_m,
                              c.q_boost, c.q_thrust, c.q_kappa, models.MAX_STEP_S, models.DENSE_STEP_S,
                              A_M + models.DENSE_TOP_M)

    # ------------------------------------------------------------------ public
    def run(self, reports: ReportBatch) -> TrackHistory:
        """Replay a recorded stream (in arrival order) and return the history."""
        self.push(reports)
        return self.history

    def push(self, reports: ReportBatch) -> None:
        """Process a batch of reports in the order given (the order of arrival), scan by scan.

        Reports a tracker cannot use (non-finite values, unknown kind, zero or negative range or variance)
        are counted in ``rejected`` and skipped; the rest are processed."""
        if len(reports) == 0:
            return
        ok = self._valid(reports)
        self.rejected += int((~ok).sum())
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            return
        sensor, t = reports.sensor[idx], reports.t_s[idx]
        breaks = np.flatnonzero((np.diff(sensor) != 0) | (np.diff(t) != 0)) + 1
        for part in np.split(idx, breaks):
            self._scan(reports, part)

    def expire(self, t_now: float) -> None:
        """Advance the track management clock to ``t_now`` [s] without reports: tentative tracks past
        ``tentative_timeout_s`` and confirmed tracks with no update for ``delete_after_s`` are deleted, as a
        scan at ``t_now`` would. A run in which every sensor falls silent (an outage) still loses its tracks."""
        t_now = float(t_now)
        if not np.isfinite(t_now):
            raise ValueError(f"t_now must be finite, got {t_now}")
        self._expire(t_now)

    def live(self) -> np.ndarray:
        """Indices of tracks not deleted."""
        return np.flatnonzero(self.status != DELETED)

    def phase(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Flight phase index into ``PHASES`` of tracks ``rows`` (default: all)."""
        rows = np.arange(len(self.x)) if rows is None else rows
        return _phase_from_state(self.x[rows], self.mu[rows, _BOOST], self.cfg)

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _valid(r: ReportBatch) -> np.ndarray:
        """Reports a tracker can use: finite time, known kind, finite used measurement rows and noise
        (``measurement_dims``), finite sensor position, positive radar range (``_valid_kernel``)."""
        return _valid_kernel(np.ascontiguousarray(r.t_s, dtype=float), np.ascontiguousarray(r.kind),
                             np.ascontiguousarray(r.z, dtype=float), np.ascontiguousarray(r.cov, dtype=float),
                             np.ascontiguousarray(r.sensor_pos_ecef_m, dtype=float), KIND_RADAR, KIND_IR)

    def _q_manoeuvre(self, rows):
        """Per-track manoeuvre density (n,): ``q_manoeuvre`` where the NIS average exceeds its threshold."""
        return np.where(self.nis_avg[rows] > self.cfg.manoeuvre_nis, self.cfg.q_manoeuvre, 0.0)

    def _q(self, x, dt, q_man=0.0):
        """Process-noise densities (2n,) per (track, model) stacked [coast..., boost...] -> arrays; the
        coast density is at least the per-track manoeuvre density ``q_man``."""
        alt, climb = alt_climb(x)
        descending = climb <= 0
        q_coast = np.where(descending & (alt < self.cfg.terminal_alt_m), self.cfg.q_terminal, self.cfg.q_coast)
        q_coast = np.maximum(q_coast, q_man)
        n = len(x)
        q_acc = np.concatenate([q_coast, np.full(n, self.cfg.q_boost)])
        q_thr = np.concatenate([np.zeros(n), np.full(n, self.cfg.q_thrust)])
        return q_acc, q_thr, np.full(2 * n, self.cfg.q_kappa)

    def _transition(self, dt):
        """IMM Markov matrices (n, 2, 2) [from, to] over ``dt`` (n,)."""
        a = np.abs(dt)
        p_bc = 1.0 - np.exp(-self.cfg.burnout_rate_per_s * a)
        p_cb = 1.0 - np.exp(-self.cfg.ignition_rate_per_s * a)
        pi = np.empty((len(dt), 2, 2))
        pi[:, _COAST, _COAST], pi[:, _COAST, _BOOST] = 1.0 - p_cb, p_cb
        pi[:, _BOOST, _BOOST], pi[:, _BOOST, _COAST] = 1.0 - p_bc, p_bc
        return pi

    def _imm_predict(self, rows, t_scan):
        """Mix and predict tracks ``rows`` to ``t_scan``: per-model (n, 2, 8), (n, 2, 8, 8), predicted
        mode probabilities c (n, 2), and the moment-matched combination (n, 8), (n, 8, 8).

        One compiled pass (``_imm_predict_kernel``); ``_imm_predict_numpy`` is the same in NumPy (its
        reference in the tests)."""
        cfg = self.cfg
        if cfg.filter == "ukf":
            return self._imm_predict_numpy(rows, t_scan, unscented=True)
        dt = np.ascontiguousarray(t_scan - self.t[rows])
        return _imm_predict_kernel(self.xm, self.Pm, self.mu, np.ascontiguousarray(rows), dt,
                                   self._q_manoeuvre(rows), *self._predict_args)

    def _imm_predict_numpy(self, rows, t_scan, unscented: bool = False):
        """NumPy reference of ``_imm_predict`` (same outputs); with ``unscented`` each model's prediction is
        the cubature one (``unscented.ukf_predict`` through ``models.propagate``)."""
        n = len(rows)
        dt = t_scan - self.t[rows]
        pi = self._transition(dt)
        mu = self.mu[rows]
        c = np.einsum("ni,nij->nj", mu, pi)
        c = np.maximum(c, 1e-300)
        w = pi * mu[:, :, None] / c[:, None, :]  # w[n, i, j] = P(model i at k-1 | model j at k)
        xm, Pm = self.xm[rows], self.Pm[rows]
        x0 = np.einsum("nij,nik->njk", w, xm)
        d = xm[:, :, None, :] - x0[:, None, :, :]  # (n, i, j, 8)
        P0 = np.einsum("nij,nikl->njkl", w, Pm) + np.einsum("nij,nijk,nijl->njkl", w, d, d)
        x0[:, _COAST, models.I_THRUST] = 0.0
        P0[:, _COAST, models.I_THRUST, :] = 0.0
        P0[:, _COAST, :, models.I_THRUST] = 0.0
        X = np.concatenate([x0[:, _COAST], x0[:, _BOOST]])
        P = np.concatenate([P0[:, _COAST], P0[:, _BOOST]])
        q_acc, q_thr, q_kap = self._q(x0[:, _COAST], dt, self._q_manoeuvre(rows))
        dt2 = np.concatenate([dt, dt])
        if unscented:
            k = 2 * N + 1  # sigma points per state
            Q = models.process_noise(dt2, q_acc, q_thr, q_kap)
            Xp, Pp = ukf_predict(X, P, lambda S: models.propagate(S, np.repeat(dt2, k), with_stm=False)[0], Q)
        else:
            Xp, Pp = models.predict(X, P, dt2, q_acc, q_thr, q_kap)
        xp = np.stack([Xp[:n], Xp[n:]], axis=1)
        Pp = np.stack([Pp[:n], Pp[n:]], axis=1)
        xc, Pc = _combine(xp, Pp, c)
        return xp, Pp, c, xc, Pc

    def _scan(self, r: ReportBatch, idx: np.ndarray) -> None:
        t_scan = float(r.t_s[idx[0]])
        sensor = int(r.sensor[idx[0]])
        self._expire(t_scan)
        kind = int(r.kind[idx[0]])
        z = r.z[idx]
        # the rows every report of the scan measures (``measurement_dims``; range-rate only if all have it)
        used = _USED_RADAR_RR if kind == KIND_RADAR and np.isfinite(z[:, 3]).all() else _USED[kind]
        m = int(used.sum())
        z = z[:, used]
        R = r.cov[idx][:, used][:, :, used]
        site = r.sensor_pos_ecef_m[idx[0]]
        # an out-of-sequence scan updates tracks that existed at its time; a track begun shortly after it
        # by another sensor only claims the reports it gates (so that they start no duplicate track): its
        # filter is not run backwards through boost and dense air to before its first report
        live = self.live()
        claim_s = self.cfg.oos_before_birth_s if kind == KIND_RADAR else 0.0  # infrared never starts tracks
        live = live[self.t_born[live] <= t_scan + claim_s + 1e-9]
        assigned_reports = np.zeros(len(idx), bool)
        if len(live):
            gate = self._gate[m]
            radar = kind == KIND_RADAR
            z, R = np.ascontiguousarray(z), np.ascontiguousarray(R)
            if self.cfg.filter == "ukf":
                xp, Pp, c, xc, Pc, zh_m, H_m, Om_m, d2, logdet, finite = self._front_ukf(live, t_scan, site, kind,
                                                                                     used, z, R, gate)
            else:  # one compiled pass: IMM prediction, measurement prediction, gating
                cfg = self.cfg
                xp, Pp, c, xc, Pc, zh_m, H_m, d2, logdet, finite = _ekf_front_kernel(
                    self.xm, self.Pm, self.mu, self.t, live, t_scan, self.nis_avg, cfg.manoeuvre_nis,
                    cfg.q_manoeuvre, self._predict_args, np.asarray(site, float),
                    _sensor_basis(kind, np.asarray(site, float).tobytes()), radar, np.flatnonzero(used), z, R, gate)
                Om_m = np.zeros((0, 2, m, m))
            if not finite.all():  # numerical guard: never seen on simulated streams, kept for hostile input
                live, xp, Pp, c, xc, Pc = live[finite], xp[finite], Pp[finite], c[finite], xc[finite], Pc[finite]
                zh_m, H_m, d2, logdet = zh_m[finite], H_m[finite], d2[finite], logdet[finite]
                if len(Om_m):
                    Om_m = Om_m[finite]
            gated = d2 <= gate
            if gated.any():
                cost = np.where(gated, d2 + logdet, 1e12)
                rows, cols = linear_sum_assignment(cost)
                keep = gated[rows, cols]
                rows, cols = rows[keep], cols[keep]
                assigned_reports[cols] = True
                existed = self.t_born[live[rows]] <= t_scan + 1e-9
                rows, cols = rows[existed], cols[existed]
                if len(rows):
                    lam = self.cfg.manoeuvre_memory
                    tr = live[rows]
                    self.nis_avg[tr] = lam * self.nis_avg[tr] + (1.0 - lam) * d2[rows, cols] / m
                    self._update(live, rows, cols, xp, Pp, c, z, R, zh_m, H_m, Om_m, kind, gated, d2, logdet,
                                 t_scan)
        if kind == KIND_RADAR:
            parents = (live, xc, Pc) if len(live) else None
            self._initiate(sensor, t_scan, z[~assigned_reports], R[~assigned_reports], site, parents)

    def _front_ukf(self, live, t_scan, site, kind, used, z, R, gate):
        """The unscented filter's prediction, statistical linearisation and gating of tracks ``live``
        (the outputs of ``_ekf_front_kernel`` and the linearisation error covariances ``Om_m``)."""
        xp, Pp, c, xc, Pc = self._imm_predict(live, t_scan)
        nl = len(live)
        finite = np.isfinite(xc).all(axis=1) & np.isfinite(Pc).all(axis=(1, 2))
        X3 = np.concatenate([xc, xp[:, 0], xp[:, 1]])
        P3 = np.concatenate([Pc, Pp[:, 0], Pp[:, 1]])
        zall, Hall, Om = statistical_linearisation(
            X3, P3, lambda S: sensor_h_and_jacobian(S, site, kind)[0][:, used], lambda a, b: innovation(a, b, kind))
        zh_m = np.ascontiguousarray(np.stack([zall[nl:2 * nl], zall[2 * nl:]], axis=1))  # (T, 2, m)
        H_m = np.ascontiguousarray(np.stack([Hall[nl:2 * nl], Hall[2 * nl:]], axis=1))
        Om_m = np.ascontiguousarray(np.stack([Om[nl:2 * nl], Om[2 * nl:]], axis=1))
        d2, logdet = _gate_kernel(np.ascontiguousarray(zall[:nl]), np.ascontiguousarray(Hall[:nl]), Pc,
                                  np.ascontiguousarray(Om[:nl]), z, R, kind == KIND_RADAR, gate)
        return xp, Pp, c, xc, Pc, zh_m, H_m, Om_m, d2, logdet, finite

    def _update(self, live, rows, cols, xp, Pp, c, z, R, zh_m, H_m, Om_m, kind, gated, d2, logdet, t_scan):
        """Update the tracks ``live[rows]``: with report ``cols`` (GNN) or, where the gates of a track
        hold several reports or a report is shared, with JPDA weights over its gated reports
        (``TrackerConfig.jpda_weights``)."""
        cfg = self.cfg
        n, m = len(rows), z.shape[1]
        g = gated[rows]  # (n, M)
        if cfg.jpda:
            crowded = (g.sum(axis=1) > 1) | ((gated.sum(axis=0)[None, :] > 1) & g).any(axis=1)
        else:
            crowded = np.zeros(n, bool)
        beta = np.zeros((n, len(z)))
        if crowded.any():
            # JPDA weights from the mixed prediction's Gaussian likelihoods, scaled by their largest (log
            # domain) so that tiny S cannot overflow
            ll = np.where(gated, -0.5 * d2 - 0.5 * logdet - 0.5 * m * np.log(2 * np.pi), -np.inf)
            top = ll[gated].max()
            lik = np.exp(ll - top)
            B = cfg.clutter_density * (1.0 - cfg.pd) / cfg.pd * np.exp(min(-top, 700.0))
            if cfg.jpda_weights == "exact":
                beta = _jpda_exact_kernel(lik, B, cfg.jpda_max_events)[rows]
            else:  # Fitzgerald's cheap weights
                col_sum = lik.sum(axis=0)
                row_sum = lik.sum(axis=1)
                den = row_sum[rows][:, None] + col_sum[None, :] - lik[rows] + B
                beta = np.divide(lik[rows], den, out=np.zeros_like(den), where=g & (den > 0))
            crowded &= beta.sum(axis=1) > 0  # a likelihood underflow falls back to the nearest neighbour
        xn, Pn, mu, xc, Pc = _imm_update_kernel(xp, Pp, zh_m, H_m, Om_m, z, R, rows, cols, c,
                                                np.ascontiguousarray(beta), crowded, kind == KIND_RADAR)
        if cfg.pair_window_s > 0 and len(self.pairs[0]):
            self._pair_constraint(live[rows], xn, mu, xc, Pc, t_scan)
        self._store(live[rows], xn, Pn, mu, xc, Pc, t_scan)

    def _pair_constraint(self, tr, xn, mu, xc, Pc, t_scan):
        """Hold, in place, the updated estimates of split pairs (``pairs``) whose two tracks are both among
        ``tr`` (this scan's updated rows; per-model ``xn`` (n, 2, 8), mode probabilities ``mu``, combined
        ``xc``, ``Pc``) to the separation's physics, up to ``pair_window_s`` after the split and while both
        fly ballistic above the air (neither boosting, nor manoeuvring by its NIS average, nor below
        ``terminal_alt_m``): the relative position and velocity across the separation axis ``u`` are
        measured as zero (a pseudo-measurement of variance ``pair_cross_pos_m + s age`` squared and ``s``
        squared, ``s = pair_cross_sigma_m_s``), and each track's mean moves by its own share (its
        covariance against the sum of both). The covariances are left as they are (the constraint's
        information is not counted, so repeating it every scan cannot make the tracks overconfident).

        Why: two radars measure the pair's range difference without telling which report is which object,
        so a relative state across both lines of sight fits their reports as well as the true one along
        the velocity; once the tracks take it (ICBM benchmark seeds 5, 6, 13, 14: both tracks 100-900 m
        off their objects, with 0.5-1 m/s of velocity sigma) nothing in the reports removes it."""
        cfg = self.cfg
        a, b, u, ts = self.pairs
        age = t_scan - ts
        pos = np.full(len(self.x), -1)
        pos[tr] = np.arange(len(tr))
        ia, ib = pos[a], pos[b]
        sel = (ia >= 0) & (ib >= 0) & (age >= 0) & (age <= cfg.pair_window_s)
        if not sel.any():
            return
        ia, ib, u, age = ia[sel], ib[sel], u[sel], age[sel]
        # ballistic above the air: neither boosting, nor showing a manoeuvre, nor below ``terminal_alt_m``
        # (lift and a glide part a pair across its velocity)
        alt = alt_climb(xc[np.concatenate([ia, ib])])[0].reshape(2, -1).min(axis=0)
        nis = np.maximum(self.nis_avg[tr[ia]], self.nis_avg[tr[ib]])
        sel = ((mu[ia, _BOOST] < 0.5) & (mu[ib, _BOOST] < 0.5) & (alt > cfg.terminal_alt_m)
               & (nis <= cfg.manoeuvre_nis))
        if not sel.any():
            return
        ia, ib, u, age = ia[sel], ib[sel], u[sel], age[sel]
        # two unit vectors across the axis
        ref = np.where(np.abs(u[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
        e1 = np.cross(u, ref)
        e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
        e2 = np.cross(u, e1)
        C = np.stack([e1, e2], axis=1)  # (p, 2, 3)
        D = np.zeros((len(u), 4, N))
        D[:, :2, :3], D[:, 2:, 3:6] = C, C
        r = np.einsum("pij,pj->pi", D, xc[ia] - xc[ib])  # relative position and velocity across the axis
        sp = cfg.pair_cross_pos_m + cfg.pair_cross_sigma_m_s * age
        Rv = np.zeros((len(u), 4, 4))
        Rv[:, [0, 1], [0, 1]] = (sp**2)[:, None]
        Rv[:, [2, 3], [2, 3]] = cfg.pair_cross_sigma_m_s**2
        PDa = Pc[ia] @ D.transpose(0, 2, 1)  # (p, 8, 4)
        PDb = Pc[ib] @ D.transpose(0, 2, 1)
        S = D @ (PDa + PDb) + Rv
        w = np.linalg.solve(S, r[..., None])[..., 0]  # (p, 4)
        da = -np.einsum("pij,pj->pi", PDa, w)
        db = np.einsum("pij,pj->pi", PDb, w)
        xc[ia] += da
        xc[ib] += db
        xn[ia] += da[:, None]
        xn[ib] += db[:, None]

    def _store(self, tr, xn, Pn, mu, xc, Pc, t_scan):
        """Write updated per-model and combined estimates of tracks ``tr``; counters, status, burnout."""
        self.xm[tr], self.Pm[tr], self.mu[tr] = xn, Pn, mu
        self.x[tr], self.P[tr] = xc, Pc
        self.t[tr] = t_scan
        self.t_update[tr] = np.maximum(self.t_update[tr], t_scan)
        self.hits[tr] += 1
        promote = (self.status[tr] == TENTATIVE) & (self.hits[tr] >= self.cfg.confirm_hits)
        self.status[tr[promote]] = CONFIRMED
        boosting = mu[:, _BOOST] > 0.5
        ended = self.was_boost[tr] & ~boosting & np.isnan(self.t_burnout[tr])
        self.t_burnout[tr[ended]] = t_scan
        self.t_burnout[tr[boosting]] = np.nan
        self.separated[tr[boosting]] = False
        self.was_boost[tr] |= boosting
        self._record(tr, t_scan)

    def _initiate(self, sensor, t_scan, z, R, site, parents=None):
        """Two-point initiation from this scan's unassigned radar reports ``z``, ``R`` and the previous
        scan's leftovers of the same sensor (``radar_to_ecef``, ``radar_cov_to_ecef`` in one pass); a new
        track next to a track that has just burnt out starts from that track's state instead
        (``_split_prior``; ``parents`` = (rows, predicted states, covariances) of the scan's live tracks)."""
        site = np.asarray(site, float)
        pos, cov = _radar_to_ecef_kernel(np.ascontiguousarray(z[:, :3]), np.ascontiguousarray(R[:, :3, :3]), site,
                                         _sensor_basis(KIND_RADAR, site.tobytes()))
        # leftovers per sensor: (scan time, this scan's unused positions and covariances, the previous scan's
        # leftovers still unused). A scan split over pushes (a feed that cuts batches by count) comes as pieces
        # with the same time: each piece pairs with the previous scan's leftovers and adds its own unused
        # reports to the scan's (before, each piece replaced the last, so pieces of one scan started nothing)
        prev = self._leftovers.get(sensor)
        if prev is not None and prev[0] == t_scan:
            earlier, acc_pos, acc_cov = prev[3], prev[1], prev[2]
        else:
            earlier, acc_pos, acc_cov = (prev[:3] if prev is not None else None), pos[:0], cov[:0]
        self._leftovers[sensor] = (t_scan, np.concatenate([acc_pos, pos]), np.concatenate([acc_cov, cov]), earlier)
        if earlier is None or not len(pos):
            return
        t0, pos0, cov0 = earlier
        dt = t_scan - t0
        if not (0 < dt <= self.cfg.init_max_gap_s) or not len(pos0):
            return
        dist = np.linalg.norm(pos[:, None] - pos0[None], axis=2)
        speed = dist / dt
        ok = (speed <= self.cfg.init_max_speed_m_s) & (speed >= self.cfg.init_min_speed_m_s)
        if not ok.any():
            return
        rows, cols = linear_sum_assignment(np.where(ok, dist, 1e12))
        keep = ok[rows, cols]
        rows, cols = rows[keep], cols[keep]
        n = len(rows)
        cfg = self.cfg
        x = np.zeros((n, N))
        x[:, :3] = pos[rows]
        x[:, 3:6] = (pos[rows] - pos0[cols]) / dt
        x[:, models.I_KAPPA] = cfg.init_kappa
        P = np.zeros((n, N, N))
        P[:, :3, :3] = cov[rows]
        P[:, :3, 3:6] = cov[rows] / dt
        P[:, 3:6, :3] = cov[rows] / dt
        P[:, 3:6, 3:6] = (cov[rows] + cov0[cols]) / dt**2 + cfg.init_vel_sigma_m_s**2 * np.eye(3)
        P[:, models.I_KAPPA, models.I_KAPPA] = cfg.init_kappa_sigma**2
        alt, climb = alt_climb(x)
        rising = (alt < cfg.boost_alt_m) & (climb > 0)
        split = None
        if parents is not None and cfg.split_window_s > 0:  # (a rising object low down may be an igniting stage)
            split = self._split_prior(x, P, pos[rows], cov[rows], t_scan, dt, *parents, ~rising)
        pb = cfg.init_boost_probability
        mu = np.where(rising[:, None], [1.0 - pb, pb], [0.95, 0.05])
        n0 = len(self.x)
        self._add(x, P, mu, t_scan)
        if split is not None and cfg.pair_window_s > 0:
            child, par, axis, t0 = split
            a, b, u, ts = self.pairs
            keep = ts >= t_scan - cfg.pair_window_s  # pairs past their window are dropped
            ok = np.isfinite(axis).all(axis=1)  # (a parent at rest has no axis: hostile input only)
            self.pairs = (np.append(a[keep], par[ok]), np.append(b[keep], n0 + child[ok]),
                          np.concatenate([u[keep], axis[ok]]), np.append(ts[keep], t0[ok]))
        # the used leftovers (of this scan and of the previous one) cannot start another track
        left = np.ones(len(pos), bool)
        left[rows] = False
        left0 = np.ones(len(pos0), bool)
        left0[cols] = False
        self._leftovers[sensor] = (t_scan, np.concatenate([acc_pos, pos[left]]), np.concatenate([acc_cov, cov[left]]),
                                   (t0, pos0[left0], cov0[left0]))

    def _split_prior(self, x, P, pos, cov, t_scan, dt, live, xc, Pc, eligible):
        """Replace, in place, the two-point states ``x`` (n, 8) and covariances ``P`` of new tracks whose
        latest report (ECEF ``pos`` (n, 3), ``cov``) falls inside the position gate of a confirmed track
        ``live[k]`` that burnt out at most ``split_window_s`` before ``t_scan`` and is no longer boosting
        (predicted state ``xc[k]``, ``Pc[k]`` at ``t_scan``, before this scan's update) by that parent's
        state: the object separated from it at burnout. The parent's position and velocity are widened
        by a separation velocity of ``split_vel_sigma_m_s`` per axis acting since the burnout (``age`` =
        time since the burnout estimate plus the two-point gap ``dt``, as the estimate lags the cut-off by
        up to a scan: velocity variance s^2, position s^2 age^2, cross term s^2 age) and then updated with
        the report (linear position measurement, Joseph form). Thrust and drag parameter start as for a
        two-point track. The nearest parent in Mahalanobis distance is used; only new tracks with
        ``eligible`` (n,) are considered. Either object may be the one pushed off, so the parent's
        per-model and combined covariances get the same separation covariance (once per burnout,
        ``separated``): two tracks with the same wrong velocity would otherwise share the pair's reports
        and drift together (seed 5 of the ICBM benchmark without it: 10.9x the bound).

        Returns None when no new track is a separated object, else ``(child, parent, axis, t_split)``: the
        indices into ``x`` of the separated tracks, their parents' rows, the unit vectors of the parents'
        predicted velocities (n, 3; the separation axis of ``pair_window_s``) and the burnout times."""
        cfg = self.cfg
        age = t_scan - self.t_burnout[live]
        cand = ((self.status[live] == CONFIRMED) & (age >= 0) & (age <= cfg.split_window_s)
                & (self.mu[live, _BOOST] < 0.5))
        if not cand.any() or not len(x):
            return None
        k = np.flatnonzero(cand)
        s2 = cfg.split_vel_sigma_m_s**2
        Pp = Pc[k][:, :6, :6] + _separation_cov(age[k] + dt, s2)
        nu = pos[:, None, :] - xc[k][None, :, :3]  # (n, parents, 3)
        S = Pp[None, :, :3, :3] + cov[:, None]
        d2 = np.einsum("npi,npi->np", nu, np.linalg.solve(S, nu[..., None])[..., 0])
        d2 = np.where(np.isfinite(d2), d2, np.inf)
        best = np.argmin(d2, axis=1)
        child = np.flatnonzero((d2[np.arange(len(x)), best] <= self._gate[3]) & eligible)
        if not len(child):
            return None
        b = best[child]
        Pb, Sb, nub = Pp[b], S[child, b], nu[child, b]
        K = np.linalg.solve(Sb, Pb[:, :3, :]).transpose(0, 2, 1)  # P H^T S^-1 (n, 6, 3), S symmetric
        x[child, :6] = xc[k][b, :6] + np.einsum("nij,nj->ni", K, nub)
        ikh = np.repeat(np.eye(6)[None], len(child), axis=0)
        ikh[:, :, :3] -= K
        P6 = ikh @ Pb @ ikh.transpose(0, 2, 1) + K @ cov[child] @ K.transpose(0, 2, 1)
        P[child] = 0.0
        P[child, :6, :6] = symmetrise(P6)
        P[child, models.I_KAPPA, models.I_KAPPA] = cfg.init_kappa_sigma**2
        # either object may be the one pushed off: the parent gets the same separation uncertainty, once
        par = np.unique(live[k][b])
        par = par[~self.separated[par]]
        self.separated[par] = True
        Q = _separation_cov(self.t[par] - self.t_burnout[par] + dt, s2)
        self.Pm[par, :, :6, :6] += Q[:, None]
        self.P[par, :6, :6] += Q
        v = xc[k][b, 3:6]
        with np.errstate(invalid="ignore", divide="ignore"):
            axis = v / np.linalg.norm(v, axis=1, keepdims=True)
        return child, live[k][b], axis, t_scan - age[k][b]

    def _add(self, x, P, mu, t):
        n = len(x)
        xm = np.repeat(x[:, None], 2, axis=1)
        Pm = np.repeat(P[:, None], 2, axis=1)
        xm[:, _BOOST, models.I_THRUST] = self.cfg.init_thrust_m_s2
        Pm[:, _BOOST, models.I_THRUST, models.I_THRUST] = self.cfg.init_thrust_sigma_m_s2**2
        self.xm = np.concatenate([self.xm, xm])
        self.Pm = np.concatenate([self.Pm, Pm])
        self.mu = np.concatenate([self.mu, mu])
        xc, Pc = _combine(xm, Pm, mu)
        self.x = np.concatenate([self.x, xc])
        self.P = np.concatenate([self.P, Pc])
        self.t = np.append(self.t, np.full(n, t))
        self.t_update = np.append(self.t_update, np.full(n, t))
        self.t_born = np.append(self.t_born, np.full(n, t))
        self.t_burnout = np.append(self.t_burnout, np.full(n, np.nan))
        self.was_boost = np.append(self.was_boost, mu[:, _BOOST] > 0.5)
        self.separated = np.append(self.separated, np.zeros(n, bool))
        self.hits = np.append(self.hits, np.full(n, 2))
        self.nis_avg = np.append(self.nis_avg, np.ones(n))
        self.status = np.append(self.status, np.full(n, TENTATIVE))
        self.ids = np.append(self.ids, np.arange(self._next_id, self._next_id + n))
        self._next_id += n
        self._record(np.arange(len(self.x) - n, len(self.x)), t)

    def _expire(self, t_now):
        tent = (self.status == TENTATIVE) & (t_now - self.t_born > self.cfg.tentative_timeout_s)
        stale = (self.status == CONFIRMED) & (t_now - self.t_update > self.cfg.delete_after_s)
        self.status[tent | stale] = DELETED

    def _record(self, rows, t):
        h = self.history
        h.t_s.append(np.full(len(rows), t))
        h.track.append(self.ids[rows].copy())
        h.x.append(self.x[rows].copy())
        h.P.append(self.P[rows].copy())
        h.status.append(self.status[rows].copy())
        h.phase.append(_phase_from_state(self.x[rows], self.mu[rows, _BOOST], self.cfg))
        h.p_boost.append(self.mu[rows, _BOOST].copy())


@njit(cache=True, nogil=True)
def _uf_root(parent, a):
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@njit(cache=True, nogil=True)
def _jpda_exact_kernel(lik, B, max_events):
    """Exact JPDA marginal weights ``beta`` (T, M) of T tracks and M reports with likelihoods ``lik``
    (T, M; 0 outside the gate) and no-detection factor ``B`` = clutter density (1 - pd) / pd (same
    scale as ``lik``): per cluster (tracks joined by shared reports), the sum over feasible joint events
    (each track one report or none, each report at most one track) of the product of ``lik`` of the
    assigned pairs and ``B`` per undetected track, normalised; ``beta[i, j]`` is the probability of the
    events that give report j to track i. A cluster with more than ``max_events`` events gets
    Fitzgerald's cheap weights instead."""
    T, M = lik.shape
    beta = np.zeros((T, M))
    parent = np.arange(T + M)
    for i in range(T):
        for j in range(M):
            if lik[i, j] > 0.0:
                a, b = _uf_root(parent, i), _uf_root(parent, T + j)
                if a != b:
                    parent[a] = b
    root = np.empty(T, np.int64)
    for i in range(T):
        root[i] = _uf_root(parent, i)
    done = np.zeros(T, np.bool_)
    col_sum = lik.sum(axis=0)
    row_sum = lik.sum(axis=1)
    opt = np.empty((T, M + 1), np.int64)
    nopt = np.empty(T, np.int64)
    used = np.zeros(M, np.int64)
    for i0 in range(T):
        if done[i0] or row_sum[i0] == 0.0:
            continue
        tracks = np.flatnonzero(root == root[i0])
        done[tracks] = True
        k = len(tracks)
        n_ev = 1.0
        for a in range(k):
            i = tracks[a]
            c = 0
            opt[a, c] = -1  # no detection
            c += 1
            for j in range(M):
                if lik[i, j] > 0.0:
                    opt[a, c] = j
                    c += 1
            nopt[a] = c
            n_ev *= c
        if n_ev > max_events:  # too many joint events: Fitzgerald's cheap weights
            for a in range(k):
                i = tracks[a]
                for j in range(M):
                    if lik[i, j] > 0.0:
                        beta[i, j] = lik[i, j] / (row_sum[i] + col_sum[j] - lik[i, j] + B)
            continue
        w_pair = np.zeros((k, M))
        total = 0.0
        ctr = np.zeros(k, np.int64)
        while True:
            ok = True
            w = 1.0
            for a in range(k):
                j = opt[a, ctr[a]]
                if j < 0:
                    w *= B
                else:
                    if used[j] > 0:
                        ok = False
                    used[j] += 1
                    w *= lik[tracks[a], j]
            if ok and w > 0.0:
                total += w
                for a in range(k):
                    j = opt[a, ctr[a]]
                    if j >= 0:
                        w_pair[a, j] += w
            for a in range(k):
                j = opt[a, ctr[a]]
                if j >= 0:
                    used[j] -= 1
            a = 0  # next event (mixed-radix counter)
            while a < k:
                ctr[a] += 1
                if ctr[a] < nopt[a]:
                    break
                ctr[a] = 0
                a += 1
            if a == k:
                break
        if total > 0.0:
            for a in range(k):
                for j in range(M):
                    beta[tracks[a], j] = w_pair[a, j] / total
    return beta


@njit(cache=True, nogil=True)
def _quad_logdet(S, v):
    """``(v^T S^-1 v, ln det S)`` of a small symmetric ``S`` by Cholesky (without LAPACK's per-call
    overhead); an ``S`` that is not positive definite (a covariance broken by rounding) gives
    ``(inf, -inf)``, outside every gate."""
    m = S.shape[0]
    L = np.zeros((m, m))
    ld = _cholesky(S, L)
    if ld == -np.inf:
        return np.inf, -np.inf
    y = np.empty(m)
    q = 0.0
    for i in range(m):
        acc = v[i]
        for k in range(i):
            acc -= L[i, k] * y[k]
        y[i] = acc / L[i, i]
        q += y[i] * y[i]
    return q, ld


@njit(cache=True, nogil=True)
def _cholesky(S, L):
    """Lower Cholesky factor of a small symmetric ``S`` into ``L`` (zeros above the diagonal); returns
    ``ln det S``, or ``-inf`` if ``S`` is not positive definite."""
    m = S.shape[0]
    ld = 0.0
    for i in range(m):
        for j in range(i + 1):
            acc = S[i, j]
            for k in range(j):
                acc -= L[i, k] * L[j, k]
            if i == j:
                if not acc > 0.0:
                    return -np.inf
                L[i, i] = np.sqrt(acc)
                ld += 2.0 * np.log(L[i, i])
            else:
                L[i, j] = acc / L[j, j]
    return ld


@njit(cache=True, nogil=True)
def _gate_kernel(zhat, H, P, Om, z, R, radar, gate):
    """Squared Mahalanobis distances ``d2`` (T, M) and ``ln det S`` (T, M) of M reports ``z`` (M, m) with
    noise ``R`` (M, m, m) from T predicted measurements ``zhat`` (T, m) with Jacobians ``H`` (T, m, 8),
    state covariances ``P`` (T, 8, 8) and linearisation error covariances ``Om`` (T, m, m) (zero for the
    EKF); ``S = H P H^T + Om + R``, radar azimuth residuals wrapped.

    Pairs outside the gate ``d2 > gate`` by one component alone (``nu_i^2 / S_ii``, a lower bound of
    ``d2`` for any positive-definite ``S``) get that bound as ``d2`` and ``logdet`` 0: both are only
    used inside the gate."""
    T = zhat.shape[0]
    M, m = z.shape
    d2 = np.empty((T, M))
    logdet = np.empty((T, M))
    HPH = np.empty((m, m))
    HP = np.empty((m, N))
    S = np.empty((m, m))
    nu = np.empty(m)
    for t in range(T):
        _sandwich(H[t], P[t], HP, HPH)
        for q in range(m):
            for r in range(m):
                HPH[q, r] += 0.5 * (Om[t, q, r] + Om[t, r, q])
        for k in range(M):
            for q in range(m):
                nu[q] = z[k, q] - zhat[t, q]
            _wrap_az(nu, radar)
            lb = 0.0
            for q in range(m):
                s = HPH[q, q] + R[k, q, q]
                if s > 0.0:
                    lb = max(lb, nu[q] * nu[q] / s)
            if lb > gate:
                d2[t, k], logdet[t, k] = lb, 0.0
                continue
            for q in range(m):
                for r in range(m):
                    S[q, r] = HPH[q, r] + 0.5 * (R[k, q, r] + R[k, r, q])
            d2[t, k], logdet[t, k] = _quad_logdet(S, nu)
    return d2, logdet


@njit(cache=True, nogil=True)
def _chol_inv(S, Sinv):
    """Inverse of a small symmetric positive-definite ``S`` (m, m) into ``Sinv`` by Cholesky; returns
    ``ln det S`` (``-inf`` if ``S`` is not positive definite, ``Sinv`` then from LAPACK's LU)."""
    m = S.shape[0]
    L = np.zeros((m, m))
    ld = _cholesky(S, L)
    if ld == -np.inf:
        Sinv[:, :] = np.linalg.inv(S)
        return -np.inf
    Li = np.zeros((m, m))  # L^-1 (lower)
    for i in range(m):
        Li[i, i] = 1.0 / L[i, i]
        for j in range(i):
            acc = 0.0
            for k in range(j, i):
                acc -= L[i, k] * Li[k, j]
            Li[i, j] = acc / L[i, i]
    for i in range(m):  # S^-1 = L^-T L^-1
        for j in range(i + 1):
            acc = 0.0
            for k in range(i, m):
                acc += Li[k, i] * Li[k, j]
            Sinv[i, j] = acc
            Sinv[j, i] = acc
    return ld


@njit(cache=True, nogil=True)
def _sandwich(A, P, tmp, out):
    """``out = A P A^T`` (r, r) of ``A`` (r, d) and symmetric ``P`` (d, d), through ``tmp`` (r, d)."""
    r, d = A.shape
    for i in range(r):
        for j in range(d):
            acc = 0.0
            for k in range(d):
                acc += A[i, k] * P[k, j]
            tmp[i, j] = acc
    for i in range(r):
        for j in range(i + 1):
            acc = 0.0
            for k in range(d):
                acc += tmp[i, k] * A[j, k]
            out[i, j] = acc
            out[j, i] = acc


@njit(cache=True, nogil=True)
def _wrap_az(nu, radar):
    if radar:  # radar azimuth residual wrapped to (-pi, pi]
        w = np.pi - (np.pi - nu[1]) % (2.0 * np.pi)
        nu[1] = w + 2.0 * np.pi if w <= -np.pi else w


@njit(cache=True, nogil=True)
def _imm_update_kernel(xp, Pp, zh_m, H_m, Om_m, z, R_all, rows, cols, c, beta, crowded, radar):
    """EKF update (Joseph form) of both models of tracks ``rows`` and of their mode probabilities; clamps
    (drag parameter >= 0, thrust >= 0 in boost, 0 in coast) and the moment-matched combination.

    Per predicted track (T of them) and model: ``xp`` (T, 2, 8), ``Pp`` (T, 2, 8, 8), predicted
    measurements ``zh_m`` (T, 2, m), Jacobians ``H_m`` (T, 2, m, 8), linearisation error covariances
    ``Om_m`` (T, 2, m, m) (unscented; shape (0, 2, m, m) for none); ``c`` (T, 2) predicted mode
    probabilities. ``z`` (M, m), ``R_all`` (M, m, m) the scan's reports; track ``rows[k]`` has report
    ``cols[k]`` assigned, and its S uses that report's noise. A track with ``crowded[k]`` is updated with
    the innovations of every report weighted by ``beta[k]`` (M,) (JPDA: the combined innovation, the
    no-detection weight ``1 - sum(beta)`` and the spread-of-innovations term of Bar-Shalom and
    Fortmann 1988), its mode likelihood from the assigned report's innovation; the others with their
    assigned report alone. Returns per updated track ``xn`` (n, 2, 8), ``Pn``, ``mu`` (n, 2), ``xc``
    (n, 8), ``Pc``."""
    n = cols.shape[0]
    M, m = z.shape
    xn = np.empty((n, 2, N))
    Pn = np.empty((n, 2, N, N))
    mu = np.empty((n, 2))
    xc = np.empty((n, N))
    Pc = np.empty((n, N, N))
    ll = np.empty(2)
    HP = np.empty((m, N))
    S = np.empty((m, m))
    Sinv = np.empty((m, m))
    K = np.empty((N, m))
    ikh = np.empty((N, N))
    tmp = np.empty((N, N))
    J = np.empty((N, N))
    nu_g = np.empty(m)
    nu = np.empty(m)
    nu_l = np.empty(m)
    spread = np.empty((m, m))
    KRK = np.empty((N, N))
    R = np.empty((m, m))
    has_om = Om_m.shape[0] > 0
    for k in range(n):
        t = rows[k]
        b0 = 1.0
        if crowded[k]:
            for jj in range(M):
                b0 -= beta[k, jj]
            b0 = min(max(b0, 0.0), 1.0)
        for j in range(2):
            H = H_m[t, j]
            P = Pp[t, j]
            for q in range(m):
                for r in range(m):
                    R[q, r] = R_all[cols[k], q, r] + (Om_m[t, j, q, r] if has_om else 0.0)
            _sandwich(H, P, HP, S)  # S = H P H^T + R (symmetrised), HP = H P = (P H^T)^T
            for q in range(m):
                for r in range(m):
                    S[q, r] += 0.5 * (R[q, r] + R[r, q])
            logdet = _chol_inv(S, Sinv)
            for i in range(N):
                for q in range(m):
                    acc = 0.0
                    for r in range(m):
                        acc += HP[r, i] * Sinv[r, q]
                    K[i, q] = acc
            for q in range(m):
                nu_g[q] = z[cols[k], q] - zh_m[t, j, q]
            _wrap_az(nu_g, radar)
            if crowded[k]:
                nu[:] = 0.0
                spread[:, :] = 0.0
                for jj in range(M):
                    w = beta[k, jj]
                    if w == 0.0:
                        continue
                    for q in range(m):
                        nu_l[q] = z[jj, q] - zh_m[t, j, q]
                    _wrap_az(nu_l, radar)
                    for q in range(m):
                        nu[q] += w * nu_l[q]
                        for r in range(m):
                            spread[q, r] += w * nu_l[q] * nu_l[r]
                for q in range(m):
                    for r in range(m):
                        spread[q, r] -= nu[q] * nu[r]
            else:
                nu[:] = nu_g
            for i in range(N):
                acc = xp[t, j, i]
                for q in range(m):
                    acc += K[i, q] * nu[q]
                xn[k, j, i] = acc
            for i in range(N):  # I - K H
                for u in range(N):
                    acc = 1.0 if i == u else 0.0
                    for q in range(m):
                        acc -= K[i, q] * H[q, u]
                    ikh[i, u] = acc
            _sandwich(ikh, P, tmp, J)
            _krk(K, R, KRK)
            if crowded[k]:
                _krk(K, spread, tmp)
                for i in range(N):
                    for u in range(N):
                        Pn[k, j, i, u] = b0 * P[i, u] + (1.0 - b0) * (J[i, u] + KRK[i, u]) + tmp[i, u]
            else:
                for i in range(N):
                    for u in range(N):
                        Pn[k, j, i, u] = J[i, u] + KRK[i, u]
            for i in range(N):
                for u in range(i):
                    s = 0.5 * (Pn[k, j, i, u] + Pn[k, j, u, i])
                    Pn[k, j, i, u] = s
                    Pn[k, j, u, i] = s
            nis = 0.0
            for q in range(m):
                for r in range(m):
                    nis += nu_g[q] * Sinv[q, r] * nu_g[r]
            ll[j] = -0.5 * nis - 0.5 * logdet
        top = max(ll[0], ll[1])
        s = 0.0
        for j in range(2):
            mu[k, j] = c[t, j] * np.exp(ll[j] - top)
            s += mu[k, j]
        mu[k] /= s
        for j in range(2):
            xn[k, j, _I_K] = max(xn[k, j, _I_K], 0.0)
        xn[k, _BOOST, _I_T] = max(xn[k, _BOOST, _I_T], 0.0)
        xn[k, _COAST, _I_T] = 0.0
        _combine2(xn[k], Pn[k], mu[k], xc[k], Pc[k])
    return xn, Pn, mu, xc, Pc


@njit(cache=True, nogil=True)
def _krk(K, R, out):
    """``out = K R K^T`` of ``K`` (d, m) and symmetric ``R`` (m, m)."""
    d, m = K.shape
    for i in range(d):
        for u in range(i + 1):
            acc = 0.0
            for q in range(m):
                kq = 0.0
                for r in range(m):
                    kq += R[q, r] * K[u, r]
                acc += K[i, q] * kq
            out[i, u] = acc
            out[u, i] = acc


@njit(cache=True, nogil=True)
def _combine2(xm, Pm, w, x, P):
    """Moment-matched combination of two per-model estimates ``xm`` (2, d), ``Pm`` (2, d, d) with weights
    ``w`` (2,) into ``x`` (d,), ``P`` (d, d) (symmetrised)."""
    d = xm.shape[1]
    for i in range(d):
        x[i] = w[0] * xm[0, i] + w[1] * xm[1, i]
    for i in range(d):
        d0i = xm[0, i] - x[i]
        d1i = xm[1, i] - x[i]
        for u in range(i + 1):
            v = (w[0] * (0.5 * (Pm[0, i, u] + Pm[0, u, i]) + d0i * (xm[0, u] - x[u]))
                 + w[1] * (0.5 * (Pm[1, i, u] + Pm[1, u, i]) + d1i * (xm[1, u] - x[u])))
            P[i, u] = v
            P[u, i] = v


@njit(cache=True, nogil=True)
def _imm_predict_kernel(xm_all, Pm_all, mu_all, rows, dt, q_man, r_bc, r_cb, q_coast, q_terminal, terminal_alt,
                        q_boost, q_thrust, q_kappa, max_step, dense_step, dense_r):
    """IMM mixing, prediction of both models and combination of tracks ``rows`` of the per-model states
    ``xm_all`` (., 2, 8), covariances ``Pm_all`` and mode probabilities ``mu_all`` (``Tracker._imm_predict``)."""
    n = rows.shape[0]
    xp = np.empty((n, 2, N))
    Pp = np.empty((n, 2, N, N))
    c_out = np.empty((n, 2))
    xc = np.empty((n, N))
    Pc = np.empty((n, N, N))
    pi = np.empty((2, 2))
    x0 = np.empty((2, N))
    P0 = np.empty((2, N, N))
    tmp = np.empty((N, N))
    dt2 = np.empty(2)
    for k in range(n):
        xm, Pm, mu = xm_all[rows[k]], Pm_all[rows[k]], mu_all[rows[k]]
        a = abs(dt[k])
        p_bc = 1.0 - np.exp(-r_bc * a)
        p_cb = 1.0 - np.exp(-r_cb * a)
        pi[_COAST, _COAST], pi[_COAST, _BOOST] = 1.0 - p_cb, p_cb
        pi[_BOOST, _BOOST], pi[_BOOST, _COAST] = 1.0 - p_bc, p_bc
        for j in range(2):
            cj = max(mu[0] * pi[0, j] + mu[1] * pi[1, j], 1e-300)
            c_out[k, j] = cj
            w0 = pi[0, j] * mu[0] / cj
            w1 = pi[1, j] * mu[1] / cj
            for i in range(N):
                x0[j, i] = w0 * xm[0, i] + w1 * xm[1, i]
            for i in range(N):
                d0i = xm[0, i] - x0[j, i]
                d1i = xm[1, i] - x0[j, i]
                for u in range(N):
                    P0[j, i, u] = (w0 * (Pm[0, i, u] + d0i * (xm[0, u] - x0[j, u]))
                                   + w1 * (Pm[1, i, u] + d1i * (xm[1, u] - x0[j, u])))
        x0[_COAST, _I_T] = 0.0
        P0[_COAST, _I_T, :] = 0.0
        P0[_COAST, :, _I_T] = 0.0
        # coast noise from the mixed coast state's height and climb
        lat, lon, h = ecef2geodetic_kernel(x0[_COAST, 0], x0[_COAST, 1], x0[_COAST, 2])
        cl = np.cos(lat)
        climb = x0[_COAST, 3] * cl * np.cos(lon) + x0[_COAST, 4] * cl * np.sin(lon) + x0[_COAST, 5] * np.sin(lat)
        qa_coast = max(q_terminal if (climb <= 0 and h < terminal_alt) else q_coast, q_man[k])
        dt2[0] = dt2[1] = dt[k]
        xn, phi = _propagate_kernel(x0, dt2, True, max_step, dense_step, dense_r)
        for j in range(2):
            qa = qa_coast if j == _COAST else q_boost
            qt = 0.0 if j == _COAST else q_thrust
            M = Pp[k, j]
            _sandwich(phi[j], P0[j], tmp, M)
            for i in range(3):
                M[i, i] += qa * a**3 / 3.0
                M[i, i + 3] += qa * a**2 / 2.0
                M[i + 3, i] += qa * a**2 / 2.0
                M[i + 3, i + 3] += qa * a
            M[_I_T, _I_T] += qt * a
            M[_I_K, _I_K] += q_kappa * a
            xp[k, j] = xn[j]
        _combine2(xn, Pp[k], c_out[k], xc[k], Pc[k])  # moment-matched combination
    return xp, Pp, c_out, xc, Pc


@njit(cache=True, nogil=True)
def _ekf_front_kernel(xm, Pm, mu, t, rows, t_scan, nis_avg, manoeuvre_nis, q_manoeuvre, pargs, site, basis, radar,
                      used, z, R, gate):
    """One scan's front end for the extended Kalman filters, in one compiled pass: IMM prediction of tracks
    ``rows`` to ``t_scan`` (``_imm_predict_kernel``; ``pargs`` = ``Tracker._predict_args``; the manoeuvre
    noise where ``nis_avg`` exceeds ``manoeuvre_nis``), the predicted measurements and Jacobians of the
    combined and of each model's state by the sensor at ``site`` (``basis``: its frame; ``used``: the
    measurement rows the scan's reports share), and the gating distances of reports ``z`` (M, m) with
    noise ``R`` (``_gate_kernel``). Returns ``xp, Pp, c, xc, Pc, zh_m (T, 2, m), H_m (T, 2, m, 8), d2,
    logdet, finite`` (``finite``: tracks whose prediction is finite)."""
    n = rows.shape[0]
    m = used.shape[0]
    dt = np.empty(n)
    q_man = np.empty(n)
    for k in range(n):
        dt[k] = t_scan - t[rows[k]]
        q_man[k] = q_manoeuvre if nis_avg[rows[k]] > manoeuvre_nis else 0.0
    xp, Pp, c, xc, Pc = _imm_predict_kernel(xm, Pm, mu, rows, dt, q_man, pargs[0], pargs[1], pargs[2], pargs[3],
                                            pargs[4], pargs[5], pargs[6], pargs[7], pargs[8], pargs[9], pargs[10])
    finite = np.ones(n, np.bool_)
    X3 = np.empty((3 * n, N))
    for k in range(n):
        for i in range(N):
            if not np.isfinite(xc[k, i]):
                finite[k] = False
            for u in range(N):
                if not np.isfinite(Pc[k, i, u]):
                    finite[k] = False
            X3[k, i] = xc[k, i]
            X3[n + k, i] = xp[k, 0, i]
            X3[2 * n + k, i] = xp[k, 1, i]
    zall, Hall = _sensor_hj_kernel(X3, site, basis, radar)
    zhat = np.empty((n, m))
    H = np.zeros((n, m, N))
    zh_m = np.empty((n, 2, m))
    H_m = np.zeros((n, 2, m, N))
    for k in range(n):
        for q in range(m):
            row = used[q]
            zhat[k, q] = zall[k, row]
            zh_m[k, 0, q] = zall[n + k, row]
            zh_m[k, 1, q] = zall[2 * n + k, row]
            for i in range(6):
                H[k, q, i] = Hall[k, row, i]
                H_m[k, 0, q, i] = Hall[n + k, row, i]
                H_m[k, 1, q, i] = Hall[2 * n + k, row, i]
    d2, logdet = _gate_kernel(zhat, H, Pc, np.zeros((n, m, m)), z, R, radar, gate)
    return xp, Pp, c, xc, Pc, zh_m, H_m, d2, logdet, finite


@njit(cache=True, nogil=True)
def _valid_kernel(t, kind, z, cov, pos, kind_radar, kind_ir):
    """``Tracker._valid`` in one pass over the reports."""
    n = t.shape[0]
    ok = np.zeros(n, np.bool_)
    for i in range(n):
        radar = kind[i] == kind_radar
        if not (radar or kind[i] == kind_ir) or not np.isfinite(t[i]):
            continue
        good = np.isfinite(pos[i, 0]) and np.isfinite(pos[i, 1]) and np.isfinite(pos[i, 2])
        rows = 3 if radar else 2
        if radar and np.isfinite(z[i, 3]):
            rows = 4
        for q in range(rows):
            v = cov[i, q, q]
            good = good and np.isfinite(z[i, q]) and np.isfinite(v) and v > 0.0
        if radar:
            good = good and z[i, 0] > 0.0
        ok[i] = good
    return ok


@njit(cache=True, nogil=True)
def _radar_to_ecef_kernel(z, R, site, basis):
    """ECEF positions (n, 3) and first-order covariances (n, 3, 3) of radar range, azimuth, elevation
    ``z`` (n, 3) with covariances ``R`` (n, 3, 3) from ``site`` (3,) with east, north, up rows ``basis``
    (the same as ``measurement.radar_to_ecef`` and ``radar_cov_to_ecef``)."""
    n = z.shape[0]
    pos = np.empty((n, 3))
    cov = np.empty((n, 3, 3))
    J = np.empty((3, 3))
    JR = np.empty((3, 3))
    E, No, U = basis[0], basis[1], basis[2]
    for k in range(n):
        r, az, el = z[k, 0], z[k, 1], z[k, 2]
        sa, ca, se, ce = np.sin(az), np.cos(az), np.sin(el), np.cos(el)
        for i in range(3):
            los = ce * sa * E[i] + ce * ca * No[i] + se * U[i]
            pos[k, i] = site[i] + r * los
            J[i, 0] = los
            J[i, 1] = r * ce * (ca * E[i] - sa * No[i])
            J[i, 2] = r * (-se * sa * E[i] - se * ca * No[i] + ce * U[i])
        for i in range(3):
            for q in range(3):
                acc = 0.0
                for u in range(3):
                    acc += J[i, u] * R[k, u, q]
                JR[i, q] = acc
        for i in range(3):
            for j in range(i + 1):
                acc = 0.0
                for q in range(3):
                    acc += JR[i, q] * J[j, q]
                cov[k, i, j] = acc
                cov[k, j, i] = acc
    return pos, cov


def _separation_cov(age, s2):
    """Position-velocity covariance (n, 6, 6) of a separation velocity of variance ``s2`` per axis that
    has acted for ``age`` (n,) [s]: velocity s2, position s2 age^2, cross terms s2 age."""
    a = np.asarray(age, float)[:, None, None]
    eye = np.eye(3)
    top = np.concatenate([s2 * a**2 * eye, s2 * a * eye], axis=2)
    bottom = np.concatenate([s2 * a * eye, np.broadcast_to(s2 * eye, (len(a), 3, 3))], axis=2)
    return np.concatenate([top, bottom], axis=1)


def alt_climb(x) -> tuple[np.ndarray, np.ndarray]:
    """Geodetic height [m] (n,) and climb rate [m/s] (n,) (velocity along the ellipsoid normal) of ECEF
    states ``x`` (n, >= 6), in one compiled pass (``warnlink.geo.frames.ecef2geodetic_kernel``)."""
    x = np.ascontiguousarray(x, dtype=float)
    return _alt_climb_kernel(x[:, :6].copy())


@njit(cache=True, nogil=True)
def _alt_climb_kernel(x):
    n = x.shape[0]
    alt = np.empty(n)
    climb = np.empty(n)
    for k in range(n):
        lat, lon, h = ecef2geodetic_kernel(x[k, 0], x[k, 1], x[k, 2])
        cl = np.cos(lat)
        alt[k] = h
        climb[k] = x[k, 3] * cl * np.cos(lon) + x[k, 4] * cl * np.sin(lon) + x[k, 5] * np.sin(lat)
    return alt, climb


def _combine(xm, Pm, mu):
    """Moment-matched combination of per-model estimates (n, 2, 8), (n, 2, 8, 8) with weights (n, 2)."""
    x = np.einsum("nj,njk->nk", mu, xm)
    d = xm - x[:, None]
    P = np.einsum("nj,njkl->nkl", mu, Pm) + np.einsum("nj,njk,njl->nkl", mu, d, d)
    return x, symmetrise(P)


def _phase_from_state(x, p_boost, cfg: TrackerConfig | None = None) -> np.ndarray:
    """Flight phase of states ``x`` (n, >= 6): 0 boost, 1 midcourse, 2 terminal.

    Boost when the boost-model probability ``p_boost`` exceeds 1/2 (``None``: ascending below the boost
    height); terminal when descending below the terminal height; midcourse otherwise."""
    cfg = cfg or TrackerConfig()
    if len(x) == 0:
        return np.zeros(0, int)
    alt, climb = alt_climb(x)
    out = np.ones(len(x), int)
    out[(alt < cfg.terminal_alt_m) & (climb <= 0)] = 2
    boost = (alt < cfg.boost_alt_m) & (climb > 0) if p_boost is None else p_boost > 0.5
    out[boost] = 0
    return out


__all__ = ["CONFIRMED", "DELETED", "FILTERS", "JPDA_WEIGHTS", "KIND_IR", "PHASES", "TENTATIVE", "TrackHistory",
           "Tracker", "TrackerConfig"]
