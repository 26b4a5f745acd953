"""End to end: scenario -> simulated reports -> tracker -> assessment -> per-nation alerts and CAP.

``replay_scenario`` runs a scenario the way a national node would see it: the simulated sensor
reports are pushed into the tracker (``warnlink.tracking.tracker.Tracker``, used as a library) in
``step_s`` windows of *arrival* time, and after every window each confirmed track that the window
updated is assessed (all of them at once, vectorised):

* **impact** (``predict_impact``, unscented, 95% ellipse) once the track has left boost (the
  tracker's boost-model probability below 1/2; a thrusting object's ballistic extrapolation falls
  short and is no prediction). The drag of the prediction uses the tracker's estimated ballistic
  coefficient once the track has measured it (``kappa`` known to 30%), else the prior.
* **launch point and time** (``estimate_launch``, backward boost) ``LAUNCH_AFTER_S`` after the
  track's birth if it was born boosting; a separated object inherits its parent's; a track that was
  never seen boosting falls back to a ballistic back-propagation to the ground (``launch_method``
  says which).
* **figures** over the whole flight of the object: apogee (the highest of the highest estimate and the
  predicted apogee of every track of the object, and of the flight of the track it separated or parted
  from, with that track's own re-acquisitions, up to the split: ``figures.whole_flight_apogee_m``), ground
  range (launch to impact), flight time (predicted while in flight, final once the predicted impact time has
  passed), class and shape from the whole flight (``figures.flight_class``: the energy of the apogee and range
  of a flight above the air, else the highest energy of its coasting states; never the latest, drag-slowed
  state, which made the lofted ICBMs 2017-11-29 and 2023-03-16 IRBMs). The tracks of one
  object are linked: a new track that a lost track's last state, flown forward, gates with
  (``figures.continuation_d2``; else whose first prediction matches the lost object's) re-acquires it; one
  born where a live coasting track is parted from it (a pull-up or glide leaving its stage, or a second track
  on a re-acquired object) and shares its launch and altitude so far.
* **manoeuvre**: the new predicted impact is compared with the previous one; a jump beyond the
  99.9% ellipse of the previous prediction (both ellipses' covariances summed) while the track
  coasts, a descending track that climbs again (pull-up), or a predicted impact time that keeps
  slipping later (``SLIP_*``: a glide), or, after burnout and below ``LIFT_ALT_M``, a velocity that gains upward
  acceleration normal to itself beyond what gravity and drag give (``LIFT_*``, ``lift_acceleration``: lift, a
  pull-up into a glide) flags a manoeuvre. From then on the prediction is the physically
  bounded footprint of a lifting vehicle (``predict_impact(manoeuvre=...)``) and the ellipse is further
  widened by the size of the jump (added as an isotropic variance, never shrunk while the flag stands).
* **kind** from the estimates only (never from the simulator's truth labels): a track born within
  ``SPLIT_GATE_M`` of a track that was boosting shortly before is a *separated object*; of the two,
  the one still boosting ``SPLIT_DECIDE_S`` later is the missile and the other a ``stage``. Where
  neither boosts (separation at the last burnout) the one with less energy (``_energy_gap``: conserved in
  coast, so its sign does not change as the two arcs' along-track order does) is the stage once the gap is
  significant; in the atmosphere the estimated ballistic coefficient decides
  (a re-entry vehicle is dense, a tumbling stage light: ``BETA_RV_MIN``, ``BETA_STAGE_MAX``) and
  ``debris`` is lighter still. A track seen boosting is a ``warhead``; the rest are ``unknown``.
* **regions**: probability of impact per region (``impact_probabilities`` over ``N_REGION_SAMPLES``
  fixed draws from the 95% ellipse's Gaussian) and of overflight of Japanese and Korean land
  (fraction of ``N_PATH_SAMPLES`` fixed draws of the state whose predicted ground path passes over it,
  ``paths.overflown``: at any height, the descent onto the land itself being an impact; the times are
  those of the mean path, from ``overflights``). The event's overflight figure comes from the mature
  assessments only (``_overflew``).
* **alerts**: one ``AlertEngine`` per nation (JPN and KOR, the packaged policy), fed every
  assessment; a deleted track is reported ``lost``. Every message is written as CAP 1.2 and checked
  against the OASIS schema. The node runs in ``exercise`` mode for an exercise scenario and ``test``
  mode otherwise: a replay of simulated data can never be ``Actual``.

Times inside are seconds after the scenario epoch; the result reports seconds after the first
launch and UTC times. The ``truth`` fields of the result (nearest true object of each track) are for
evaluation only and are computed after the run; nothing in the assessment reads them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from scipy.stats import chi2

from warnlink.alerts import (
    STAGING_WATCH_S,
    AlertEngine,
    AssessmentInput,
    ImpactArea,
    is_lower_bound,
    load_policies,
    to_cap_xml,
    validate_cap,
)
from warnlink.assessment.figures import (
    LINK_BETA_LOG_SIGMA,
    LINK_CHI2,
    TrackLink,
    continuation_d2,
    flight_class,
    max_range_km,
    missile_category,
    trajectory_shape,
    whole_flight_apogee_m,
    whole_flight_highest,
)
from warnlink.assessment.impact import LIFT_ALT_M, predict_impact
from warnlink.assessment.launch import estimate_launch
from warnlink.assessment.paths import ground_paths, overflown
from warnlink.geo import direct, distance_m, ecef2geodetic, inverse
from warnlink.geo.regions import describe_location, impact_probabilities, nearest_coast, overflights
from warnlink.geo.wgs84 import GM_M3_S2, OMEGA_RAD_S
from warnlink.physics.missiles import CLASSES
from warnlink.tracking.motion import propagate
from warnlink.tracking.tracker import CONFIRMED, DELETED, Tracker

STEP_S = 1.0
"""Arrival-time window [s] of reports pushed to the tracker between assessments."""
BOOST_SETTLE_S = 5.0
"""A track counts as seen boosting only when its boost-model probability is above 1/2 this long [s] after its
birth (a new track low and climbing starts at 0.8 whatever it is doing)."""
LAUNCH_AFTER_S = 8.0
"""A track born boosting gets its launch estimate this long [s] after its birth (or at burnout)."""
COAST_BURNOUT_SEARCH_S = 15.0
"""A track first seen in coast: its burnout time is fitted within this many seconds [s] of the time taken for it
(its first sight, or the tracker's burnout if earlier; ``estimate_launch``'s ``burnout_search_s``)."""
SPLIT_GATE_M = 10_000.0
"""A new track this close [m] to a track that boosted within ``SPLIT_RECENT_S`` is a separated object."""
SPLIT_GATE_M_S = 400.0
"""... and at most this much faster or slower [m/s], or ``SPLIT_GATE_SIGMA`` times the two velocities' combined
uncertainty when that is more (a new track's two-point velocity is uncertain by 200-400 m/s, and in the air the
parts' speeds part by hundreds of m/s in the seconds before a stage is first tracked: 2024-01-14)."""
SPLIT_GATE_SIGMA = 3.0
SPLIT_RECENT_S = 30.0
SPLIT_DECIDE_S = 8.0
"""After a split, the object still boosting this long [s] later is the missile."""
SPLIT_SIGMA = 3.0
"""Energy gap (in sigmas of the two tracks' combined uncertainty, ``_energy_gap``) that marks the stage."""
BETA_RV_MIN = 1000.0
"""An object whose ballistic coefficient [kg/m^2] is surely above this is a re-entry vehicle (NOTIONAL)."""
BETA_STAGE_MAX = 500.0
"""Surely below this: a tumbling stage (NOTIONAL; the notional stages are 70-130 kg/m^2)."""
BETA_DEBRIS_MAX = 40.0
"""Surely below this: debris."""
KAPPA_KNOWN = 0.3
"""The tracker's drag parameter is used once its 1-sigma is below this fraction of its value."""


def drag_kind(kappa, kappa_var):
    """Object kind read from tracks' drag parameters ``kappa`` = 1/beta [m^2/kg] and their variances (arrays):
    "debris", "stage" or "warhead" (re-entry vehicle) where the ~2-sigma interval of the ballistic coefficient
    lies surely below ``BETA_DEBRIS_MAX``, below ``BETA_STAGE_MAX`` or above ``BETA_RV_MIN``; "" where the drag
    is unknown (1-sigma above ``KAPPA_KNOWN`` of the value: in the vacuum of midcourse it always is) or
    undecided. The rule of the replay's ``_kinds``, shared with the national node."""
    kappa = np.atleast_1d(np.asarray(kappa, float))
    sk = np.sqrt(np.maximum(np.atleast_1d(np.asarray(kappa_var, float)), 0.0))
    out = np.full(kappa.shape, "", dtype=object)
    known = np.isfinite(kappa) & np.isfinite(sk) & (kappa > 0) & (sk < KAPPA_KNOWN * kappa)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta, sig = 1.0 / kappa, sk / kappa
        lo, hi = beta / (1 + 2 * sig), beta / np.maximum(1 - 2 * sig, 0.05)
    out[known & (lo > BETA_RV_MIN)] = "warhead"
    out[known & (hi < BETA_STAGE_MAX)] = "stage"
    out[known & (hi < BETA_DEBRIS_MAX)] = "debris"
    return out
N_REGION_SAMPLES = 256
N_PATH_SAMPLES = 24
PATH_STEP_S = 5.0
DUP_CONFIRM_S = 3.0
"""Two confirmed tracks that agree (``DUP_GATE_M``, ``DUP_GATE_M_S`` or 4 sigma) this long [s] follow one object:
the younger is a duplicate and raises no alerts of its own (the tracker keeps some duplicates across sensors)."""
DUP_GATE_M = 3_000.0
DUP_GATE_M_S = 150.0
ALERT_AFTER_S = 4.0
"""An object's assessments reach the alert engines (and count as verdicts) once it has coasted under
assessment this long [s]: the first predictions of a young track are too crude to warn anyone on."""
# ``STAGING_WATCH_S`` (warnlink.alerts): after a track stops boosting, its impact prediction is no impact warning
# for this long [s], nor while a separation from it is undecided (2023-04-13: a warning computed from a
# separated booster); overflight is warned meanwhile (see ``BOUND`` and ``warnlink.alerts.is_lower_bound``).
BOUND = "lower bound"
"""The ballistic prediction of a track that may still gain range (boosting, in ``STAGING_WATCH_S`` after its
last boost, or a separation from it undecided) is a *lower bound* of the missile's flight: whatever it is
still to burn carries the missile further along the same ground track. Its overflight probability is a lower
bound of the missile's and is warned on; its impact probabilities are no impact warning (they are withheld
from the alert engines); a confident "outside" verdict is drawn only once the predicted path has already
crossed Japanese land (P(overflight) >= ``VERDICT_CONFIDENCE``) with the predicted impact beyond it."""
REACQUIRE_GATE_M = 30_000.0
"""A track born in coast whose predicted impact lies this close [m] (or within 3x the ellipses) to that of
an earlier object, within ``REACQUIRE_GATE_S``, is that object re-acquired."""
REACQUIRE_GATE_S = 60.0
MATURE_COAST_S = 30.0
"""A track lost after coasting this long [s] without a manoeuvre keeps its (ballistic) prediction until the
predicted impact: losing a track out of radar coverage in midcourse is not losing the threat."""
YOUNG_S = 60.0
TERMINAL_S = 180.0
MIDCOURSE_EVERY_S = 3.0
"""Between the first minute of coast and the last three minutes before impact a ballistic object is
re-assessed every this many seconds [s] (its prediction changes slowly there), else at every window."""
OVERFLIGHT_MARGIN_M = 100_000.0
"""The state draws' ground paths are flown only when the mean path passes within this distance [m] plus
twice the impact ellipse's semi-major axis of Japanese or Korean coast; otherwise overflight is 0."""
OVERFLIGHT_EVERY_S = 3.0
"""The predicted ground paths of an object are re-flown at most this often [s] (its overflight figures
are kept in between)."""
MANOEUVRE_CHI2 = float(chi2.ppf(0.999, 2))
SLIP_WINDOW_S = 10.0
SLIP_MIN_S = 5.0
SLIP_SIGMA = 4.0
"""A coasting object whose predicted impact time, against the prediction made ``SLIP_WINDOW_S`` earlier, has
slipped later by more than ``SLIP_MIN_S`` and ``SLIP_SIGMA`` sigmas is held up by lift (a glide): a ballistic
object's predicted impact time stays put (the lift-free prediction of a glider falls ~1 s later per second)."""
LIFT_WINDOW_S = 20.0
LIFT_MIN_M_S2 = 2.0
LIFT_SIGMA = 5.0
"""A track assessed as no lower bound (``BOUND``: after burnout) and below ``LIFT_ALT_M`` whose velocity, against
its state ``LIFT_WINDOW_S`` earlier flown forward under gravity and drag, has gained an upward acceleration
normal to its velocity (``lift_acceleration``) above ``LIFT_MIN_M_S2`` and ``LIFT_SIGMA`` sigmas is held up by
lift: drag acts along the velocity, so a ballistic object gains none. (2025-01-06: the glider pulls up at 20 km
from 383 s; its track, lost at 406 s, shows 13.0 m/s^2 at 5.7 sigma over its last 20 s (4.7 sigma at most over
10 s). The impact-time slip test cannot see it: the prediction's time sigma, 11.7 s, is the drag prior's.)"""
PRIOR_CHI2 = float(chi2.ppf(0.999, 3))
"""A track's impact prediction and the held prediction of its object's lost track (``_fuse_held``) agree when the
squared Mahalanobis distance of their impact points and times (covariances summed) is at most this (99.9%)."""
VERDICT_CONFIDENCE = 0.9
"""A Japan-EEZ verdict is "confident" when P(inside) or P(outside) reaches this."""
JAPAN_KEYS = ("JPN_land", "JPN_eez")
NATIONS = ("JPN", "KOR")
CAP_SENDERS = {"JPN": "warnlink.jpn.example", "KOR": "warnlink.kor.example"}

_CATEGORIES = ("SRBM", "MRBM", "IRBM", "ICBM")
_Z2 = np.random.default_rng(20240114).standard_normal((N_REGION_SAMPLES, 2))
_Z6 = np.random.default_rng(20231219).standard_normal((N_PATH_SAMPLES, 6))


@dataclass
class _Obj:
    """What the assessment keeps per track (row of the tracker)."""

    row: int
    born_s: float
    parent: int | None = None
    split_s: float | None = None
    kind: str = "unknown"
    kind_basis: str = "no evidence yet"
    seen_boost: bool = False
    last_boost_s: float = -math.inf
    ascent_boost_s: float = -math.inf
    """Last time it was seen boosting while climbing (``_bound``: a descending object's "boost" is the drag of
    re-entry read by the boost model; 2024-11-05: 14 KOR chains for 7 SRBMs, each cancelled and re-issued)."""
    thrust_s: float = -math.inf
    """Last time its impact prediction jumped (beyond the 99.9% ellipses) while above ``LIFT_ALT_M``: there is
    no air there to manoeuvre in, so the jump is thrust the boost model missed (2023-07-12: a third stage's
    burn, read as a manoeuvre for 8 s, moved the prediction into Japan's EEZ). Counts as a boost in ``_bound``."""
    launch: dict | None = None
    no_ballistic_launch: bool = False
    launch_due_s: float | None = None
    launch_burnout_s: float | None = None
    boost_state: tuple | None = None
    max_alt_m: float = 0.0
    alt_t_s: list = field(default_factory=list)
    alt_m: list = field(default_factory=list)
    """Track times [s] at which ``max_alt_m`` rose, and its values (``figures.TrackLink``)."""
    coast_e_km: float = 0.0
    e_t_s: list = field(default_factory=list)
    e_km: list = field(default_factory=list)
    """Highest energy (``figures.max_range_km`` [km]) of its coasting states assessed as no lower bound, the
    times [s] at which it rose and its values (``figures.TrackLink``: the class of a flight that stays in the air)."""
    prev_climb: float | None = None
    descended: bool = False
    pred: dict | None = None
    manoeuvre: bool = False
    manoeuvre_s: float | None = None
    widen_m2: float = 0.0
    overflew: dict = field(default_factory=dict)
    first_pred_s: float | None = None
    verdicts: list = field(default_factory=list)
    reported_dead: bool = False
    last_t: float = -math.inf
    parent_checked: bool = False
    split_decided: bool = False
    duplicate_of: int | None = None
    dup_was: int | None = None
    """The lost primary this track duplicated and carries on from: still one object for the figures."""
    dup_since: dict = field(default_factory=dict)
    same_as: int | None = None
    slip_hist: list = field(default_factory=list)
    lift_hist: list = field(default_factory=list)
    """(track time [s], state (6,), covariance (6, 6)) of its recent assessments that were no lower bound."""
    born_beside: int | None = None
    first_coast_s: float | None = None
    extrapolating: bool = False
    done: bool = False
    over_at: float = -math.inf
    over_p: dict = field(default_factory=dict)
    over_t: dict = field(default_factory=dict)
    reacq_checked: bool = False
    over_done: set = field(default_factory=set)
    continues: int | None = None
    """The track (a spent stage) whose alert chain this one, the missile, carries on after their separation."""
    handed_to: int | None = None
    """The track (the missile) that carries on this one's alert chain: this one is the spent stage."""
    held_s: float | None = None
    """When the track was lost with a standing ballistic prediction (``MATURE_COAST_S``): that prediction is the
    prior of the tracks that later speak for its object (``_held_prior``)."""


def _candidates(x):
    """Candidate class lists for the backward boost of a coasting state ``x``, in the order tried: the classes of
    the category its energy gives (``figures.max_range_km``), then that and the next larger category."""
    k = _CATEGORIES.index(str(missile_category(max_range_km(x))[0]))
    out = []
    for cats in (_CATEGORIES[k:k + 1], _CATEGORIES[k:k + 2]):
        c = [m for m in CLASSES.values() if m.category in cats]
        if c and c not in out:
            out.append(c)
    return out


def _energy_gap(x_a, P_a, x_b, P_b) -> tuple[float, float]:
    """Specific energy [J/kg] of ECEF state ``x_a`` less that of ``x_b`` (the Jacobi integral of the rotating
    frame, |v|^2/2 - mu/|r| - |omega x r|^2/2, conserved in drag-free coast but for J2) and its 1-sigma from
    the two (6, 6) covariances ``P_a``, ``P_b`` (first order, independent)."""
    w = np.array([0.0, 0.0, OMEGA_RAD_S])
    out = []
    for x, P in ((np.asarray(x_a, float), P_a), (np.asarray(x_b, float), P_b)):
        r, v = x[:3], x[3:6]
        rn = float(np.linalg.norm(r))
        e = 0.5 * float(v @ v) - GM_M3_S2 / rn - 0.5 * float(np.cross(w, r) @ np.cross(w, r))
        jac = np.r_[GM_M3_S2 * r / rn**3 - OMEGA_RAD_S**2 * np.array([r[0], r[1], 0.0]), v]
        out.append((e, float(jac @ np.asarray(P, float) @ jac)))
    return out[0][0] - out[1][0], math.sqrt(out[0][1] + out[1][1])


def lift_acceleration(x0, P0, t0, x1, P1, t1, beta=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean acceleration [m/s^2] (N,) that neither gravity nor drag explains, normal to the velocity and upward
    (lift in the vertical plane), between ECEF states ``x0`` (N, 6) at ``t0`` and ``x1`` at ``t1`` [s] (N,), with
    its 1-sigma from the covariances ``P0``, ``P1`` (N, 6, 6).

    ``x0`` is flown forward to ``t1`` (``propagate``, with drag at ballistic coefficient ``beta`` (N,) [kg/m^2],
    None for none) and the velocity residual ``v1 - v0'`` is projected on the unit vector normal to the mean
    velocity direction in the vertical plane. Drag acts along the velocity, so an error in ``beta`` moves the
    residual along it, not across. The sigma sums the two covariances (``P0`` flown forward): the estimates of one
    filter are positively correlated, so this overstates it (a conservative test)."""
    x0, x1 = np.asarray(x0, float).reshape(-1, 6), np.asarray(x1, float).reshape(-1, 6)
    P0, P1 = np.asarray(P0, float).reshape(-1, 6, 6), np.asarray(P1, float).reshape(-1, 6, 6)
    dt = np.broadcast_to(np.asarray(t1, float) - np.asarray(t0, float), (len(x0),))
    if not np.all(dt > 0):
        raise ValueError(f"lift_acceleration needs t1 > t0, got dt={dt}")
    y, phi = propagate(x0, dt, beta=None if beta is None else np.broadcast_to(np.asarray(beta, float), dt.shape))
    dv = x1[:, 3:6] - y[:, 3:6]
    cov = (phi @ P0 @ np.swapaxes(phi, 1, 2))[:, 3:6, 3:6] + P1[:, 3:6, 3:6]
    u = x1[:, 3:6] / np.linalg.norm(x1[:, 3:6], axis=1, keepdims=True)
    u = u + y[:, 3:6] / np.linalg.norm(y[:, 3:6], axis=1, keepdims=True)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    up = x1[:, :3] / np.linalg.norm(x1[:, :3], axis=1, keepdims=True)
    n = up - np.sum(up * u, axis=1, keepdims=True) * u
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    a = np.sum(dv * n, axis=1) / dt
    s = np.sqrt(np.einsum("ni,nij,nj->n", n, cov, n)) / dt
    return a, s


def _iso(epoch: datetime, t_s: float | None) -> str | None:
    if t_s is None or not np.isfinite(t_s):
        return None
    return (epoch + timedelta(seconds=float(t_s))).astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ballistic_launch(x, t_s, step_s: float = 2.0, max_s: float = 800.0):
    """Fallback launch point: the ballistic (no thrust) arc of ``x`` flown backwards to the ground, in steps of
    ``step_s`` for at most ``max_s`` [s] (None if it does not reach the ground by then)."""
    y = np.asarray(x, float).reshape(-1)[None, :6]
    t = float(t_s)
    for _ in range(round(max_s / step_s)):
        y1, _ = propagate(y, -step_s, with_stm=False)
        h1 = float(ecef2geodetic(*y1[0, :3])[2])
        if h1 <= 0.0:
            h0 = float(ecef2geodetic(*y[0, :3])[2])
            f = h0 / max(h0 - h1, 1e-9)
            y2, _ = propagate(y, -step_s * f, with_stm=False)
            lat, lon, _ = ecef2geodetic(*y2[0, :3], deg=True)
            return {"lat_deg": float(lat), "lon_deg": float(lon), "time_s": t - step_s * f,
                    "time_sigma_s": None, "ellipse_km": None,
                    "method": "ballistic back-propagation (no boost seen)", "missile_class": None}
        y, t = y1, t - step_s
    return None


class Replay:
    """One node's end-to-end run over a simulation (``warnlink.scenario.simulate.Simulation``).

    ``run()`` returns the result dict (see ``replay_scenario``). ``launch_s`` is the first launch [s after
    the epoch]; ``policies`` the nation -> ``AlertPolicy`` map (default: the packaged policy).
    """

    def __init__(self, sim, *, event_id: str, launch_s: float, policies=None, step_s: float = STEP_S):
        if not step_s > 0:
            raise ValueError(f"step_s must be positive, got {step_s}")
        self.sim = sim
        self.event_id = event_id
        self.launch_s = float(launch_s)
        self.step_s = float(step_s)
        self.exercise = bool(sim.scenario.exercise)
        mode = "exercise" if self.exercise else "test"
        policies = policies or load_policies()
        self.engines = {n: AlertEngine(policies[n], mode=mode, epoch=sim.epoch) for n in NATIONS if n in policies}
        self.tracker = Tracker()
        self.objs: list[_Obj] = []
        self.alerts: list = []
        self.first_verdict_s: float | None = None
        self.verdicts: list = []
        self.first_track_s: float | None = None
        self.assess_wall_s = 0.0
        self.track_wall_s = 0.0

    # ------------------------------------------------------------------ the loop
    def run(self) -> dict:
        """Push the reports window by window, assess after each, and return the result."""
        t_wall = time.perf_counter()
        r = self.sim.reports
        arr = r.arrival_s
        edges = np.arange(self.step_s, self.sim.duration_s + self.step_s, self.step_s)
        cuts = np.searchsorted(arr, edges, side="right")
        start = 0
        for t, c in zip(edges, cuts, strict=True):
            if c > start:
                t0 = time.perf_counter()
                self.tracker.push(r.take(slice(start, int(c))))
                self.track_wall_s += time.perf_counter() - t0
                start = int(c)
            else:
                self.tracker.expire(float(t))  # no report this window: the tracks still age (a sensor outage)
            t0 = time.perf_counter()
            self._tick(float(t))
            self.assess_wall_s += time.perf_counter() - t0
        return self._result(time.perf_counter() - t_wall)

    def _tick(self, t: float) -> None:
        tr = self.tracker
        for row in range(len(self.objs), len(tr.x)):
            self.objs.append(_Obj(row=row, born_s=float(tr.t_born[row])))
            if tr.status[row] != DELETED:
                # where it was born, beside which live coasting track (decided at birth: a manoeuvring
                # object is soon far from the stage it parts from)
                p = self._continued_from(self.objs[-1], live=True)
                self.objs[-1].born_beside = None if p is None else p.row
        if not self.objs:
            for eng in self.engines.values():
                self._emit(eng.tick(t))
            return
        conf = np.flatnonzero(tr.status == CONFIRMED)
        if len(conf) and self.first_track_s is None:
            self.first_track_s = float(tr.t[conf].min())
        for row in conf:
            self._bookkeep(self.objs[row], t)
        self._duplicates(conf, t)
        self._kinds(conf, t)
        fresh = [row for row in conf if tr.t[row] > self.objs[row].last_t]
        for row in fresh:
            self.objs[row].last_t = float(tr.t[row])
        self._launch(fresh, t)
        due = [row for row in fresh if self._due(self.objs[row], t)]
        if due:
            self._assess(np.array(due), t)
        self._alerts(conf, t)

    # ------------------------------------------------------------------ per track bookkeeping
    def _bookkeep(self, o: _Obj, t: float) -> None:
        tr = self.tracker
        x = tr.x[o.row]
        lat, lon, alt = ecef2geodetic(x[0], x[1], x[2])
        if alt > o.max_alt_m:
            o.max_alt_m = float(alt)
            o.alt_t_s.append(float(tr.t[o.row]))
            o.alt_m.append(o.max_alt_m)
        up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
        climb = float(x[3:6] @ up)
        if tr.mu[o.row, 1] > 0.5 and tr.t[o.row] >= o.born_s + BOOST_SETTLE_S:
            o.seen_boost = True
            o.last_boost_s = float(tr.t[o.row])
            if climb > 0.0:
                o.ascent_boost_s = o.last_boost_s
            if tr.mu[o.row, 1] > 0.9 and tr.t[o.row] >= o.born_s + LAUNCH_AFTER_S:
                o.boost_state = (float(tr.t[o.row]), x[:6].copy(), tr.P[o.row, :6, :6].copy())
        elif o.prev_climb is not None:
            if climb < -200.0:
                o.descended = True
            # a descending coasting track that climbs again below 100 km: pull-up (lift), not ballistic
            if o.descended and climb > 200.0 and alt < 100e3 and not o.manoeuvre:
                o.manoeuvre, o.manoeuvre_s = True, t
        o.prev_climb = climb
        if not o.parent_checked:
            o.parent_checked = True
            self._find_parent(o, t)

    def _find_parent(self, o: _Obj, t: float) -> None:
        """Is this new confirmed track an object separated from a track that was boosting?"""
        tr = self.tracker
        best, best_d = None, SPLIT_GATE_M
        for p in self.objs:
            if p.row == o.row or tr.status[p.row] == DELETED or p.born_s >= o.born_s:
                continue
            if not (p.seen_boost and o.born_s - p.last_boost_s <= SPLIT_RECENT_S):
                continue
            dt = tr.t[o.row] - tr.t[p.row]
            d = np.linalg.norm(tr.x[o.row, :3] - (tr.x[p.row, :3] + dt * tr.x[p.row, 3:6]))
            dv = np.linalg.norm(tr.x[o.row, 3:6] - tr.x[p.row, 3:6])
            sv = float(np.sqrt(max(np.trace(tr.P[o.row, 3:6, 3:6]) + np.trace(tr.P[p.row, 3:6, 3:6]), 0.0)))
            if d < best_d and dv < max(SPLIT_GATE_M_S, SPLIT_GATE_SIGMA * sv):
                best, best_d = p, d
        if best is not None:
            o.parent, o.split_s = best.row, o.born_s
            o.kind, o.kind_basis = "stage", f"separated from track {best.row} at t={o.born_s:.0f} s (provisional)"
            return
        # born where a live coasting track is (``figures.continuation_d2``): an object parting from it in coast
        # (a pull-up or gliding warhead leaving its spent stage, or the track the filter could not keep on the
        # manoeuvre; the tracker may call the pull-up a boost). It shares that track's flight so far: launch
        # and highest altitude; which of the two is the warhead the split rules decide
        p = None if o.born_beside is None else self.objs[o.born_beside]
        if p is not None and tr.status[p.row] != DELETED:
            o.parent, o.split_s = p.row, o.born_s
            o.kind_basis = f"parted from coasting track {p.row} at t={o.born_s:.0f} s"

    def _kinds(self, conf, t: float) -> None:
        tr = self.tracker
        what = {"debris": "debris-like", "stage": "stage-like", "warhead": "re-entry vehicle"}
        for row in conf:
            o = self.objs[row]
            beta, sig = self._beta(row)
            kind = "" if beta is None else drag_kind(1.0 / beta, (sig / beta) ** 2)[0]
            if kind:
                if o.kind_basis.endswith("(provisional)"):
                    # the drag confirms (or overturns) a provisional split kind: its basis is now the drag, which the
                    # parts parted from it read (2024-07-01: a stage taken at its split, then by its drag, stayed
                    # "provisional", and the warhead that parted from it stayed "unknown")
                    o.kind = ""
                self._set_kind(o, kind, f"ballistic coefficient {beta:.0f} kg/m^2 ({what[kind]})")
                if kind == "warhead":
                    p = None if o.parent is None else self.objs[o.parent]
                    if (p is not None and o.continues is None and p.handed_to is None and p.continues != o.row
                            and p.kind in ("warhead", "unknown") and tr.status[p.row] != DELETED):
                        # parted from a live track of the missile that is no stage: one object's two tracks (land-noto:
                        # the re-entry vehicle's second track parted from its degraded first 13 s before impact and
                        # raised a second chain); it speaks for that track's chain
                        o.continues = p.row
                continue
            if o.duplicate_of is not None:
                p = self.objs[o.duplicate_of]
                o.kind, o.kind_basis = p.kind, f"duplicate of track {p.row} ({p.kind_basis})"
                continue
            if o.parent is not None and o.split_s is not None:
                p = self.objs[o.parent]
                if t - o.split_s < SPLIT_DECIDE_S or o.split_decided:
                    continue
                child_boost = o.last_boost_s > o.split_s + 5.0
                parent_boost = p.last_boost_s > o.split_s + 5.0
                if child_boost and not parent_boost:
                    o.split_decided = True
                    self._set_kind(o, "warhead", f"still boosting after separating from track {p.row}")
                    self._set_kind(p, "stage", f"stopped boosting when track {o.row} separated")
                    self._hand_over(p, o)
                elif parent_boost and not child_boost:
                    o.split_decided = True
                    self._set_kind(o, "stage", f"separated from boosting track {p.row}")
                elif child_boost:
                    o.split_decided = True
                    self._set_kind(o, "warhead" if p.kind == "stage" else p.kind, f"boosting beside track {p.row}")
                elif tr.status[p.row] != DELETED and p.kind not in ("stage", "debris"):
                    # both coast: the one with less energy (separated backwards, or slowed more by the air) is the
                    # stage. (Not the one "falling behind" along the velocity: two arcs a few m/s apart swap their
                    # along-track order in the descent; land-noto: the stage, 11 m/s slower, was 1.6 km behind at
                    # 300 s and 0.35 km ahead at 491 s, when that rule took it for the warhead.)
                    gap, s = _energy_gap(tr.x[o.row, :6], tr.P[o.row, :6, :6], tr.x[p.row, :6], tr.P[p.row, :6, :6])
                    if gap < -SPLIT_SIGMA * s:
                        o.split_decided = True
                        self._set_kind(o, "stage", f"less energy than track {p.row} after separation")
                        self._set_kind(p, "warhead", f"more energy than separated track {o.row}")
                    elif gap > SPLIT_SIGMA * s:
                        o.split_decided = True
                        self._set_kind(o, "warhead", f"more energy than track {p.row} after separation")
                        self._set_kind(p, "stage", f"less energy than separated track {o.row}")
                        self._hand_over(p, o)
                    elif o.kind == "stage" and o.kind_basis.endswith("(provisional)"):
                        self._set_kind(o, "unknown", f"separated from track {p.row} at burnout; not yet resolved")
                elif p.kind in ("stage", "debris") and p.kind_basis.startswith("ballistic coefficient") and (
                        o.kind == "unknown" or o.kind_basis.endswith("(provisional)")):
                    # parted from a track whose own drag says stage (or debris): this one carries the missile on
                    # (its own ballistic coefficient, once measured, decides above)
                    o.split_decided = True
                    self._set_kind(o, "warhead", f"parted from track {p.row}, a {p.kind} by its ballistic coefficient")
                elif tr.status[p.row] == DELETED and o.kind == "unknown" and p.kind == "warhead":
                    # parted in coast and the other track was lost: this one carries the object on
                    self._set_kind(o, "warhead", f"carries on track {p.row}, lost after they parted")
                continue
            if o.same_as is not None and o.kind == "unknown" and self.objs[o.same_as].kind != "unknown":
                p = self.objs[o.same_as]
                self._set_kind(o, p.kind, f"re-acquisition of track {p.row} ({p.kind_basis})")
            elif o.seen_boost and o.kind == "unknown":
                self._set_kind(o, "warhead", "seen boosting")

    def _duplicates(self, conf, t: float) -> None:
        """Mark younger tracks that follow the same object as an older one (and unmark them when they part)."""
        tr = self.tracker
        live = [row for row in conf if tr.status[row] != DELETED]
        if len(live) < 2:
            return
        rows = np.array(live)
        x, P, ts = tr.x[rows, :6], tr.P[rows, :6, :6], tr.t[rows]
        for j in range(len(rows)):
            b = self.objs[rows[j]]
            older = [i for i in range(len(rows)) if self.objs[rows[i]].born_s < b.born_s]
            if not older:
                continue
            oi = np.array(older)
            dt = ts[j] - ts[oi]
            dp = np.linalg.norm(x[j, :3] - (x[oi, :3] + dt[:, None] * x[oi, 3:6]), axis=1)
            dv = np.linalg.norm(x[j, 3:6] - x[oi, 3:6], axis=1)
            sp = np.sqrt(np.trace(P[oi, :3, :3], axis1=1, axis2=2) + np.trace(P[j, :3, :3]))
            sv = np.sqrt(np.trace(P[oi, 3:, 3:], axis1=1, axis2=2) + np.trace(P[j, 3:, 3:]))
            close = (dp < np.maximum(DUP_GATE_M, 4 * sp)) & (dv < np.maximum(DUP_GATE_M_S, 4 * sv))
            for i, c in zip(oi, close, strict=True):
                a = int(rows[i])
                if c:
                    b.dup_since.setdefault(a, t)
                else:
                    b.dup_since.pop(a, None)
            if b.duplicate_of is None:
                # two tracks once found to have separated (the split decided) are two objects however close they
                # come (land-noto: the stage, 3-4 km from the warhead, was taken for its duplicate and parted again
                # five times; each parting made it "unknown" and it alerted until decided again)
                apart = (self._root_dup(b.parent),) if b.parent is not None and b.split_decided else ()
                cands = [a for a, t0 in b.dup_since.items()
                         if t - t0 >= DUP_CONFIRM_S and self._root_dup(a) not in apart]
                if cands:
                    a = self._root_dup(min(cands, key=lambda r: self.objs[r].born_s))
                    if a != b.row:
                        b.duplicate_of = a
                        b.parent, b.split_s = None, None
            elif b.duplicate_of not in b.dup_since and all(self._root_dup(a) != b.duplicate_of for a in b.dup_since):
                # the two have parted: a separation (decided by the split rules from now on)
                a = b.duplicate_of
                b.duplicate_of = None
                b.parent, b.split_s, b.split_decided = a, t, False
                b.kind, b.kind_basis = "stage", f"parted from track {a} at t={t:.0f} s (provisional)"
        for row in live:
            o = self.objs[row]
            if o.duplicate_of is not None and tr.status[o.duplicate_of] == DELETED:
                # the primary is gone: this track carries on as the object (and keeps its flight: ``dup_was``)
                o.dup_was, o.duplicate_of = o.duplicate_of, None

    def _root_dup(self, row: int) -> int:
        seen = set()
        while self.objs[row].duplicate_of is not None and row not in seen:
            seen.add(row)
            row = self.objs[row].duplicate_of
        return row

    @staticmethod
    def _hand_over(stage: _Obj, missile: _Obj) -> None:
        """After a separation the missile carries on the alert chain of the track it separated from (the
        warning was about the missile, which that track followed until staging); the stage raises none."""
        if stage.handed_to is None and missile.continues is None and stage.continues != missile.row:
            stage.handed_to, missile.continues = missile.row, stage.row

    @staticmethod
    def _set_kind(o: _Obj, kind: str, basis: str) -> None:
        if o.kind != kind:
            o.kind, o.kind_basis = kind, basis

    def _beta(self, row):
        """The tracker's ballistic coefficient [kg/m^2] and its relative 1-sigma, when it is known."""
        tr = self.tracker
        kappa = float(tr.x[row, 7])
        sk = float(np.sqrt(max(tr.P[row, 7, 7], 0.0)))
        if kappa > 0 and sk < KAPPA_KNOWN * kappa:
            return 1.0 / kappa, sk / kappa
        return None, None

    # ------------------------------------------------------------------ launch point
    def _launch(self, rows, t: float) -> None:
        tr = self.tracker
        for row in rows:
            o = self.objs[row]
            if o.parent is not None and not o.seen_boost:
                continue  # a separated object's launch is its parent's (see _launch_of)
            # one seen boosting after it parted gets its own as well: it stands when the parent's is only a
            # ballistic back-propagation (2019-05-09: the second missile, taken as parted from the first one's
            # stage, whose coast-born backward boost fits no class)
            boosting = tr.mu[row, 1] > 0.5
            bo = float(tr.t_burnout[row]) if not boosting and np.isfinite(tr.t_burnout[row]) else None
            if bo is not None and bo > tr.t[row]:
                bo = None
            if o.launch is not None and not (o.seen_boost and bo is not None and bo != o.launch_burnout_s):
                continue
            if o.seen_boost:
                # Early in boost the classes' schedules are ambiguous (a heavier class launched earlier fits as
                # well): a first estimate over every class, replaced at each burnout the tracker declares by one
                # over the classes that the coasting state's energy allows (its category and the next larger),
                # run from the last confidently boosting state
                due = o.born_s + LAUNCH_AFTER_S
                if boosting and tr.t[row] < due:
                    continue
                o.launch_burnout_s = bo
                le = None
                if bo is not None and o.boost_state is not None:
                    for cands in _candidates(tr.x[row, :6]):
                        try:
                            le = estimate_launch(o.boost_state[1], o.boost_state[2], o.boost_state[0],
                                                 missile_class=cands)
                            break
                        except ValueError:
                            continue
                    basis = f"backward boost ({le.missile_class}, class from the burnout energy)" if le else None
                elif bo is not None:
                    la = self._coast_launch(o, burnout_s=bo)  # never confidently boosting: burnt out before
                    if la is not None:
                        o.launch = la
                        continue
                    basis = None
                else:
                    try:
                        le = estimate_launch(tr.x[row, :6], tr.P[row, :6, :6], float(tr.t[row]))
                    except ValueError:
                        le = None
                    basis = "backward boost (provisional, any class)"
                if le is not None:
                    a, b = le.semi_axes_m()
                    o.launch = {"lat_deg": le.lat_deg, "lon_deg": le.lon_deg, "time_s": le.time_s,
                                "time_sigma_s": le.time_sigma_s, "ellipse_km": [a / 1e3, b / 1e3],
                                "method": basis, "missile_class": le.missile_class}
                    continue
                if o.launch is not None:
                    continue
            o.launch = self._coast_launch(o)
            if o.launch is None and not o.no_ballistic_launch:
                o.launch = _ballistic_launch(tr.x[row, :6], float(tr.t[row]))
                # an arc that does not reach the ground within ``max_s`` never will from a later state (the launch
                # only recedes): not flown again at every window (2022-11-18's terminal tracks: 17 of 32 s of replay)
                o.no_ballistic_launch = o.launch is None

    def _coast_launch(self, o: _Obj, burnout_s: float | None = None) -> dict | None:
        """Launch of a track first seen in coast, low and climbing (just after burnout): the backward boost
        with burnout fitted near the track's birth (``COAST_BURNOUT_SEARCH_S``), over the classes its energy
        allows."""
        tr = self.tracker
        x = tr.x[o.row, :6]
        lat, lon, alt = ecef2geodetic(x[0], x[1], x[2])
        up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
        if o.born_s < float(tr.t[o.row]) - 60.0 or alt > 200e3 or float(x[3:6] @ up) <= 0:
            return None
        le = None
        for cands in _candidates(x):
            try:
                le = estimate_launch(x, tr.P[o.row, :6, :6], float(tr.t[o.row]), missile_class=cands,
                                     burnout_time_s=o.born_s if burnout_s is None else min(o.born_s, burnout_s),
                                     burnout_search_s=COAST_BURNOUT_SEARCH_S)
                break
            except ValueError:
                continue
        if le is None:
            return None
        a, b = le.semi_axes_m()
        return {"lat_deg": le.lat_deg, "lon_deg": le.lon_deg, "time_s": le.time_s, "time_sigma_s": le.time_sigma_s,
                "ellipse_km": [a / 1e3, b / 1e3], "missile_class": le.missile_class,
                "method": f"backward boost ({le.missile_class}, first seen in coast: burnout fitted at "
                          f"{le.burnout_time_s - o.born_s:+.1f} s from first sight)"}

    def _launch_of(self, o: _Obj, depth: int = 0) -> dict | None:
        """The launch estimate that stands for object ``o``: that of the object it re-acquired, of the track
        it separated from (or duplicates), or its own; a ballistic back-propagation only when no backward
        boost is known, the linked (earlier seen) track's first. A separated object's own backward boost
        stands over its parent's ballistic launch only when it puts the launch before the first sight of its
        parents (``_first_sight_of_parents``: a second missile taken for a part of the first, 2019-05-09)."""
        if depth > 20:
            return o.launch
        fallback = None
        for link, what in ((o.same_as, "re-acquired from"), (o.parent, "separated from"),
                           (o.duplicate_of, "duplicate of"), (o.dup_was, "carries on from")):
            if link is not None:
                la = self._launch_of(self.objs[link], depth + 1)
                if la is not None:
                    la = dict(la, method=f"{la['method']} ({what} track {link})")
                    if not la["method"].startswith("ballistic"):
                        return la
                    fallback = fallback or la
        own = o.launch
        if (own is not None and o.parent is not None and fallback is not None
                and own["time_s"] >= self._first_sight_of_parents(o)):
            # its own backward boost puts the launch at a time its parent was already tracked in flight: that is
            # a burn of an object that flew with the parent (2023-06-15: a last stage lit 250 s into the flight,
            # "launched" mid-sea), not a missile of its own, so the parent's launch stands
            own = None
        if own is not None and not own["method"].startswith("ballistic"):
            return own
        return fallback or o.launch

    def _first_sight_of_parents(self, o: _Obj) -> float:
        """Earliest first sight [s] of the tracks object ``o`` separated from, through its parents' parents."""
        t, seen = math.inf, set()
        while o.parent is not None and o.parent not in seen:
            seen.add(o.parent)
            o = self.objs[o.parent]
            t = min(t, o.born_s)
        return t

    def _apogee_of(self, o: _Obj) -> float:
        """Highest apogee [m] of the object over its whole flight (``figures.whole_flight_apogee_m``): every
        track of the object (re-acquisitions and duplicates, each its predicted apogee or highest altitude) and
        the flight of any track one of them parted from, up to the split (both flew as one)."""
        links = {q.row: TrackLink(same_as=q.same_as, duplicate_of=q.duplicate_of if q.duplicate_of is not None
                                  else q.dup_was, parent=q.parent, split_s=q.split_s,
                                  end_s=q.last_t if self.tracker.status[q.row] == DELETED else math.inf,
                                  apogee_m=max(q.pred["apogee_m"] if q.pred is not None and q.pred.get("ok") else 0.0,
                                               q.max_alt_m),
                                  alt_t_s=q.alt_t_s, alt_m=q.alt_m) for q in self.objs}
        return whole_flight_apogee_m(links, o.row)

    def _coast_energy_of(self, o: _Obj) -> float:
        """Highest coasting energy (``figures.max_range_km`` [km]) of the object over its whole flight, through
        the same links as ``_apogee_of``; the latest state's when none was recorded (never assessed coasting)."""
        links = {q.row: TrackLink(same_as=q.same_as, duplicate_of=q.duplicate_of if q.duplicate_of is not None
                                  else q.dup_was, parent=q.parent, split_s=q.split_s,
                                  end_s=q.last_t if self.tracker.status[q.row] == DELETED else math.inf,
                                  apogee_m=q.coast_e_km, alt_t_s=q.e_t_s, alt_m=q.e_km) for q in self.objs}
        e = whole_flight_highest(links, o.row)
        return e if e > 0.0 else float(o.pred["max_range_km"])

    # ------------------------------------------------------------------ the assessment
    def _due(self, o: _Obj, t: float) -> bool:
        """Assess at every update (every window) in the first ``YOUNG_S`` of coast, the last ``TERMINAL_S``
        before the predicted impact and while a manoeuvre is flagged; in between every ``MIDCOURSE_EVERY_S``."""
        pr = o.pred
        if pr is None or o.first_coast_s is None or o.manoeuvre or t - o.first_coast_s < YOUNG_S:
            return True
        if not pr.get("ok") or pr["impact_t"] - t < TERMINAL_S:
            return True
        return t - pr["t"] >= MIDCOURSE_EVERY_S - 1e-9

    def _assess(self, rows: np.ndarray, t: float) -> None:
        tr = self.tracker
        x, P, ts = tr.x[rows, :6], tr.P[rows, :6, :6], tr.t[rows]
        betas = np.full(len(rows), np.nan)
        sigs = np.full(len(rows), np.nan)
        for i, row in enumerate(rows):
            b, s = self._beta(row)
            if b is not None:
                betas[i], sigs[i] = b, s
        known = np.isfinite(betas)
        beta = np.where(known, betas, 5000.0)
        bsig = np.where(known, np.log1p(np.nan_to_num(sigs)), 0.5)
        man = np.array([self.objs[row].manoeuvre for row in rows])
        pr = predict_impact(x, P, ts, beta=beta, beta_log_sigma=bsig, drag_free_filter=False, manoeuvre=man)
        ok = pr.impacted
        cov = pr.cov_en_m2.copy()
        bound = np.array([self._bound(self.objs[row], t) for row in rows])
        for i, row in enumerate(rows):
            o = self.objs[row]
            if not ok[i]:
                continue
            if o.pred is not None and o.pred.get("ok") and not bound[i] and not o.pred.get("bound"):
                prev = o.pred.get("own", o.pred)  # the track's own prediction, not one fused with a held prior
                d = np.asarray(pr.offsets_en_m(prev["lat"], prev["lon"])[i])
                c = prev["cov"] + cov[i]
                m2 = float(d @ np.linalg.solve(c, d))
                if m2 > MANOEUVRE_CHI2 and (ts[i] - o.pred["t"]) < 30.0:
                    if not o.manoeuvre:
                        o.manoeuvre, o.manoeuvre_s = True, t
                    o.widen_m2 = max(o.widen_m2, float(d @ d))
                    if float(ecef2geodetic(*x[i, :3])[2]) > LIFT_ALT_M:
                        o.thrust_s = t  # no air to manoeuvre in: a burn the boost model missed (``_bound``)
            if not man[i]:
                self._glide_check(o, bool(bound[i]), float(ts[i]), float(pr.impact_time_s[i]),
                                  float(pr.impact_time_sigma_s[i]), t)
            if o.manoeuvre:
                o.widen_m2 = max(o.widen_m2, 1e6)
                cov[i] += o.widen_m2 * np.eye(2)
        self._lift_check(rows, x, P, ts, beta, ~bound & ok & ~man, t)
        # a track speaking for an object whose earlier track was lost with a standing prediction: both, fused
        own_cov = cov.copy()
        lat_i, lon_i, prior = self._fuse_held(rows, pr, ok, bound, cov, t)
        # region probabilities from fixed draws of each ellipse's Gaussian
        nr = len(rows)
        L = np.linalg.cholesky(np.where(ok[:, None, None], cov, np.eye(2)) + 1e-6 * np.eye(2))
        en = np.einsum("nij,kj->nki", L, _Z2)  # (n, k, 2)
        az = np.degrees(np.arctan2(en[..., 0], en[..., 1]))
        dist = np.hypot(en[..., 0], en[..., 1])
        lat0 = np.repeat(np.nan_to_num(lat_i), N_REGION_SAMPLES)
        lon0 = np.repeat(np.nan_to_num(lon_i), N_REGION_SAMPLES)
        slat, slon = direct(lat0, lon0, az.ravel(), dist.ravel())
        slat, slon = np.asarray(slat).reshape(nr, -1), np.asarray(slon).reshape(nr, -1)
        self._overflight(rows, x, P, ts, beta, ok, np.nan_to_num(pr.time_to_impact_s, nan=600.0),
                         np.nan_to_num(pr.semi_major_m, nan=1e6), t)
        for i, row in enumerate(rows):
            o = self.objs[row]
            if not ok[i]:
                o.pred = {"ok": False, "t": float(ts[i])}
                continue
            probs = impact_probabilities(slat[i], slon[i])
            over_p, over_t = o.over_p, o.over_t
            if self._mature(o, t):
                self._overflew(o, t)
            ev = np.linalg.eigh(cov[i])
            major = ev[1][:, 1]
            semi = 2.4477 * np.sqrt(np.clip(ev[0], 0.0, None))
            apogee = o.max_alt_m
            if np.isfinite(pr.apogee_alt_m[i]):
                apogee = max(apogee, float(pr.apogee_alt_m[i]))
            p_jpn = probs["JPN_land"] + probs["JPN_eez"]
            e_km = float(max_range_km(x[i])[0])
            if not bound[i] and self.tracker.mu[row, 1] < 0.5 and e_km > o.coast_e_km:
                o.coast_e_km = e_km
                o.e_t_s.append(float(ts[i]))
                o.e_km.append(e_km)
            o.pred = {
                "ok": True, "t": float(ts[i]), "lat": float(lat_i[i]), "lon": float(lon_i[i]), "prior": prior[i],
                "own": {"lat": float(pr.lat_deg[i]), "lon": float(pr.lon_deg[i]), "cov": own_cov[i]},
                "cov": cov[i], "impact_t": float(pr.impact_time_s[i]),
                "impact_t_sigma": float(pr.impact_time_sigma_s[i]),
                "semi_major_m": float(semi[1]), "semi_minor_m": float(semi[0]),
                "orientation_deg": float(np.mod(np.degrees(np.arctan2(major[0], major[1])), 180.0)),
                "probs": probs, "p_japan": p_jpn, "over_p": over_p, "over_t": over_t,
                "apogee_m": apogee, "max_range_km": e_km, "bound": bool(bound[i]),
            }
            if o.first_pred_s is None:
                o.first_pred_s = t
            if o.first_coast_s is None and self.tracker.mu[row, 1] < 0.5:
                o.first_coast_s = t
            if bound[i]:
                verdict = (o.duplicate_of is None and over_p["JPN"] >= VERDICT_CONFIDENCE and "JPN" in over_t
                           and p_jpn <= 1 - VERDICT_CONFIDENCE)
            else:
                if not o.reacq_checked:
                    o.reacq_checked = True
                    self._link_reacquired(o)
                verdict = self._mature(o, t) and (p_jpn >= VERDICT_CONFIDENCE or p_jpn <= 1 - VERDICT_CONFIDENCE)
            if verdict and o.kind in ("warhead", "unknown"):
                o.verdicts.append((t, "inside" if p_jpn >= 0.5 else "outside"))
                self.verdicts.append((t, o.row, "inside" if p_jpn >= 0.5 else "outside"))
                if self.first_verdict_s is None:
                    self.first_verdict_s = t

    def _held_prior(self, o: _Obj, t: float) -> _Obj | None:
        """The lost track whose standing prediction (``held_s``: lost after ``MATURE_COAST_S`` of ballistic coast)
        is a prior for ``o``'s: the latest lost before ``o`` was born (so that their measurements are disjoint)
        whose prediction speaks for the same alert object (``_oid``), is no lower bound and has not fallen yet.
        None for a manoeuvring ``o`` (the prior is ballistic)."""
        if o.manoeuvre:
            return None
        held = [q for q in self.objs if q.held_s is not None and q.row != o.row and q.held_s <= o.born_s
                and not q.manoeuvre and q.pred is not None and q.pred.get("ok") and not q.pred["bound"]
                and q.pred["impact_t"] > t]
        if not held:
            return None
        k = self._oid(o.row)
        held = [q for q in held if self._oid(q.row) == k]
        return max(held, key=lambda q: q.held_s) if held else None

    def _fuse_held(self, rows, pr, ok, bound, cov, t: float):
        """Fuse each row's ballistic impact prediction with its held prior (``_held_prior``) when the two agree
        (``PRIOR_CHI2`` over the impact point and time): the product of the two Gaussians of the impact point,
        the measurements behind them being disjoint. A re-acquired track's first predictions are crude (2022-11-03:
        ellipses of 765 -> 154 km, mean 30-200 km off, p(JPN) 0.58-0.73, while the track lost 450 s before still
        predicted the impact 0.3 km from the truth, 2.7 km ellipse, 7 km outside the EEZ's median line with Russia)
        and alone they raised a JPN chain. ``cov`` is updated in place; returns the fused mean impact latitudes and
        longitudes [deg] and, per row, the prior's track id (None where nothing was fused). The manoeuvre (jump)
        test compares a track's own predictions (``pred["own"]``), never a fused one with its next own one: a young
        track fused while its ellipse is wide and alone once it is narrow and the two no longer agree would
        otherwise "jump" (measured on 2023-03-16 with the jump test reading the fused prediction: the warhead's
        re-acquired track was flagged as manoeuvring, its final ellipse 553 km, the EEZ verdict wrong)."""
        lat, lon = pr.lat_deg.copy(), pr.lon_deg.copy()
        prior: list = [None] * len(rows)
        for i, row in enumerate(rows):
            if not ok[i] or bound[i]:
                continue
            q = self._held_prior(self.objs[row], t)
            if q is None:
                continue
            qp = q.pred
            d = np.asarray(pr.offsets_en_m(qp["lat"], qp["lon"])[i])
            S = cov[i] + qp["cov"]
            dt = qp["impact_t"] - float(pr.impact_time_s[i])
            m2 = float(d @ np.linalg.solve(S, d)) + dt * dt / (qp["impact_t_sigma"] ** 2
                                                              + float(pr.impact_time_sigma_s[i]) ** 2)
            if not m2 <= PRIOR_CHI2:
                continue  # they disagree: the new track's own (a burn or a manoeuvre since, or another object)
            K = cov[i] @ np.linalg.inv(S)
            dm = K @ d
            c = cov[i] - K @ cov[i]
            cov[i] = 0.5 * (c + c.T)
            if float(np.hypot(dm[0], dm[1])) > 0.0:
                la, lo = direct(lat[i], lon[i], float(np.degrees(np.arctan2(dm[0], dm[1]))), float(np.hypot(*dm)))
                lat[i], lon[i] = float(la), float(lo)
            prior[i] = int(self.tracker.ids[q.row])
        return lat, lon, prior

    def _lift_check(self, rows, x, P, ts, beta, eligible, t: float) -> None:
        """The lift test (``LIFT_*``) on the ``eligible`` rows (assessed as no lower bound, not yet manoeuvring):
        each against its own state ``LIFT_WINDOW_S`` (at most twice that) earlier, all at once; a row's history
        restarts whenever it is not eligible (a lower bound: thrust is no lift)."""
        alt = ecef2geodetic(x[:, 0], x[:, 1], x[:, 2])[2]
        sel, old = [], []
        for i, row in enumerate(rows):
            o = self.objs[row]
            if not eligible[i]:
                o.lift_hist.clear()
                continue
            h = o.lift_hist
            h.append((float(ts[i]), x[i].copy(), P[i].copy()))
            past = [e for e in h if ts[i] - e[0] >= LIFT_WINDOW_S]
            if past:
                del h[:len(past) - 1]
                if alt[i] < LIFT_ALT_M and ts[i] - past[-1][0] <= 2.0 * LIFT_WINDOW_S:
                    sel.append(i)
                    old.append(past[-1])
        if not sel:
            return
        a, s = lift_acceleration(np.array([e[1] for e in old]), np.array([e[2] for e in old]),
                                 np.array([e[0] for e in old]), x[sel], P[sel], ts[sel], beta=beta[sel])
        for k, i in enumerate(sel):
            if a[k] > max(LIFT_MIN_M_S2, LIFT_SIGMA * s[k]):
                o = self.objs[rows[i]]
                o.manoeuvre, o.manoeuvre_s = True, t

    @classmethod
    def _glide_check(cls, o: _Obj, bound: bool, t_track: float, impact_t: float, sigma: float, t: float) -> None:
        """The impact-time slip test (``_impact_slip``) on a prediction that is no lower bound (``BOUND``): a
        thrusting object's ballistic prediction falls later as it burns, which is no glide. (Run on boost
        predictions, it flagged 2025-05-08's warhead at 65 s, 2023-03-16's at 232 s and land-noto's at 60 s; their
        lift footprints then reached Japan: 2025-05-08's 674 km long, over Hokkaido, at 330 s, the truth falling
        at 42.4 N 136.0 E.) A lower bound restarts the test's window."""
        if bound:
            o.slip_hist.clear()
        else:
            cls._impact_slip(o, t_track, impact_t, sigma, t)

    @staticmethod
    def _impact_slip(o: _Obj, t_track: float, impact_t: float, sigma: float, t: float) -> None:
        """Raise the manoeuvre flag on a sustained slip of the predicted impact time (``SLIP_WINDOW_S``)."""
        h = o.slip_hist
        h.append((t_track, impact_t, sigma))
        old = [e for e in h if t_track - e[0] >= SLIP_WINDOW_S]
        if old and not o.manoeuvre:
            _, it0, s0 = old[-1]
            if impact_t - it0 > max(SLIP_MIN_S, SLIP_SIGMA * math.hypot(s0, sigma)):
                o.manoeuvre, o.manoeuvre_s = True, t
        if len(old) > 1:
            del h[:len(old) - 1]

    def _mature(self, o: _Obj, t: float) -> bool:
        """Old enough in coast for its impact prediction to reach the alert engines: ``ALERT_AFTER_S`` of
        coast assessments, and no longer a lower bound (``_bound``)."""
        return (o.duplicate_of is None and o.first_coast_s is not None and t - o.first_coast_s >= ALERT_AFTER_S
                and not self._bound(o, t))

    def _bound(self, o: _Obj, t: float) -> bool:
        """Is the track's ballistic prediction only a lower bound of the missile's flight (``BOUND``)? While it
        boosts while climbing (or its prediction jumps above the air: ``thrust_s``), for ``STAGING_WATCH_S``
        after it last so boosted (a spent stage's missile re-appears boosting
        beside it, or the tracker briefly lost the thrust), and while a separation from it or of it is
        undecided (at most ``SPLIT_DECIDE_S``) if it happened within ``STAGING_WATCH_S`` of either side's last
        boost (a staging; a split of two coasting objects is none)."""
        last = max(o.ascent_boost_s, o.thrust_s)  # seen boosting, or its prediction jumped above the air

        def staging(split_s: float, other: _Obj) -> bool:
            # a split within the staging watch of either side's last boost. A separation between two coasting
            # objects adds no burn (their impacts differ by what the split imparts, not by a burn to come), so it
            # is no lower bound; which one is the warhead is the kind's business (a re-classified object is
            # cancelled at once). Land-impact check case (examples/land-noto.yaml): a split recorded at 292 s
            # after launch between two tracks coasting since ~140 s cancelled the warhead's warning twice.
            return split_s - max(last, other.ascent_boost_s, other.thrust_s) < STAGING_WATCH_S

        undecided = (o.parent is not None and o.split_s is not None and not o.split_decided
                     and t - o.split_s < SPLIT_DECIDE_S and staging(o.split_s, self.objs[o.parent])) or any(
            q.parent == o.row and q.split_s is not None and not q.split_decided and t - q.split_s < SPLIT_DECIDE_S
            and staging(q.split_s, q) for q in self.objs)
        return is_lower_bound(boosting=bool(self.tracker.mu[o.row, 1] >= 0.5), t_s=t,
                              climbing=o.prev_climb is None or o.prev_climb > 0.0,
                              last_boost_s=last if math.isfinite(last) else None, separation_undecided=undecided)

    def _link_reacquired(self, o: _Obj) -> None:
        """A track born in coast (no parent, never boosting) is an earlier, lost object re-acquired when the
        lost track's last state flown forward gates with its state (``figures.continuation_d2``), or failing
        that when its first prediction matches the lost object's: it inherits its launch, apogee and alert
        chain."""
        if o.parent is not None or o.duplicate_of is not None:
            return
        pr = o.pred
        best = self._continued_from(o)  # also for a track seen "boosting": the tracker may so call a pull-up
        if best is None and o.seen_boost:
            return
        best_d = math.inf if best is None else -1.0
        for p in self.objs:
            q = p.pred
            if (p.row == o.row or p.born_s >= o.born_s or q is None or not q.get("ok") or p.duplicate_of is not None
                    or self.tracker.status[p.row] != DELETED):
                continue
            d = float(distance_m(q["lat"], q["lon"], pr["lat"], pr["lon"]))
            gate = max(REACQUIRE_GATE_M, 3.0 * (q["semi_major_m"] + pr["semi_major_m"]))
            dt = abs(q["impact_t"] - pr["impact_t"])
            dt_gate = max(REACQUIRE_GATE_S, 3.0 * (q["impact_t_sigma"] + pr["impact_t_sigma"]))
            if d < gate and dt < dt_gate and d < best_d:
                best, best_d = p, d
        if best is not None:
            o.same_as = self._root_same(best.row)  # the lost track's held prediction feeds its chain until o does
            return

    def _continued_from(self, o: _Obj, live: bool = False) -> _Obj | None:
        """The lost object whose last track state, flown forward to ``o``'s time, gates best with it
        (``continuation_d2``); with ``live``, the live confirmed coasting track nearest to ``o``, within
        ``SPLIT_GATE_M``."""
        tr = self.tracker
        cands = [p for p in self.objs if p.row != o.row and p.born_s < o.born_s and p.duplicate_of is None
                 and (tr.status[p.row] == CONFIRMED if live else tr.status[p.row] == DELETED)
                 and (live or tr.t[p.row] <= tr.t[o.row]) and tr.mu[p.row, 1] < 0.5
                 and not (p.pred is not None and p.pred.get("ok") and p.pred["impact_t"] < tr.t[o.row])]
        if not cands:
            return None
        rows = np.array([p.row for p in cands])
        known = [self._beta(r) for r in rows]
        beta = np.array([5000.0 if b is None else b for b, _ in known])
        sig = np.array([LINK_BETA_LOG_SIGMA if b is None else np.log1p(sg) for b, sg in known])
        m = len(rows)
        if live:
            # born beside it: within the separation gate (a manoeuvre has already moved the object off the
            # other track's estimate by more than the covariances allow: 1.4 km, 46 sigma^2 for 2023-06-15)
            dt = tr.t[o.row] - tr.t[rows]
            d = np.linalg.norm(tr.x[o.row, :3] - (tr.x[rows, :3] + dt[:, None] * tr.x[rows, 3:6]), axis=1)
            i = int(np.argmin(d))
            return cands[i] if d[i] < SPLIT_GATE_M else None
        d2 = continuation_d2(tr.x[rows, :6], tr.P[rows, :6, :6], tr.t[rows], np.repeat(tr.x[o.row:o.row + 1, :6], m, 0),
                             np.repeat(tr.P[o.row:o.row + 1, :6, :6], m, 0), np.full(m, tr.t[o.row]), beta, sig)
        i = int(np.argmin(d2))
        return cands[i] if d2[i] < LINK_CHI2 else None

    def _root_same(self, row: int) -> int:
        seen = set()
        while self.objs[row].same_as is not None and row not in seen:
            seen.add(row)
            row = self.objs[row].same_as
        return row

    @staticmethod
    def _overflew(o: _Obj, t: float) -> None:
        """The event's overflight figure from a mature assessment: a pass predicted with probability >= 1/2
        is recorded; a recorded pass that has not begun yet is dropped when the prediction no longer has it;
        one that has begun stands (the first assessments of a young track are no figure: ``_mature``)."""
        for n in NATIONS:
            rec = o.overflew.get(n)
            begun = rec is not None and rec[0] <= t
            if o.over_p[n] >= 0.5 and not begun:
                o.overflew[n] = o.over_t.get(n)
            elif o.over_p[n] < 0.5 and n in o.overflew and not begun:
                del o.overflew[n]

    def _overflight(self, rows, x, P, ts, beta, ok, tgo, semi_major, t: float) -> None:
        """Overflight probability per nation (fraction of fixed state draws whose ground path crosses its
        land) and the mean path's entry/exit times, for the objects whose paths are due. The path step
        is a hundred-and-fiftieth of the time to impact, between 2 and 10 s."""
        for i, row in enumerate(rows):
            o = self.objs[row]
            if not ok[i] or t - o.over_at < OVERFLIGHT_EVERY_S:
                continue
            o.over_at = t
            step = float(np.clip(tgo[i] / 150.0, 2.0, 10.0))
            horizon = max(tgo[i] * 1.5 + 60.0, 2 * step)
            mean = ground_paths(x[i], np.full(1, beta[i]), step, horizon_s=horizon)
            ml, mo = mean["lat_deg"][0], mean["lon_deg"][0]
            mv = np.isfinite(ml)
            owner, dist = nearest_coast(ml[mv], mo[mv], max_distance_m=1.5e6)
            near = np.isin(owner, NATIONS) & (dist < OVERFLIGHT_MARGIN_M + 2.0 * semi_major[i])
            if not near.any():
                o.over_p, o.over_t = {n: 0.0 for n in NATIONS}, {}
                continue
            Lx = np.linalg.cholesky(P[i] + 1e-6 * np.eye(6))
            pts = np.vstack([x[i], x[i] + _Z6 @ Lx.T])
            gp = ground_paths(pts, np.full(len(pts), beta[i]), step, horizon_s=horizon)
            glat, glon = gp["lat_deg"], gp["lon_deg"]
            valid = np.isfinite(glat)
            over = overflown(glat, glon, NATIONS)  # the descent onto land is an impact, no overflight
            o.over_p = {n: float(np.mean(over[1:, j])) for j, n in enumerate(NATIONS)}
            o.over_t = {}
            if over[0].any():
                k = int(np.sum(valid[0]))
                if k >= 2:
                    for ov in overflights(glat[0, :k], glon[0, :k], ts[i] + gp["dt_s"][:k], ends_at_impact=True):
                        if ov.nation in NATIONS and ov.nation not in o.over_t:
                            o.over_t[ov.nation] = (ov.t_enter_s, ov.t_exit_s, ov.region, ov.place)

    # ------------------------------------------------------------------ alerts
    def _alerts(self, conf, t: float) -> None:
        """Feed the engines: every mature, non-duplicate object's latest assessment; a lost track is
        cancelled at once unless it had coasted ``MATURE_COAST_S`` without a manoeuvre, in which case its
        ballistic prediction stands until the predicted impact (then the probabilities drop to zero)."""
        tr = self.tracker
        feed = []
        for o in self.objs:
            if o.done:
                continue
            if o.handed_to is not None:
                o.done = True  # a spent stage: the missile that separated from it carries its chain on
                continue
            dead = tr.status[o.row] == DELETED
            pr = o.pred
            if dead and not o.reported_dead:
                o.reported_dead = True
                # a re-acquisition continues its object's coast: the object's first coast counts (a young track
                # re-acquiring a missile tracked for an hour is no young threat: 2022-11-18 cancelled its EEZ
                # warning "track_lost" 3 s after such a track was lost, and re-issued it 3 s later)
                root = self.objs[self._root_same(o.row)]
                coast = [c for c in (o.first_coast_s, root.first_coast_s if root.duplicate_of is None else None)
                         if c is not None]
                # a lower bound (``BOUND``: lost while boosting, or before its staging was decided) is no standing
                # prediction: a notional IRBM whose sensors all fell silent 125 s into its 182 s boost (the IMM read
                # coast from 78 s) held its overflight warning 425 s, to the short arc's "impact"
                mature = (pr is not None and pr.get("ok") and bool(coast) and not pr["bound"]
                          and pr["t"] - min(coast) >= MATURE_COAST_S and not o.manoeuvre
                          and pr["impact_t"] > t)
                if mature and o.duplicate_of is None:
                    o.extrapolating = True
                    o.held_s = t
                else:
                    o.done = True
                    for eng in self.engines.values():
                        self._emit(eng.lost(self._oid(o.row), t))
                    continue
            if dead and not o.extrapolating:
                o.done = True
                continue
            if pr is None or not pr.get("ok") or o.duplicate_of is not None:
                continue
            if not (o.extrapolating or self._mature(o, t) or (self._bound(o, t) and t - o.born_s >= ALERT_AFTER_S)):
                continue
            if self._parted_undecided(o):
                continue  # the missile's own chain warns meanwhile; the decision hands it over if this is the missile
            feed.append(o)
        # a lost track's held prediction yields to a track re-acquiring its object once that track itself feeds the
        # chain (yielding at the re-acquisition, before the new track was mature, left the chain with no input for
        # 5 s: 2022-11-18's EEZ warning was cancelled "stale" at 3 870 s and re-issued at 3 872 s)
        reacquired = {q.same_as for q in feed if q.same_as is not None}
        for o in feed:
            if o.extrapolating and o.row in reacquired:
                o.done = True
        feed = [o for o in feed if not o.done]
        # tracks that speak for one object (a re-acquisition, a missile carrying on a chain) feed its chain once
        # per window: the one of an alerting kind, else the latest (two of them alternating flapped the chain)
        speaker = {}
        for o in feed:
            k, rank = self._oid(o.row), (o.kind in ("warhead", "unknown"), o.pred["t"], o.row)
            if k not in speaker or rank > speaker[k][0]:
                speaker[k] = (rank, o)
        feed = [o for o in feed if speaker[self._oid(o.row)][1] is o]
        for o in feed:
            pr = o.pred
            passed = pr["impact_t"] + 5.0 < t
            if o.extrapolating and passed:
                o.done = True
            # a lower-bound prediction (``BOUND``) warns of overflight only: the engines apply the rule
            bound = pr["bound"] or (not o.extrapolating and self._bound(o, t))
            probs = {k: 0.0 if passed else float(min(max(v, 0.0), 1.0)) for k, v in pr["probs"].items()}
            impact = ImpactArea(
                lat_deg=pr["lat"], lon_deg=float((pr["lon"] + 180) % 360 - 180),
                semi_major_m=min(pr["semi_major_m"], 2e7),
                semi_minor_m=min(pr["semi_minor_m"], pr["semi_major_m"], 2e7), orientation_deg=pr["orientation_deg"])
            # an overflight once flown is over for good
            o.over_done |= {m for m in NATIONS if pr["over_t"].get(m) and pr["over_t"][m][1] < t}
            over = {f"{m}_land": 0.0 if passed or m in o.over_done else pr["over_p"][m] for m in NATIONS}
            for n, eng in self.engines.items():
                ov = pr["over_t"].get(n)
                a = AssessmentInput(
                    t_s=t, object_id=self._oid(o.row), event_id=self.event_id, kind=o.kind, track_alive=True,
                    exercise=self.exercise, impact_probability=probs, overflight_probability=over,
                    overflight_start_s=ov[0] if ov else None, overflight_end_s=ov[1] if ov else None,
                    impact_t_s=pr["impact_t"], impact=impact, lower_bound=bound)
                self._emit(eng.update(a))
        for eng in self.engines.values():
            self._emit(eng.tick(t))

    def _parted_undecided(self, o: _Obj) -> bool:
        """Is ``o`` an ``unknown`` track parted from a live missile track (``warhead``) whose split is not yet decided?
        It raises no chain of its own meanwhile: the threat is the missile's, warned on its chain, and the decision
        either hands that chain over to ``o`` (it is the missile) or makes ``o`` a stage (land-noto: the stage's
        track, parted from the warhead's at 300 s, alerted as "unknown" for 3 s before it was found a stage)."""
        if o.parent is None or o.split_decided or o.kind != "unknown":
            return False
        p = self.objs[o.parent]
        return p.kind == "warhead" and p.handed_to is None and self.tracker.status[p.row] != DELETED

    def _oid(self, row: int) -> str:
        """The object id the alerts use: a re-acquired track speaks for the object it re-acquired, a missile for
        the track it separated from (``_hand_over``)."""
        row, seen = self._root_same(row), set()
        if self.objs[row].handed_to is not None:  # a spent stage (or a re-acquisition of it): never the missile's id
            return f"{self.event_id}/track{int(self.tracker.ids[row])}/stage"
        while self.objs[row].continues is not None and row not in seen:
            seen.add(row)
            row = self._root_same(self.objs[row].continues)
        return f"{self.event_id}/track{int(self.tracker.ids[row])}"

    def _emit(self, msgs) -> None:
        for m in msgs:
            xml = to_cap_xml(m, sender=CAP_SENDERS.get(m.nation, f"warnlink.{m.nation.lower()}.example"))
            validate_cap(xml)
            self.alerts.append((m, xml))

    # ------------------------------------------------------------------ the result
    def _estimate(self, o: _Obj) -> dict | None:
        pr, la = o.pred, self._launch_of(o)
        if pr is None or not pr.get("ok"):
            return None
        epoch = self.sim.epoch
        est = {"launch_lat": None, "launch_lon": None, "launch_time": None, "launch_method": None,
               "launch_time_sigma_s": None, "launch_ellipse_95": None,
               "impact_lat": round(pr["lat"], 4), "impact_lon": round(pr["lon"], 4),
               "impact_time": _iso(epoch, pr["impact_t"]), "impact_time_sigma_s": round(pr["impact_t_sigma"], 2),
               "impact_prior_track": pr.get("prior"),
               "ellipse_95": {"semi_major_km": round(pr["semi_major_m"] / 1e3, 3),
                              "semi_minor_km": round(pr["semi_minor_m"] / 1e3, 3),
                              "orientation_deg": round(pr["orientation_deg"], 1)},
               "apogee_km": round(self._apogee_of(o) / 1e3, 1), "range_km": None, "flight_time_s": None,
               "final": bool(pr["impact_t"] <= self.sim.duration_s and pr["impact_t"] <= o.last_t + 60.0),
               "lower_bound": bool(pr["bound"]),
               "japan_eez": "inside" if pr["p_japan"] >= 0.5 else "outside",
               "p_japan_land_or_eez": round(pr["p_japan"], 4),
               "impact_probabilities": {k: round(v, 4) for k, v in pr["probs"].items()},
               "overflew_japan": "JPN" in o.overflew, "overflew_korea": "KOR" in o.overflew,
               "overflights": {n: (None if v is None else {"enter": _iso(epoch, v[0]), "exit": _iso(epoch, v[1]),
                                                           "region": v[2], "place": v[3]})
                               for n, v in o.overflew.items()},
               "max_range_km": None, "class": None, "class_basis": None,
               "shape": None, "manoeuvre": o.manoeuvre,
               "manoeuvre_s": None if o.manoeuvre_s is None else round(o.manoeuvre_s - self.launch_s, 1),
               "assessed_at_s": round(pr["t"] - self.launch_s, 1)}
        if la is not None:
            est.update(launch_lat=round(la["lat_deg"], 4), launch_lon=round(la["lon_deg"], 4),
                       launch_time=_iso(epoch, la["time_s"]), launch_method=la["method"])
            if la.get("time_sigma_s") is not None:
                # the backward boost's own uncertainty (``LaunchEstimate``); a ballistic back-propagation has none
                est["launch_time_sigma_s"] = round(float(la["time_sigma_s"]), 2)
                est["launch_ellipse_95"] = {"semi_major_km": round(float(la["ellipse_km"][0]), 3),
                                            "semi_minor_km": round(float(la["ellipse_km"][1]), 3)}
            rng_km = float(distance_m(la["lat_deg"], la["lon_deg"], pr["lat"], pr["lon"])) / 1e3
            est["range_km"] = round(rng_km, 1)
            est["flight_time_s"] = round(pr["impact_t"] - la["time_s"], 1)
            est["shape"] = str(trajectory_shape(self._apogee_of(o) / 1e3, max(rng_km, 1.0))[0])
        # the class from the whole flight (``figures.flight_class``), not from the latest, drag-slowed state
        cat, e_km, basis = flight_class(self._apogee_of(o) / 1e3, est["range_km"], self._coast_energy_of(o),
                                        lifting=o.manoeuvre)
        est.update({"class": cat, "class_basis": basis,
                    "max_range_km": None if not np.isfinite(e_km) else round(e_km, 0)})
        return est

    def _truth(self, o: _Obj) -> dict | None:
        """Nearest true object over the track's life (evaluation only; not used by the assessment)."""
        h = self._hist
        m = h["track"] == self.tracker.ids[o.row]
        m &= h["status"] == CONFIRMED
        if not m.any():
            return None
        ts, xs = h["t_s"][m], h["x"][m, :3]
        best, best_d = None, np.inf
        for obj in self.sim.objects:
            p, _, okk = obj.trajectory.sample(ts - obj.offset_s)
            if not okk.any():
                continue
            d = np.linalg.norm(p[okk] - xs[okk], axis=1)
            score = float(np.median(d)) + 1e6 * (1.0 - okk.mean())
            if score < best_d:
                best, best_d = obj, score
        if best is None:
            return None
        out = {"object_id": best.object_id, "kind": best.kind, "median_distance_km": round(best_d / 1e3, 2)}
        pr = o.pred
        if pr is not None and pr.get("ok"):
            lat, lon = best.trajectory.impact_point()
            az, _, d = inverse(pr["lat"], pr["lon"], lat, lon)
            en = float(d) * np.array([np.sin(np.radians(float(az))), np.cos(np.radians(float(az)))])
            m2 = float(en @ np.linalg.solve(pr["cov"], en))
            out.update(impact_error_km=round(float(d) / 1e3, 3), impact_inside_95=bool(m2 <= chi2.ppf(0.95, 2)),
                       impact_time_error_s=round(pr["impact_t"] - best.t_end_s, 2))
        return out

    def _tid(self, row: int | None) -> int | None:
        return None if row is None else int(self.tracker.ids[row])

    def _verdict_segments(self) -> list:
        """Confident Japan-EEZ verdicts as segments ``[from_s, to_s, track_id, verdict]`` (seconds after the
        launch): each object's run of one verdict."""
        segs = []
        for o in self.objs:
            cur = None
            for t, v in o.verdicts:
                if cur is not None and cur[3] == v:
                    cur[1] = t
                else:
                    if cur is not None:
                        segs.append(cur)
                    cur = [t, t, int(self.tracker.ids[o.row]), v]
            if cur is not None:
                segs.append(cur)
        return [[round(a - self.launch_s, 1), round(b - self.launch_s, 1), k, v] for a, b, k, v in sorted(segs)]

    def _result(self, wall_s: float) -> dict:
        self._hist = self.tracker.history.arrays()
        objects = []
        for o in self.objs:
            if self.tracker.status[o.row] == CONFIRMED or o.pred is not None:
                est = self._estimate(o)
                if est is None and o.pred is None and self.tracker.hits[o.row] < 5:
                    continue
                objects.append({"object_id": f"{self.event_id}/track{int(self.tracker.ids[o.row])}",
                                "alert_object_id": self._oid(o.row), "track_id": int(self.tracker.ids[o.row]),
                                "kind": o.kind, "kind_basis": o.kind_basis,
                                "duplicate_of": self._tid(o.duplicate_of), "reacquires": self._tid(o.same_as),
                                "separated_from": self._tid(o.parent),
                                "first_seen_s": round(o.born_s - self.launch_s, 1),
                                "first_impact_prediction_s": None if o.first_pred_s is None
                                else round(o.first_pred_s - self.launch_s, 1),
                                "estimate": est, "truth": self._truth(o)})
        r = self.sim.reports
        real = r.truth >= 0
        first_det = float(r.t_s[real].min()) - self.launch_s if real.any() else None
        alerts = [{"nation": m.nation, "msg_type": m.msg_type, "status": m.status, "sent": _iso(self.sim.epoch, 0.0)
                   and m.sent.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                   "t_s": round((m.valid_at - self.sim.epoch).total_seconds() - self.launch_s, 1),
                   "object_id": m.object_id, "object_kind": m.object_kind, "regions": list(m.regions),
                   "overflight_regions": list(m.overflight_regions), "probability": round(m.probability, 3),
                   "reason": m.reason, "headline": m.headline, "cap_xml": xml.decode()} for m, xml in self.alerts]
        flight_s = max(o.t_end_s for o in self.sim.objects) - self.launch_s
        return {
            "event_id": self.event_id,
            "exercise": self.exercise,
            "objects": objects,
            "first_detection_s": None if first_det is None else round(first_det, 1),
            "first_track_s": None if self.first_track_s is None else round(self.first_track_s - self.launch_s, 1),
            "first_verdict_s": None if self.first_verdict_s is None else round(self.first_verdict_s - self.launch_s, 1),
            "alerts": alerts,
            "verdicts": self._verdict_segments(),
            "alert_engines": {n: eng.stats for n, eng in self.engines.items()},
            "run": {"reports": len(r), "tracks": len(self.objs), "simulated_s": round(self.sim.duration_s, 1),
                    "flight_s": round(flight_s, 1), "wall_s": round(wall_s, 2),
                    "tracker_wall_s": round(self.track_wall_s, 2), "assessment_wall_s": round(self.assess_wall_s, 2),
                    "faster_than_real_time": round(self.sim.duration_s / wall_s, 1) if wall_s > 0 else None},
        }


def main_object(result: dict) -> dict | None:
    """The object whose estimate stands for the event: among the warheads (else the unknown objects; never a
    duplicate track) the first launched (launch time to 10 s; salvo figures describe the first missile; a
    launch from a backward boost before one from a mere ballistic back-propagation, which is tens of seconds
    early), and of its tracks the one assessed last (the most mature estimate: a re-acquisition carries on
    its object). A track followed to its predicted impact (estimate ``final``) comes before one lost in
    flight: the lost track's figures are a prediction from part of the flight (2024-01-14: the warhead's first
    track, last assessed at 150 s, predicted 21 km apogee and 243 km range; its re-acquisition, followed
    to impact, 51.5 km and 527 km against the published >50 and >500). An estimate that is only a lower
    bound (``BOUND``: a track lost while boosting or before its staging was decided) stands only when there
    is no other."""
    def key(o):
        lt = o["estimate"]["launch_time"] or "9999"
        ballistic = (o["estimate"]["launch_method"] or "ballistic").startswith("ballistic")
        return (not o["estimate"].get("final"), ballistic, lt[:18], -o["estimate"]["assessed_at_s"])

    missile = ("warhead", "unknown")
    for kinds, bounds in ((("warhead",), (False,)), (("unknown",), (False,)), (missile, (True,)),
                          (("stage", "debris"), (False, True))):
        cands = [o for o in result["objects"] if o["kind"] in kinds and o["estimate"] is not None
                 and o["duplicate_of"] is None and bool(o["estimate"].get("lower_bound")) in bounds]
        if cands:
            return min(cands, key=key)
    return None


def published(ev) -> dict:
    """The catalogue's figures and verdicts of an event (km, minutes, as published)."""
    def fig(f):
        return None if f is None else {"value": f.value, "qualifier": f.qualifier}

    return {"apogee_km": fig(ev.apogee), "range_km": fig(ev.range), "flight_time_min": fig(ev.flight_time_min),
            "japan_eez": ev.impact_japan_eez, "overflew_japan": ev.overflew_japan, "lofted": ev.lofted,
            "impact_point_derived": list(ev.impact_point) if ev.impact_point else None,
            "launch_time": ev.launch_time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "launch_time_known": ev.launch_time_known, "launch_point": [ev.launch_lat, ev.launch_lon],
            "missile_type": ev.missile_type, "missile_class": published_class(ev.missile_type),
            "n_missiles": ev.n_missiles}


def published_class(missile_type: str) -> str:
    """The class (SRBM/MRBM/IRBM/ICBM) that a catalogue ``missile_type`` text names: the category of the notional
    class the scenario flies for it (``physics.shaper.class_for``, a keyword match; SRBM where no class is named)."""
    from warnlink.physics.shaper import class_for

    return CLASSES[class_for(missile_type)].category


TOLERANCE = 0.10
"""Targets: apogee, range and flight time within 10% of the published figure (or inside the interval of an
"at least"/"at most" figure, ``physics.shaper.Figure.ok``)."""


def compare(ev, result: dict) -> dict:
    """The event's targets: estimate of the main object against the published figures and verdicts."""
    mo = main_object(result)
    est = mo["estimate"] if mo else None
    out = {"object_id": mo["object_id"] if mo else None, "kind": mo["kind"] if mo else None}

    def check(fig, value):
        if fig is None:
            return None
        if value is None:
            return False
        return bool(fig.ok(value, TOLERANCE))

    out["class_ok"] = bool(est is not None and est["class"] == published_class(ev.missile_type))
    out["apogee_ok"] = check(ev.apogee, est and est["apogee_km"])
    out["range_ok"] = check(ev.range, est and est["range_km"])
    ft = est["flight_time_s"] / 60.0 if est and est["flight_time_s"] is not None else None
    out["flight_time_ok"] = check(ev.flight_time_min, ft)
    out["japan_eez_ok"] = None if ev.impact_japan_eez not in ("inside", "outside") else bool(
        est is not None and est["japan_eez"] == ev.impact_japan_eez)
    over = any(o["estimate"] is not None and o["estimate"]["overflew_japan"] for o in result["objects"]
               if o["kind"] in ("warhead", "unknown"))
    out["overflew_japan"] = over
    out["overflight_ok"] = bool(over == ev.overflew_japan)
    for name, fig, v in (("apogee", ev.apogee, est and est["apogee_km"]), ("range", ev.range, est and est["range_km"]),
                         ("flight_time", ev.flight_time_min, ft)):
        out[f"{name}_error"] = None if fig is None or v is None else round(fig.error(v), 4)
    return out


JALERT_MIN = {
    "2017-08-29_1": (4, "J-Alert launch message to 12 prefectures (Hokkaido to Nagano)"),
    "2022-10-04_1": (5, "J-Alert #1 to Hokkaido and, in error, the Tokyo islands; #2 to Aomori at +7"),
    "2022-11-03_1": (11, "J-Alert to Miyagi, Yamagata, Niigata for an overflight that did not happen"),
}
"""Published J-Alert issue times [min after launch] for catalogue events (``data/warning_timelines.md``;
sources round to whole minutes, +-1 min). Other catalogue events had no J-Alert (no threat to Japan's
territory was predicted)."""


def mod_summary(result: dict, epoch_launch: datetime | None = None) -> str | None:
    """A Japan-MoD-style sentence for the main object: flight time, maximum altitude, distance, impact time
    (JST), inside/outside Japan's EEZ, and distance and bearing from a named gazetteer place."""
    mo = main_object(result)
    if mo is None or mo["estimate"] is None:
        return None
    e = mo["estimate"]
    where = describe_location(e["impact_lat"], e["impact_lon"])
    parts = []
    if e["flight_time_s"] is not None:
        parts.append(f"flew for about {e['flight_time_s'] / 60:.0f} minutes")
    parts.append(f"reached a maximum altitude of about {e['apogee_km']:,.0f} km")
    if e["range_km"] is not None:
        parts.append(f"flew about {e['range_km']:,.0f} km")
    when = ""
    if e["impact_time"]:
        t = datetime.fromisoformat(e["impact_time"].replace("Z", "+00:00")) + timedelta(hours=9)
        when = f" at about {t:%H:%M} JST"
    eez = "inside" if e["japan_eez"] == "inside" else "outside"
    return (f"The {e['class']}-class missile ({e['shape'] or 'shape unknown'}) {', '.join(parts)}, and fell{when} "
            f"{eez} Japan's EEZ, {where.text}.")


def replay_scenario(sc, *, event_id: str | None = None, policies=None, step_s: float = STEP_S) -> dict:
    """Simulate scenario ``sc`` and run the node end to end over it; the result dict (JSON-ready):
    ``event_id``, ``exercise``, ``objects`` (per tracked object: ``kind``, ``kind_basis``, ``estimate``,
    ``truth`` for evaluation), ``first_detection_s``, ``first_track_s``, ``first_verdict_s`` (seconds after
    the first launch), ``alerts`` (every message with its CAP XML), ``run`` (sizes and wall times) and
    ``summary`` (the Japan-MoD-style sentence)."""
    from warnlink.scenario.simulate import simulate

    t0 = time.perf_counter()
    sim = simulate(sc)
    sim_wall = time.perf_counter() - t0
    launch_s = min((launch.time - sim.epoch).total_seconds() for launch in sc.launches)
    res = Replay(sim, event_id=event_id or sc.name, launch_s=launch_s, policies=policies, step_s=step_s).run()
    res["run"]["simulation_wall_s"] = round(sim_wall, 2)
    res["run"]["wall_s"] = round(res["run"]["wall_s"] + sim_wall, 2)
    res["run"]["faster_than_real_time"] = round(sim.duration_s / res["run"]["wall_s"], 1)
    res["summary"] = mod_summary(res)
    return res


def replay_event(ev, *, seed: int = 0, policies=None, step_s: float = STEP_S) -> dict:
    """Replay a catalogue event (``scenario_from_event``, an exercise scenario) end to end; the result of
    ``replay_scenario`` with ``published`` (the catalogue's figures and verdicts), ``comparison`` (the
    targets) and ``jalert`` (J-Alert's published issue time where there was one)."""
    from warnlink.scenario.history import scenario_from_event

    res = replay_scenario(scenario_from_event(ev, seed=seed), event_id=ev.event_id, policies=policies,
                          step_s=step_s)
    res["published"] = published(ev)
    res["comparison"] = compare(ev, res)
    j = JALERT_MIN.get(ev.event_id)
    res["jalert"] = None if j is None else {"issued_min": j[0], "note": j[1]}
    keys = ["event_id", "published", "objects", "first_detection_s", "first_verdict_s", "alerts"]
    return {**{k: res[k] for k in keys}, **{k: v for k, v in res.items() if k not in keys}}


def verdict_times(result: dict, reference: str | None) -> dict:
    """First confident Japan-EEZ verdict (any value), first one equal to ``reference`` ("inside"/"outside"),
    and the time from which every confident verdict equals it (``settled_s``), in seconds after launch."""
    segs = result.get("verdicts") or []
    first = segs[0][0] if segs else None
    if reference not in ("inside", "outside") or not segs:
        return {"first_s": first, "first_correct_s": None, "settled_s": None}
    right = [s[0] for s in segs if s[3] == reference]
    wrong_end = max((s[1] for s in segs if s[3] != reference), default=None)
    if wrong_end is None:
        settled = min(right) if right else None
    else:
        after = [max(s[0], wrong_end) for s in segs if s[3] == reference and s[1] > wrong_end]
        settled = min(after) if after else None
    return {"first_s": first, "first_correct_s": min(right) if right else None, "settled_s": settled}


def summary_row(result: dict) -> dict:
    """One row of the catalogue comparison table from a ``replay_event`` result (published vs estimated)."""
    pub, cmp_ = result["published"], result["comparison"]
    mo = main_object(result)
    est = mo["estimate"] if mo else {}
    ref = pub["japan_eez"] if pub["japan_eez"] in ("inside", "outside") else None
    vt = verdict_times(result, ref)
    first_alert, messages = {}, {}
    for a in result["alerts"]:
        if a["msg_type"] == "Alert":
            first_alert.setdefault(a["nation"], a["t_s"])
        m = messages.setdefault(a["nation"], {"Alert": 0, "Update": 0, "Cancel": 0})
        m[a["msg_type"]] += 1
    return {
        "event_id": result["event_id"],
        "class": est.get("class"), "shape": est.get("shape"), "kind": mo["kind"] if mo else None,
        "class_pub": pub.get("missile_class"), "class_ok": cmp_.get("class_ok"),
        "apogee_pub": pub["apogee_km"], "apogee_est": est.get("apogee_km"),
        "range_pub": pub["range_km"], "range_est": est.get("range_km"),
        "time_pub": pub["flight_time_min"],
        "time_est": None if est.get("flight_time_s") is None else round(est["flight_time_s"] / 60.0, 1),
        "eez_pub": pub["japan_eez"], "eez_est": est.get("japan_eez"),
        "over_pub": pub["overflew_japan"], "over_est": cmp_["overflew_japan"],
        "first_detection_s": result["first_detection_s"], "first_verdict_s": vt["first_s"],
        "first_correct_verdict_s": vt["first_correct_s"], "verdict_settled_s": vt["settled_s"],
        "first_alert_s": first_alert, "messages": messages, "first_track_s": result.get("first_track_s"),
        "jalert_min": result["jalert"]["issued_min"] if result.get("jalert") else None,
        "apogee_ok": cmp_["apogee_ok"], "range_ok": cmp_["range_ok"], "flight_time_ok": cmp_["flight_time_ok"],
        "japan_eez_ok": cmp_["japan_eez_ok"], "overflight_ok": cmp_["overflight_ok"],
        "apogee_error": cmp_["apogee_error"], "range_error": cmp_["range_error"],
        "flight_time_error": cmp_["flight_time_error"],
        "impact_error_km": (mo or {}).get("truth", {}) and mo["truth"].get("impact_error_km"),
        "impact_inside_95": (mo or {}).get("truth", {}) and mo["truth"].get("impact_inside_95"),
        "kind_right": bool(mo and mo["truth"] and mo["truth"]["kind"] == mo["kind"]),
        "alerts": len(result["alerts"]), "faster_than_real_time": result["run"]["faster_than_real_time"],
        "wall_s": result["run"]["wall_s"],
    }


_Q = {"approx": "", "at_least": ">", "well_above": ">>", "at_most": "<"}


def _pub(f) -> str:
    return "-" if f is None else f"{_Q.get(f['qualifier'], '')}{f['value']:g}"


def _num(v, fmt="{:.0f}") -> str:
    return "-" if v is None else fmt.format(v)


def _ok(v) -> str:
    return "" if v is None else ("" if v else "*")


def table_markdown(rows: list[dict]) -> str:
    """The comparison table (Markdown): published against estimated figures and verdicts, timeliness, and a
    ``*`` beside every figure that misses its target."""
    lines = ["| event | class pub. | est. (shape) | apogee km pub. | est. | range km pub. | est. | time min pub. "
             "| est. | Japan EEZ off. | est. | overflight off. | est. | first report s | first verdict s "
             "| correct verdict s | first JPN alert s | J-Alert min |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['event_id']} | failed: {r['error'][:80]} |" + " |" * 16)
            continue
        lines.append(
            f"| {r['event_id']} | {r.get('class_pub') or '-'} | {r['class'] or '-'}{_ok(r.get('class_ok'))} "
            f"({r['shape'] or '-'}) | {_pub(r['apogee_pub'])} | "
            f"{_num(r['apogee_est'])}{_ok(r['apogee_ok'])} | {_pub(r['range_pub'])} | "
            f"{_num(r['range_est'])}{_ok(r['range_ok'])} | {_pub(r['time_pub'])} | "
            f"{_num(r['time_est'], '{:.1f}')}{_ok(r['flight_time_ok'])} | {r['eez_pub']} | "
            f"{r['eez_est'] or '-'}{_ok(r['japan_eez_ok'])} | {'yes' if r['over_pub'] else 'no'} | "
            f"{'yes' if r['over_est'] else 'no'}{_ok(r['overflight_ok'])} | {_num(r['first_detection_s'])} | "
            f"{_num(r['first_verdict_s'])} | {_num(r['first_correct_verdict_s'])} | "
            f"{_num(r['first_alert_s'].get('JPN'))} | {_num(r['jalert_min'])} |")
    return "\n".join(lines)


def timeliness_markdown(rows: list[dict]) -> str:
    """The timeliness table (Markdown), seconds after launch: first sensor report, first confirmed track, first
    confident Japan-EEZ verdict, first one equal to the official verdict, the time from which every confident
    verdict equals it, the first JPN and KOR alerts and J-Alert's published issue time; then the JPN and KOR
    messages (Alert/Update/Cancel)."""
    lines = ["| event | first report s | first track s | first verdict s | correct verdict s | settled s "
             "| first JPN alert s | first KOR alert s | J-Alert s | JPN msgs A/U/C | KOR msgs A/U/C |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def msgs(r, n):
        m = r.get("messages", {}).get(n)
        return "-" if not m else f"{m['Alert']}/{m['Update']}/{m['Cancel']}"

    for r in rows:
        if "error" in r:
            lines.append(f"| {r['event_id']} | failed |" + " |" * 9)
            continue
        j = r["jalert_min"]
        lines.append(
            f"| {r['event_id']} | {_num(r['first_detection_s'])} | {_num(r.get('first_track_s'))} | "
            f"{_num(r['first_verdict_s'])} | {_num(r['first_correct_verdict_s'])} | {_num(r['verdict_settled_s'])} | "
            f"{_num(r['first_alert_s'].get('JPN'))} | {_num(r['first_alert_s'].get('KOR'))} | "
            f"{'-' if j is None else f'{60 * j} ({j} min)'} | {msgs(r, 'JPN')} | {msgs(r, 'KOR')} |")
    return "\n".join(lines)


def table_totals(rows: list[dict]) -> dict:
    """How many events meet each target (of those where it applies), and the worst misses."""
    good = [r for r in rows if "error" not in r]
    out = {"events": len(rows), "failed": len(rows) - len(good)}
    for key in ("class_ok", "apogee_ok", "range_ok", "flight_time_ok", "japan_eez_ok", "overflight_ok"):
        vals = [r[key] for r in good if r[key] is not None]
        out[key] = f"{sum(vals)}/{len(vals)}"
    for key in ("apogee_error", "range_error", "flight_time_error"):
        errs = [(abs(r[key]), r["event_id"], r[key]) for r in good if r[key] is not None]
        out[f"worst_{key}"] = None if not errs else {"event_id": max(errs)[1], "error": max(errs)[2]}
    inside = [r["impact_inside_95"] for r in good if r.get("impact_inside_95") is not None]
    out["truth_impact_inside_95_ellipse"] = f"{sum(inside)}/{len(inside)}"
    out["main_object_kind_right"] = f"{sum(r['kind_right'] for r in good)}/{len(good)}"
    for key in ("first_verdict_s", "first_correct_verdict_s"):
        v = sorted(r[key] for r in good if r[key] is not None)
        out[f"{key}_median"] = None if not v else v[len(v) // 2]
    upd = [sum(m["Update"] for m in r.get("messages", {}).values()) for r in good]
    out["updates_max_per_event"] = max(upd, default=0)
    out["updates_total"] = sum(upd)
    sp = [r["faster_than_real_time"] for r in good if r["faster_than_real_time"]]
    out["faster_than_real_time_min"] = min(sp) if sp else None
    return out


def _replay_row(args) -> dict:
    ev, seed = args
    try:
        return summary_row(replay_event(ev, seed=seed))
    except Exception as exc:  # one bad event must not sink the table: it is reported in its row
        return {"event_id": ev.event_id, "error": f"{type(exc).__name__}: {exc}"}


def replay_catalog(events, *, workers: int = 2, seed: int = 0) -> list[dict]:
    """``summary_row`` for every event (with a published apogee or range), over ``workers`` processes."""
    from concurrent.futures import ProcessPoolExecutor

    events = [e for e in events if e.has_figures]
    if workers <= 1:
        return [_replay_row((e, seed)) for e in events]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_replay_row, [(e, seed) for e in events]))
