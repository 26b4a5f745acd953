"""Which picture object speaks for which alert chain at a national node.

A node's picture can hold several objects for one missile: two tracks of it the fusion did not merge
(different sensors, a partner track beside an own one), a re-acquisition after a coverage gap, the
missile and the stage it dropped while their predictions still agree. Fed to the alert engine one by
one, each of them opened its own chain, and each chain was cancelled when its object went quiet or was
re-classified while the others carried on: the 2022-10-04 demo at the JPN node sent 8 Alerts and 7
Cancels for one missile (the replay, which resolves duplicates itself, sends one chain).

``AlertKeys`` groups the assessed objects of one launch event (and one marking) whose predicted impacts agree
(within ``gate_m``, or ``gate_sigma`` times the sum of the two 95% semi-major axes, and in impact time within
``gate_s`` or ``gate_frac`` of the longer time to go: a prediction's impact time is the less certain the longer
the flight ahead; while either prediction is a lower bound, in boost, the launch event alone; an object of no known
launch, e.g. a terminal-phase track, by its impact alone) under one *chain key*; per assessment round one
member speaks for the key: the current speaker while it is of an alerting kind, otherwise a member of an
alerting kind (a warhead or an unknown object before a stage; an own object before a partner's shared
assessment, ``Candidate.partner``), the freshest first. A member whose
prediction leaves the key's (a stage falling short, a second missile of a salvo aimed elsewhere) gets a
key of its own. When the speaker leaves the picture another live member takes over without a message;
only when none is left is the chain's basis lost (the caller cancels it, or keeps a mature coasting
object's prediction: ``adopt``). The replay's equivalents are its duplicate, re-acquisition and
hand-over rules (``warnlink.assessment.replay``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ALERTING_KINDS", "AlertKeys", "Candidate"]

ALERTING_KINDS = ("warhead", "unknown")
"""Kinds a chain may speak with (a stage or debris never warns: ``warnlink.alerts``' default policy)."""

_R_EARTH_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class Candidate:
    """One assessed object of a round: its id, launch event (canonical), marking, kind, assessment time [s],
    predicted impact (degrees, time [s]) and the 95% ellipse's semi-major axis [m]."""

    object_id: str
    event_id: str | None
    exercise: bool
    kind: str
    t: float
    lat_deg: float
    lon_deg: float
    impact_t: float
    semi_major_m: float
    bound: bool = False
    """The prediction is only a lower bound of the flight (``warnlink.alerts.is_lower_bound``: boosting, or
    just after): it moves with every second of burn, so it is matched by launch event alone."""
    partner: bool = False
    """A partner's shared assessment (no own object of this node): it speaks for a chain only while no own
    member of it can (own objects first: the node's own picture is fresher and its sensors' own)."""


def _ground_m(a: Candidate, b: Candidate) -> float:
    p1, p2 = math.radians(a.lat_deg), math.radians(b.lat_deg)
    dl = math.radians(b.lon_deg - a.lon_deg)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _R_EARTH_M * math.asin(min(1.0, math.sqrt(h)))


class AlertKeys:
    """Chain keys and speakers over assessment rounds (see the module docstring). Not thread-safe: used on
    the node's event loop."""

    def __init__(self, gate_m: float = 30_000.0, gate_sigma: float = 3.0, gate_s: float = 60.0,
                 gate_frac: float = 0.05):
        if not (gate_m > 0 and gate_sigma >= 0 and gate_s > 0 and 0 <= gate_frac < 1):
            raise ValueError(f"gates must be positive (gate_frac below 1): gate_m={gate_m}, gate_sigma={gate_sigma}, "
                             f"gate_s={gate_s}, gate_frac={gate_frac}")
        self.gate_m, self.gate_sigma, self.gate_s = float(gate_m), float(gate_sigma), float(gate_s)
        self.gate_frac = float(gate_frac)
        """(0.05: the 2022-11-18 demo's JPN and KOR predictions of one ICBM, 62 min before its impact, were 64 s
        apart in impact time and 36 km on the ground, inside their ellipses)"""
        self.key_of: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}
        self.speaker: dict[str, str] = {}
        self.ref: dict[str, Candidate] = {}  # the speaker's latest assessment
        self.partner_ids: set[str] = set()  # members that are partners' shared assessments
        self._n = 0

    def near(self, a: Candidate, b: Candidate) -> bool:
        """Do two assessments predict one impact (same marking; same launch, or either of no known launch; impact
        points and times agree, or either is a lower bound of one launch)?"""
        if a.exercise != b.exercise or (a.event_id is not None and b.event_id is not None
                                        and a.event_id != b.event_id):
            return False
        if a.bound or b.bound:  # one launch in boost: the missile and what it drops are one threat until they part
            return a.event_id is not None and a.event_id == b.event_id
        to_go = max(a.impact_t - a.t, b.impact_t - b.t, 0.0)
        if not abs(a.impact_t - b.impact_t) <= max(self.gate_s, self.gate_frac * to_go):
            return False
        return _ground_m(a, b) <= max(self.gate_m, self.gate_sigma * (a.semi_major_m + b.semi_major_m))

    def round(self, cands: list[Candidate], holding: frozenset | set = frozenset()) -> list[tuple[str, Candidate]]:
        """One assessment round: assign each candidate its key and return ``(key, speaker)`` for every key
        with a candidate this round (at most one per key). ``holding``: own objects not in this round whose
        assessments still stand (the caller re-feeds them): a key whose speaker is one of them and that has
        only partner candidates this round keeps that speaker and is not returned."""
        order = sorted(cands, key=lambda c: (self.speaker.get(self.key_of.get(c.object_id, "")) != c.object_id,
                                             c.object_id))
        groups: dict[str, list[Candidate]] = {}
        for c in order:  # current speakers first: their new assessments are the references the others meet
            k = self.key_of.get(c.object_id)
            if k is not None and self.speaker.get(k) == c.object_id:
                self.ref[k] = c
            elif k is not None and not self.near(c, self.ref[k]):
                self._leave(c.object_id, k)
                k = None
            if k is None:
                near = [(_ground_m(c, r), key) for key, r in self.ref.items() if self.near(c, r)]
                k = min(near)[1] if near else self._new_key(c.object_id)
                self.key_of[c.object_id] = k
                self.members.setdefault(k, set()).add(c.object_id)
                if k not in self.speaker:
                    self.speaker[k], self.ref[k] = c.object_id, c
            if c.partner:
                self.partner_ids.add(c.object_id)
            groups.setdefault(k, []).append(c)
        out = []
        for k, group in groups.items():
            cur = next((c for c in group if c.object_id == self.speaker[k]), None)
            if cur is None and self.speaker[k] in holding and all(c.partner for c in group):
                continue  # an own speaker's assessment stands: a partner's does not displace it
            own = any(not c.partner and c.kind in ALERTING_KINDS for c in group)
            if cur is None or cur.kind not in ALERTING_KINDS or (cur.partner and own):
                cur = max(group, key=lambda c: (c.kind in ALERTING_KINDS, not c.partner, c.kind == "warhead", c.t,
                                                -c.semi_major_m, c.object_id))
            self.speaker[k], self.ref[k] = cur.object_id, cur
            out.append((k, cur))
        return out

    def lost(self, object_id: str, alive) -> str | None:
        """``object_id`` left the picture (``alive``: the ids still in it). Returns the key whose chain lost
        its basis (no live member left to speak for it), else None (another member took over, or the object
        spoke for no chain)."""
        k = self.key_of.pop(object_id, None)
        self.partner_ids.discard(object_id)
        if k is None:
            return None
        self.members[k].discard(object_id)
        if self.speaker.get(k) != object_id:
            return None
        rest = sorted((m in self.partner_ids, m) for m in self.members[k] if m in alive)  # own members first
        if rest:
            self.speaker[k] = rest[0][1]  # speaks from its next assessment on; the reference stays until then
            return None
        self._drop(k)
        return k

    def adopt(self, k: str, ref: Candidate) -> None:
        """Keep (or re-open) key ``k`` spoken for by ``ref`` (an object no longer in the picture whose prediction
        stands: the node's extrapolation), so that a new track of it joins the key and speaks for it."""
        self.key_of[ref.object_id] = k
        self.members.setdefault(k, set()).add(ref.object_id)
        self.speaker[k], self.ref[k] = ref.object_id, ref

    def _leave(self, object_id: str, k: str) -> None:
        self.key_of.pop(object_id, None)
        self.partner_ids.discard(object_id)
        self.members[k].discard(object_id)
        if not self.members[k]:
            self._drop(k)

    def _drop(self, k: str) -> None:
        for m in self.members.pop(k, ()):
            self.key_of.pop(m, None)
            self.partner_ids.discard(m)
        self.speaker.pop(k, None)
        self.ref.pop(k, None)

    def _new_key(self, object_id: str) -> str:
        if object_id not in self.members:
            return object_id
        self._n += 1
        return f"{object_id}.{self._n}"
