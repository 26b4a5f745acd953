"""The national node: one asyncio process per nation, from its own sensor reports to a fused, alerted picture.

``python -m warnlink.sharing.node --nation KOR --state DIR`` (normally started by ``warnlink up``, see
``warnlink.sharing.runtime``). Per nation::

    sensor feed --(wl.<N>.local.report, report batches into the nation-local JetStream <N>_FEED, never
                   released; the node's durable consumer: batches sent while it is down wait for it)--> node
      node: validate batch -> tracker -> launch events -> fuse with partner tracks -> assess -> alert
      node --(sealed, Nats-Msg-Id = msg id, JetStream <N>_OUT)--> partners, per releasability.yaml:
          KOR/JPN: own tracks to USA; launch notices, assessments, alerts to both partners
          USA (hub nation): its fused system tracks, launch notices, assessments, alerts to both allies
          (the tracks of one tracking push, or of one fusion pass at the hub, go as one TrackBatch)
      partners --(consumers the originator created; PartnerReader)--> node: verify every envelope;
          rejected ones go to the dead-letter stream <N>_DEAD (subject wl.<N>.local.dead, headers
          Wl-Reason / Wl-Detail / Wl-Subject) with the reason; every message sent, received and rejected
          is written to the node's hash-chained audit log.

What a node does with partner data is an idempotent upsert keyed by (origin, object id) with "newer valid
time wins", so a redelivered or replayed copy has no second effect; every accepted partner message is kept
(``applied.bin``, written before the acknowledgement) and re-applied at a restart, with the verifier's replay
windows (``verifier.json``) and the ids already applied, so a node killed with ``kill -9`` comes back with
its picture and drops redeliveries as duplicates. Own warnings wait for burnout: while an object still
burns, its predicted impact is where it would fall if the engine stopped now (short of the real one), so it
is assessed (confidence ``BOOST_CONFIDENCE``) but raises no alert. The hub nation releases only system tracks
its own sensors contribute to (an ally's track alone is not re-released to the other ally).
Fusion (``warnlink.sharing.fusion``): every own and partner track is aligned to one time, partner tracks
are associated with the picture (gated Mahalanobis distance, optimal assignment) and fused by covariance
intersection (the hub's tracks already contain this nation's information: CI does not double count it).
Objects are grouped into one picture per launch: partner events are linked to own events through
associated tracks and through launch point/time proximity. Exercise marking: every output of an object is
marked exercise when any input was; the alert engine derives the CAP status from that marking and the
node's mode only, so exercise input never yields an ``Actual`` alert.

INTERFACE (for tests and benchmarks)
====================================

Start the fabric and the three nodes in a temporary directory (``warnlink.sharing.runtime``)::

    from warnlink.sharing.runtime import Runtime
    with Runtime(tmp_path / "wl") as rt:        # up(): servers, keys, streams, node processes, ready
        await rt.feed("KOR", batch, epoch=epoch_unix, exercise=True)   # or rt.feed_sync(...)
        snap = rt.snapshot("JPN")               # the node's JSON snapshot (dict), see below
        rt.wait_for(lambda: ..., timeout=10)    # poll snapshots
        rt.kill_node("JPN"); rt.start_node("JPN")   # kill -9 and restart one node process
        rt.fabric.stop_server("usa", kill=True); rt.fabric.start_server("usa")  # hub faults
    # down() on exit: nodes (SIGTERM, then SIGKILL), then servers

* **Feed**: ``encode_batch(batch, nation=, epoch=, exercise=)`` gives the wire form of a
  ``warnlink.sensors.reports.ReportBatch`` (columns as raw float64/int arrays in msgpack; ``truth`` is not
  sent); publish it on ``feed_subject(nation)`` (= ``wl.<N>.local.report``, captured by the nation-local
  stream ``<N>_FEED``) with any of the nation's users, as a JetStream publish with a ``Nats-Msg-Id``
  (``Runtime.feed`` does; the stream stores a re-sent batch once). ``t_s`` of the batch + ``epoch`` (POSIX
  seconds) is the report time. The header
  ``Wl-Sent`` (POSIX seconds, wall clock; ``Runtime.feed`` sets it) is the start of the latency chain.
* **Node directory** ``<state>/nodes/<N>/`` (``node_dir``): ``audit.jsonl`` (+ ``.head``; older segments
  ``audit-<n>.jsonl`` after a crash left an unusable tail), ``snapshot.json`` (rewritten atomically every
  ``snapshot_interval_s`` and on exit), ``timing.jsonl`` (one JSON object per line, below),
  ``verifier.json`` (replay windows), ``applied.bin`` (every accepted partner message, re-applied at a
  restart), ``cap/<alert id>.xml`` (CAP 1.2 of every own alert), ``node.log``, ``stdout.log``, ``node.pid``,
  ``faults.log`` (``kill -USR1 <pid>`` dumps the node's Python stacks there).
* **Processes**: each node is a session leader (``Runtime.kill_node`` kills its process group: the node and
  its tracking, assessment and launch-estimate workers, spawned processes; the launch-estimate worker runs
  in a session and scheduling group of its own at niceness ``LAUNCH_NICE`` and is killed when the node dies,
  ``PR_SET_PDEATHSIG``). A node warms up its compiled (Numba) paths before it says
  ready; ``Runtime.up`` runs ``python -m warnlink.sharing.node --warm-up`` once first so that the three load
  the cache instead of compiling together. ``WARNLINK_NODE_PROFILE=<dir>`` writes a cProfile per node on exit.
* **Launch notices**: a new own launch is announced at once with a coarse estimate (sigma 60 s / 50 km), and
  again (same ``event_id``, same valid time, so it replaces the first) when the boost-model estimate is in.
* **Snapshot** keys: ``nation``, ``pid``, ``ready``, ``stopped``, ``wall`` (time written), ``data_time`` (latest
  valid time seen), ``counters`` (batches, reports, rejected_batches, tracks_sent, track_batches_sent, launches_sent,
  assessments_sent, alerts_sent, received by kind, duplicates, rejected by reason, dead_lettered,
  publish_errors, ...), ``verifier`` (accepted / reasons), ``readers`` (per origin PartnerReader counters),
  ``picture``: list of launches ``{event_id, aliases, exercise, launch: {origin, lat_deg, lon_deg, time,
  sigma_s}, objects: [{object_id, time, state, cov (21 packed), contributors: {origin: track id},
  origins, phase, kind, assessment: {...}}], partner_assessments: {origin: [...]}}``, ``partner_tracks``
  (ids by origin), ``received_ids`` (count), ``alerts`` (own, last 100: id, status, msg_type, regions,
  exercise) and ``partner_alerts`` (last 100).
* **Timing** records (``timing.jsonl``; ``wall`` = POSIX seconds when it happened at this node):
  ``{"ev": "batch", "wall", "sent", "n"}`` a feed batch processed (``sent`` = its Wl-Sent);
  ``{"ev": "confirmed", "wall", "track", "event_id"}`` an own track confirmed;
  ``{"ev": "launch_sent" | "launch_recv", "wall", "event_id", "origin", "msg_id"}``;
  ``{"ev": "fused", "wall", "object_id", "event_id", "prov": {origin: report wall time}}`` the picture object
  was rebuilt with a partner track; ``prov[N]`` is the Wl-Sent of the latest report batch of nation N that
  went into it (carried hop by hop in the ``Wl-Prov`` header of track messages: one dict for every track of
  the batch, or a list with one per track in the batch's order) and ``new`` the partner nations whose
  ``prov`` advanced in this rebuild, so the latency from a KOR sensor report to JPN's fused track is
  ``wall - prov["KOR"]`` in JPN's ``fused`` records whose ``new`` holds ``KOR``;
  ``{"ev": "assessment_sent", "wall", "object_id", "track_wall", "new_wall"}`` (``track_wall``: when the newest
  track update it reflects reached this node: a partner track's arrival, an own track's push end; ``new_wall``:
  when the oldest update it is the first assessment to reflect did, None if it reflects no new update);
  ``{"ev": "assessment_round", "wall", "start", "objects"}`` (a round's start and the end of its computation,
  before its assessments are sealed); ``{"ev":
  "batch", ..., "tracked"}`` also gives the push's end, and where a feed batch's time went: ``recv`` (the node's
  feed reader handed it over), ``wall`` (decoded, submitted to the tracking worker), ``start`` (the worker began
  the push), ``tracked`` (the push and the table copy done), ``back`` (the result back on the event loop),
  ``released`` (its own-track releases sealed and queued); ``{"ev": "lag", "wall", "lag"}`` every tick: how late
  [s] the event loop ran the ticker's timer (the snapshot's ``costs_ms`` gives ``loop_lag_p50`` / ``loop_lag_max``
  of the last 50); ``{"ev": "alert_sent" | "alert_recv", ...}``.
* **Status subject**: none (a node user may not publish replies); read the snapshot file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import json
import logging
import math
import os
import signal
import sys
import time
from collections import Counter, OrderedDict, deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from warnlink.sharing.ids import uuid7
from warnlink.sharing.messages import (
    NATIONS,
    Assessment,
    Ellipse,
    GeoPoint,
    LaunchEvent,
    RegionProbability,
    Track,
    batch_assessments,
    batch_tracks,
    encode_payload,
    pack_covs,
    unpack_covs,
)
from warnlink.sharing.speakers import AlertKeys, Candidate

log = logging.getLogger("warnlink.node")

BATCH_VERSION = 1
MAX_BATCH_REPORTS = 100_000
"""Largest report batch a node accepts (a bigger one is rejected with ``oversized``)."""
FEED_SUFFIX = "local.report"
DEAD_SUFFIX = "local.dead"
PARTNER_WARN_AFTER_S = 60.0
"""A partner's shared assessment stays an alert input this long [s] past its predicted impact (``_partner_objects``:
past the impact its probabilities no longer count, so a chain it alone spoke for ends as below threshold)."""
PARTNER_TRACK_TTL_S = 120.0
"""A partner track this much older (valid time) than the partner's latest track is forgotten."""
REBUILD_MIN_S = 0.05
GROUND_TRACK_REUSE_S = 3.0
GROUND_TRACK_POINTS = 48
BOOST_CONFIDENCE = 0.2
"""Confidence of an assessment of an object still in boost (its impact point assumes burnout now)."""
BOOST_ACCEL_M_S2 = 40.0
"""Unknown thrust acceleration [m/s^2] allowed for when a boosting track is aligned ballistically."""
MAX_ALIGN_S = 30.0
"""Tracks further apart in time than this from the picture's reference time are not associated."""
"""An object's predicted ground track (overflights) is reused for this long [s wall] while its predicted impact
point stays within 10 km (the propagation is the costliest part of an assessment round)."""
"""Least time between two picture rebuilds (a burst of partner tracks gives one rebuild)."""
REBUILD_DUTY = 4.0
"""A rebuild waits at least this many times its own (average) cost after the previous one: updates of tracks the
picture already holds do not wait for it (they are fused incrementally), only new tracks do."""
REASSOCIATE_S = 1.0
"""Objects updated incrementally are associated again (a full rebuild) at least this often [s wall]: a track
that entered the picture alone (e.g. before its twin's gate held it) joins its twin at the next rebuild."""
PARTNER_LAG_S = 60.0
"""A partner's tracks are judged fresh against its own latest track, but never against a clock more than this
behind this node's own data (a partner that stopped sending does not keep its last tracks alive)."""
FRESH_S = 20.0
"""Only tracks updated within this many seconds of their origin's latest data enter the picture: a track
coasting without updates (e.g. the last boost-phase estimate of a radar that lost the object) cannot be
propagated reliably over a long gap, and would otherwise stand beside its own continuation as a ghost."""
"""A partner track with no update for this long (valid time) leaves the picture."""
DEAD_LETTER_QUEUE = 10_000
"""Rejected messages waiting to be dead-lettered; beyond this they go straight to the file fallback."""
PUBLISH_IN_FLIGHT = 64
"""Most durable publishes awaiting their PubAck at once; more wait in the outbox, in order."""
RELEASE_FIRST_S = 0.002
"""An ally node folds its own track updates into its picture this long after sealing them, so that the
publishing tasks put them on the wire first (the fold-in costs tens of ms of loop time under load)."""
AUDIT_SYNC_S = 5.0
"""The audit log is flushed to disk (fsync) from the node's I/O thread every ``snapshot_interval_s``; an
append on the event loop syncs only when that fell this far behind (an fsync: 10-50 ms on the loop)."""
LAUNCH_LINK_KM = 150.0
LAUNCH_LINK_S = 90.0
COAST_BORN_ALT_M = 100e3
"""A track confirmed out of boost above this altitude [m], or descending, was not seen launched: it is an
object of a launch seen before (a re-acquisition after a coverage gap, a terminal-phase radar's first sight),
never a new launch at its own position (2022-11-18: the re-entering warhead opened a "launch" in the Sea of
Japan, read the missile as a 135 km "stage" and so never warned of its impact in Japan's EEZ)."""
REACQUIRE_KM = 100.0
"""A coast-born track this close [km] to a picture object of a known launch (extrapolated to its time) is of
that launch."""
ORIGIN_GATE_KM = 150.0
"""... else its ballistic arc flown backwards to the ground (``_ballistic_origin_job``: 10-35 km from the site
for the catalogue's exo-atmospheric flights, measured on simulated truth at 30-97% of the flight) must end this
close [km] to a known launch point, ``ORIGIN_GATE_S`` after its launch time (the arc reaches the ground near
burnout time: 86-210 s after launch for the catalogue's MRBM-ICBMs)."""
ORIGIN_GATE_S = (-60.0, 600.0)
MAX_BURN_S = 300.0
"""The longest total burn of the notional missile classes (ICBM-liquid: 300 s; ``warnlink.physics.missiles``)."""
STAGE_RANGE_FRACTION = 0.6
"""Within a launch, an object whose predicted range is below this fraction of the launch's longest is a stage."""
_EPOCH0 = datetime(1970, 1, 1, tzinfo=UTC)
_STATUS = ("tentative", "confirmed", "deleted")
_TRIU6 = np.triu_indices(6)
_PROB_SAMPLES = 128


def feed_subject(nation: str) -> str:
    """The nation-local subject a sensor feed publishes report batches on (never leaves the nation)."""
    return f"wl.{nation}.{FEED_SUFFIX}"


def dead_letter_subject(nation: str) -> str:
    """The subject of the nation's dead-letter stream ``<N>_DEAD`` (nation-local)."""
    return f"wl.{nation}.{DEAD_SUFFIX}"


def node_dir(state_dir: str | Path, nation: str) -> Path:
    """The directory of ``nation``'s node under a runtime state directory."""
    return Path(state_dir) / "nodes" / nation


# ---------------------------------------------------------------------------------------------- batch wire form
class BatchError(ValueError):
    """A report batch that cannot be used; ``reason`` is a dead-letter reason code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _WireBatch(msgspec.Struct, forbid_unknown_fields=True):
    v: int
    batch_id: str
    nation: str
    exercise: bool
    epoch: float
    n: int
    sensors: list[str]
    t_s: bytes
    arrival_s: bytes
    sensor: bytes
    kind: bytes
    z: bytes
    cov: bytes
    pos: bytes


_BATCH_ENC = msgspec.msgpack.Encoder()
_BATCH_DEC = msgspec.msgpack.Decoder(_WireBatch)


def encode_batch(batch, *, nation: str, epoch: float, exercise: bool, batch_id: str | None = None) -> bytes:
    """The wire form of a ``ReportBatch`` of ``nation``'s sensors (columns as little-endian arrays; the sensor
    table holds only the sensors its reports name).

    ``epoch``: POSIX time [s] of the batch's ``t_s = 0``; ``exercise``: the marking of every report in it.
    ``truth`` is scoring data and is not sent.
    """
    n = len(batch)
    # only the sensors the batch's reports name (a replay's table lists every nation's; the feed, stored in
    # the nation's stream, must hold its own only)
    used, local = np.unique(np.asarray(batch.sensor, int), return_inverse=True)
    sensors = [batch.sensors[i] for i in used]
    return _BATCH_ENC.encode(_WireBatch(
        BATCH_VERSION, batch_id or uuid7(), nation, bool(exercise), float(epoch), n, sensors,
        np.ascontiguousarray(batch.t_s, "<f8").tobytes(), np.ascontiguousarray(batch.arrival_s, "<f8").tobytes(),
        np.ascontiguousarray(local.reshape(-1), "<i4").tobytes(), np.ascontiguousarray(batch.kind, "<i1").tobytes(),
        np.ascontiguousarray(batch.z, "<f8").tobytes(), np.ascontiguousarray(batch.cov, "<f8").tobytes(),
        np.ascontiguousarray(batch.sensor_pos_ecef_m, "<f8").tobytes()))


def decode_batch(data: bytes, nation: str):
    """Wire form -> ``(ReportBatch, wire header)``; ``BatchError`` (with a reason code) for anything wrong."""
    from warnlink.sensors.reports import ReportBatch

    try:
        w = _BATCH_DEC.decode(data)
    except (msgspec.MsgspecError, ValueError) as exc:
        raise BatchError("undecodable", f"not a report batch: {exc}") from None
    if w.v != BATCH_VERSION:
        raise BatchError("invalid_payload", f"batch version {w.v} not supported (expected {BATCH_VERSION})")
    if w.nation != nation:
        raise BatchError("mislabelled", f"batch of {w.nation!r} reports on {nation}'s feed")
    if not 0 <= w.n <= MAX_BATCH_REPORTS:
        raise BatchError("oversized", f"{w.n} reports (at most {MAX_BATCH_REPORTS})")
    if not np.isfinite(w.epoch) or not 0 <= w.epoch < 4.1e9:
        raise BatchError("invalid_payload", f"epoch {w.epoch!r} is not a POSIX time")
    n = w.n
    sizes = {"t_s": 8 * n, "arrival_s": 8 * n, "sensor": 4 * n, "kind": n, "z": 32 * n, "cov": 128 * n, "pos": 24 * n}
    for name, size in sizes.items():
        if len(getattr(w, name)) != size:
            raise BatchError("invalid_payload", f"column {name} has {len(getattr(w, name))} bytes, expected {size}")
    sensor = np.frombuffer(w.sensor, "<i4").astype(np.int32)
    if n and (sensor.min() < 0 or sensor.max() >= len(w.sensors)):
        raise BatchError("invalid_payload", f"sensor index outside the table of {len(w.sensors)} sensors")
    b = ReportBatch(np.frombuffer(w.t_s, "<f8").copy(), np.frombuffer(w.arrival_s, "<f8").copy(), sensor,
                    np.frombuffer(w.kind, "<i1").astype(np.int8), np.frombuffer(w.z, "<f8").reshape(n, 4).copy(),
                    np.frombuffer(w.cov, "<f8").reshape(n, 4, 4).copy(),
                    np.frombuffer(w.pos, "<f8").reshape(n, 3).copy(), np.full(n, -1, np.int32), list(w.sensors), [])
    return b, w


# ---------------------------------------------------------------------------------------------- helpers
def _now() -> float:
    return time.time()


def _geo(x: np.ndarray) -> tuple[float, float, float]:
    from warnlink.geo import ecef2geodetic

    lat, lon, alt = ecef2geodetic(x[0], x[1], x[2])
    return float(np.degrees(lat)), float(np.degrees(lon)), float(alt)


def _climb(x: np.ndarray) -> float:
    """Vertical speed [m/s] of ECEF state ``x`` (geocentric up; positive climbing)."""
    return float(np.dot(x[3:6], x[:3]) / max(np.linalg.norm(x[:3]), 1.0))


def _ground_km(lat1, lon1, lat2, lon2) -> float:
    p1, p2 = np.radians([lat1, lon1]), np.radians([lat2, lon2])
    a = np.sin((p2[0] - p1[0]) / 2) ** 2 + np.cos(p1[0]) * np.cos(p2[0]) * np.sin((p2[1] - p1[1]) / 2) ** 2
    return float(2 * 6371.0 * np.arcsin(np.sqrt(min(1.0, a))))


def _safe_cov(P: np.ndarray) -> np.ndarray:
    """Symmetric, with eigenvalues floored at a tiny positive value (so that pack_cov accepts it). A matrix
    that is already positive definite (a Cholesky factor exists: the usual case, a few times cheaper than the
    eigendecomposition) is only symmetrised."""
    P = 0.5 * (P + P.T)
    try:
        np.linalg.cholesky(P)
        return P
    except np.linalg.LinAlgError:
        pass
    w, v = np.linalg.eigh(P)
    floor = max(float(w.max()), 1.0) * 1e-12
    return (v * np.maximum(w, floor)) @ v.T


def _safe_covs(P: np.ndarray) -> np.ndarray:
    """``_safe_cov`` of a stack (k, n, n): one Cholesky call for all (the usual case: all positive definite),
    the per-matrix repair only when some is not."""
    P = 0.5 * (P + np.swapaxes(P, -1, -2))
    try:
        np.linalg.cholesky(P)
        return P
    except np.linalg.LinAlgError:
        return np.array([_safe_cov(p) for p in P]).reshape(P.shape)


def _prov_merge(*provs: dict) -> dict:
    out: dict[str, float] = {}
    for p in provs:
        for k, v in (p or {}).items():
            if isinstance(k, str) and isinstance(v, int | float) and v > out.get(k, -1.0):
                out[k] = float(v)
    return out


def _coarse_launch(x0: np.ndarray, first: float, origin: str) -> dict:
    """A first launch estimate: below the track's first position, before it by its height at ~1 km/s,
    with a wide uncertainty (50 km, 60 s, 1 sigma)."""
    lat, lon, alt = _geo(np.asarray(x0, float))
    return {"lat_deg": lat, "lon_deg": lon, "time": max(first - max(alt, 0.0) / 1000.0, 0.0), "sigma_s": 60.0,
            "cov_en_m2": [[2.5e9, 0.0], [0.0, 2.5e9]], "up_var": 1e6, "missile_class": "unknown",
            "first_detection": first, "origin": origin, "refined": False}


def _launch_job(x, P, t) -> dict:
    """The boost-model launch estimate (``warnlink.assessment.estimate_launch``), run in a worker process."""
    from warnlink.assessment import estimate_launch

    return _launch_dict(estimate_launch(x, P, t))


def _ballistic_origin_job(x, t: float, step_s: float = 10.0, max_s: float = 7200.0) -> tuple | None:
    """Where and when the ballistic (no thrust) arc of ECEF state ``x`` at ``t`` [s] reaches the ground flown
    backwards (``warnlink.assessment.replay._ballistic_launch``): ``(lat_deg, lon_deg, t_s)``, or None if not
    within ``max_s``. Run in the launch-estimate worker (0.1-0.9 s for an ICBM's hour of flight)."""
    from warnlink.assessment.replay import _ballistic_launch

    o = _ballistic_launch(x, t, step_s=step_s, max_s=max_s)
    return None if o is None else (o["lat_deg"], o["lon_deg"], o["time_s"])


def _launch_dict(le) -> dict:
    """A ``LaunchEstimate`` as the node's launch record (what ``_announce_launch`` reads)."""
    return {"lat_deg": le.lat_deg, "lon_deg": le.lon_deg, "time": le.time_s, "sigma_s": le.time_sigma_s,
            "cov_en_m2": le.cov_en_m2.tolist(), "up_var": 1e4, "missile_class": le.missile_class}


def _launch_burnout_job(x, P, t, x_now) -> dict:
    """The boost-model launch estimate at burnout, run in the launch-estimate worker: from the last confidently
    boosting state, over the classes the burnt-out state's energy allows (its category, then that and the next
    larger: the replay's ``_candidates``). Early in boost every class fits (a heavier one launched earlier as
    well as a lighter one later): the estimate at confirmation is 20-50 s off for 2022-10-04."""
    from warnlink.assessment import estimate_launch
    from warnlink.assessment.replay import _candidates

    for cands in _candidates(x_now):
        try:
            return _launch_dict(estimate_launch(x, P, t, missile_class=cands))
        except ValueError:
            continue
    raise ValueError("no class fits the boost state and the burnout energy")


_ASSESSMENT_DECODER = msgspec.msgpack.Decoder(Assessment)
"""A receiver's check of one ``Assessment`` (types, bounds, ``__post_init__``), applied before it joins a batch."""


class _PictureObject:
    """One object of the node's picture: contributors (origin -> track id) and the fused estimate."""

    __slots__ = (
        "P",
        "assessment",
        "coasted",
        "contributors",
        "event_id",
        "exercise",
        "kind",
        "members",
        "new_wall",
        "object_id",
        "phase",
        "prov",
        "src_sig",
        "src_t",
        "t",
        "track_wall",
        "x",
    )

    def __init__(self, object_id: str):
        self.object_id = object_id
        self.contributors: dict[str, str] = {}
        self.event_id: str | None = None
        self.x = np.zeros(6)
        self.P = np.eye(6)
        self.t = 0.0
        self.phase = "unknown"
        self.exercise = False
        self.kind = "unknown"
        self.prov: dict[str, float] = {}
        self.track_wall = 0.0
        self.new_wall: float | None = None
        """When the oldest member track update no shared assessment of this object reflects yet reached the node
        (None: every update is in one)."""
        self.assessment: dict | None = None
        self.coasted = False
        self.src_t = 0.0
        self.src_sig: tuple = ()
        self.members: list[tuple[str, str]] = []


class _OwnTracks:
    """A copy of the tracker's track table taken by the tracking worker right after a push, read by the event
    loop (the tracker itself is only ever touched by the worker thread). Same names as ``Tracker``'s arrays
    (six-state ``x``/``P``); ``phase(rows)`` gives the phases computed at the copy; ``row`` maps track id to
    row; ``early`` holds the first recorded states of tracks confirmed since the previous copy."""

    __slots__ = ("P", "early", "ids", "kappa", "kappa_var", "phases", "row", "status", "t", "t_born", "t_update", "x")

    def __init__(self, tracker=None, early: dict | None = None):
        if tracker is None or len(tracker.ids) == 0:
            self.ids = np.zeros(0, int)
            self.status = np.zeros(0, int)
            self.t = self.t_update = self.t_born = np.zeros(0)
            self.x, self.P = np.zeros((0, 6)), np.zeros((0, 6, 6))
            self.kappa = self.kappa_var = np.zeros(0)
            self.phases = np.zeros(0, int)
        else:
            self.ids = tracker.ids.copy()
            self.status = tracker.status.copy()
            self.t, self.t_update, self.t_born = tracker.t.copy(), tracker.t_update.copy(), tracker.t_born.copy()
            self.x = tracker.x[:, :6].copy()
            self.P = tracker.P[:, :6, :6].copy()
            from warnlink.tracking.models import I_KAPPA

            # the drag parameter (1/ballistic coefficient) and its variance: what the object is, in the air
            self.kappa, self.kappa_var = tracker.x[:, I_KAPPA].copy(), tracker.P[:, I_KAPPA, I_KAPPA].copy()
            self.phases = np.asarray(tracker.phase(), int)
        self.row = {int(tid): k for k, tid in enumerate(self.ids)}
        self.early = early or {}

    def phase(self, rows) -> np.ndarray:
        """Phase indices (into ``warnlink.tracking.tracker.PHASES``) of ``rows``."""
        return self.phases[rows]


# ---------------------------------------------------------------------------------------------- worker processes
# A node runs its tracker and its assessment each in a worker process of its own (spawned; the node's process
# group, so ``Runtime.kill_node`` takes them along): the event loop only does I/O, decoding and light work.
# Protocol: report batches in, ``_OwnTracks`` copies (NumPy arrays) out; object states in, impact predictions,
# ground tracks and region probabilities out. ``_WORKER`` is the worker process's own state.
_WORKER: dict[str, Any] = {}


def _track_init() -> None:
    """Initializer of the tracking worker: its tracker, and the compiled paths loaded."""
    from warnlink.tracking.tracker import Tracker

    _warm_tracker()
    _WORKER["tracker"] = Tracker()
    _WORKER["early_done"] = set()
    _WORKER["boost_state"] = {}  # track id -> its latest confidently boosting (t, x, P), until its burnout


def _worker_pool(initializer):
    """A spawned one-process pool (the node's process group) running ``initializer`` first."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=initializer)


def _worker_ready() -> bool:
    """A no-op round trip: the worker is up (its initializer has run)."""
    return True


TRACK_PUSH_MAX = 200
"""Most reports per ``Tracker.push`` in the tracking worker (a larger backlog is pushed in slices)."""
TRACK_IN_FLIGHT = 2
"""Tracking jobs submitted to the worker at once: the next is queued while the loop takes in the previous
one's result, so the worker does not wait for the loop."""


def _track_job(runs: list[dict]) -> list[dict]:
    """The tracking worker: push each run's report batch, then copy the track table (``_OwnTracks``) for the
    event loop, with the first states of tracks confirmed since the previous copy."""
    from warnlink.tracking.tracker import CONFIRMED

    tr, done, boost_state = _WORKER["tracker"], _WORKER["early_done"], _WORKER["boost_state"]
    out = []
    for run in runs:
        c0, w0, start = time.process_time(), time.perf_counter(), _now()
        batch = run["batch"]
        rej0, h0 = tr.rejected, len(tr.history.t_s)
        finite = np.isfinite(batch.t_s)
        t_first = float(np.min(batch.t_s[finite])) if finite.any() else None
        t_max = float(np.max(batch.t_s[finite])) if finite.any() else None
        # a backlog is pushed in arrival order in slices of at most TRACK_PUSH_MAX reports, as a live feed
        # would have delivered it (the tracker's cost per report grows with the batch: 0.19 ms at 100,
        # 0.30 ms at 1 000 reports per push, salvo-20, one core)
        n = len(batch)
        if n <= TRACK_PUSH_MAX:
            tr.push(batch)
        else:
            for i in range(0, n, TRACK_PUSH_MAX):
                tr.push(batch.take(np.arange(i, min(n, i + TRACK_PUSH_MAX))))
        early = {}
        if len(tr.ids):
            for row in np.flatnonzero(tr.status == CONFIRMED):
                tid = int(tr.ids[row])
                if tid not in done:
                    done.add(tid)
                    early[tid] = _early_states(tr, tid)
        out.append({**run, "batch": None, "own": _OwnTracks(tr, early), "burnouts": _burnouts(tr, boost_state, h0),
                    "unusable": tr.rejected - rej0,
                    "t_first": t_first, "t_max": t_max, "start": start, "done": _now(),
                    "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0})
    _trim_history(tr)
    return out


def _burnouts(tracker, boost_state: dict, h0: int = 0) -> dict:
    """Record each confirmed track's latest confidently boosting state (boost-model probability above 0.9,
    ``LAUNCH_AFTER_S`` after its birth) in ``boost_state``, read from the tracker's history records from
    index ``h0`` on (every update of the push, not only the push's last: under load one push can hold a
    track's whole boost after its confirmation); return ``{track id: (t, x, P, x_now)}`` for the tracks the
    tracker has just declared burnt out (``t_burnout``), with their state now (its energy gives the candidate
    classes: ``_launch_burnout_job``). The replay's rule (``warnlink.assessment.replay``)."""
    from warnlink.assessment.replay import LAUNCH_AFTER_S
    from warnlink.tracking.tracker import CONFIRMED, DELETED

    out = {}
    if not len(tracker.ids):
        return out
    h = tracker.history
    for j in range(h0, len(h.t_s)):
        ok = (h.status[j] == CONFIRMED) & (h.p_boost[j] > 0.9)
        if not ok.any():
            continue
        ids = h.track[j]
        rows = np.searchsorted(tracker.ids, ids)
        ok &= (rows < len(tracker.ids)) & (tracker.ids[np.minimum(rows, len(tracker.ids) - 1)] == ids)
        ok[ok] &= h.t_s[j][ok] >= tracker.t_born[rows[ok]] + LAUNCH_AFTER_S
        for k in np.flatnonzero(ok):
            boost_state[int(ids[k])] = (float(h.t_s[j][k]), h.x[j][k, :6].copy(), h.P[j][k, :6, :6].copy())
    conf = np.flatnonzero(tracker.status == CONFIRMED)
    boost = tracker.mu[conf, 1]
    for row in conf[np.isfinite(tracker.t_burnout[conf]) & (boost < 0.5)]:
        tid = int(tracker.ids[row])
        if tid in boost_state:
            out[tid] = (*boost_state.pop(tid), tracker.x[row, :6].copy())
    for row in np.flatnonzero(tracker.status == DELETED):
        boost_state.pop(int(tracker.ids[row]), None)
    return out


def _early_states(tracker, tid: int, lookback: int = 400):
    """The first (up to four) recorded states of track ``tid`` (recent history only: the track has just been
    confirmed)."""
    h = tracker.history
    xs, Ps, ts = [], [], []
    n = len(h.t_s)
    for j in range(max(0, n - lookback), n):
        k = np.flatnonzero(h.track[j] == tid)
        if len(k):
            xs.append(h.x[j][k[0], :6])
            Ps.append(h.P[j][k[0], :6, :6])
            ts.append(float(h.t_s[j][k[0]]))
            if len(xs) >= 4:
                break
    return xs, Ps, ts


def _trim_history(tracker, keep: int = 2000) -> None:
    """The tracker records every update; a node that runs for days keeps only the recent part."""
    h = tracker.history
    if len(h.t_s) > 2 * keep:
        for name in ("t_s", "track", "x", "P", "status", "phase", "p_boost"):
            lst = getattr(h, name, None)
            if isinstance(lst, list) and len(lst) > keep:
                del lst[:-keep]


def _assess_init() -> None:
    """Initializer of the assessment worker: caches, and the compiled paths loaded."""
    _WORKER["gt_cache"], _WORKER["prob_cache"] = {}, {}
    _warm_assessment()


LAUNCH_NICE = 10
"""Niceness of the launch-estimate worker: the refinement of a launch notice already sent (with its coarse
estimate) yields the CPU to the tracker, the event loop and the assessment rounds. Applied to a scheduling
group of its own (``_own_sched_group``): with autogroups (Linux's default for sessions), a nice value counts
only against the other tasks of the same group, so inside the node's group the worker still took a whole
group's share against the other nodes and the servers whenever its own node's loop was idle."""


def _own_sched_group(nice: int) -> None:
    """Give this worker process a scheduling group of its own at ``nice`` (Linux: a new session, so a new
    autogroup, whose nice value sets the group's weight against every other group), tied to the node's life
    (``PR_SET_PDEATHSIG``: it is killed when the node dies, as a member of the node's process group would be).
    Where any step is unavailable, the worker stays where it is (still niced within the node's group)."""
    import ctypes
    import multiprocessing
    import signal

    with contextlib.suppress(OSError, AttributeError):
        os.nice(nice)
    parent = multiprocessing.parent_process()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
            return
        if parent is not None and os.getppid() != parent.pid:  # the node died before that: go too
            os._exit(0)
        os.setsid()
        with open("/proc/self/autogroup", "w") as fh:
            fh.write(str(nice))
    except (OSError, AttributeError):
        pass


def _launch_init() -> None:
    """Initializer of the launch-estimate worker: lower priority, the boost model's compiled paths loaded.
    (A launch estimate takes a second or more; run in the assessment worker it held up the assessment rounds
    queued behind it: 5.4 s rounds and an assessment age p99 of 8.7 s in ``bench fabric``.)"""
    from warnlink.assessment import estimate_launch

    _own_sched_group(LAUNCH_NICE)
    x, _, P = _warm_states()
    with contextlib.suppress(Exception):
        estimate_launch(x[2], P, 1e9 + 8.0)


def _assess_job(x, P, t, lat0, lon0, oids):
    """The assessment worker: impact prediction of every object (one vectorised call), their ground tracks
    and region probabilities (each reused for ``GROUND_TRACK_REUSE_S`` while the prediction barely moves)."""
    from warnlink.assessment import predict_impact
    from warnlink.geo.regions import impact_probabilities

    gt_cache, prob_cache = _WORKER["gt_cache"], _WORKER["prob_cache"]
    P = np.array([_safe_cov(p) for p in P])
    pred = predict_impact(x, P, t, launch_lat_deg=lat0, launch_lon_deg=lon0)
    ground_track: list = [None] * len(oids)
    now = time.monotonic()
    for cache in (gt_cache, prob_cache):  # forget objects not assessed for a while
        for k in [k for k, v in cache.items() if now - v[0] > 10 * GROUND_TRACK_REUSE_S]:
            del cache[k]
    todo = []
    for k, oid in enumerate(oids):
        c = gt_cache.get(oid)
        if (c is not None and now - c[0] < GROUND_TRACK_REUSE_S and np.isfinite(pred.lat_deg[k])
                and _ground_km(c[1], c[2], pred.lat_deg[k], pred.lon_deg[k]) < 10.0):
            ground_track[k] = c[3]
        else:
            todo.append(k)
    if todo:
        fresh = _ground_tracks(x[todo], t[todo], pred.impact_time_s[todo], pred.lat_deg[todo], pred.lon_deg[todo])
        for k, g in zip(todo, fresh, strict=True):
            ground_track[k] = g
            gt_cache[oids[k]] = (now, float(pred.lat_deg[k]), float(pred.lon_deg[k]), g)
    unit = np.random.default_rng(0).standard_normal((_PROB_SAMPLES, 2))
    probs: list = [None] * len(oids)
    for k, oid in enumerate(oids):
        if not pred.impacted[k]:
            continue
        lat, lon, semi = float(pred.lat_deg[k]), float(pred.lon_deg[k]), float(pred.semi_major_m[k])
        pc = prob_cache.get(oid)
        if (pc is not None and now - pc[0] < GROUND_TRACK_REUSE_S and abs(semi - pc[3]) <= 0.2 * pc[3]
                and _ground_km(pc[1], pc[2], lat, lon) * 1e3 <= 0.1 * max(pc[3], 1e3)):
            probs[k] = pc[4]  # the impact distribution barely moved: the region probabilities stand
            continue
        try:
            L = np.linalg.cholesky(_safe_cov(np.asarray(pred.cov_en_m2[k])) + 1e-6 * np.eye(2))
            en = unit @ L.T
            slat = lat + np.degrees(en[:, 1] / 6.371e6)
            slon = lon + np.degrees(en[:, 0] / (6.371e6 * max(np.cos(np.radians(lat)), 1e-3)))
            slon = (slon + 180.0) % 360.0 - 180.0
            slat = np.clip(slat, -90, 90)
            probs[k] = impact_probabilities(slat, slon)
        except Exception:
            probs[k] = {}
        prob_cache[oid] = (now, lat, lon, semi, probs[k])
    return pred, ground_track, probs


def _ground_tracks(x: np.ndarray, t: np.ndarray, t_impact: np.ndarray, lat_i: np.ndarray,
                   lon_i: np.ndarray) -> list[list[dict]]:
    """Future overflown land of each object (nation codes with entry/exit times), on the great circle from
    the object's sub-point now to its predicted impact point, time linear along it (the Earth-fixed
    ballistic ground track bends off the great circle by the Coriolis drift, tens of km over a 20-minute
    flight: enough to decide whether a nation is overflown; a propagation per round would block the node
    for 100+ ms)."""
    from warnlink.geo import ecef2geodetic
    from warnlink.geo.regions import overflights

    n = len(x)
    out: list[list[dict]] = [[] for _ in range(n)]
    ok = np.isfinite(t_impact) & (t_impact - t > 1.0) & np.isfinite(lat_i) & np.isfinite(lon_i)
    if not ok.any():
        return out
    lat0, lon0, _ = ecef2geodetic(x[:, 0], x[:, 1], x[:, 2])
    a = np.stack([np.cos(lat0) * np.cos(lon0), np.cos(lat0) * np.sin(lon0), np.sin(lat0)], axis=1)
    li, lo = np.radians(lat_i), np.radians(lon_i)
    b = np.stack([np.cos(li) * np.cos(lo), np.cos(li) * np.sin(lo), np.sin(li)], axis=1)
    omega = np.arccos(np.clip(np.einsum("ij,ij->i", a, b), -1.0, 1.0))
    f = np.linspace(0.0, 1.0, GROUND_TRACK_POINTS)
    for k in np.flatnonzero(ok):
        if omega[k] < 1e-6:
            p = np.repeat(a[k][None], len(f), axis=0)
        else:
            p = (np.sin((1 - f) * omega[k])[:, None] * a[k] + np.sin(f * omega[k])[:, None] * b[k]) / np.sin(
                omega[k])
        lat = np.degrees(np.arcsin(np.clip(p[:, 2], -1, 1)))
        lon = np.degrees(np.arctan2(p[:, 1], p[:, 0]))
        times = t[k] + f * (t_impact[k] - t[k])
        try:
            passes = overflights(lat, lon, times)
        except Exception:
            continue
        out[k] = [{"nation": q[0], "start": float(q[1]), "end": float(q[2])} for q in passes]
    return out


# ---------------------------------------------------------------------------------------------- the node
class NationalNode:
    """One nation's node. ``await run()`` until ``stop()`` (or SIGTERM in the process).

    ``state_dir``: the runtime state directory (fabric state in ``<state>/fabric``, signing keys in
    ``<state>/keys``, this node's files in ``<state>/nodes/<N>``). ``mode``: ``live`` / ``exercise`` / ``test``
    (the alert engine's mode; exercise data is exercise in every mode).
    """

    def __init__(self, nation: str, state_dir: str | Path, *, fabric_dir: str | Path | None = None,
                 keys_dir: str | Path | None = None, mode: str = "live", assess_interval_s: float = 0.5,
                 snapshot_interval_s: float = 0.5, tick_s: float = 0.1, policy_path: str | Path | None = None):
        if nation not in NATIONS:
            raise ValueError(f"unknown nation {nation!r} (expected one of {', '.join(NATIONS)})")
        self.nation = nation
        self.state_dir = Path(state_dir).resolve()
        self.fabric_dir = Path(fabric_dir) if fabric_dir else self.state_dir / "fabric"
        self.keys_dir = Path(keys_dir) if keys_dir else self.state_dir / "keys"
        self.dir = node_dir(self.state_dir, nation)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "cap").mkdir(exist_ok=True)
        self.mode = mode
        self.assess_interval_s = float(assess_interval_s)
        self.snapshot_interval_s = float(snapshot_interval_s)
        self.tick_s = float(tick_s)
        self.policy_path = policy_path
        self.run_id = uuid7().split("-")[-1][:8]
        self.counters: Counter = Counter()
        self._stop = asyncio.Event()
        self.ready = False
        self.data_time = 0.0
        # own tracking
        self.sensor_index: dict[str, int] = {}
        self.own_event: dict[int, str] = {}          # tracker id -> event id
        self._pending_event: set[int] = set()        # coast-born tracks whose launch is being looked up
        self.own_events: dict[str, dict] = {}        # event id -> launch estimate dict (own)
        self.own_prev_t: dict[int, float] = {}       # tracker id -> last published update time
        self._own_confirmed: set[int] = set()
        self.own = _OwnTracks()                      # the tracker's table as of its latest push (loop side)
        self.own_drag_kind: dict[str, str] = {}      # own track id -> kind its drag showed (``_read_drag``)
        self._early: dict[int, tuple] = {}           # first states of newly confirmed tracks, until used
        self._track_exec = None
        self._track_cost = 0.0
        self._busy = {"track_jobs": 0, "launch_jobs": 0}
        """Worker jobs submitted and not yet taken back (the snapshot's ``busy``: a demo waits for none)."""
        self.own_prov: dict[int, dict] = {}
        self.own_wall: dict[int, float] = {}
        # partner data (idempotent upserts)
        self.partner_tracks: dict[tuple[str, str], tuple[Track, dict, float]] = {}
        self.partner_launches: dict[tuple[str, str], LaunchEvent] = {}
        self.partner_assessments: dict[tuple[str, str], Assessment] = {}
        self.partner_alerts: OrderedDict[str, Any] = OrderedDict()
        self.received_ids: set[str] = set()
        # picture
        self.objects: dict[str, _PictureObject] = {}
        self.contrib_to_object: dict[tuple[str, str], str] = {}
        self.event_alias: dict[str, str] = {}
        self.picture_events: list[dict] = []
        self._picture_dirty = False
        self._groups_dirty = False
        self._refused_at_rebuild = 0
        self._last_assess = 0.0
        self._apogee: dict[str, float] = {}
        self.alerts_sent: deque = deque(maxlen=100)
        self._timing_fh = None
        self._outbox: asyncio.Queue | None = None
        self._pub_in_flight = 0  # publishes awaiting their PubAck (at most PUBLISH_IN_FLIGHT)
        self._pub_tasks: set[asyncio.Task] = set()
        self._fused_sent: dict[str, tuple] = {}
        self._round_t = 0.0
        self.alert_keys = AlertKeys()  # which picture object speaks for which alert chain
        self._extrap: dict[str, _PictureObject] = {}  # chain key -> a lost mature object whose prediction stands
        self._first_coast: dict[str, float] = {}  # object id -> time of its first assessment that was no bound
        self._partner_objs: dict[str, _PictureObject] = {}  # partners' shared assessments as alert inputs
        self._partner_boost_t: dict[tuple, float] = {}  # (origin, object id) -> its latest assessment in boost
        self._partner_dirty = False  # a partner assessment came in since the last alert round
        self.assoc_diag: dict[str, dict] = {}
        self.origin_clock: dict[str, float] = {}
        self._obj_counter = 0
        self._restoring = False
        self._applied_fd = -1
        self._rebuild_handle = None
        self._last_rebuild = 0.0
        self._rebuild_cost = 0.0
        self._refuse_cost = 0.0
        self._refuse_keys: list[tuple[str, str]] = []
        self._refuse_handle = None
        self._cov_json: dict[str, tuple] = {}
        self._assess_busy = False
        self._assess_cost = 0.0
        self._assess_exec = None
        self._dead_q: asyncio.Queue | None = None
        self._launch_exec = None
        self._io_exec = None
        self._audit_flush = None
        self._entry_cache: dict[tuple[str, str], tuple] = {}  # partner track -> (message, x, repaired P)
        self._track_cpu = [0.0, 0.0, 0]  # the tracking worker's CPU s, wall s (in jobs), reports
        self._pub_cost = [0.0, 0.0]  # moving averages [s]: outbox wait, publish -> PubAck
        self._loop_lag: deque = deque(maxlen=50)  # the ticker's recent oversleeps [s]: how late the loop runs a timer
        self.last_assessments: OrderedDict[str, dict] = OrderedDict()
        """Valid time of the latest assessment round: the alert engine's clock (staleness is judged on it, so
        that a replay faster than real time does not make every alert stale between rounds)."""

    # ------------------------------------------------------------------ setup
    def _setup_files(self) -> None:
        from warnlink.sharing.audit import AuditError, AuditLog
        from warnlink.sharing.envelope import KeyRing, Sealer, Verifier
        from warnlink.sharing.fabric import Fabric
        from warnlink.sharing.releasability import default_policy

        self.fabric = Fabric.attach(self.fabric_dir)
        self.policy = default_policy()
        self.keyring = KeyRing.load(self.keys_dir, node_id=self.nation)
        self.sealer = Sealer(self.keyring, self.policy)
        self.verifier = Verifier(self.keyring, self.nation, self.policy)
        vpath = self.dir / "verifier.json"
        if vpath.exists():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                self.verifier.load_state(json.loads(vpath.read_text()))
        apath = self.dir / "audit.jsonl"
        self._load_received_ids(apath)
        self._restore_applied()
        try:
            self.audit = AuditLog(apath, keyring=self.keyring, fsync="interval", fsync_interval_s=AUDIT_SYNC_S)
        except AuditError as exc:  # a crash left an unusable tail: keep it for verification, start a new segment
            k = 1
            while (self.dir / f"audit-{k}.jsonl").exists():
                k += 1
            apath.rename(self.dir / f"audit-{k}.jsonl")
            hp = apath.with_name(apath.name + ".head")
            if hp.exists():
                hp.rename(self.dir / f"audit-{k}.jsonl.head")
            log.warning("audit log %s: %s; continued in a new segment", apath, exc)
            self.audit = AuditLog(apath, keyring=self.keyring, fsync="interval", fsync_interval_s=AUDIT_SYNC_S)
        self._timing_fh = open(self.dir / "timing.jsonl", "ab", buffering=0)  # one write per record
        from warnlink.alerts import AlertEngine, load_policy

        self.alert_engine = AlertEngine(load_policy(self.nation, self.policy_path), mode=self.mode, epoch=_EPOCH0)
        from warnlink.tracking.tracker import Tracker

        self.tracker = Tracker()

    def _load_received_ids(self, apath: Path) -> None:
        """Message ids this node already applied (received records of its audit logs): a redelivery after a
        crash is then dropped as a duplicate instead of being rejected as a replay."""
        for p in sorted(self.dir.glob("audit*.jsonl")):
            with contextlib.suppress(OSError), p.open("rb") as fh:
                for line in fh:
                    if b'"direction":"received"' not in line:
                        continue
                    with contextlib.suppress(ValueError):
                        mid = json.loads(line).get("msg_id")
                        if mid:
                            self.received_ids.add(mid)

    def _timing(self, ev: str, **fields) -> None:
        if self._timing_fh is not None and not self._restoring:
            fields["ev"] = ev
            fields.setdefault("wall", _now())
            with contextlib.suppress(OSError, ValueError):
                self._timing_fh.write(_TIMING_ENC.encode(fields) + b"\n")

    # ------------------------------------------------------------------ run
    def stop(self) -> None:
        """Ask ``run`` to finish (flush, snapshot, close)."""
        self._stop.set()

    async def run(self) -> None:
        """Connect, start the feed subscription and the partner readers, process until ``stop()``."""
        from warnlink.sharing.fabric import PartnerReader

        t_start = time.perf_counter()
        self._setup_files()
        loop = asyncio.get_running_loop()
        self._track_exec = _worker_pool(_track_init)
        self._assess_exec = _worker_pool(_assess_init)
        self._launch_exec = _worker_pool(_launch_init)
        workers = [loop.run_in_executor(ex, _worker_ready) for ex in (self._track_exec, self._assess_exec,
                                                                       self._launch_exec)]
        self.warm_up_s = warm_up(("fusion",)) + preload_modules()
        await asyncio.gather(*workers)  # both workers up and warm before the node says it is ready
        self.warm_up_s = time.perf_counter() - t_start
        self._dead_q = asyncio.Queue(maxsize=DEAD_LETTER_QUEUE)
        self._outbox = asyncio.Queue()
        self._feed_q: asyncio.Queue = asyncio.Queue()
        self._feed_recv: dict[int, float] = {}

        async def on_error(exc):
            self.counters["nats_errors"] += 1

        self.nc = await self.fabric.connect(self.nation, "node", error_cb=on_error,
                                            name=f"warnlink-node-{self.nation.lower()}")
        self.js = self.nc.jetstream(timeout=2)
        # the own sensor feed: the nation-local stream <N>_FEED (durable: what arrives while the node is down
        # waits for it), acknowledged once queued for the tracker
        feed = await PartnerReader(self.nc, self.fabric.local_feed(self.nation), self._on_feed,
                                   expires_s=0.5).start()
        self.readers = {}
        for partner in self.fabric.config.nations:
            if partner == self.nation:
                continue
            reader = PartnerReader(self.nc, self.fabric.feed(self.nation, partner), self._on_partner, expires_s=0.5,
                                   on_duplicate=self._on_reader_duplicate)
            for mid in self.received_ids:
                reader.seen["id:" + mid] = None
            self.readers[partner] = await reader.start()
        tasks = [asyncio.create_task(self._feed_loop(), name="feed"),
                 asyncio.create_task(self._publisher(), name="publisher"),
                 asyncio.create_task(self._ticker(), name="ticker"),
                 asyncio.create_task(self._dead_letterer(), name="dead-letters")]
        self.ready = True
        self.started = _now()
        self._write_snapshot()
        log.info("node %s ready (run %s)", self.nation, self.run_id)
        try:
            await self._stop.wait()
        finally:
            self.ready = False
            # stop taking input first (a backlog of feed batches is not worked off on the way out: a stop
            # must be quick), then send what is already sealed, then close
            tasks[0].cancel()
            with contextlib.suppress(Exception):
                await feed.stop(timeout=0)
            for r in self.readers.values():  # unacknowledged deliveries come again (and are deduplicated)
                with contextlib.suppress(Exception):
                    await r.stop(timeout=0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain_outbox(), 2.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._dead_q.join(), 1.0)
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            if self._io_exec is not None:
                self._io_exec.shutdown(wait=True)  # the CAP files of alerts already sent
            self._save_verifier()
            self._write_snapshot(stopped=True)
            with contextlib.suppress(Exception):
                self.audit.close()
            with contextlib.suppress(OSError):
                os.close(self._applied_fd)
            for pool in (self._track_exec, self._assess_exec, self._launch_exec):
                if pool is None:  # a worker busy (or compiling) is not waited for
                    continue
                with contextlib.suppress(Exception):
                    for proc in list((getattr(pool, "_processes", None) or {}).values()):
                        proc.terminate()
                with contextlib.suppress(Exception):
                    pool.shutdown(wait=False, cancel_futures=True)
            with contextlib.suppress(Exception):
                await self.nc.close()
            if self._timing_fh is not None:
                self._timing_fh.close()
                self._timing_fh = None

    async def _drain_outbox(self) -> None:
        while self._outbox is not None and not self._outbox.empty():
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ feed (own sensors)
    async def _on_feed(self, msg) -> None:
        self._feed_recv[id(msg)] = _now()  # (the batch's timing record: when the node's reader handed it over)
        await self._feed_q.put(msg)

    async def _feed_loop(self) -> None:
        """Process feed batches in order, each exactly once. Decoding and validation run on the event loop;
        the tracker runs in its worker process (``_track_job``), so the loop keeps reading partner data
        meanwhile. Up to ``TRACK_IN_FLIGHT`` jobs are submitted at once (the worker takes the next while the
        loop publishes the previous one's tracks); what queued up meanwhile goes into the next job. Results
        are taken in submission order (``_track_results``), each push's own-track releases published as
        soon as it is back."""
        loop = asyncio.get_running_loop()
        jobs: asyncio.Queue = asyncio.Queue()
        slots = asyncio.Semaphore(TRACK_IN_FLIGHT)
        results = asyncio.create_task(self._track_results(jobs, slots), name="track-results")
        try:
            while True:
                msgs = [await self._feed_q.get()]
                await slots.acquire()  # (while the worker is busy, the feed queues up for the next job)
                while not self._feed_q.empty() and len(msgs) < 256:
                    msgs.append(self._feed_q.get_nowait())
                try:
                    runs = self._decode_runs(msgs)
                except Exception as exc:  # never crash on input; count and dead-letter
                    runs = None
                    self._feed_failed(msgs, exc)
                if runs:
                    fut = loop.run_in_executor(self._track_exec, _track_job, runs)
                    self._busy["track_jobs"] += 1
                    jobs.put_nowait((fut, msgs, time.perf_counter()))
                else:
                    slots.release()
                await asyncio.sleep(0)  # let other tasks run (readers, publisher) between batches
        finally:
            results.cancel()

    async def _track_results(self, jobs: asyncio.Queue, slots: asyncio.Semaphore) -> None:
        """Take the tracking jobs' results in submission order and publish what changed (``_after_push``)."""
        while True:
            fut, msgs, t0 = await jobs.get()
            try:
                results = await fut
                self._track_cost = time.perf_counter() - t0
                self.counters["track_pushes"] += 1
                for res in results:
                    self._after_push(res)
            except Exception as exc:
                self._feed_failed(msgs, exc)
            finally:
                self._busy["track_jobs"] -= 1
                slots.release()

    def _feed_failed(self, msgs, exc: Exception) -> None:
        self.counters["internal_errors"] += 1
        log.exception("feed batch failed: %s", exc)
        for msg in msgs:
            self._dead_letter(msg.subject, msg.data, "internal", f"{type(exc).__name__}: {exc}", None)

    def _decode_feed(self, msg):
        """One feed message -> (batch with node-local sensor indices and POSIX times, wire, sent) or None."""
        from warnlink.sharing.envelope import Reason, Rejected

        data = msg.data
        try:
            batch, wire = decode_batch(data, self.nation)
        except BatchError as exc:
            self.counters["rejected_batches"] += 1
            self.counters[f"rejected:{exc.reason}"] += 1
            reason = Reason(exc.reason) if exc.reason in Reason._value2member_map_ else Reason.INVALID_PAYLOAD
            self.audit.rejected(msg.subject, data, Rejected(reason, exc.detail))
            self._dead_letter(msg.subject, data, exc.reason, exc.detail, None)
            return None
        self.audit.append("received", msg.subject, data, msg_id=wire.batch_id if len(wire.batch_id) <= 64 else None,
                          origin=self.nation)
        sent = None
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            sent = float((msg.headers or {}).get("Wl-Sent"))
        self.counters["batches"] += 1
        self.counters["reports_received"] += len(batch)  # ("reports" counts them once tracked)
        local = np.array([self.sensor_index.setdefault(name, len(self.sensor_index)) for name in batch.sensors],
                         dtype=np.int32)
        if len(batch):
            batch.sensor = local[batch.sensor]
        batch.sensors = list(self.sensor_index)
        batch.t_s = batch.t_s + wire.epoch
        batch.arrival_s = batch.arrival_s + wire.epoch
        return batch, wire, sent, self._feed_recv.pop(id(msg), None)

    def _decode_runs(self, msgs) -> list[dict]:
        """Feed messages -> pushes for the tracker: one per run of equal exercise marking (a batch's marking
        applies to all its reports), each ``{batch, prov, wall, exercise, records}``."""
        from warnlink.sensors.reports import ReportBatch

        decoded = [d for d in (self._decode_feed(m) for m in msgs) if d is not None]
        for m in msgs:
            self._feed_recv.pop(id(m), None)
        decoded = [d for d in decoded if len(d[0])]
        if not decoded:
            return []
        wall = _now()
        groups: list[list] = []
        for d in decoded:
            if groups and groups[-1][0][1].exercise == d[1].exercise:
                groups[-1].append(d)
            else:
                groups.append([d])
        runs = []
        sensors = list(self.sensor_index)
        for run in groups:
            for d in run:
                d[0].sensors = sensors
            batch = ReportBatch.concat([d[0] for d in run]) if len(run) > 1 else run[0][0]
            sents = [d[2] for d in run if d[2] is not None]
            sent = max(sents) if sents else None
            runs.append({"batch": batch, "prov": {self.nation: sent if sent is not None else wall}, "wall": wall,
                         "exercise": bool(run[0][1].exercise),
                         "records": [(d[2], len(d[0]), d[3]) for d in run]})
        return runs

    def _read_drag(self, own: _OwnTracks) -> None:
        """What the own tracker's drag estimates say each confirmed track is (``assessment.replay.drag_kind``:
        a tumbling stage, debris or a re-entry vehicle); kept per track once decided (the latest decided
        reading), since the drag is known only in the air and the track may end soon after."""
        from warnlink.assessment.replay import drag_kind
        from warnlink.tracking.tracker import CONFIRMED

        rows = np.flatnonzero(own.status == CONFIRMED)
        if len(rows) == 0:
            return
        for row, kind in zip(rows, drag_kind(own.kappa[rows], own.kappa_var[rows]), strict=True):
            if kind:
                self.own_drag_kind[self._own_track_id(int(own.ids[row]))] = kind

    def _after_push(self, res: dict) -> None:
        """Back on the event loop after a push: take the new track table, publish what changed, open events."""
        back = _now()
        self.own = res["own"]
        self._early.update(self.own.early)
        self._read_drag(self.own)
        self.counters["reports_unusable"] += res["unusable"]
        if res["t_max"] is not None:
            self.data_time = max(self.data_time, res["t_max"])
        t_first = min(res["t_first"], self.data_time) if res["t_first"] is not None else self.data_time
        self._exercise = res["exercise"]
        # an own track update exists (has "reached this node") when the tracker has made it: its wall time is
        # the push's end (the report -> track time is in the end-to-end latency, not in the assessment age)
        self._after_tracking(res["prov"], res["done"], res["exercise"], t_first)
        for tid, (tb, xb, Pb, x_now) in res.get("burnouts", {}).items():
            self._burnout_launch(tid, tb, xb, Pb, x_now, res["exercise"])
        self._track_cpu[0] += res["cpu_s"]
        self._track_cpu[1] += res["wall_s"]
        self._track_cpu[2] += sum(r[1] for r in res["records"])
        for sent, n, recv in res["records"]:
            self.counters["reports"] += n
            self._timing("batch", sent=sent, n=n, wall=res["wall"], tracked=res["done"], recv=recv,
                         start=res["start"], back=back, released=_now())

    def _after_tracking(self, prov: dict, wall: float, exercise: bool, t_first: float) -> None:
        """Publish what changed in the own tracks (confirmed tracks updated at or after ``t_first``, the
        earliest report time of the push, and tracks deleted since), open events for new confirmed tracks,
        and fold the updated tracks into the picture (``_refuse``; a track the picture does not hold yet
        makes a rebuild)."""
        from warnlink.tracking.tracker import CONFIRMED, DELETED, PHASES

        tr = self.own
        if len(tr.ids) == 0:
            return
        cand = (tr.status == CONFIRMED) & (tr.t_update >= t_first - 1e-6)
        if self._own_confirmed:
            was = np.isin(tr.ids, np.fromiter(self._own_confirmed, int))
            gone = was & (tr.status == DELETED)
        else:
            gone = np.zeros(len(tr.ids), bool)
        rows = np.flatnonzero(cand | gone)
        if not len(rows):
            return
        phases = tr.phase(rows)
        structural = False
        updated = []
        releases = []
        for k, row in enumerate(rows):
            tid = int(tr.ids[row])
            if gone[row]:
                self._own_confirmed.discard(tid)
                releases.append((row, tid, PHASES[int(phases[k])], "deleted"))
                structural = True
                continue
            if self.own_prev_t.get(tid) == float(tr.t_update[row]):
                continue
            self._own_confirmed.add(tid)
            self.own_prev_t[tid] = float(tr.t_update[row])
            self.own_prov[tid] = prov
            self.own_wall[tid] = wall
            if tid not in self.own_event and tid not in self._pending_event:
                self._open_event(row, tid, exercise)
            releases.append((row, tid, PHASES[int(phases[k])], "confirmed"))
            updated.append((self.nation, self._own_track_id(tid)))
        self._publish_own_tracks(releases, exercise, prov)
        if self.nation == self.policy.hub:  # (the hub's picture is its release: fold in at once)
            self._fold_in(updated, structural)
        else:  # release first: the sealed tracks go out before this node's own picture takes them in
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_later(RELEASE_FIRST_S, self._fold_in, updated, structural)
                return
            self._fold_in(updated, structural)

    def _fold_in(self, updated: list[tuple[str, str]], structural: bool) -> None:
        """Fold updated contributor tracks into the picture (incrementally; a rebuild for new ones, or for all
        when ``structural``: a track deleted)."""
        try:
            if structural or not self._refuse(updated):
                self._schedule_rebuild()
        except Exception:
            self.counters["internal_errors"] += 1
            log.exception("incremental fusion failed")
            self._schedule_rebuild()

    def _schedule_rebuild(self) -> None:
        """Rebuild the picture soon: at the next turn of the event loop (so that a burst of arriving tracks
        makes one rebuild), at most every ``REBUILD_MIN_S``; the ticker is the fallback."""
        self._picture_dirty = True
        if self._restoring or self._rebuild_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        # at most every REBUILD_MIN_S, and never more than 1 / REBUILD_DUTY of the time: a node that receives more
        # than it can rebuild for folds more tracks into each rebuild instead of falling behind
        gap = max(REBUILD_MIN_S, REBUILD_DUTY * self._rebuild_cost)
        delay = max(0.0, self._last_rebuild + gap - time.monotonic())
        self._rebuild_handle = loop.call_later(delay, self._rebuild_now)

    def _rebuild_now(self) -> None:
        self._rebuild_handle = None
        if not self._picture_dirty:
            return
        self._picture_dirty = False
        self._groups_dirty = False
        self._refused_at_rebuild = self.counters["refused"]
        t0 = time.monotonic()
        try:
            self._prune_partner_warnings()
            self._rebuild_picture()
        except Exception:
            self.counters["internal_errors"] += 1
            log.exception("picture rebuild failed")
        self._last_rebuild = time.monotonic()
        self._rebuild_cost = 0.8 * self._rebuild_cost + 0.2 * (self._last_rebuild - t0)

    def _own_track_id(self, tid: int) -> str:
        return f"{self.nation}-{self.run_id}-T{tid}"

    def _open_event(self, row: int, tid: int, exercise: bool) -> None:
        """A newly confirmed own track: join the event of a live own track close to it (a separation), or
        open a new launch event (launch point and time by the boost model run backwards) and announce it."""
        from warnlink.tracking.tracker import CONFIRMED

        tr = self.own
        x = tr.x[row, :6]
        xs, Ps, ts = self._early.pop(tid, ([], [], []))
        for other_row in np.flatnonzero(tr.status == CONFIRMED):
            otid = int(tr.ids[other_row])
            if otid == tid or otid not in self.own_event:
                continue
            if np.linalg.norm(tr.x[other_row, :3] - x[:3]) < 100e3:
                self.own_event[tid] = self.own_event[otid]
                self._timing("confirmed", track=self._own_track_id(tid), event_id=self.own_event[tid], opened=False)
                return
        if int(tr.phases[row]) != 0 and (_climb(x) < 0 or _geo(x)[2] > COAST_BORN_ALT_M):  # 0: boost
            self._coast_born(tid, x.copy(), float(tr.t[row]), exercise)
            return
        # a new launch: announce it at once with a coarse estimate (the track's first position), and again
        # when the boost-model estimate (a second or so of computation, in a worker process) is in
        event_id = f"{self.nation}-{uuid7()}"
        self.own_event[tid] = event_id
        self._timing("confirmed", track=self._own_track_id(tid), event_id=event_id, opened=True)
        first = ts[0] if ts else float(tr.t_born[row])
        est = _coarse_launch(xs[0] if xs else tr.x[row, :6], first, self.nation)
        est["exercise"] = exercise
        self.own_events[event_id] = est
        t_msg = float(tr.t_update[row])
        self._announce_launch(event_id, est, t_msg, exercise)
        if xs:
            k = min(2, len(xs) - 1)
            self._refine_launch(event_id, xs[k], Ps[k], ts[k], first, t_msg, exercise)

    def _coast_born(self, tid: int, x: np.ndarray, t: float, exercise: bool) -> None:
        """A track confirmed in coast (``COAST_BORN_ALT_M``): of the launch of a picture object near it, else of
        the known launch its backward ballistic arc ends at (looked up in the launch-estimate worker), else of
        no launch (none is announced; it stays in ``_pending_event`` and is not looked up again)."""
        eid = self._event_near(x, t)
        if eid is not None:
            self._join_event(tid, eid, "near")
            return
        self._pending_event.add(tid)
        fut = asyncio.get_running_loop().run_in_executor(self._launch_exec, _ballistic_origin_job, x, t)

        def done(f):
            if tid in self.own_event:
                self._pending_event.discard(tid)
                return
            try:
                origin = f.result()
            except Exception as exc:
                log.info("ballistic origin of track %s failed: %s", tid, exc)
                origin = None
            eid = self._event_of_origin(origin) if origin is not None else None
            if eid is not None:
                self._pending_event.discard(tid)
                self._join_event(tid, eid, "origin")
                return
            # no known launch: none is announced. (Announcing one at the arc's origin was measured on the
            # 2022-11-18 demo: terminal-phase states, re-entry drag in their velocity, put six "launches" at
            # 33.9N 92.6E to 43.4N 118.9E.) The track's objects are assessed and warned on without a launch;
            # a later partner launch notice or a fused partner track links them to it.
            self._timing("confirmed", track=self._own_track_id(tid), event_id=None, opened=False, joined="none")

        fut.add_done_callback(done)

    def _join_event(self, tid: int, event_id: str, how: str) -> None:
        self.own_event[tid] = event_id
        self._timing("confirmed", track=self._own_track_id(tid), event_id=event_id, opened=False, joined=how)
        self._picture_dirty = True  # its objects take the event at the next rebuild

    def _event_near(self, x: np.ndarray, t: float) -> str | None:
        """The (canonical) launch of the picture object nearest ``x`` at ``t``, within ``REACQUIRE_KM``."""
        best = None
        for obj in self.objects.values():
            if obj.event_id is None or obj.event_id.endswith("-unassigned") or abs(obj.t - t) > 30.0:
                continue
            d = float(np.linalg.norm(obj.x[:3] + obj.x[3:6] * (t - obj.t) - x[:3]))
            if d <= REACQUIRE_KM * 1e3 and (best is None or d < best[0]):
                best = (d, self._canon(obj.event_id))
        return best[1] if best else None

    def _event_of_origin(self, origin: tuple) -> str | None:
        """The (canonical) known launch nearest the backward ballistic arc's ``origin`` (lat, lon, time), within
        ``ORIGIN_GATE_KM`` and ``ORIGIN_GATE_S``."""
        lat, lon, t = origin
        launches = {self._canon(e): (v["lat_deg"], v["lon_deg"], v["time"]) for e, v in self.own_events.items()}
        for (_o, e), ev in self.partner_launches.items():
            launches.setdefault(self._canon(e), (ev.launch_point.lat_deg, ev.launch_point.lon_deg, ev.launch_time))
        best = None
        for e, (la, lo, tl) in launches.items():
            d = _ground_km(lat, lon, la, lo)
            if d <= ORIGIN_GATE_KM and ORIGIN_GATE_S[0] <= t - tl <= ORIGIN_GATE_S[1] and (best is None or d < best[0]):
                best = (d, e)
        return best[1] if best else None

    def _announce_launch(self, event_id: str, est: dict, t_msg: float, exercise: bool) -> None:
        cov = est["cov_en_m2"]
        try:
            ev = LaunchEvent(id=uuid7(), event_id=event_id, origin=self.nation, time=t_msg,
                             first_detection=est["first_detection"],
                             launch_point=GeoPoint(lat_deg=est["lat_deg"], lon_deg=est["lon_deg"], alt_m=0.0),
                             launch_time=min(est["time"], est["first_detection"]),
                             launch_point_cov_enu_m2=(cov[0][0], cov[0][1], 0.0, cov[1][1], 0.0, est["up_var"]),
                             launch_time_sigma_s=est["sigma_s"], exercise=exercise)
        except (ValueError, TypeError, msgspec.ValidationError) as exc:
            self.counters["seal_errors"] += 1
            log.warning("launch notice of %s not built: %s", event_id, exc)
            return
        self._seal_and_queue(ev, timing=[("launch_sent", {"event_id": event_id, "refined": est.get("refined", False)})])
        self.counters["launches_sent"] += 1

    def _burnout_launch(self, tid: int, tb: float, xb, Pb, x_now, exercise: bool) -> None:
        """An own track of an own launch burnt out: estimate the launch again from its last boosting state over
        the classes its burnout energy allows (``_launch_burnout_job``), and re-announce it. Of a launch's
        burnouts (the stages') the most energetic so far counts: a later one only if it has more energy."""
        from warnlink.assessment.figures import max_range_km

        event_id = self.own_event.get(tid)
        est = self.own_events.get(event_id) if event_id else None
        if est is None:
            return
        try:
            energy = float(max_range_km(np.asarray(x_now, float))[0])
        except Exception:  # a state the energy cannot be read from: no better class information
            return
        if not energy > est.get("burnout_range_km", 0.0):
            return
        est["burnout_range_km"] = energy
        self._refine_launch(event_id, xb, Pb, tb, est["first_detection"], float(tb), exercise,
                            job=(_launch_burnout_job, np.asarray(x_now)), extra={"burnout_range_km": energy})

    def _refine_launch(self, event_id, x, P, t, first, t_msg, exercise, job=None, extra=None) -> None:
        """Run the boost-model launch estimate (``_launch_job``, or ``job``: a function and its extra argument)
        in the launch-estimate worker (``_launch_init``); re-announce the launch when it is in."""
        loop = asyncio.get_running_loop()
        fn, *more = job or (_launch_job,)
        fut = loop.run_in_executor(self._launch_exec, fn, np.asarray(x), np.asarray(P), float(t), *more)
        self._busy["launch_jobs"] += 1

        def done(f):
            self._busy["launch_jobs"] -= 1
            try:
                est = f.result()
            except Exception as exc:  # ValueError when no class fits; anything else is a fault of the estimator
                self.counters["launch_estimate_failed"] += 1
                log.info("launch estimate of %s failed (%s); the coarse estimate stands", event_id, exc)
                return
            self.counters["launch_estimates"] += 1
            est.update(first_detection=first, origin=self.nation, exercise=exercise, refined=True, **(extra or {}))
            prev = self.own_events.get(event_id) or {}
            if prev.get("burnout_range_km", 0.0) > est.get("burnout_range_km", 0.0) and prev.get("refined"):
                return  # a later (more energetic) burnout's estimate is in already
            est.setdefault("burnout_range_km", prev.get("burnout_range_km", 0.0))
            self.own_events[event_id] = est
            self._announce_launch(event_id, est, t_msg, exercise)
            self._groups_dirty = True

        fut.add_done_callback(done)

    def _publish_own_tracks(self, releases: list[tuple], exercise: bool, prov: dict) -> None:
        """Release own tracks ``(row, tracker id, phase, status)`` of one push: covariances repaired and
        checked for all at once (``_safe_covs``, ``pack_covs``), then one sealed ``TrackBatch`` for all."""
        if self.nation == self.policy.hub or not releases:
            return  # the hub nation releases its fused system tracks instead (see _publish_fused)
        tr = self.own
        rows = np.array([r[0] for r in releases])
        covs = pack_covs(_safe_covs(tr.P[rows, :6, :6]), "P")
        msgs = [self._track_msg(self._own_track_id(tid), float(tr.t[row]), tr.x[row, :6], cov, status, phase,
                                exercise, self.own_event.get(tid))
                for (row, tid, phase, status), cov in zip(releases, covs, strict=True)]
        self._release_tracks(msgs, [prov] * len(msgs))

    def _track_msg(self, tid: str, t: float, x: np.ndarray, cov, status: str, phase: str, exercise: bool,
                   event_id: str | None) -> Track | None:
        """One Track (``cov``: packed, or the ``ValueError`` its check raised); None (counted, logged) when it
        cannot be built."""
        try:
            if isinstance(cov, ValueError):
                raise cov
            if not np.all(np.isfinite(x)):
                raise ValueError("x: not finite")
            return Track(id=tid, origin=self.nation, time=t, state=tuple(x.tolist()), cov=cov, status=status,
                         phase=phase, exercise=exercise, event_id=event_id)
        except ValueError as exc:
            self.counters["seal_errors"] += 1
            log.warning("track %s not published: %s", tid, exc)
            return None

    def _release_tracks(self, msgs: list[Track | None], provs: list[dict]) -> None:
        """Seal and queue the tracks of one release as ``TrackBatch`` messages of at most ``MAX_BATCH_TRACKS``
        (one signature and one durable publish per batch, not per track). ``provs``: each track's provenance;
        the ``Wl-Prov`` header is one dict when all agree, else the list in the batch's order."""
        from warnlink.sharing.messages import MAX_BATCH_TRACKS, TrackBatch

        keep = [(m, p) for m, p in zip(msgs, provs, strict=True) if m is not None]
        for i in range(0, len(keep), MAX_BATCH_TRACKS):
            part = keep[i:i + MAX_BATCH_TRACKS]
            ps = [p or {} for _, p in part]
            prov = ps[0] if all(p == ps[0] for p in ps) else ps
            try:
                batch = TrackBatch.of(m for m, _ in part)
            except ValueError as exc:
                self.counters["seal_errors"] += 1
                log.warning("%d tracks not published: %s", len(part), exc)
                continue
            if self._seal_and_queue(batch, prov=prov):
                self.counters["tracks_sent"] += len(part)
                self.counters["track_batches_sent"] += 1

    # ------------------------------------------------------------------ sealing and publishing
    def _seal_and_queue(self, payload, *, prov: dict | list | None = None,
                        timing: list[tuple[str, dict]] | None = None) -> bool:
        """Seal ``payload`` and queue it for a durable publish (``prov`` goes in the ``Wl-Prov`` header;
        ``timing``: the ``(event, fields)`` records the timing log gets, with the message id, at its PubAck);
        False (counted, logged) when it cannot be sealed."""
        from warnlink.sharing.envelope import SealError
        from warnlink.sharing.releasability import ReleaseError

        try:
            sealed = self.sealer.seal(payload)
        except (SealError, ReleaseError, ValueError) as exc:
            self.counters["seal_errors"] += 1
            log.warning("cannot seal %s: %s", type(payload).__name__, exc)
            return False
        hdrs = {"Wl-Prov": json.dumps(prov, separators=(",", ":"))} if prov else {}
        self._outbox.put_nowait((sealed, hdrs, timing, 0, time.perf_counter()))
        self._pump()
        return True

    def _pump(self) -> None:
        """Start publishing queued sealed messages, in queue order, up to ``PUBLISH_IN_FLIGHT`` at once. Called
        where a message is queued and where a publish ends, so a release starts on the loop turn it was sealed
        in: no hop through a publisher task, which costs a whole turn of a busy loop (tens of ms under load)."""
        if self._outbox is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        while self._pub_in_flight < PUBLISH_IN_FLIGHT and not self._outbox.empty():
            item = self._outbox.get_nowait()
            self._pub_in_flight += 1
            task = loop.create_task(self._publish_one(item))
            self._pub_tasks.add(task)
            task.add_done_callback(self._pub_tasks.discard)

    async def _publish_one(self, item) -> None:
        """Publish one sealed message durably (PubAck awaited, Nats-Msg-Id = msg id); a failed publish is
        queued again with the same bytes and id (the stream stores it once)."""
        from warnlink.sharing.fabric import publish_durable

        sealed, hdrs, timing, tries, t_queued = item
        t_start = time.perf_counter()
        try:
            ack = await publish_durable(self.nc, sealed.subject, sealed.data, sealed.msg_id, headers=hdrs,
                                        timeout=2.0)
        except Exception as exc:  # no responders, timeout, connection down: retry
            self.counters["publish_retries"] += 1
            if tries == 0:
                log.info("publish of %s failed (%s); retrying", sealed.subject, exc)
            await asyncio.sleep(min(0.05 * (tries + 1), 0.5))
            self._outbox.put_nowait((sealed, hdrs, timing, tries + 1, t_queued))
        else:
            # recorded once, at its first acknowledgement: a retry whose PubAck says "duplicate" means the
            # first attempt was stored but its acknowledgement lost (so it was not recorded yet)
            if getattr(ack, "duplicate", False):
                self.counters["publish_ack_lost"] += 1
            t_ack = time.perf_counter()  # where a release's time goes: waiting in the outbox, the PubAck
            self._pub_cost[0] = 0.9 * self._pub_cost[0] + 0.1 * (t_start - t_queued)
            self._pub_cost[1] = 0.9 * self._pub_cost[1] + 0.1 * (t_ack - t_start)
            self.audit.append("sent", sealed.subject, sealed.data, msg_id=sealed.msg_id, origin=self.nation)
            self.counters[f"sent:{sealed.kind}"] += 1
            for ev, fields in timing or ():
                self._timing(ev, msg_id=sealed.msg_id, origin=self.nation, **fields)
        finally:
            self._pub_in_flight -= 1
            self._outbox.task_done()
            self._pump()

    async def _publisher(self) -> None:
        """Fallback pump of the outbox (``_pump`` normally starts each publish where it is queued)."""
        while True:
            self._pump()
            await asyncio.sleep(0.1)

    def _dead_letter(self, subject: str, data: bytes, reason: str, detail: str, origin: str | None) -> None:
        """Keep a rejected message in the dead-letter stream with its reason. Never waits: the message is
        queued for ``_dead_letterer`` (a flood of bad input does not hold up good data); when the queue is
        full (or before the node runs) it goes to the file fallback ``deadletter.jsonl`` at once."""
        self.counters["dead_lettered"] += 1
        hdrs = {"Wl-Reason": str(reason), "Wl-Detail": str(detail)[:512], "Wl-Subject": str(subject)[:256],
                "Wl-Origin": str(origin or "-")}
        q = getattr(self, "_dead_q", None)
        try:
            if q is None:
                raise asyncio.QueueFull
            q.put_nowait((bytes(data), hdrs))
        except asyncio.QueueFull:
            self._dead_letter_file(hdrs, len(data), "dead-letter queue full")

    def _dead_letter_file(self, hdrs: dict, size: int, error: str) -> None:
        self.counters["dead_letter_fallback"] += 1
        with contextlib.suppress(OSError), open(self.dir / "deadletter.jsonl", "a") as fh:
            fh.write(json.dumps({"wall": _now(), "subject": hdrs["Wl-Subject"], "reason": hdrs["Wl-Reason"],
                                 "detail": hdrs["Wl-Detail"], "bytes": size, "error": str(error)[:200]}) + "\n")

    async def _dead_letterer(self, in_flight: int = 32) -> None:
        """Publish queued rejected messages to ``<N>_DEAD`` (PubAck awaited, up to ``in_flight`` at once; a
        failure goes to the file fallback)."""
        sem = asyncio.Semaphore(in_flight)

        async def one(data: bytes, hdrs: dict) -> None:
            try:
                await self.js.publish(dead_letter_subject(self.nation), data, headers=hdrs, timeout=2.0)
            except Exception as exc:
                self._dead_letter_file(hdrs, len(data), str(exc))
            finally:
                sem.release()
                self._dead_q.task_done()

        while True:
            data, hdrs = await self._dead_q.get()
            await sem.acquire()
            asyncio.get_running_loop().create_task(one(data, hdrs))

    # ------------------------------------------------------------------ partner data
    async def _on_partner(self, msg) -> None:
        """Handler of every message a partner released to this node (PartnerReader acknowledges it)."""
        from warnlink.sharing.envelope import Rejected

        subject, data = msg.subject, msg.data
        mid = (msg.headers or {}).get("Nats-Msg-Id")
        if mid and mid in self.received_ids and self._redelivery(subject, data, mid):
            self.counters["duplicates"] += 1
            return
        # (an id already applied on a message that is not that message's signed bytes is no redelivery: the
        # verifier rejects it below, with its reason, audited and dead-lettered)
        try:
            env, payload = self.verifier.open(subject, data)
        except Rejected as rej:
            self.counters["rejected"] += 1
            self.counters[f"rejected:{rej.reason.value}"] += 1
            self.audit.rejected(subject, data, rej)
            self._dead_letter(subject, data, rej.reason.value, rej.detail, rej.origin)
            return
        self._store_applied(subject, data, (msg.headers or {}).get("Wl-Prov") or "")
        self.audit.received(subject, data, env)
        self.received_ids.add(env.msg_id)
        self.counters[f"received:{env.kind}"] += 1
        try:
            self._apply(env, payload, msg.headers or {})
        except Exception:
            self.counters["internal_errors"] += 1
            log.exception("applying %s %s failed", env.kind, env.msg_id)

    def _redelivery(self, subject: str, data: bytes, mid: str) -> bool:
        """Whether a message carrying the already applied id ``mid`` is a redelivery of it: an envelope with that
        id, sealed for ``subject``, whose signature verifies with its origin's key. Audited as ``duplicate``."""
        from warnlink.sharing.envelope import _ENV_DECODER

        try:
            env = _ENV_DECODER.decode(data)
            ok = (env.msg_id == mid and env.subject == subject and self.keyring.node_of(env.key_id) == env.origin
                  and self.keyring.verify(env.key_id, env.signature, env.signing_bytes()))
        except Exception:
            ok = False
        if ok:
            self.audit.duplicate(subject, data, env)
        return ok

    async def _on_reader_duplicate(self, msg) -> bool:
        """A partner reader's hook for a message it has seen already: True (drop it) when it is a verified
        redelivery (audited); otherwise it is handled as new (and rejected by the verifier with its reason)."""
        mid = (msg.headers or {}).get("Nats-Msg-Id") or ""
        if self._redelivery(msg.subject, msg.data, mid):
            self.counters["redelivered"] += 1
            return True
        return False

    # the applied store: every accepted partner message, so that a restarted node rebuilds what it had applied
    def _store_applied(self, subject: str, data: bytes, prov: str) -> None:
        rec = _BATCH_ENC.encode((subject, bytes(data), prov))
        os.write(self._applied_fd, len(rec).to_bytes(4, "big") + rec)

    def _restore_applied(self) -> None:
        """Re-apply every partner message accepted before a restart (``applied.bin``: length-prefixed msgpack
        records of subject, envelope bytes and provenance, written before the acknowledgement). The upserts
        are idempotent, so the picture is as it was; the ids join ``received_ids``; a torn last record
        (a crash mid-write) is cut off."""
        from warnlink.sharing.envelope import _ENV_DECODER
        from warnlink.sharing.messages import decode_payload

        path = self.dir / "applied.bin"
        self._applied_fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        data = path.read_bytes()
        pos, good, n = 0, 0, 0
        dec = msgspec.msgpack.Decoder(tuple[str, bytes, str])
        self._restoring = True
        try:
            while pos + 4 <= len(data):
                size = int.from_bytes(data[pos:pos + 4], "big")
                if pos + 4 + size > len(data):
                    break
                try:
                    subject, raw, prov = dec.decode(data[pos + 4:pos + 4 + size])
                    env = _ENV_DECODER.decode(raw)
                    if subject != env.subject or not self.keyring.verify(env.key_id, env.signature,
                                                                          env.signing_bytes()):
                        raise ValueError("record altered (subject or signature)")
                    payload = decode_payload(env.payload, env.kind)
                    self._apply(env, payload, {"Wl-Prov": prov})
                    self.received_ids.add(env.msg_id)
                    n += 1
                except Exception as exc:  # a record this version cannot read: skip it, keep the rest
                    self.counters["restore_errors"] += 1
                    log.warning("applied store record at %d skipped: %s", pos, exc)
                pos += 4 + size
                good = pos
        finally:
            self._restoring = False
        if good < len(data):
            os.ftruncate(self._applied_fd, good)
        self.counters["restored"] = n
        if n:
            log.info("restored %d partner messages applied before the restart", n)

    def _apply(self, env, payload, headers: dict) -> None:
        origin = env.origin
        wall = _now()
        if env.kind == "track":
            provs: list = []
            with contextlib.suppress(ValueError, TypeError):
                provs = json.loads(headers.get("Wl-Prov") or "{}")
            tracks = batch_tracks(payload)
            if not isinstance(provs, list) or len(provs) != len(tracks):
                provs = [provs] * len(tracks)
            for tr, p in zip(tracks, provs, strict=True):
                prov = {}
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    prov = _prov_merge(p if isinstance(p, dict) else {})
                self._apply_track(origin, tr, prov, wall)
            if not self._restoring:
                self._prime_entries(origin, tracks)
        elif env.kind == "launch":
            key = (origin, payload.event_id)
            old = self.partner_launches.get(key)
            if old is None or payload.time >= old.time:
                self.partner_launches[key] = payload
                self._groups_dirty = True
            self._timing("launch_recv", event_id=payload.event_id, origin=origin, msg_id=env.msg_id)
        elif env.kind == "assessment":
            for a in batch_assessments(payload):
                key = (origin, a.object_id)
                old = self.partner_assessments.get(key)
                if old is None or a.time >= old.time:
                    self.partner_assessments[key] = a
                    self._groups_dirty = self._partner_dirty = True
                    if a.confidence == BOOST_CONFIDENCE:  # assessed in boost at its origin: a lower bound
                        self._partner_boost_t[key] = max(self._partner_boost_t.get(key, -math.inf), a.time)
        elif env.kind == "alert":
            if payload.id not in self.partner_alerts:
                self.partner_alerts[payload.id] = (origin, payload)
                while len(self.partner_alerts) > 1000:
                    self.partner_alerts.popitem(last=False)
                self._timing("alert_recv", alert_id=payload.id, origin=origin, status=payload.status,
                             msg_type=payload.msg_type)

    def _apply_track(self, origin: str, payload: Track, prov: dict, wall: float) -> None:
        """Upsert one partner track (newer valid time wins) and fold it into the picture."""
        key = (origin, payload.id)
        self.origin_clock[origin] = max(self.origin_clock.get(origin, 0.0), payload.time)
        old = self.partner_tracks.get(key)
        if old is None or payload.time >= old[0].time:
            self.partner_tracks[key] = (payload, prov, wall)
            if self._restoring or payload.status == "deleted" or (old is not None and old[0].status == "deleted"):
                self._schedule_rebuild()
            else:
                self._queue_refuse(key)
        self.data_time = max(self.data_time, payload.time)

    def _prime_entries(self, origin: str, tracks) -> None:
        """Fill the fusion-entry cache (``_partner_entry``) for the tracks of one message that were taken in:
        their states and repaired covariances in one vectorised pass (one Cholesky call for all), instead of
        one unpacking and one factorisation per track when the fusion pass asks for them."""
        fresh = [t for t in tracks if t.status != "deleted"
                 and self.partner_tracks.get((origin, t.id), (None,))[0] is t]
        if not fresh:
            return
        try:
            xs = np.array([t.state for t in fresh], dtype=float)
            Ps = _safe_covs(unpack_covs([t.cov for t in fresh], 6))
        except (ValueError, np.linalg.LinAlgError):  # (left to the per-track path, which names the problem)
            return
        good = np.isfinite(xs).all(axis=1) & np.isfinite(Ps).all(axis=(1, 2))
        for t, x, P, g in zip(fresh, xs, Ps, good, strict=True):
            if g:
                self._entry_cache[(origin, t.id)] = (t, x, P)

    def _own_entry(self, row: int) -> tuple:
        """A fusion entry (origin, track id, x, P, t, phase, exercise, event, prov, wall) of own row ``row``."""
        from warnlink.tracking.tracker import PHASES

        tr = self.own
        tid = int(tr.ids[row])
        return (self.nation, self._own_track_id(tid), tr.x[row].copy(), tr.P[row].copy(), float(tr.t[row]),
                PHASES[int(tr.phases[row])], getattr(self, "_exercise", False), self.own_event.get(tid),
                self.own_prov.get(tid, {}), self.own_wall.get(tid, 0.0))

    def _partner_entry(self, origin: str, tid: str) -> tuple | None:
        """The fusion entry of a partner track, or None when it is deleted, stale or unusable."""
        t, prov, wall = self.partner_tracks[(origin, tid)]
        clock = max(self.origin_clock.get(origin, t.time), self.data_time - PARTNER_LAG_S)
        if t.status == "deleted" or t.time < clock - FRESH_S:
            return None
        cached = self._entry_cache.get((origin, tid))
        if cached is not None and cached[0] is t:  # (the same message: its state and repaired covariance)
            xs, Pt = cached[1], cached[2]
        else:
            xs = np.asarray(t.state, float)
            try:
                Pt = _safe_cov(t.covariance())
            except np.linalg.LinAlgError:
                Pt = None
            if Pt is not None and not (np.all(np.isfinite(xs)) and np.all(np.isfinite(Pt))):
                Pt = None
            self._entry_cache[(origin, tid)] = (t, xs, Pt)
        if Pt is None:
            self.counters["unusable_partner_tracks"] += 1
            return None
        return (origin, tid, xs.copy(), Pt.copy(), t.time, t.phase, t.exercise, t.event_id, prov, wall)

    @staticmethod
    def _inflate_boost(Pa: np.ndarray, dt: np.ndarray, boost: np.ndarray) -> None:
        """A track still in boost is aligned by the ballistic model: add (in place) what an unknown thrust (up
        to ``BOOST_ACCEL_M_S2``) does over the gap ``dt``, so that the gate stays honest."""
        if not boost.any():
            return
        a = BOOST_ACCEL_M_S2
        dp, dv = 0.5 * a * dt[boost] ** 2, a * dt[boost]
        eye = np.eye(3)
        Pa[boost, :3, :3] += (dp**2)[:, None, None] * eye
        Pa[boost, 3:, 3:] += (dv**2)[:, None, None] * eye
        Pa[boost, :3, 3:] += (dp * dv)[:, None, None] * eye
        Pa[boost, 3:, :3] += (dp * dv)[:, None, None] * eye

    def _refuse(self, keys: list[tuple[str, str]]) -> bool:
        """Fold updated contributor tracks ``keys`` ((origin, track id)) into the picture objects that already
        hold them, without a rebuild: each such object is fused again from its members only (aligned to the
        newest member's time, covariance intersection in the rebuild's order), all objects in one vectorised
        pass; the hub publishes those system tracks at once. False when some key is not in an object (or its
        object cannot be re-fused alone): the caller asks for a rebuild, where new tracks are associated; the
        others are folded in already."""
        oids: list[str] = []
        complete = True
        for origin, tid in keys:
            oid = self.contrib_to_object.get((origin, tid))
            obj = self.objects.get(oid) if oid else None
            if obj is None or (origin, tid) not in obj.members:
                self.counters["refuse_miss:" + ("new" if obj is None else "displaced")] += 1
                complete = False
            elif oid not in oids:
                oids.append(oid)
        t0 = time.perf_counter()
        objs, groups = [], []
        for oid in oids:
            entries = self._member_entries(self.objects[oid])
            if entries is None:
                self.counters["refuse_miss:member"] += 1
                complete = False
            else:
                objs.append(self.objects[oid])
                groups.append(entries)
        done = self._fuse_objects(objs, groups)
        if len(done) < len(objs):
            complete = False
        if done:
            self.counters["refused"] += len(done)
            self._refuse_cost = 0.9 * self._refuse_cost + 0.1 * (time.perf_counter() - t0)
            if self.nation == self.policy.hub:
                self._publish_fused(done)
        return complete

    def _queue_refuse(self, key: tuple[str, str]) -> None:
        """Fold a partner track update in at the next turn of the event loop, together with every other one the
        readers hand over before that turn (a burst costs one vectorised pass, not one per message)."""
        self._refuse_keys.append(key)
        if self._refuse_handle is None:
            self._refuse_handle = asyncio.get_running_loop().call_soon(self._flush_refuse)

    def _flush_refuse(self) -> None:
        self._refuse_handle = None
        keys, self._refuse_keys = list(dict.fromkeys(self._refuse_keys)), []
        if keys:
            self._fold_in(keys, False)

    def _member_entries(self, obj: _PictureObject) -> list[tuple] | None:
        """The fusion entries of an object's members (the rebuild's order), or None when one is gone."""
        entries = []
        for origin, tid in obj.members:  # own first, then partners, then merged ones
            if origin == self.nation:
                try:
                    row = self.own.row.get(int(tid.rsplit("T", 1)[1]))
                except (ValueError, IndexError):
                    row = None
                e = self._own_entry(row) if row is not None else None
            else:
                e = self._partner_entry(origin, tid) if (origin, tid) in self.partner_tracks else None
            if e is None:
                return None
            entries.append(e)
        return entries

    def _fuse_objects(self, objs: list[_PictureObject], groups: list[list[tuple]]) -> list[_PictureObject]:
        """Fuse each object of ``objs`` from its member entries ``groups``: one alignment call for every member
        of every object (each to its object's newest member time), then covariance intersection member by
        member, vectorised over the objects. Returns the objects updated."""
        from warnlink.sharing.fusion import align, covariance_intersection

        if not objs:
            return []
        flat = [e for g in groups for e in g]
        sizes = np.array([len(g) for g in groups])
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        t = np.array([e[4] for e in flat])
        t_obj = np.array([max(e[4] for e in g) for g in groups])
        target = np.repeat(t_obj, sizes)
        X = np.array([e[2] for e in flat])
        P = np.array([e[3] for e in flat])
        need = t != target
        if need.any():
            X[need], P[need] = align(X[need], P[need], t[need], target[need])
            dt = target - t
            self._inflate_boost(P, dt, np.array([e[5] == "boost" for e in flat]) & (dt > 0))
        fx, fP = X[first].copy(), P[first].copy()
        ok = np.ones(len(objs), bool)
        for k in range(1, int(sizes.max())):
            sel = np.flatnonzero((sizes > k) & ok)
            if not len(sel):
                continue
            try:
                fx[sel], fP[sel], _ = covariance_intersection(fx[sel], fP[sel], X[first[sel] + k], P[first[sel] + k])
            except np.linalg.LinAlgError:
                self.counters["fusion_errors"] += 1
                ok[sel] = False
        wall = _now()
        done = []
        for i, obj in enumerate(objs):
            if not ok[i]:
                continue
            g = groups[i]
            obj.x, obj.P, obj.t = fx[i], fP[i], float(t_obj[i])
            obj.phase = g[0][5]
            obj.exercise = any(e[6] for e in g)
            self._finish_object(obj, g, wall)
            done.append(obj)
        return done

    def _finish_object(self, obj: _PictureObject, members: list[tuple], wall: float,
                       old_contrib: dict | None = None) -> None:
        """Provenance, source time and the ``fused`` timing record of an object fused from ``members``."""
        prov = _prov_merge(*(e[8] for e in members))
        obj.track_wall = max(e[9] for e in members)
        obj.src_t = max(e[4] for e in members)
        sig = tuple(sorted((e[0], e[1], e[4]) for e in members))  # each member's track and its time
        if sig != obj.src_sig:  # member track updates the object's assessments do not reflect yet
            old = set(obj.src_sig)
            fresh = [e[9] for e in members if (e[0], e[1], e[4]) not in old]
            if fresh:
                obj.new_wall = min(fresh) if obj.new_wall is None else min(obj.new_wall, *fresh)
        obj.src_sig = sig
        partner_in = any(e[0] != self.nation for e in members)
        new = sorted(k for k, v in prov.items() if v > obj.prov.get(k, -1.0) and k != self.nation)
        if partner_in and (new or (old_contrib is not None and old_contrib != obj.contributors)):
            self._timing("fused", object_id=obj.object_id, event_id=obj.event_id, prov=prov, new=new,
                         origins=sorted(obj.contributors), wall=wall)
        obj.prov = prov

    # ------------------------------------------------------------------ picture
    def _rebuild_picture(self) -> None:
        """Own confirmed tracks + partner tracks -> fused objects, grouped into launches."""
        from warnlink.sharing.fusion import align, associate, covariance_intersection
        from warnlink.tracking.tracker import CONFIRMED

        tr = self.own
        rows = (np.flatnonzero((tr.status == CONFIRMED) & (tr.t_update >= self.data_time - FRESH_S)) if len(tr.ids)
                else np.zeros(0, int))
        entries: list[tuple[str, str, np.ndarray, np.ndarray, float, str, bool, str | None, dict, float]] = []
        for row in rows:
            entries.append(self._own_entry(int(row)))
        for (origin, tid), (t, _prov, _wall) in list(self.partner_tracks.items()):
            # the partner's clock: its latest track, or (when it has gone quiet or lags far behind) our own
            clock = max(self.origin_clock.get(origin, t.time), self.data_time - PARTNER_LAG_S)
            if t.time < clock - PARTNER_TRACK_TTL_S:
                del self.partner_tracks[(origin, tid)]  # forgotten (a late copy is older and changes nothing)
                self._entry_cache.pop((origin, tid), None)
                continue
            e = self._partner_entry(origin, tid)
            if e is not None:
                entries.append(e)
        if not entries:
            lost, gone = list(self.objects), self.objects
            self.objects = {}
            self._lost(lost, gone)
            self._group_events()
            return
        x = np.array([e[2] for e in entries])
        P = np.array([e[3] for e in entries])
        t = np.array([e[4] for e in entries])
        own = np.array([e[0] == self.nation for e in entries])
        t_ref = float(t[own].max()) if own.any() else float(t.max())
        xa, Pa = align(x, P, t, t_ref)
        dt = np.abs(t_ref - t)
        self._inflate_boost(Pa, dt, np.array([e[5] == "boost" for e in entries]) & (dt > 0))
        near = dt <= MAX_ALIGN_S
        # fold origins one at a time into the picture: own first, then partners in a fixed order
        origins = [self.nation, *sorted({e[0] for e in entries} - {self.nation})]
        groups: list[list[int]] = []
        gx = np.zeros((0, 6))
        gP = np.zeros((0, 6, 6))
        for origin in origins:
            idx = [i for i, e in enumerate(entries) if e[0] == origin]
            if not idx:
                continue
            if len(groups) and origin != self.nation:
                ex_a = np.array([entries[g[0]][6] for g in groups])
                ex_b = np.array([entries[i][6] for i in idx])
                g_near = np.array([near[g[0]] for g in groups])
                allowed = (ex_a[:, None] == ex_b[None, :]) & g_near[:, None] & near[idx][None, :]
                try:
                    assoc = associate(gx, gP, xa[idx], Pa[idx], allowed=allowed)
                except (np.linalg.LinAlgError, ValueError):  # degenerate estimates: keep them apart
                    self.counters["association_errors"] += 1
                    assoc = associate(gx[:0], gP[:0], xa[idx], Pa[idx])
                self.assoc_diag[origin] = {"min_d2": [float(v) for v in assoc.matrix.min(axis=0)],
                                           "pos_err_m": [float(v) for v in np.linalg.norm(
                                               gx[assoc.matrix.argmin(axis=0), :3] - xa[idx][:, :3], axis=1)],
                                           "dt_s": [float(t_ref - entries[i][4]) for i in idx],
                                           "gate": assoc.gate, "pairs": len(assoc)}
                if len(assoc):
                    try:
                        fx, fP, _ = covariance_intersection(gx[assoc.rows], gP[assoc.rows], xa[idx][assoc.cols],
                                                            Pa[idx][assoc.cols])
                    except np.linalg.LinAlgError:  # keep the picture's estimate
                        self.counters["fusion_errors"] += 1
                        fx, fP = gx[assoc.rows], gP[assoc.rows]
                    gx[assoc.rows], gP[assoc.rows] = fx, fP
                    for r, c in zip(assoc.rows, assoc.cols, strict=True):
                        groups[r].append(idx[c])
                rest = assoc.unassigned_b(len(idx))
            else:
                rest = np.arange(len(idx))
            for c in rest:
                groups.append([idx[c]])
            if len(rest):
                gx = np.concatenate([gx, xa[idx][rest]])
                gP = np.concatenate([gP, Pa[idx][rest]])
        groups, gx, gP = self._merge_duplicates(groups, gx, gP, [e[6] for e in entries])
        new_objects: dict[str, _PictureObject] = {}
        wall = _now()
        for gi, members in enumerate(groups):
            keys = [(entries[i][0], entries[i][1]) for i in members]
            existing = sorted({self.contrib_to_object[k] for k in keys if k in self.contrib_to_object}
                              - set(new_objects), key=lambda o: (len(o), o))
            if existing:
                oid = existing[0]
            else:
                self._obj_counter += 1
                oid = f"{self.nation}-{self.run_id}-O{self._obj_counter}"
            for k in keys:
                self.contrib_to_object[k] = oid
            obj = self.objects.get(oid) or _PictureObject(oid)
            old_contrib = dict(obj.contributors)
            obj.contributors = {entries[i][0]: entries[i][1] for i in members}
            obj.x, obj.P, obj.t = gx[gi], gP[gi], t_ref
            lead = members[0]
            obj.phase = entries[lead][5]
            obj.exercise = any(entries[i][6] for i in members)
            events = [entries[i][7] for i in members if entries[i][7]]
            obj.event_id = events[0] if events else None
            for e in events[1:]:
                self._link(events[0], e)
            obj.members = keys
            self._finish_object(obj, [entries[i] for i in members], wall, old_contrib)
            new_objects[oid] = obj
        lost, gone = [oid for oid in self.objects if oid not in new_objects], self.objects
        self.objects = new_objects
        self._lost(lost, gone)
        self._group_events()
        if self.nation == self.policy.hub:
            self._publish_fused()

    @staticmethod
    def _merge_duplicates(groups, gx, gP, exercise, gate: float = 16.81):
        """Merge picture objects that are one object (e.g. two own tracks of one missile from different radars,
        or a partner track left unassociated beside its twin): closest pair first, while its squared
        Mahalanobis distance is within ``gate`` (chi-square 0.99, 6 dof), by covariance intersection. The
        distance matrix is computed once; a merge recomputes only the merged object's row and column."""
        from warnlink.sharing.fusion import covariance_intersection, mahalanobis2

        groups = [list(g) for g in groups]
        if len(groups) < 2:
            return groups, gx, gP
        gx, gP = gx.copy(), gP.copy()
        ex = np.array([exercise[g[0]] for g in groups])
        d2 = mahalanobis2(gx, gP, gx, gP)
        np.fill_diagonal(d2, np.inf)
        d2[ex[:, None] != ex[None, :]] = np.inf
        while len(groups) > 1:
            i, j = np.unravel_index(int(np.argmin(d2)), d2.shape)
            if not d2[i, j] <= gate:
                break
            i, j = min(i, j), max(i, j)
            x, P, _ = covariance_intersection(gx[i], gP[i], gx[j], gP[j])
            gx[i], gP[i] = x, P
            groups[i] += groups[j]
            del groups[j]
            gx, gP, ex = np.delete(gx, j, axis=0), np.delete(gP, j, axis=0), np.delete(ex, j)
            d2 = np.delete(np.delete(d2, j, axis=0), j, axis=1)
            row = mahalanobis2(gx[i:i + 1], gP[i:i + 1], gx, gP)[0]
            row[i] = np.inf
            row[ex != ex[i]] = np.inf
            d2[i, :], d2[:, i] = row, row
        return groups, gx, gP

    def _lost(self, object_ids: list[str], gone: dict | None = None) -> None:
        """Objects that left the picture (``gone``: their last state): a chain they spoke for passes to another
        live member; with none left, a mature coasting object's ballistic prediction stands until its predicted
        impact (``_mature``: losing a track out of coverage in midcourse is not losing the threat; a new track
        of it takes the chain over), else the chain is cancelled (``AlertKeys.lost``)."""
        for oid in object_ids:
            try:
                # only a member with an impact prediction can speak on (one without leaves the chain unfed: stale)
                usable = {k for k, v in self.objects.items() if v.assessment and v.assessment.get("impacted")}
                usable |= set(self._partner_objs)
                key = self.alert_keys.lost(oid, usable)
                if key is None:
                    continue
                o = (gone or {}).get(oid)
                if o is not None and self._mature(o):
                    self._extrap[key] = o
                    self.alert_keys.adopt(key, self._candidate(o))
                    continue
                log.info("chain %s lost its basis with %s", key, oid)
                for alert in self.alert_engine.lost(key, self.data_time):
                    self._send_alert(alert)
            except Exception:
                self.counters["alert_input_errors"] += 1

    def _publish_fused(self, objs: list[_PictureObject] | None = None) -> None:
        """The hub nation's system tracks: every picture object (or of ``objs``) that changed, released to
        both allies."""
        out = []
        for obj in self.objects.values() if objs is None else objs:
            if self.nation not in obj.contributors:
                continue  # only system tracks the hub's own sensors contribute to: an ally's track alone is not
                #           re-released to the other ally (that ally receives warning data only)
            # only when its own information changed (a contributor's update: any member's track or time), not
            # when merely re-aligned. (Keyed on the newest member time alone, an ally's update older than the
            # hub's own latest one was held back until the next hub update, and for good at an event's end.)
            key = (obj.object_id, obj.src_sig, tuple(sorted(obj.contributors.items())))
            if self._fused_sent.get(obj.object_id) == key:
                continue
            self._fused_sent[obj.object_id] = key
            out.append(obj)
        if not out:
            return
        covs = pack_covs(_safe_covs(np.array([o.P for o in out])), "P")
        by_mark: dict[bool, tuple[list, list]] = {}  # one batch per exercise marking (a batch has one)
        for obj, cov in zip(out, covs, strict=True):
            msgs, provs = by_mark.setdefault(bool(obj.exercise), ([], []))
            msgs.append(self._track_msg(obj.object_id, obj.t, obj.x, cov, "confirmed",
                                        obj.phase if obj.phase in ("boost", "midcourse", "terminal") else "unknown",
                                        obj.exercise, self._canon(obj.event_id) if obj.event_id else None))
            provs.append(obj.prov)
        for msgs, provs in by_mark.values():
            self._release_tracks(msgs, provs)

    # events: a union-find over event ids
    def _canon(self, e: str) -> str:
        seen = []
        while e in self.event_alias and self.event_alias[e] != e:
            seen.append(e)
            e = self.event_alias[e]
        for s in seen:
            self.event_alias[s] = e
        return e

    def _link(self, a: str, b: str) -> None:
        ca, cb = self._canon(a), self._canon(b)
        if ca == cb:
            return
        own_a, own_b = ca.startswith(self.nation + "-"), cb.startswith(self.nation + "-")
        # own events are canonical; otherwise the earlier id (UUIDv7 after the nation prefix) wins
        if (own_b and not own_a) or (own_a == own_b and cb[4:] < ca[4:]):
            ca, cb = cb, ca
        self.event_alias[cb] = ca

    def _launch_info(self, event_id: str) -> dict | None:
        """The best launch estimate of a canonical event: own, else the partner's with the smallest sigma."""
        best = None
        if event_id in self.own_events:
            best = dict(self.own_events[event_id])
        for (origin, eid), ev in self.partner_launches.items():
            if self._canon(eid) != event_id:
                continue
            cand = {"lat_deg": ev.launch_point.lat_deg, "lon_deg": ev.launch_point.lon_deg, "time": ev.launch_time,
                    "sigma_s": ev.launch_time_sigma_s, "origin": origin, "first_detection": ev.first_detection,
                    "missile_class": "unknown"}
            if best is None or cand["sigma_s"] < best.get("sigma_s", 1e9) * 0.5:
                best = cand
        return best

    def _prune_partner_warnings(self) -> None:
        """Forget partner assessments ``PARTNER_TRACK_TTL_S`` older (valid time) than this node's data, and
        partner launch notices an hour older (the picture keeps a launch long after its tracks are gone)."""
        horizon = self.data_time - PARTNER_TRACK_TTL_S
        for k in [k for k, a in self.partner_assessments.items() if a.time < horizon]:
            del self.partner_assessments[k]
        for k in [k for k, ev in self.partner_launches.items() if ev.time < self.data_time - 3600.0]:
            del self.partner_launches[k]

    def _group_events(self) -> None:
        # partner launch notices about the same launch as another event: link by proximity
        launches = {eid: est for eid, est in self.own_events.items()}
        for (_origin, eid), ev in self.partner_launches.items():
            launches.setdefault(eid, {"lat_deg": ev.launch_point.lat_deg, "lon_deg": ev.launch_point.lon_deg,
                                      "time": ev.launch_time})
        ids = sorted(launches)
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                la, lb = launches[a], launches[b]
                if (abs(la["time"] - lb["time"]) < LAUNCH_LINK_S
                        and _ground_km(la["lat_deg"], la["lon_deg"], lb["lat_deg"], lb["lon_deg"]) < LAUNCH_LINK_KM):
                    self._link(a, b)
        for (_origin, _oid), a in self.partner_assessments.items():
            self._canon(a.event_id)
        events: dict[str, dict] = {}

        def ev_of(eid: str) -> dict:
            c = self._canon(eid)
            if c not in events:
                events[c] = {"event_id": c, "aliases": set(), "objects": [], "partner_assessments": {}}
            events[c]["aliases"].add(eid)
            return events[c]

        for eid in launches:
            ev_of(eid)
        for obj in self.objects.values():
            if obj.event_id is None:
                obj.event_id = f"{self.nation}-unassigned"
            ev_of(obj.event_id)["objects"].append(obj)
        for (origin, _oid), a in self.partner_assessments.items():
            ev_of(a.event_id)["partner_assessments"].setdefault(origin, []).append(a)
        out = []
        for c, ev in events.items():
            ev["launch"] = self._launch_info(c)
            ev["exercise"] = any(o.exercise for o in ev["objects"]) or any(
                a.exercise for lst in ev["partner_assessments"].values() for a in lst)
            out.append(ev)
        self.picture_events = out

    # ------------------------------------------------------------------ assessment and alerts
    def _assess_start(self) -> bool:
        """Start an assessment round (False: no object changed, no round): take the picture objects that changed
        since their last assessment (a copy of each, so that the round reflects the picture as it was now), compute
        in the assessment
        worker process (``_assess_job``: impact prediction, ground tracks, region probabilities), then publish
        and alert on the event loop (``_assess_finish``)."""
        objs, sigs, launch = self._assess_due()
        if not objs:
            return False
        snaps = []
        for o in objs:
            c = _PictureObject(o.object_id)
            for name in _PictureObject.__slots__:
                setattr(c, name, getattr(o, name))
            snaps.append(c)
            o.new_wall = None  # this round reflects them (updates arriving during it wait for the next)
        x = np.array([o.x for o in snaps])
        P = np.array([o.P for o in snaps])
        t = np.array([o.t for o in snaps])
        lat0 = np.array([li["lat_deg"] if li else np.nan for li in launch])
        lon0 = np.array([li["lon_deg"] if li else np.nan for li in launch])
        self._assess_busy = True
        t0, wall0 = time.perf_counter(), _now()
        fut = asyncio.get_running_loop().run_in_executor(self._assess_exec, _assess_job, x, P, t, lat0, lon0,
                                                         [o.object_id for o in snaps])

        def done(f):
            self._assess_busy = False
            self._assess_cost = time.perf_counter() - t0
            self.counters["assessment_rounds"] += 1
            self._timing("assessment_round", start=wall0, objects=len(snaps))
            try:
                result = f.result()
            except Exception as exc:
                self.counters["assessment_errors"] += 1
                log.warning("impact prediction failed: %s", exc)
                return
            try:
                self._assess_finish(snaps, launch, *result, sigs=sigs)
            except Exception:
                self.counters["internal_errors"] += 1
                log.exception("assessment round failed")

        fut.add_done_callback(done)
        return True

    def _partner_round(self) -> None:
        """An alert round on partners' shared assessments and lost objects' predictions alone (no own object
        changed: e.g. in a gap in this node's coverage), valid at the node's data time."""
        try:
            self._round_t = max(self._round_t, self.data_time)
            self._alert_round([])
        except Exception:
            self.counters["internal_errors"] += 1
            log.exception("partner alert round failed")

    def _assess_due(self) -> tuple[list[_PictureObject], list[tuple], list[dict | None]]:
        """The picture objects an assessment round takes (those whose ``_assess_sig`` changed since their last
        assessment), with their signatures and their launches' estimates (``_launch_info``)."""
        infos: dict[str, dict | None] = {}

        def info(o):
            if not o.event_id:
                return None
            e = self._canon(o.event_id)
            if e not in infos:
                infos[e] = self._launch_info(e)
            return infos[e]

        objs, sigs, launch = [], [], []
        for o in self.objects.values():
            li = info(o)
            sig = self._assess_sig(o, li)
            if o.assessment is None or o.assessment.get("sig") != sig:
                objs.append(o)
                sigs.append(sig)
                launch.append(li)
        return objs, sigs, launch

    def _assess_sig(self, o: _PictureObject, li: dict | None) -> tuple:
        """What an object's assessment depends on: its members' tracks and their times, its launch (and that
        launch's estimate) and its marking. A round assesses an object again only when this changed: not when
        a picture rebuild merely re-aligned it to a later time (which told nothing new, yet re-sent every
        object's prediction, and made a track update seem a second or more older than its shared prediction
        in ``bench fabric``)."""
        return (o.src_sig, self._canon(o.event_id) if o.event_id else None, bool(o.exercise),
                None if li is None else (li.get("lat_deg"), li.get("lon_deg"), li.get("time"), li.get("origin")))

    def _assess_finish(self, objs: list[_PictureObject], launch: list, pred, ground_track: list,
                       probs: list, sigs: list | None = None) -> None:
        """Back on the event loop: classify, record, publish the assessments and feed the alert engine.
        ``objs`` are the copies the round was computed on (``sigs``: their ``_assess_sig`` then); the live
        object (if still in the picture) gets the assessment."""
        self._round_t = max(self._round_t, max(o.t for o in objs))
        # classification: within a launch, objects falling well short of the longest range are stages
        # (over the launch's whole picture: this round's objects and the latest assessments of the others, also
        # of objects whose tracks have ended; over this round's alone, an object read "stage" or not by which
        # others the round happened to hold)
        rng = np.where(np.asarray(pred.impacted, bool) & np.isfinite(pred.ground_range_m), pred.ground_range_m, 0.0)
        events = [self._canon(o.event_id) if o.event_id else None for o in objs]
        by_event: dict[str | None, float] = {}
        for a in self.last_assessments.values():
            e = self._canon(a["event_id"]) if a.get("event_id") else None
            if e is not None and a.get("impacted"):
                by_event[e] = max(by_event.get(e, 0.0), float(a.get("range_m") or 0.0))
        for k, e in enumerate(events):
            if pred.impacted[k] and e is not None:
                by_event[e] = max(by_event.get(e, 0.0), float(rng[k]))
        # a launch with a stage (read so by its range or by the own tracker's drag): its objects that are no stage
        # outrange one, and are read as the warhead (the replay's "more energy than the separated track")
        drags = [self.own_drag_kind.get(o.contributors.get(self.nation, ""), "") for o in objs]
        short = [bool(pred.impacted[k]) and e is not None and by_event.get(e, 0.0) > 0
                 and rng[k] < STAGE_RANGE_FRACTION * by_event[e] for k, e in enumerate(events)]
        in_round = {o.object_id for o in objs}
        staged = {e for e, s, d in zip(events, short, drags, strict=True) if e is not None and (s or d == "stage")}
        staged |= {self._canon(a["event_id"]) for oid, a in self.last_assessments.items()
                   if oid not in in_round and a.get("event_id") and a.get("kind") == "stage"}
        speaking: list[_PictureObject] = []
        outgoing: list[tuple[Assessment, float | None, float | None]] = []
        for k, o in enumerate(objs):
            live = self.objects.get(o.object_id)
            try:
                # when the object last boosted climbing (the lower-bound rule of ``_alert`` needs it)
                boost_t = (o.t if o.phase == "boost" and _climb(o.x) > 0
                           else (o.assessment or {}).get("last_boost_t"))
                sig = sigs[k] if sigs is not None else None
                if not pred.impacted[k]:
                    o.assessment = {"t": o.t, "impacted": False, "last_boost_t": boost_t, "sig": sig}
                    if live is not None:
                        live.assessment = o.assessment
                    continue
                lat, lon = float(pred.lat_deg[k]), float(pred.lon_deg[k])
                rng_m = float(rng[k])
                o.kind = "stage" if short[k] else "warhead" if events[k] in staged else "unknown"
                # in the air, the own tracker's drag tells a dense re-entry vehicle from a tumbling stage or debris
                if drags[k]:
                    o.kind = drags[k]
                apogee = float(pred.apogee_alt_m[k]) if np.isfinite(pred.apogee_alt_m[k]) else float(_geo(o.x)[2])
                self._apogee[o.object_id] = max(self._apogee.get(o.object_id, 0.0), apogee, 0.0)
                li = launch[k] or {}
                o.assessment = {"t": o.t, "impacted": True, "lat_deg": lat, "lon_deg": lon,
                                "impact_time": float(pred.impact_time_s[k]),
                                "semi_major_m": float(pred.semi_major_m[k]),
                                "semi_minor_m": float(pred.semi_minor_m[k]),
                                "orientation_deg": float(pred.orientation_deg[k]) % 180.0,
                                "range_m": rng_m, "apogee_m": self._apogee[o.object_id], "kind": o.kind,
                                "probabilities": {r: p for r, p in (probs[k] or {}).items() if p > 0},
                                "overflights": ground_track[k] or [], "launch_origin": li.get("origin"),
                                "time_to_impact_s": float(pred.impact_time_s[k] - o.t), "last_boost_t": boost_t,
                                "sig": sig}
                self.last_assessments[o.object_id] = {
                    **{key: v for key, v in o.assessment.items() if key != "sig"}, "object_id": o.object_id,
                    "event_id": self._canon(o.event_id),
                    "origins": sorted(o.contributors), "exercise": o.exercise}
                self.last_assessments.move_to_end(o.object_id)
                while len(self.last_assessments) > 50:
                    self.last_assessments.popitem(last=False)
                msg = self._assessment_msg(o, li)
                if msg is not None:
                    outgoing.append((msg, o.track_wall, o.new_wall))
                o.coasted = o.coasted or o.phase != "boost"
                if live is not None:
                    live.assessment, live.kind, live.coasted = o.assessment, o.kind, live.coasted or o.coasted
                speaking.append(o)
            except Exception as exc:  # one bad object must not stop the others' assessment and alerts
                self.counters["assessment_errors"] += 1
                log.warning("assessment of %s failed: %s", o.object_id, exc)
        self._release_assessments(outgoing)  # before the alerts this round may raise
        self._stage_held(by_event, in_round)
        self._alert_round(speaking)

    def _stage_held(self, by_event: dict[str, float], in_round: set[str]) -> None:
        """The range rule of ``_assess_finish`` over the objects this round did not assess: an "unknown" one
        (unchanged in the picture, or lost with its prediction standing: ``_extrap``) is a stage once its
        launch's longest range (``by_event``) outranges it. (The 2022-10-04 demo under CI load: the stage's track
        ended while the missile's range was still growing in boost; its last prediction, 8 km outside Japan's
        EEZ with a 207 km ellipse, stood "unknown" and raised "possible impact in JPN_eez (p=0.43)" 4 s after
        the missile's 4 500 km range was known.)"""
        for o in [*(v for k, v in self.objects.items() if k not in in_round), *self._extrap.values()]:
            a = o.assessment
            if o.kind != "unknown" or not o.event_id or not (a and a.get("impacted")):
                continue
            longest = by_event.get(self._canon(o.event_id), 0.0)
            if longest > 0 and float(a.get("range_m") or 0.0) < STAGE_RANGE_FRACTION * longest:
                o.kind = a["kind"] = "stage"
                if o.object_id in self.last_assessments:
                    self.last_assessments[o.object_id]["kind"] = "stage"

    def _alert_round(self, objs: list[_PictureObject]) -> None:
        """Feed the alert engine a round's assessed objects, one speaker per chain (``warnlink.sharing.speakers``:
        objects of one launch whose impact predictions agree share a chain; a stage that falls short, or a
        missile aimed elsewhere, gets its own)."""
        cands, by_id = [], {}
        self._partner_dirty = False
        self._refresh_partner_objects()
        for o in [*objs, *self._partner_objs.values()]:
            try:
                cands.append(self._candidate(o))
                if not cands[-1].bound:
                    self._first_coast.setdefault(o.object_id, o.t)
                by_id[o.object_id] = o
            except (KeyError, TypeError, ValueError) as exc:
                self.counters["alert_input_errors"] += 1
                log.warning("alert input of %s not built: %s", o.object_id, exc)
        spoken = set()
        holding = {k for k, v in self.objects.items() if v.assessment and v.assessment.get("impacted")}
        for key, c in self.alert_keys.round(cands, holding):
            # while the object still burns (or may: ``_alert``), its "impact" is where it would fall if the
            # engine stopped now: short of the real one. ``_alert`` warns of overflight only then.
            # (valid at the round's time: a member fused from an older partner track is the best assessment there
            # is now; judged at its own time the chain went stale at the next tick: 2022-11-18 demo, 5 Cancels)
            self._alert(by_id[c.object_id], key, t=self._round_t)
            spoken.add(key)
        # an open chain whose speaker is still in the picture, unchanged since its last assessment (no new
        # report of it this round), keeps its basis: its assessment stands at the round's time. (Leaving the
        # picture, when its tracks are no longer fresh, is the loss of the basis: ``_lost``.) Without this, a
        # replay faster than real time, or a radar revisit longer than ``staleness_s``, cancelled it as stale.
        for key in list(self.alert_engine.active()):
            if key in spoken:
                continue
            ids = [self.alert_keys.speaker.get(key, key), *sorted(self.alert_keys.members.get(key, ()))]
            o = next((v for i in ids if (v := self.objects.get(i) or self._partner_objs.get(i)) is not None
                      and v.assessment and v.assessment.get("impacted")), None)  # the speaker, else a member
            if o is not None:
                self._alert(o, key, t=self._round_t)
        for key, o in list(self._extrap.items()):  # lost mature objects: their predictions stand until impact
            if key in spoken or self.alert_keys.speaker.get(key) != o.object_id:
                del self._extrap[key]  # a new track of it speaks now
                continue
            self._alert(o, key, t=self._round_t)  # (past the impact its probabilities are zero: below threshold,
            #                                        a Cancel once the release hold is over)
            if o.assessment["impact_time"] + 5.0 < self._round_t and key not in self.alert_engine.active():
                del self._extrap[key]
                self.alert_keys.lost(o.object_id, self.objects)

    def _candidate(self, o: _PictureObject) -> Candidate:
        """The alert keys' view of an assessed object (``warnlink.sharing.speakers.Candidate``)."""
        a = o.assessment
        known = o.event_id and not o.event_id.endswith("-unassigned")
        return Candidate(o.object_id, self._canon(o.event_id) if known else None, bool(o.exercise), o.kind,
                         float(o.t), float(a["lat_deg"]), float(a["lon_deg"]), float(a["impact_time"]),
                         float(a["semi_major_m"]), self._bound(o), partner=o.object_id in self._partner_objs)

    def _refresh_partner_objects(self) -> None:
        """Partners' shared assessments as alert inputs (``_partner_objects``); one that is no longer one (its
        predicted impact long past, or forgotten: ``_prune_partner_warnings``) leaves its chain as a lost
        object (``_lost``)."""
        new = self._partner_objects()
        gone = {k: o for k, o in self._partner_objs.items() if k not in new}
        self._partner_objs = new
        if gone:  # (a mature coasting one's prediction stands until its impact, as an own object's: ``_lost``)
            self._lost(list(gone), gone)

    def _partner_objects(self) -> dict[str, _PictureObject]:
        """The partners' shared assessments this node warns from, as picture objects (id ``ORIGIN/object id``;
        no state, the assessment only): of a launch this node knows, coasting at their origin (not assessed in
        boost, nor within ``STAGING_WATCH_S`` after: a lower bound there), until ``PARTNER_WARN_AFTER_S`` past
        their predicted impact. An own object of the same missile speaks first (``Candidate.partner``); a
        partner's assessment keeps a chain alive through a gap in this node's own coverage (the 2022-11-18 ICBM:
        the JPN radars lose the warhead minutes after burnout while KOR's prediction of the EEZ impact stands)
        and warns when this node's own tracks never reached a coasting assessment. Impact only: a shared
        assessment carries which nations the path overflies, not when (overflight warnings come from own and
        the hub's tracks, which are in the picture)."""
        from warnlink.alerts import STAGING_WATCH_S

        known = {self._canon(e) for e in self.own_events} | {self._canon(e) for _, e in self.partner_launches}
        longest: dict[str, float] = {}  # the launches' longest ranges over the own assessments (``_assess_finish``)
        for la in self.last_assessments.values():
            if la.get("event_id") and la.get("impacted"):
                e = self._canon(la["event_id"])
                longest[e] = max(longest.get(e, 0.0), float(la.get("range_m") or 0.0))
        out: dict[str, _PictureObject] = {}
        for key, a in self.partner_assessments.items():
            origin, oid = key
            event = self._canon(a.event_id)
            boost_t = self._partner_boost_t.get(key, -math.inf)
            if (origin == self.nation or event not in known or not a.range_m > 0 or a.time - boost_t < STAGING_WATCH_S
                    or not a.impact_time + PARTNER_WARN_AFTER_S >= self.data_time):
                continue
            pid = f"{origin}/{oid}"
            o = self._partner_objs.get(pid)
            if o is None or o.t != a.time:
                o = _PictureObject(pid)
                o.contributors, o.event_id, o.t, o.phase = {origin: oid}, event, float(a.time), "midcourse"
                o.kind, o.exercise = a.object_kind, bool(a.exercise)
                o.x = np.array([6.371e6, 0.0, 0.0, 0.0, 0.0, 0.0])  # (no state: neither climbing nor boosting)
            if o.kind == "unknown" and a.range_m < STAGE_RANGE_FRACTION * longest.get(event, 0.0):
                # the own stage rule, over this node's picture of the launch: a partner that saw the stage
                # without the missile's range (the 2022-10-04 demo: USA's "unknown" stage, 1 740 km against the
                # 4 500 km JPN knew, warned "possible impact in JPN_eez (p=0.69)" at the JPN node)
                o.kind = "stage"
                if o.assessment is not None:
                    o.assessment["kind"] = "stage"
            if o.assessment is not None and o.t == a.time:
                out[pid] = o
                continue
            e = a.impact_ellipse
            o.assessment = {"t": float(a.time), "impacted": True, "lat_deg": a.impact_point.lat_deg,
                            "lon_deg": a.impact_point.lon_deg, "impact_time": float(a.impact_time),
                            "semi_major_m": e.semi_major_m, "semi_minor_m": e.semi_minor_m,
                            "orientation_deg": e.orientation_deg, "range_m": a.range_m, "apogee_m": a.apogee_m,
                            "kind": o.kind, "probabilities": {r.region: r.probability for r in a.threatened},
                            "overflights": [], "launch_origin": origin, "launch_time": float(a.launch_time),
                            "last_boost_t": None if math.isinf(boost_t) else boost_t,
                            "time_to_impact_s": float(a.impact_time - a.time)}
            out[pid] = o
        return out

    def _mature(self, o: _PictureObject) -> bool:
        """Does a lost object's ballistic prediction stand until its impact? An impact predicted in the future,
        of an alerting kind, no lower bound, and coasting under assessment ``MATURE_COAST_S`` or with its boost
        seen ended (the replay's rule, ``warnlink.assessment.replay.MATURE_COAST_S``)."""
        from warnlink.assessment.replay import MATURE_COAST_S

        a = o.assessment
        if not (a and a.get("impacted")) or o.kind not in ("warhead", "unknown") or self._bound(o):
            return False
        if not a["impact_time"] > self.data_time:
            return False
        first = self._first_coast.get(o.object_id)
        if a.get("last_boost_t") is not None or (first is not None and a["t"] - first >= MATURE_COAST_S):
            return True
        # (or later than any notional missile burns after its launch: a node's rounds can be too far apart in a
        # replay faster than real time to see the object coast 30 s under assessment before it is lost; of a
        # partner's assessment, after the launch time it states)
        if a.get("launch_time") is not None:
            return a["t"] - a["launch_time"] >= MAX_BURN_S
        li = self._launch_info(self._canon(o.event_id)) if o.event_id else None
        return li is not None and a["t"] - li["time"] >= MAX_BURN_S

    def _assessment_msg(self, o: _PictureObject, li: dict) -> Assessment | None:
        """The shared ``Assessment`` of an assessed object (``o.assessment``) of the launch ``li``; None
        (counted, logged) when it cannot be built."""
        a = o.assessment
        if not li:
            li = {"lat_deg": float(_geo(o.x)[0]), "lon_deg": float(_geo(o.x)[1]), "time": o.t,
                  "missile_class": "unknown"}
        threatened = tuple(RegionProbability(region=r, probability=min(1.0, max(0.0, p)))
                           for r, p in sorted(a["probabilities"].items()))[:64]
        nations = {}
        for p in a["overflights"]:
            nations.setdefault(p["nation"], p)
        over = tuple(RegionProbability(region=f"{n}_land", probability=1.0) for n in sorted(nations))[:64]
        try:
            msg = Assessment(
                id=uuid7(), event_id=self._canon(o.event_id), object_id=o.object_id,
                origin=self.nation, time=o.t,
                launch_point=GeoPoint(lat_deg=li["lat_deg"], lon_deg=li["lon_deg"], alt_m=0.0),
                launch_time=min(li["time"], o.t), impact_point=GeoPoint(lat_deg=a["lat_deg"], lon_deg=a["lon_deg"]),
                impact_time=max(a["impact_time"], min(li["time"], o.t)),
                impact_ellipse=Ellipse(semi_major_m=min(a["semi_major_m"], 1e8), semi_minor_m=min(a["semi_minor_m"],
                                                                                                    a["semi_major_m"],
                                                                                                    1e8),
                                       orientation_deg=a["orientation_deg"] if a["orientation_deg"] < 180 else 0.0),
                apogee_m=min(a["apogee_m"], 1e8), range_m=min(a["range_m"], 1e8),
                missile_class=li.get("missile_class") or "unknown", object_kind=o.kind, threatened=threatened,
                overflights=over, confidence=BOOST_CONFIDENCE if o.phase == "boost" else 0.9, exercise=o.exercise)
        except (ValueError, TypeError, msgspec.ValidationError) as exc:
            self.counters["seal_errors"] += 1
            log.warning("assessment of %s not built: %s", o.object_id, exc)
            return None
        return msg

    def _release_assessments(self, items: list[tuple[Assessment, float | None, float | None]]) -> None:
        """Seal and queue the assessments ``(message, track_wall, new_wall)`` of one round as ``AssessmentBatch``
        messages (one signature and one durable publish per batch, not per object), each of at most
        ``MAX_BATCH_ASSESSMENTS`` and ``ASSESSMENT_BATCH_BYTES`` encoded; exercise and actual objects go in
        batches of their own. Each assessment is checked as its receivers will check it before it joins a batch
        (one that fails is counted and logged, and the rest of the round still goes). The timing log gets one
        ``assessment_sent`` record per object, with when its newest (``track_wall``) and its oldest not yet
        shared (``new_wall``) member track update reached the node."""
        from warnlink.sharing.messages import ASSESSMENT_BATCH_BYTES, MAX_BATCH_ASSESSMENTS, AssessmentBatch

        def flush(part):
            try:
                batch = AssessmentBatch.of(m for m, _, _ in part)
            except ValueError as exc:
                self.counters["seal_errors"] += 1
                log.warning("%d assessments not published: %s", len(part), exc)
                return
            timing = [("assessment_sent", {"object_id": m.object_id, "track_wall": w, "new_wall": nw})
                      for m, w, nw in part]
            if self._seal_and_queue(batch, timing=timing):
                self.counters["assessments_sent"] += len(part)
                self.counters["assessment_batches_sent"] += 1

        for exercise in (True, False):
            part, size = [], 0
            for m, w, nw in items:
                if bool(m.exercise) != exercise:
                    continue
                body = encode_payload(m)
                try:
                    _ASSESSMENT_DECODER.decode(body)
                except (msgspec.MsgspecError, ValueError) as exc:
                    self.counters["seal_errors"] += 1
                    log.warning("assessment of %s not published: %s", m.object_id, exc)
                    continue
                n = len(body)
                if part and (len(part) >= MAX_BATCH_ASSESSMENTS or size + n > ASSESSMENT_BATCH_BYTES):
                    flush(part)
                    part, size = [], 0
                part.append((m, w, nw))
                size += n
            if part:
                flush(part)

    @staticmethod
    def _bound(o: _PictureObject) -> bool:
        """Is the object's prediction a lower bound of its flight (``warnlink.alerts.is_lower_bound``)?"""
        from warnlink.alerts import is_lower_bound

        return is_lower_bound(boosting=o.phase == "boost", climbing=_climb(o.x) > 0, t_s=o.t,
                              last_boost_s=(o.assessment or {}).get("last_boost_t"))

    def _alert(self, o: _PictureObject, key: str | None = None, t: float | None = None) -> None:
        """Feed the alert engine one object's assessment (``o.assessment``) for the chain ``key`` (default: the
        object's own id), valid at ``t`` (default: the object's time; later when an unchanged object's
        assessment still stands: overflights flown and an impact passed by then no longer count). While the
        object boosts climbing, and for ``STAGING_WATCH_S`` after it last did (``last_boost_t`` of the assessment
        record), its prediction is a lower bound (``warnlink.alerts.is_lower_bound``, the replay's rule): it
        warns of overflight where the mean path crosses the nation's land, never of impact. (The node decides no
        separations, so none is undecided here.)"""
        from warnlink.alerts import AlertInputError, ImpactArea
        from warnlink.alerts.policy import AssessmentInput

        a = o.assessment
        t = o.t if t is None else max(t, o.t)
        over = [p for p in a["overflights"] if p["nation"] == self.nation and p["end"] >= t]
        if not over and o.object_id in self._partner_objs:
            over = self._standing_overflight(key or o.object_id, t)
        probs = dict(a["probabilities"]) if a["impact_time"] + 5.0 >= t else {}
        bound = self._bound(o)
        try:
            inp = AssessmentInput(
                t_s=t, object_id=key or o.object_id, kind=o.kind, track_alive=True,
                event_id=self._canon(o.event_id) if o.event_id else f"{self.nation}-unassigned",
                exercise=bool(o.exercise), impact_probability=probs,
                overflight_probability={f"{self.nation}_land": 1.0} if over else {},
                overflight_start_s=over[0]["start"] if over else None,
                overflight_end_s=over[-1]["end"] if over else None, impact_t_s=a["impact_time"],
                impact=ImpactArea(lat_deg=a["lat_deg"], lon_deg=a["lon_deg"], semi_major_m=min(a["semi_major_m"], 2e7),
                                  semi_minor_m=min(a["semi_minor_m"], a["semi_major_m"], 2e7),
                                  orientation_deg=a["orientation_deg"], confidence=0.95),
                lower_bound=bound)
            alerts = self.alert_engine.update(inp)
        except (AlertInputError, ValueError, TypeError) as exc:
            self.counters["alert_input_errors"] += 1
            log.warning("alert engine refused %s: %s", o.object_id, exc)
            return
        for alert in alerts:
            self._send_alert(alert)

    def _standing_overflight(self, key: str, t: float) -> list[dict]:
        """The overflight an open chain ``key`` last warned of, as ``overflights`` entries, while its predicted
        end is still ahead of ``t``: a partner's shared assessment speaking for the chain says which nations the
        path overflies, not when, so it leaves that warning standing rather than releasing it (read as "no
        overflight", it cancelled the missile's chain "below threshold" before the missile flew over)."""
        last = self.alert_engine.active().get(key)
        if last is None or not last.overflight_regions or last.overflight_end is None:
            return []
        epoch = self.alert_engine.epoch
        end = (last.overflight_end - epoch).total_seconds()
        start = (last.overflight_start - epoch).total_seconds() if last.overflight_start is not None else t
        return [{"nation": self.nation, "start": start, "end": end}] if end >= t else []

    def _send_alert(self, alert) -> None:
        if alert.status == "Actual" and alert.exercise:  # impossible by construction; belt and braces
            self.counters["alert_marking_errors"] += 1
            return
        self.alerts_sent.append({"id": alert.id, "status": alert.status, "msg_type": alert.msg_type,
                                 "object_id": alert.object_id, "event_id": alert.event_id,
                                 "regions": list(alert.regions), "overflight_regions": list(alert.overflight_regions),
                                 "probability": alert.probability, "exercise": alert.exercise,
                                 "headline": alert.headline, "wall": _now()})
        self._io().submit(self._write_cap, alert)  # off the event loop (CAP XML: ~28% of KOR's loop)
        self._seal_and_queue(alert, timing=[("alert_sent", {"alert_id": alert.id, "status": alert.status,
                                                            "msg_type": alert.msg_type})])
        self.counters["alerts_sent"] += 1

    def _io(self):
        """The node's I/O thread (CAP files, audit fsyncs): slow file work off the event loop."""
        if self._io_exec is None:
            from concurrent.futures import ThreadPoolExecutor

            self._io_exec = ThreadPoolExecutor(1, thread_name_prefix="node-io")
        return self._io_exec

    def _write_cap(self, alert) -> None:
        """CAP 1.2 of an own alert -> ``cap/<alert id>.xml`` (in the I/O thread; written whole, then renamed)."""
        from warnlink.alerts import to_cap_xml

        try:
            xml = to_cap_xml(alert, sender=f"warnlink.{self.nation.lower()}.example")
            path = self.dir / "cap" / f"{alert.id}.xml"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(xml)
            tmp.replace(path)
        except Exception as exc:
            self.counters["cap_errors"] += 1
            log.warning("CAP of alert %s not written: %s", alert.id, exc)

    # ------------------------------------------------------------------ periodic work
    async def _ticker(self) -> None:
        last_snap = 0.0
        last_verifier = _now()
        while True:
            t_sleep = time.monotonic()
            await asyncio.sleep(self.tick_s)
            self._loop_lag.append(time.monotonic() - t_sleep - self.tick_s)
            self._timing("lag", lag=round(self._loop_lag[-1], 5))
            try:
                now = _now()
                if (not self._picture_dirty and self.counters["refused"] != self._refused_at_rebuild
                        and time.monotonic() - self._last_rebuild >= REASSOCIATE_S):
                    self._picture_dirty = True  # incremental updates since the last rebuild: associate again
                if self._picture_dirty and self._rebuild_handle is None:
                    self._schedule_rebuild()
                elif self._groups_dirty and not self._picture_dirty:  # launches / assessments: regroup only
                    self._groups_dirty = False
                    self._prune_partner_warnings()
                    self._group_events()
                if now - self._last_assess >= self.assess_interval_s and not self._assess_busy:
                    self._last_assess = now
                    if not (self.objects and self._assess_start()) and (self._partner_dirty or self._partner_objs
                                                                           or self._extrap):
                        self._partner_round()  # (chains that partners' or lost objects' predictions speak for are
                        #                         re-fed as well: no own object changed, no own round)
                if self._round_t:
                    for alert in self.alert_engine.tick(self._round_t):
                        self._send_alert(alert)
                if now - last_snap >= self.snapshot_interval_s:
                    last_snap = now
                    self._write_snapshot()
                    if self._audit_flush is None or self._audit_flush.done():  # fsync in the I/O thread
                        self._audit_flush = self._io().submit(self.audit.flush)
                if now - last_verifier >= 2.0:
                    last_verifier = now
                    self._save_verifier()
            except Exception:
                self.counters["internal_errors"] += 1
                log.exception("periodic work failed")

    def _save_verifier(self) -> None:
        with contextlib.suppress(Exception):
            tmp = self.dir / "verifier.json.tmp"
            tmp.write_text(json.dumps(self.verifier.state()))
            tmp.replace(self.dir / "verifier.json")

    # ------------------------------------------------------------------ snapshot
    def snapshot(self, stopped: bool = False) -> dict:
        """The node's state as a JSON-able dict (see the module docstring)."""
        cov_cache, self._cov_json = self._cov_json, {}
        lag = list(self._loop_lag)
        stale = [o for ev in self.picture_events for o in ev["objects"]
                 if (c := cov_cache.get(o.object_id)) is None or c[0] is not o.P]
        if stale:  # changed since the last snapshot: repaired all at once
            Ps = np.array([o.P for o in stale])
            good = np.isfinite(Ps).all(axis=(1, 2))
            Ps[~good] = np.eye(6)
            flat = _safe_covs(Ps)[:, _TRIU6[0], _TRIU6[1]].tolist()
            for o, g, f in zip(stale, good, flat, strict=True):
                cov_cache[o.object_id] = (o.P, f if g else None)

        def obj_json(o: _PictureObject) -> dict:
            cov = cov_cache[o.object_id][1]
            self._cov_json[o.object_id] = (o.P, cov)
            return {"object_id": o.object_id, "time": o.t, "state": [float(v) for v in o.x], "cov": cov,
                    "contributors": dict(o.contributors), "origins": sorted(o.contributors), "phase": o.phase,
                    "kind": o.kind, "exercise": o.exercise, "assessment": o.assessment, "prov": o.prov}

        def assessment_json(a: Assessment) -> dict:
            return {"object_id": a.object_id, "event_id": a.event_id, "time": a.time,
                    "impact_lat_deg": a.impact_point.lat_deg, "impact_lon_deg": a.impact_point.lon_deg,
                    "impact_time": a.impact_time, "semi_major_m": a.impact_ellipse.semi_major_m,
                    "launch_lat_deg": a.launch_point.lat_deg, "launch_lon_deg": a.launch_point.lon_deg,
                    "launch_time": a.launch_time, "exercise": a.exercise, "object_kind": a.object_kind,
                    "threatened": {r.region: r.probability for r in a.threatened}}

        picture = []
        for ev in self.picture_events:
            picture.append({"event_id": ev["event_id"], "aliases": sorted(ev["aliases"]), "exercise": ev["exercise"],
                            "launch": ev["launch"], "objects": [obj_json(o) for o in ev["objects"]],
                            "partner_assessments": {k: [assessment_json(a) for a in v]
                                                    for k, v in ev["partner_assessments"].items()}})
        pt: dict[str, list[str]] = {}
        for (origin, tid) in self.partner_tracks:
            pt.setdefault(origin, []).append(tid)
        readers = {}
        for origin, r in getattr(self, "readers", {}).items():
            readers[origin] = {k: getattr(r, k) for k in ("received", "duplicates", "handler_errors", "handed_back",
                                                          "requests", "unreachable")}
        return {"nation": self.nation, "pid": os.getpid(), "run_id": self.run_id, "ready": self.ready and not stopped,
                "stopped": stopped, "mode": self.mode,
                "warm_up_s": getattr(self, "warm_up_s", None), "started": getattr(self, "started", None),
                "wall": _now(),
                "data_time": self.data_time, "busy": dict(self._busy), "counters": dict(self.counters),
                "verifier": dict(self.verifier.counts),
                "readers": readers, "picture": picture, "partner_tracks": pt, "received_ids": len(self.received_ids),
                "partner_launches": sorted(f"{o}:{e}" for o, e in self.partner_launches),
                "association": self.assoc_diag, "rebuild_ms": round(self._rebuild_cost * 1e3, 3),
                "costs_ms": {"rebuild": round(self._rebuild_cost * 1e3, 3), "refuse": round(self._refuse_cost * 1e3, 3),
                             "track_push": round(self._track_cost * 1e3, 3),
                             "assessment_round": round(self._assess_cost * 1e3, 3),
                             "track_cpu_per_report": round(self._track_cpu[0] * 1e3 / max(self._track_cpu[2], 1), 4),
                             "track_cpu_share": round(self._track_cpu[0] / max(self._track_cpu[1], 1e-9), 3),
                             "outbox_wait": round(self._pub_cost[0] * 1e3, 3),
                             "puback": round(self._pub_cost[1] * 1e3, 3),
                             "loop_lag_p50": round(float(np.median(lag)) * 1e3, 3) if lag else 0.0,
                             "loop_lag_max": round(max(lag) * 1e3, 3) if lag else 0.0},
                "alerts": list(self.alerts_sent),
                "assessments": [{**a, "event_id": self._canon(a["event_id"]), "live": oid in self.objects}
                                for oid, a in self.last_assessments.items()],
                "partner_alerts": [{"origin": o, "id": a.id, "nation": a.nation, "status": a.status,
                                    "msg_type": a.msg_type, "exercise": a.exercise, "regions": list(a.regions),
                                    "overflight_regions": list(a.overflight_regions)}
                                   for o, a in list(self.partner_alerts.values())[-100:]],
                "audit": str(self.dir / "audit.jsonl")}

    def _write_snapshot(self, stopped: bool = False) -> None:
        try:
            data = _SNAP_ENC.encode(self.snapshot(stopped))
            tmp = self.dir / "snapshot.json.tmp"
            tmp.write_bytes(data)
            tmp.replace(self.dir / "snapshot.json")
        except Exception:
            self.counters["snapshot_errors"] += 1
            log.exception("snapshot failed")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, set | frozenset):
        return sorted(o)
    return str(o)


_SNAP_ENC = msgspec.json.Encoder(enc_hook=_json_default)
_TIMING_ENC = _SNAP_ENC
"""The snapshot's encoder (msgspec: several times faster than ``json.dumps`` on a large picture)."""


# ---------------------------------------------------------------------------------------------- warm-up
def _warm_states():
    from warnlink.geo import geodetic2ecef

    p0 = np.array(geodetic2ecef(40.0, 127.0, 150e3))
    v = np.array([2500.0, 300.0, 1500.0])
    times = np.arange(0.0, 40.0, 4.0)
    return np.array([np.r_[p0 + v * t, v] for t in times]), times, np.diag([1e4] * 3 + [1e2] * 3)


def _warm_tracker() -> None:
    """Run the tracker's compiled paths once on synthetic data: one target, then two 150 m apart (their gates
    overlap: the JPDA paths), pushed two reports at a time as a live feed would (each signature left for the
    first salvo costs a cache load of 0.1-0.5 s in the middle of it)."""
    from warnlink.geo import geodetic2ecef
    from warnlink.sensors.reports import KIND_RADAR, ReportBatch
    from warnlink.tracking.measurement import measurement_h
    from warnlink.tracking.tracker import Tracker

    site = np.array(geodetic2ecef(35.0, 129.0, 0.0))
    x1, times1, _ = _warm_states()
    x2 = np.concatenate([x1, x1 + np.r_[150.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    t2 = np.concatenate([times1, times1])
    order = np.argsort(t2, kind="stable")
    for x, times, step in ((x1, times1, len(times1)), (x2[order], t2[order], 2)):
        z = measurement_h(x, np.broadcast_to(site, (len(x), 3)), np.full(len(x), KIND_RADAR))
        z[:, 3] = np.nan
        n = len(times)
        cov = np.full((n, 4, 4), np.nan)
        cov[:, :3, :3] = np.diag([100.0**2, 1e-3**2, 1e-3**2])
        batch = ReportBatch(times + 1e9, times + 1e9, np.zeros(n, np.int32), np.zeros(n, np.int8), z, cov,
                            np.broadcast_to(site, (n, 3)).copy(), np.full(n, -1, np.int32), ["warm"], [])
        tr = Tracker()
        for i in range(0, n, step):
            tr.push(batch.take(np.arange(i, min(n, i + step))))
        tr.phase()


def _warm_assessment() -> None:
    """Run the assessment's compiled paths (impact prediction, launch estimate, regions) once."""
    from warnlink.assessment import estimate_launch, predict_impact
    from warnlink.geo.regions import impact_probabilities, overflights

    x, _, P = _warm_states()
    with contextlib.suppress(Exception):
        predict_impact(x[-1:], P[None], [1e9 + 36.0], launch_lat_deg=[40.0], launch_lon_deg=[127.0])
    with contextlib.suppress(Exception):
        estimate_launch(x[2], P, 1e9 + 8.0)
    with contextlib.suppress(Exception):
        impact_probabilities([38.0, 39.0], [134.0, 135.0])
        overflights(np.linspace(40.0, 40.5, 5), np.linspace(127.0, 145.0, 5), np.arange(5.0))


def _warm_fusion() -> None:
    from warnlink.sharing.fusion import align, associate, covariance_intersection

    x, _, P = _warm_states()
    xa, Pa = align(x[:2], np.broadcast_to(P, (2, 6, 6)), [0.0, 0.0], 1.0)
    associate(xa, Pa, xa, Pa)
    covariance_intersection(xa, Pa, xa, Pa)


PRELOAD_MODULES = ("concurrent.futures", "warnlink.alerts", "warnlink.alerts.policy", "warnlink.assessment",
                   "warnlink.assessment.figures", "warnlink.assessment.replay", "warnlink.geo", "warnlink.geo.regions",
                   "warnlink.sensors.reports", "warnlink.sharing.audit", "warnlink.sharing.envelope",
                   "warnlink.sharing.fabric", "warnlink.sharing.fusion", "warnlink.sharing.messages",
                   "warnlink.sharing.releasability", "warnlink.sharing.runtime", "warnlink.tracking.measurement",
                   "warnlink.tracking.models", "warnlink.tracking.tracker")
"""Every module the node's methods import where they first need it: imported before the node says it is ready
(``preload_modules``), since a first import on the event loop holds it up (``warnlink.assessment.replay``, first
needed by a lost object in the middle of a load, held JPN's loop for about 0.35 s)."""


def preload_modules() -> float:
    """Import ``PRELOAD_MODULES``; returns the seconds it took."""
    import importlib

    t0 = time.perf_counter()
    for name in PRELOAD_MODULES:
        importlib.import_module(name)
    return time.perf_counter() - t0


def warm_up(parts: tuple[str, ...] = ("tracker", "assessment", "fusion")) -> float:
    """Run every compiled (Numba) path a node uses once on synthetic data, so that compilation (or loading
    the on-disk cache) happens before the node says it is ready, not in the middle of an event. Returns the
    seconds it took. ``warnlink up`` runs it once in a separate process first, so that the three nodes (and
    their worker processes, which warm up their own parts) load the cache instead of compiling in parallel."""
    t0 = time.perf_counter()
    for part in parts:
        {"tracker": _warm_tracker, "assessment": _warm_assessment, "fusion": _warm_fusion}[part]()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------- process entry
def main(argv: list[str] | None = None) -> int:
    """``python -m warnlink.sharing.node``: run one nation's node until SIGTERM/SIGINT."""
    ap = argparse.ArgumentParser(prog="python -m warnlink.sharing.node", description=__doc__.split("\n")[0])
    ap.add_argument("--warm-up", action="store_true", help="only compile (or load) the Numba paths, then exit")
    ap.add_argument("--nation", choices=NATIONS)
    ap.add_argument("--state", help="runtime state directory (fabric/, keys/, nodes/)")
    ap.add_argument("--fabric", default=None, help="fabric state directory (default STATE/fabric)")
    ap.add_argument("--keys", default=None, help="signing key directory (default STATE/keys)")
    ap.add_argument("--mode", default="live", choices=("live", "exercise", "test"))
    ap.add_argument("--assess-interval", type=float, default=0.5)
    ap.add_argument("--snapshot-interval", type=float, default=0.5)
    args = ap.parse_args(argv)
    if args.warm_up:
        print(f"warm-up: {warm_up():.2f} s")
        return 0
    if not args.nation or not args.state:
        ap.error("--nation and --state are required")
    d = node_dir(args.state, args.nation)
    d.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=[logging.FileHandler(d / "node.log")])
    (d / "node.pid").write_text(f"{os.getpid()}\n")
    fault_log = open(d / "faults.log", "a")
    faulthandler.register(signal.SIGUSR1, file=fault_log, all_threads=True)  # `kill -USR1 <pid>`: stack dump
    node = NationalNode(args.nation, args.state, fabric_dir=args.fabric, keys_dir=args.keys, mode=args.mode,
                        assess_interval_s=args.assess_interval, snapshot_interval_s=args.snapshot_interval)

    async def runner():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, node.stop)
        await node.run()

    prof = None
    if os.environ.get("WARNLINK_NODE_PROFILE"):  # a directory: cProfile of the node, <dir>/<NATION>.prof on exit
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    try:
        asyncio.run(runner())
    except Exception:
        log.exception("node %s failed", args.nation)
        return 1
    finally:
        if prof is not None:
            prof.disable()
            prof.dump_stats(str(Path(os.environ["WARNLINK_NODE_PROFILE"]) / f"{args.nation}.prof"))
        with contextlib.suppress(OSError):
            (d / "node.pid").unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
