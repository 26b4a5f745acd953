"""Alert policy per nation (from YAML) and the alert lifecycle engine: issue, update, cancel.

``AlertEngine`` (one per nation) consumes assessment updates (``AssessmentInput``: one object at one
simulation time) and emits ``Alert`` messages as chains: an ``Alert`` when an alerting kind of object
(``warhead``/``unknown``) reaches a policy threshold for the nation's land, EEZ or overflight; an ``Update``
when the assessment moves by more than the policy's hysteresis; a ``Cancel`` as soon as the basis disappears:

- the track is reported lost (``track_alive=False`` or ``lost()``): cancelled at that time;
- the object is re-classified as a ``stage`` or ``debris`` (2023-04-13: a separated booster's predicted
  impact near Hokkaido): cancelled at that time;
- no update for ``staleness_s`` (<= 5 s): cancelled by ``tick()``; with ``tick`` called every ``dt`` seconds
  the cancel is sent at most ``staleness_s + dt`` after the last update;
- every region's probability below its threshold minus ``release_margin``.

Status derives only from the input's exercise flag and the node's mode (``derive_status``); exercise input
can never yield ``"Actual"`` (checked here before emitting, in the ``Alert`` struct, and in the CAP writer).
Messages get deterministic UUIDv7 ids and sent times from the run's epoch plus simulation time, so a replay
gives the same messages.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from warnlink.alerts.model import (
    KINDS,
    Alert,
    ImpactArea,
    Kind,
    Nation,
    ObjectId,
    Probability,
    Reference,
    RegionName,
    uuid7,
)
from warnlink.geo.geodesic import distance_m

MODES = ("live", "exercise", "test")
"""Node modes: ``live`` (real feed, real alerts), ``exercise`` (everything is exercise), ``test`` (system test)."""
Mode = Literal["live", "exercise", "test"]
MAX_STALENESS_S = 5.0
ALERTING_KINDS = ("warhead", "unknown")
STAGING_WATCH_S = 8.0
"""After a track last boosted, its ballistic prediction stays a lower bound this long [s] (``is_lower_bound``):
a spent stage's missile re-appears boosting beside it within this time, or the track resumes boosting."""


class PolicyError(ValueError):
    """An alert policy that cannot be used; the message names the file, nation and field."""


class AlertInputError(ValueError):
    """An assessment update the engine refuses; the message says why (the node dead-letters it)."""


def derive_status(exercise: bool, mode: str) -> str:
    """CAP status of a message from the input's exercise flag and the node's mode, and from nothing else.

    Exercise input gives ``Exercise`` in every mode; otherwise ``live`` -> ``Actual``, ``exercise`` ->
    ``Exercise``, ``test`` -> ``Test``.
    """
    if type(exercise) is not bool:
        raise AlertInputError(f"exercise: must be true or false, got {exercise!r}")
    if mode not in MODES:
        raise ValueError(f"mode: must be one of {', '.join(MODES)}, got {mode!r}")
    if exercise or mode == "exercise":
        return "Exercise"
    return "Test" if mode == "test" else "Actual"


def is_lower_bound(*, boosting: bool, t_s: float, last_boost_s: float | None, climbing: bool = True,
                   separation_undecided: bool = False, staging_watch_s: float = STAGING_WATCH_S) -> bool:
    """Is an object's ballistic prediction at ``t_s`` only a *lower bound* of the missile's flight?

    It is while the object boosts (and climbs: a descending object's "boost" is the drag of re-entry read
    by the boost model, 2024-11-05), for ``staging_watch_s`` after it last boosted climbing
    (``last_boost_s``; None: never seen boosting), and while a separation from it (or of it) is undecided:
    whatever the missile still burns carries it further along the same ground track. A lower-bound
    assessment may warn of overflight where its mean path crosses the land, never of impact: give it to
    ``AlertEngine.update`` with ``AssessmentInput.lower_bound=True`` and the engine withholds its impact
    probabilities, time and area.
    The one rule for every caller (replay, national node). Times in seconds on one clock.
    """
    if (boosting and climbing) or separation_undecided:
        return True
    return last_boost_s is not None and t_s - last_boost_s < staging_watch_s


# ----------------------------------------------------------------------------------------------------- policy


class Thresholds(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Probabilities at which a region is alerted: impact on land, impact in the EEZ, overflight."""

    land: float
    eez: float
    overflight: float


class UpdateRules(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """When an open chain gets an Update: only when something a recipient acts on has changed against the
    chain's last message, and no sooner than ``min_interval_s`` after it.

    What counts: the alerted region set (impact or overflight), the object's kind, the impact or overflight
    probability leaving the band of +-``probability`` around the last message's, the expected impact (or
    overflight) time moving by ``impact_time_s``, the impact point by ``impact_point_km``, the 95% ellipse's
    semi-major axis by the fraction ``ellipse_fraction`` *and* by at least ``ellipse_min_km`` (a young track's
    ellipse shrinking from 4 to 2 km is no news to a recipient), or an impact area appearing or disappearing.
    A region *joining* the alerted set is sent at once (a new region at risk never waits); every other change
    waits out ``min_interval_s`` after the chain's last message (a change that has reverted by then is never
    sent; one still standing is sent by ``AlertEngine.tick`` when the interval ends, even if no later
    assessment arrives). A Cancel is never delayed.
    """

    probability: float
    impact_time_s: float
    impact_point_km: float
    ellipse_fraction: float
    ellipse_min_km: float = 0.0
    min_interval_s: float = 0.0


class Regions(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The nation's region names, as the assessment reports them, by what they are checked for."""

    land: tuple[str, ...] = ()
    eez: tuple[str, ...] = ()
    overflight: tuple[str, ...] = ()


class AlertPolicy(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One nation's alert policy. Checked on construction; ``PolicyError`` names the field.

    Hysteresis on the alerted regions: an impact region enters once its probability has been at or above its
    threshold for ``confirm_s`` (every assessment in that span; 0: at once; an overflight region enters at
    once: the missile is over the land minutes after launch, and the national node's assessment rounds are
    seconds apart, so a confirmation there cost 100 s in the 2022-10-04 demo), and leaves once it has stayed
    below ``threshold - release_margin`` for ``release_hold_s`` (assessment time; a dip that recovers within
    the hold changes nothing). The hold delays only a *probability* release (``below_threshold``); a lost
    track or a re-classified object is cancelled at once.

    ``impact_max_semi_major_km``: an impact probability counts only from a prediction whose 95% ellipse has
    a semi-major axis of at most this (None: no limit). A longer ellipse does not locate the impact (the
    along-track speed at burnout not yet measured): its region probabilities are the share of a line of
    hundreds of kilometres that crosses the region, not evidence. Such an input warns of overflight only.
    """

    nation: str
    regions: Regions
    thresholds: Thresholds
    release_margin: float
    update: UpdateRules
    alert_kinds: tuple[str, ...] = ALERTING_KINDS
    staleness_s: float = 3.0
    release_hold_s: float = 0.0
    confirm_s: float = 0.0
    impact_max_semi_major_km: float | None = None

    def __post_init__(self):
        _check_policy(self)


def _finite(name: str, v, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    if ok:
        ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise PolicyError(f"{name}: must be a number in {interval}, got {v!r}")


def _check_policy(p: AlertPolicy) -> None:
    if not isinstance(p.nation, str) or not re.fullmatch(r"[A-Z]{3}", p.nation):
        raise PolicyError(f"nation: must be a three-letter code such as JPN, got {p.nation!r}")
    for cls in ("land", "eez", "overflight"):
        names = getattr(p.regions, cls)
        if not isinstance(names, tuple | list) or not all(
                isinstance(n, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]{0,63}", n) for n in names):
            raise PolicyError(f"regions.{cls}: must be a list of region names (letters, digits, _ or -), "
                              f"got {names!r}")
        if len(set(names)) != len(names):
            raise PolicyError(f"regions.{cls}: duplicate region names in {list(names)}")
    if not (p.regions.land or p.regions.eez or p.regions.overflight):
        raise PolicyError("regions: give at least one land, eez or overflight region, or nothing can alert")
    for cls in ("land", "eez", "overflight"):
        _finite(f"thresholds.{cls}", getattr(p.thresholds, cls), 0.0, 1.0, lo_open=True)
    lowest = min(p.thresholds.land, p.thresholds.eez, p.thresholds.overflight)
    _finite("release_margin", p.release_margin, 0.0, lowest, hi_open=True)
    _finite("update.probability", p.update.probability, 0.0, 1.0, lo_open=True)
    _finite("update.impact_time_s", p.update.impact_time_s, 0.0, 86400.0, lo_open=True)
    _finite("update.impact_point_km", p.update.impact_point_km, 0.0, 20000.0, lo_open=True)
    _finite("update.ellipse_fraction", p.update.ellipse_fraction, 0.0, 100.0, lo_open=True)
    _finite("update.ellipse_min_km", p.update.ellipse_min_km, 0.0, 20000.0)
    _finite("update.min_interval_s", p.update.min_interval_s, 0.0, 3600.0)
    _finite("staleness_s", p.staleness_s, 0.0, MAX_STALENESS_S, lo_open=True)
    _finite("release_hold_s", p.release_hold_s, 0.0, 3600.0)
    _finite("confirm_s", p.confirm_s, 0.0, MAX_STALENESS_S)
    if p.impact_max_semi_major_km is not None:
        _finite("impact_max_semi_major_km", p.impact_max_semi_major_km, 0.0, 20000.0, lo_open=True)
    kinds = p.alert_kinds
    if not isinstance(kinds, tuple | list) or not kinds:
        raise PolicyError(f"alert_kinds: must be a non-empty list, got {kinds!r}")
    for k in kinds:
        if k in ("stage", "debris"):
            raise PolicyError(f"alert_kinds: {k!r} may not alert: a separated stage or debris is no threat warning "
                              "(2023-04-13: a booster's predicted impact gave a false J-Alert); allowed: "
                              f"{', '.join(ALERTING_KINDS)}")
        if k not in ALERTING_KINDS:
            raise PolicyError(f"alert_kinds: unknown kind {k!r}; allowed: {', '.join(ALERTING_KINDS)}")
    if "warhead" not in kinds:
        raise PolicyError("alert_kinds: must include 'warhead'")
    if len(set(kinds)) != len(kinds):
        raise PolicyError(f"alert_kinds: duplicates in {list(kinds)}")


# File format: every field optional, so a nation overrides `defaults` field by field.
_Prob = Annotated[float, Meta(gt=0.0, le=1.0)]
_Pos = Annotated[float, Meta(gt=0.0)]


class _ThresholdsIn(Struct, forbid_unknown_fields=True):
    land: _Prob | None = None
    eez: _Prob | None = None
    overflight: _Prob | None = None


class _UpdateIn(Struct, forbid_unknown_fields=True):
    probability: _Prob | None = None
    impact_time_s: _Pos | None = None
    impact_point_km: _Pos | None = None
    ellipse_fraction: _Pos | None = None
    ellipse_min_km: Annotated[float, Meta(ge=0.0)] | None = None
    min_interval_s: Annotated[float, Meta(ge=0.0)] | None = None


class _RegionsIn(Struct, forbid_unknown_fields=True):
    land: list[RegionName] | None = None
    eez: list[RegionName] | None = None
    overflight: list[RegionName] | None = None


class _SectionIn(Struct, forbid_unknown_fields=True):
    regions: _RegionsIn | None = None
    thresholds: _ThresholdsIn | None = None
    release_margin: Annotated[float, Meta(ge=0.0, lt=1.0)] | None = None
    release_hold_s: Annotated[float, Meta(ge=0.0)] | None = None
    confirm_s: Annotated[float, Meta(ge=0.0, le=MAX_STALENESS_S)] | None = None
    impact_max_semi_major_km: _Pos | None = None
    update: _UpdateIn | None = None
    alert_kinds: list[str] | None = None
    staleness_s: Annotated[float, Meta(gt=0.0, le=MAX_STALENESS_S)] | None = None


class _PolicyFileIn(Struct, forbid_unknown_fields=True):
    version: Literal[1]
    nations: dict[Nation, _SectionIn]
    defaults: _SectionIn = msgspec.field(default_factory=_SectionIn)


def _merge(nation: str, default: _SectionIn, own: _SectionIn) -> AlertPolicy:
    def pick(path: str, d, o):
        v = o if o is not None else d
        if v is None:
            raise PolicyError(f"missing `{path}` (give it under `defaults` or `nations.{nation}`)")
        return v

    def sub(name: str, fields: tuple[str, ...], factory, required: bool = True):
        d, o = getattr(default, name), getattr(own, name)
        vals = {}
        for f in fields:
            dv = getattr(d, f) if d is not None else None
            ov = getattr(o, f) if o is not None else None
            if required:
                vals[f] = pick(f"{name}.{f}", dv, ov)
            else:
                vals[f] = tuple(ov if ov is not None else (dv or ()))
        return factory(**vals)

    regions = sub("regions", ("land", "eez", "overflight"), Regions, required=False)
    thresholds = sub("thresholds", ("land", "eez", "overflight"), Thresholds)
    update = sub("update", ("probability", "impact_time_s", "impact_point_km", "ellipse_fraction"), UpdateRules)
    optional = {}
    for f in ("min_interval_s", "ellipse_min_km"):  # optional: 0 (no floor, no interval) unless given
        vals = [getattr(u, f) for u in (own.update, default.update) if u is not None and getattr(u, f) is not None]
        optional[f] = vals[0] if vals else 0.0
    update = msgspec.structs.replace(update, **optional)
    def opt(name, none=0.0):
        v = getattr(own, name)
        v = getattr(default, name) if v is None else v
        return none if v is None else v
    kinds = own.alert_kinds if own.alert_kinds is not None else default.alert_kinds
    return AlertPolicy(
        nation=nation, regions=regions, thresholds=thresholds, update=update,
        release_margin=pick("release_margin", default.release_margin, own.release_margin),
        alert_kinds=tuple(kinds) if kinds is not None else ALERTING_KINDS,
        staleness_s=pick("staleness_s", default.staleness_s, own.staleness_s),
        release_hold_s=opt("release_hold_s"), confirm_s=opt("confirm_s"),
        impact_max_semi_major_km=opt("impact_max_semi_major_km", None),
    )


def decode_policies(text: str | bytes, where: str = "<alert policy>") -> dict[str, AlertPolicy]:
    """Decode an alert policy file (YAML) into one ``AlertPolicy`` per nation; ``PolicyError`` names the field."""
    try:
        raw = msgspec.yaml.decode(text, type=_PolicyFileIn)
    except msgspec.ValidationError as exc:
        msg = str(exc) if " - at `" in str(exc) else f"{exc} - at `$`"
        raise PolicyError(f"{where}: {msg}") from None
    except msgspec.DecodeError as exc:
        raise PolicyError(f"{where}: not valid YAML: {exc}") from None
    if not raw.nations:
        raise PolicyError(f"{where}: no nations - at `$.nations`")
    out = {}
    for nation, section in raw.nations.items():
        try:
            out[nation] = _merge(nation, raw.defaults, section)
        except PolicyError as exc:
            raise PolicyError(f"{where}: nations.{nation}: {exc}") from None
    return out


def default_policy_path() -> Path:
    """The packaged default policy file (``warnlink/data/alert_policy.yaml``; NOTIONAL figures)."""
    return Path(str(resources.files("warnlink") / "data" / "alert_policy.yaml"))


def load_policies(path: str | Path | None = None) -> dict[str, AlertPolicy]:
    """Read an alert policy file (the packaged default when ``path`` is None): nation -> ``AlertPolicy``."""
    path = Path(path) if path is not None else default_policy_path()
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read alert policy: {exc.strerror}") from None
    return decode_policies(text, str(path))


def load_policy(nation: str, path: str | Path | None = None) -> AlertPolicy:
    """One nation's ``AlertPolicy`` from a policy file (the packaged default when ``path`` is None)."""
    policies = load_policies(path)
    if nation not in policies:
        raise PolicyError(f"{path or default_policy_path()}: no policy for nation {nation!r}; "
                          f"known: {', '.join(policies)}")
    return policies[nation]


# ----------------------------------------------------------------------------------------------------- engine


class AssessmentInput(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What the engine needs from one object's assessment at one time.

    ``t_s`` [s after the run's epoch] is the time the assessment is valid for. Impact probabilities are per
    region name, the regions disjoint as ``warnlink.geo.regions.impact_probabilities`` gives them
    (``JPN_eez`` is the EEZ's sea without the land); regions of other nations are ignored. ``impact_t_s``,
    ``overflight_start_s`` and ``overflight_end_s`` are also seconds after the epoch. ``exercise`` is the
    marking of the data.

    ``lower_bound`` marks a prediction that is only a lower bound of the flight (``is_lower_bound``): the
    engine then ignores its impact probabilities, impact time and area (no impact warning, and nothing of
    an impact in an overflight warning) and counts its overflight probability only where the mean path
    itself crosses the land (``overflight_start_s`` given).
    """

    t_s: float
    object_id: ObjectId
    event_id: ObjectId
    kind: Kind
    track_alive: bool
    exercise: bool
    impact_probability: dict[RegionName, Probability] = msgspec.field(default_factory=dict)
    overflight_probability: dict[RegionName, Probability] = msgspec.field(default_factory=dict)
    overflight_start_s: float | None = None
    overflight_end_s: float | None = None
    impact_t_s: float | None = None
    impact: ImpactArea | None = None
    lower_bound: bool = False


def _usable(a: AssessmentInput, policy: AlertPolicy) -> AssessmentInput:
    """What the engine uses of an input: of a lower bound (``AssessmentInput.lower_bound``) overflight only,
    where its mean path crosses; of a prediction whose ellipse is longer than ``impact_max_semi_major_km``
    no impact probabilities."""
    if a.lower_bound:
        over = a.overflight_probability if a.overflight_start_s is not None else {}
        return msgspec.structs.replace(a, impact_probability={}, impact_t_s=None, impact=None,
                                       overflight_probability=over)
    limit = policy.impact_max_semi_major_km
    if limit is not None and a.impact is not None and a.impact.semi_major_m > limit * 1e3 and a.impact_probability:
        return msgspec.structs.replace(a, impact_probability={})
    return a


def _check_input(a: AssessmentInput) -> None:
    """Reject what msgspec does not check on construction (bools, NaN, ranges, kinds)."""
    if not isinstance(a, AssessmentInput):
        raise AlertInputError(f"expected an AssessmentInput, got {type(a).__name__}")
    for name in ("track_alive", "exercise", "lower_bound"):
        if type(getattr(a, name)) is not bool:
            raise AlertInputError(f"{name}: must be true or false, got {getattr(a, name)!r}")
    for name in ("object_id", "event_id"):
        v = getattr(a, name)
        if not isinstance(v, str) or not re.fullmatch(r"[^\s\x00-\x1f\x7f]{1,128}", v):
            raise AlertInputError(f"{name}: must be 1-128 characters without spaces, got {v!r}")
    if a.kind not in KINDS:
        raise AlertInputError(f"kind: must be one of {', '.join(KINDS)}, got {a.kind!r}")
    for name in ("t_s", "impact_t_s", "overflight_start_s", "overflight_end_s"):
        v = getattr(a, name)
        if (v is not None or name == "t_s") and (
                isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)):
            raise AlertInputError(f"{name}: must be a finite number of seconds, got {v!r}")
    start, end = a.overflight_start_s, a.overflight_end_s
    if start is not None and end is not None and end < start:
        raise AlertInputError("overflight_end_s: earlier than overflight_start_s")
    for name in ("impact_probability", "overflight_probability"):
        d = getattr(a, name)
        if not isinstance(d, dict):
            raise AlertInputError(f"{name}: must be a mapping region -> probability, got {type(d).__name__}")
        for k, p in d.items():
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
                raise AlertInputError(f"{name}[{k!r}]: must be a probability in [0, 1], got {p!r}")
    if a.impact is not None and not isinstance(a.impact, ImpactArea):
        raise AlertInputError(f"impact: expected an ImpactArea, got {type(a.impact).__name__}")


class _Chain:
    """One open alert chain: what was sent last and the regions currently alerted."""

    __slots__ = ("below", "exercise", "last", "number", "overflight", "pending", "refs", "regions")

    def __init__(self, number: int, exercise: bool):
        self.number = number
        self.exercise = exercise
        self.refs: list[Reference] = []
        self.last: Alert | None = None
        self.regions: frozenset[str] = frozenset()
        self.overflight: frozenset[str] = frozenset()
        self.below: dict[tuple[bool, str], float] = {}
        """Alerted regions ((overflight?, name)) below their release level, with the time they fell there
        (``release_hold_s``)."""
        self.pending: tuple[float, dict, str] | None = None
        """A deferred Update (assessment time, content, reason), sent by ``tick`` when its interval ends."""


class _ObjectState:
    __slots__ = ("above", "chain", "chains", "exercise", "last_t", "lost_at")

    def __init__(self):
        self.above: dict[tuple[bool, str], float] = {}
        """Regions ((overflight?, name)) at or above their threshold, with the time they got there (``confirm_s``)."""
        self.exercise: bool | None = None
        self.last_t: float | None = None
        self.lost_at: float | None = None
        self.chain: _Chain | None = None
        self.chains = 0


def _latlon(lat: float, lon: float) -> str:
    return f"{abs(lat):.3f}{'N' if lat >= 0 else 'S'} {abs(lon):.3f}{'E' if lon >= 0 else 'W'}"


_REASON_TEXT = {
    "track_lost": "The track of this object was lost; the warning no longer has a basis.",
    "stale": "No assessment of this object for {stale:g} s; the warning no longer has a basis.",
    "reclassified": "The object was re-classified as {kind} (e.g. a separated booster stage); it is not a "
                    "threat warning.",
    "below_threshold": "The probability of impact in, or flight over, {nation} fell below the alert threshold.",
}


class AlertEngine:
    """Alert lifecycle for one nation: ``update``/``lost``/``tick`` in, ``Alert`` messages out.

    ``mode`` is the node's mode (``live``, ``exercise`` or ``test``), required so that nobody gets ``live``
    by default. ``epoch`` is the UTC time of ``t_s = 0``. Objects with no open chain and no update for
    ``forget_after_s`` are dropped on ``tick``. ``stats`` counts what went in and out.
    """

    def __init__(self, policy: AlertPolicy, *, mode: Mode, epoch: datetime, forget_after_s: float = 600.0):
        if not isinstance(policy, AlertPolicy):
            raise TypeError(f"policy: expected an AlertPolicy, got {type(policy).__name__}")
        if mode not in MODES:
            raise ValueError(f"mode: must be one of {', '.join(MODES)}, got {mode!r}")
        if not isinstance(epoch, datetime) or epoch.utcoffset() is None:
            raise ValueError("epoch: must be a timezone-aware datetime")
        if not forget_after_s >= policy.staleness_s:
            raise ValueError(f"forget_after_s: must be >= staleness_s ({policy.staleness_s}), got {forget_after_s}")
        self.policy = policy
        self.mode = mode
        self.epoch = epoch.astimezone(UTC)
        self.forget_after_s = float(forget_after_s)
        self._objects: dict[str, _ObjectState] = {}
        self.stats = {"inputs": 0, "out_of_order": 0, "Alert": 0, "Update": 0, "Cancel": 0, "Update_deferred": 0,
                      "update_reasons": {}}

    # --- public API

    def update(self, a: AssessmentInput) -> list[Alert]:
        """Take one object's assessment; return the message it causes (none, or one Alert/Update/Cancel)."""
        _check_input(a)
        self.stats["inputs"] += 1
        st = self._objects.get(a.object_id)
        if st is None:
            st = self._objects[a.object_id] = _ObjectState()
        if (st.last_t is not None and a.t_s < st.last_t) or (st.lost_at is not None and a.t_s <= st.lost_at):
            self.stats["out_of_order"] += 1
            return []
        if st.exercise is not None and a.exercise != st.exercise:
            raise AlertInputError(
                f"exercise: object {a.object_id!r} was seen as {'exercise' if st.exercise else 'real'} data but this "
                f"input is marked exercise={a.exercise}; mixed markings for one object are refused")
        st.exercise = a.exercise
        a = _usable(a, self.policy)
        chain = st.chain
        st.last_t = a.t_s
        st.lost_at = None
        p = self.policy
        if chain is None:
            if not a.track_alive or a.kind not in p.alert_kinds:
                return []
            regions, overflight = self._select(a, None, st)
            if not regions and not overflight:
                return []
            st.chains += 1
            chain = st.chain = _Chain(st.chains, a.exercise)
            return [self._emit(st, a.object_id, "Alert", a.t_s, self._content(a, regions, overflight))]
        if not a.track_alive:
            return [self._cancel(st, a.object_id, a.t_s, "track_lost", a.kind)]
        if a.kind not in p.alert_kinds:
            return [self._cancel(st, a.object_id, a.t_s, "reclassified", a.kind)]
        regions, overflight = self._select(a, chain, st)
        if not regions and not overflight:
            return [self._cancel(st, a.object_id, a.t_s, "below_threshold", a.kind)]
        joined = (regions - chain.regions) or (overflight - chain.overflight)
        chain.pending = None
        if chain.below and not joined:
            return []  # a region is in its release hold: nothing but a joining region is news until it ends
        content = self._content(a, regions, overflight)
        why = self._changed(chain.last, content)
        if why is None:
            return []
        if not joined and a.t_s - (chain.last.sent - self.epoch).total_seconds() < p.update.min_interval_s:
            self.stats["Update_deferred"] += 1
            chain.pending = (a.t_s, content, why)  # sent by ``tick`` once the interval ends, unless superseded
            return []
        return [self._update(st, a.object_id, a.t_s, content, why)]

    def lost(self, object_id: str, t_s: float) -> list[Alert]:
        """The track of ``object_id`` was lost at ``t_s``: cancel its open chain (if any) now."""
        if isinstance(t_s, bool) or not isinstance(t_s, int | float) or not math.isfinite(t_s):
            raise AlertInputError(f"t_s: must be a finite number of seconds, got {t_s!r}")
        st = self._objects.get(object_id)
        if st is None:
            st = self._objects[object_id] = _ObjectState()
        if st.last_t is not None and t_s < st.last_t:
            self.stats["out_of_order"] += 1
            return []
        st.lost_at = t_s
        st.last_t = t_s
        st.above.clear()  # a re-acquired track confirms afresh
        if st.chain is None:
            return []
        return [self._cancel(st, object_id, t_s, "track_lost", st.chain.last.object_kind)]

    def tick(self, t_s: float) -> list[Alert]:
        """Advance the clock to ``t_s``: cancel chains whose object had no update for ``staleness_s``, and send
        a deferred Update whose minimum interval (``UpdateRules.min_interval_s``) has ended by ``t_s`` (its
        content is that of the latest assessment, valid at that assessment's time, sent at ``t_s``).
        A silent chain whose every warned threat is over by ``t_s`` (``_passed``) is cancelled
        ``below_threshold``, as an update at ``t_s`` would have done, not ``stale``: its basis was not lost
        while the threat was pending. (A national node's clock advances with its data: at 80x replay under load
        the 2022-10-04 demo's JPN node had no data from 22:26:38 to 22:29:58 UTC, across the whole predicted
        overflight of 22:28:49-22:29:14, and its chain was cancelled "stale" at the first round after.)"""
        if isinstance(t_s, bool) or not isinstance(t_s, int | float) or not math.isfinite(t_s):
            raise AlertInputError(f"t_s: must be a finite number of seconds, got {t_s!r}")
        out = []
        gap = self.policy.update.min_interval_s
        for object_id, st in list(self._objects.items()):
            if st.last_t is None:
                continue
            age = t_s - st.last_t
            if st.chain is not None and age >= self.policy.staleness_s:
                why = "below_threshold" if self._passed(st.chain.last, t_s) else "stale"
                out.append(self._cancel(st, object_id, t_s, why, st.chain.last.object_kind))
            elif st.chain is not None and st.chain.pending is not None:
                valid_s, content, why = st.chain.pending
                if t_s - (st.chain.last.sent - self.epoch).total_seconds() >= gap:
                    out.append(self._update(st, object_id, valid_s, content, why, sent_s=t_s))
            elif st.chain is None and age > self.forget_after_s:
                del self._objects[object_id]
        return out

    def _passed(self, last: Alert, t_s: float) -> bool:
        """Is every threat ``last`` (a chain's latest message) warned of over by ``t_s``: the predicted end of
        its overflight, and the predicted impact time if it warned of impact? Only for a message with an impact
        prediction (not from a lower bound: a missile still burning flies further, and later)."""
        if last.impact_time is None or not (last.regions or last.overflight_regions):
            return False

        def sec(d: datetime) -> float:
            return (d - self.epoch).total_seconds()

        if last.regions and sec(last.impact_time) > t_s:
            return False
        return not last.overflight_regions or (last.overflight_end is not None and sec(last.overflight_end) <= t_s)

    def active(self) -> dict[str, Alert]:
        """The last message of every open chain, by object id."""
        return {oid: st.chain.last for oid, st in self._objects.items() if st.chain is not None}

    # --- internals

    def _select(self, a: AssessmentInput, chain: _Chain | None, st: _ObjectState):
        """Alerted regions with hysteresis: enter once at or above the threshold for ``confirm_s`` (``st.above``
        records since when), leave once below threshold - release_margin for ``release_hold_s`` (the chain's
        ``below`` records since when; a recovery clears it).

        Each region's own probability is compared with its class's threshold (land, eez, overflight).
        """
        p, m, hold = self.policy, self.policy.release_margin, self.policy.release_hold_s
        below = chain.below if chain is not None else {}
        above = st.above

        def pick(names, probs, threshold, current, overflight=False):
            out = set()
            for n in names:
                v, key = probs.get(n, 0.0), (overflight, n)  # impact and overflight of one region held apart
                if v >= threshold:
                    since = above.setdefault(key, a.t_s)
                else:
                    above.pop(key, None)
                if n in current:
                    if v >= threshold - m:
                        out.add(n)
                        below.pop(key, None)
                    elif a.t_s - below.setdefault(key, a.t_s) < hold:
                        out.add(n)
                    else:
                        del below[key]
                elif v >= threshold and (overflight or a.t_s - since >= p.confirm_s):
                    out.add(n)  # (an overflight is warned at once: the missile is over the land minutes in)
            return frozenset(out)

        cur_regions = chain.regions if chain is not None else frozenset()
        cur_overflight = chain.overflight if chain is not None else frozenset()
        regions = (pick(p.regions.land, a.impact_probability, p.thresholds.land, cur_regions)
                   | pick(p.regions.eez, a.impact_probability, p.thresholds.eez, cur_regions))
        overflight = pick(p.regions.overflight, a.overflight_probability, p.thresholds.overflight, cur_overflight,
                          overflight=True)
        return regions, overflight

    def _time(self, t_s: float | None) -> datetime | None:
        return None if t_s is None else self.epoch + timedelta(seconds=float(t_s))

    def _content(self, a: AssessmentInput, regions: frozenset, overflight: frozenset) -> dict:
        p = self.policy
        impact_names = (*p.regions.land, *p.regions.eez)
        return {
            "event_id": a.event_id,
            "object_id": a.object_id,
            "object_kind": a.kind,
            "regions": tuple(sorted(regions)),
            "probability": min(1.0, float(sum(a.impact_probability.get(n, 0.0) for n in impact_names))),
            "overflight_regions": tuple(sorted(overflight)),
            "overflight_probability": float(max((a.overflight_probability.get(n, 0.0)
                                                 for n in p.regions.overflight), default=0.0)),
            "overflight_start": self._time(a.overflight_start_s),
            "overflight_end": self._time(a.overflight_end_s),
            "impact_time": self._time(a.impact_t_s),
            "impact": a.impact,
        }

    def _changed(self, last: Alert, c: dict) -> str | None:
        """What in the new content differs from the last message by more than the update rules (``UpdateRules``):
        ``regions``, ``kind``, ``probability``, ``impact_time`` (or ``overflight_start``/``_end``),
        ``impact_area``, ``impact_point`` or ``ellipse``; None when nothing does."""
        u = self.policy.update
        if set(c["regions"]) != set(last.regions) or set(c["overflight_regions"]) != set(last.overflight_regions):
            return "regions"
        if c["object_kind"] != last.object_kind:
            return "kind"
        if (abs(c["probability"] - last.probability) >= u.probability
                or abs(c["overflight_probability"] - last.overflight_probability) >= u.probability):
            return "probability"
        for key in ("impact_time", "overflight_start", "overflight_end"):
            new, old = c[key], getattr(last, key)
            if (new is None) != (old is None) or (
                    new is not None and abs((new - old).total_seconds()) >= u.impact_time_s):
                return key
        new, old = c["impact"], last.impact
        if (new is None) != (old is None):
            return "impact_area"
        if new is not None:
            if float(distance_m(old.lat_deg, old.lon_deg, new.lat_deg, new.lon_deg)) >= u.impact_point_km * 1e3:
                return "impact_point"
            change = abs(new.semi_major_m - old.semi_major_m)
            if change >= u.ellipse_min_km * 1e3 and (new.semi_major_m > 0.0 if old.semi_major_m == 0.0
                                                     else change / old.semi_major_m >= u.ellipse_fraction):
                return "ellipse"
        return None

    def _update(self, st: _ObjectState, object_id: str, t_s: float, content: dict, why: str,
                sent_s: float | None = None) -> Alert:
        self.stats["update_reasons"][why] = self.stats["update_reasons"].get(why, 0) + 1
        st.chain.pending = None
        return self._emit(st, object_id, "Update", t_s, content, sent_s=sent_s)

    def _cancel(self, st: _ObjectState, object_id: str, t_s: float, reason: str, kind: str) -> Alert:
        last = st.chain.last
        content = {f: getattr(last, f) for f in (
            "event_id", "object_id", "regions", "probability", "overflight_regions", "overflight_probability",
            "overflight_start", "overflight_end", "impact_time", "impact")}
        content["object_kind"] = kind
        msg = self._emit(st, object_id, "Cancel", t_s, content, reason)
        st.chain = None
        return msg

    def _emit(self, st: _ObjectState, object_id: str, msg_type: str, t_s: float, c: dict,
              reason: str | None = None, sent_s: float | None = None) -> Alert:
        chain = st.chain
        status = derive_status(chain.exercise, self.mode)
        exercise = chain.exercise or self.mode == "exercise"
        # Defence in depth, layer 2: never let exercise data out as anything but Exercise.
        if exercise and status != "Exercise":
            raise RuntimeError(f"refusing to emit status {status!r} for exercise data (object {object_id!r})")
        if chain.exercise and status == "Actual":
            raise RuntimeError(f"refusing to emit an Actual alert from exercise input (object {object_id!r})")
        valid_at = self.epoch + timedelta(seconds=float(t_s))
        sent = valid_at if sent_s is None else max(valid_at, self.epoch + timedelta(seconds=float(sent_s)))
        sent = sent if chain.last is None else max(sent, chain.last.sent)
        seq = len(chain.refs)
        entropy = "\x1f".join((self.policy.nation, c["event_id"], object_id, str(chain.number), str(seq), status))
        alert_id = uuid7(int(sent.timestamp() * 1000), entropy.encode())
        headline, description = self._text(status, msg_type, c, reason)
        alert = Alert(
            id=alert_id, nation=self.policy.nation, status=status, msg_type=msg_type,
            references=tuple(chain.refs), sent=sent, valid_at=valid_at, headline=headline,
            description=description, reason=reason, exercise=exercise, **c,
        )
        chain.refs.append(Reference(alert.id, alert.sent))
        chain.last = alert
        chain.regions = frozenset(alert.regions)
        chain.overflight = frozenset(alert.overflight_regions)
        self.stats[msg_type] += 1
        return alert

    def _text(self, status: str, msg_type: str, c: dict, reason: str | None) -> tuple[str, str]:
        """Headline (<= 160 characters, marked EXERCISE/TEST first) and description of a message."""
        nation = self.policy.nation
        prefix = {"Exercise": "EXERCISE - ", "Test": "TEST - "}.get(status, "")
        lines = []
        if status == "Exercise":
            lines.append("EXERCISE EXERCISE EXERCISE. This message is part of an exercise. It is not a real alert.")
        elif status == "Test":
            lines.append("TEST. This message is a system test. It is not a real alert.")
        if msg_type == "Cancel":
            head = f"{prefix}{nation} missile warning CANCELLED ({reason.replace('_', ' ')})"
            lines.append(_REASON_TEXT[reason].format(stale=self.policy.staleness_s, kind=c["object_kind"],
                                                     nation=nation))
            lines.append("The cancelled warning concerned:")
        else:
            parts = []
            if c["regions"]:
                parts.append(f"possible impact in {', '.join(c['regions'])} (p={c['probability']:.2f})")
            if c["overflight_regions"]:
                parts.append(f"overflight of {', '.join(c['overflight_regions'])} "
                             f"(p={c['overflight_probability']:.2f})")
            word = "warning" if msg_type == "Alert" else "warning update"
            head = f"{prefix}{nation} missile {word}: {'; '.join(parts)}"
        lines.append(f"Object {c['object_id']} ({c['object_kind']}) of launch event {c['event_id']}.")
        imp, t_imp = c["impact"], c["impact_time"]
        if imp is not None:
            when = f" at {t_imp:%Y-%m-%d %H:%M:%S} UTC" if t_imp is not None else ""
            lines.append(f"Predicted impact {_latlon(imp.lat_deg, imp.lon_deg)}{when}; {imp.confidence:.0%} ellipse "
                         f"{imp.semi_major_m / 1e3:.1f} km x {imp.semi_minor_m / 1e3:.1f} km (semi-axes), "
                         f"major axis at {imp.orientation_deg:.0f} deg.")
        elif t_imp is not None:
            lines.append(f"Expected impact time {t_imp:%Y-%m-%d %H:%M:%S} UTC.")
        if c["regions"]:
            lines.append(f"Impact probability in {nation}: {c['probability']:.2f} (regions {', '.join(c['regions'])}).")
        if c["overflight_regions"]:
            span = ""
            if c["overflight_start"] is not None and c["overflight_end"] is not None:
                span = f" between {c['overflight_start']:%H:%M:%S} and {c['overflight_end']:%H:%M:%S} UTC"
            lines.append(f"Overflight of {', '.join(c['overflight_regions'])}{span} "
                         f"(p={c['overflight_probability']:.2f}).")
        if len(head) > 160:
            head = head[:157] + "..."
        return head, "\n".join(lines)
