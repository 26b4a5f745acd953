"""The message vocabulary (DESIGN section 6): typed, validated, versioned ``msgspec`` structs.

Every message is a frozen struct with a version field ``v`` and a ``type`` tag, so one decoder reads any of
them (a tagged union); unknown fields, wrong types, non-finite numbers (NaN, inf), out-of-range latitudes or
longitudes, over-long strings and lists, and covariances that cannot be positive semi-definite are rejected
on decode with the path of the offending field (``... - at `$.state[2]```).

Conventions (chosen once here, for every message):

* **Time** is UTC as POSIX seconds (``float``, seconds since 1970-01-01T00:00:00Z, leap seconds not
  counted): cheap to compare and subtract, 0.24 microsecond resolution today, no parsing on the hot path.
  Every message carries ``time``, the instant its content is valid for; the envelope adds the send time.
  ISO 8601 text appears only at the edges (CLI, CAP, reports): ``to_iso``/``from_iso`` convert.
* **States** are ECEF WGS-84, metres and m/s. **Geodetic points** are latitude/longitude in degrees
  (longitude in [-180, 180]) and height above the ellipsoid in metres: the unit is in every field name.
* **Covariances** travel as the row-major upper triangle of the symmetric matrix (``n(n+1)/2`` numbers: 21 for
  a 6x6 state), which is symmetric by construction and 42% smaller than the full matrix; ``pack_cov`` and
  ``unpack_cov`` convert. The decode-time check is cheap (every diagonal element >= 0 and every 2x2 principal
  minor >= 0, a necessary condition for PSD); ``pack_cov`` checks the full condition (eigenvalues) at the
  origin.
* **Exercise marking**: every message states ``exercise`` explicitly (no default), and the envelope's flag must
  agree with it.

Kind ``track`` also carries a ``TrackBatch``: the tracks of one release (a tracking push, the hub's fused
tracks of one pass) in one message, so that one envelope, one signature and one acknowledgement serve all of
them; a receiver applies each track as if it came alone (``batch_tracks``).

``SensorReport`` never leaves its nation (enforced by the releasability policy). ``Alert`` is defined by
``warnlink.alerts.model``; it joins the union through ``register_payload`` (done lazily and automatically
when that module exists; see ``payload_types``).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import math
import warnings
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
from msgspec import Meta, Struct

SCHEMA_VERSION = 1
"""Version of this vocabulary; a receiver rejects messages with a higher ``v``."""
NATIONS = ("KOR", "JPN", "USA")
KINDS = ("report", "track", "launch", "assessment", "alert")
"""Message kinds; the kind is also the subject's last fixed token (see ``releasability``)."""
ALERT_MODULE = "warnlink.alerts.model"

Nation = Literal["KOR", "JPN", "USA"]
Kind = Literal["report", "track", "launch", "assessment", "alert"]
Version = Annotated[int, Meta(ge=1, le=SCHEMA_VERSION)]
Id = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+\Z")]
"""Object/event/message ids: letters, digits, ``_`` and ``-`` (UUIDv7 recommended); also a valid subject token."""
Name = Annotated[str, Meta(min_length=1, max_length=128)]
UnixTime = Annotated[float, Meta(ge=0.0, le=4_102_444_800.0)]
"""UTC POSIX seconds, 1970-01-01 .. 2100-01-01 (NaN and inf fail the bounds)."""
Finite = Annotated[float, Meta(ge=-1e15, le=1e15)]
PosM = Annotated[float, Meta(ge=-1e8, le=1e8)]
VelMS = Annotated[float, Meta(ge=-1e5, le=1e5)]
CovElem = Annotated[float, Meta(ge=-1e30, le=1e30)]
NonNegM = Annotated[float, Meta(ge=0.0, le=1e8)]
NonNegS = Annotated[float, Meta(ge=0.0, le=1e6)]
Prob = Annotated[float, Meta(ge=0.0, le=1.0)]
LatDeg = Annotated[float, Meta(ge=-90.0, le=90.0)]
LonDeg = Annotated[float, Meta(ge=-180.0, le=180.0)]
AltM = Annotated[float, Meta(ge=-1.2e4, le=1e8)]
Cov3 = Annotated[tuple[CovElem, ...], Meta(min_length=6, max_length=6)]
Cov6 = Annotated[tuple[CovElem, ...], Meta(min_length=21, max_length=21)]
TrackStatus = Literal["tentative", "confirmed", "coasting", "deleted"]
FlightPhase = Literal["boost", "midcourse", "terminal", "unknown"]
ObjectKind = Literal["warhead", "stage", "debris", "unknown"]
MAX_REGIONS = 64


# ---------------------------------------------------------------------------------------------- helpers
def to_iso(t: float) -> str:
    """POSIX seconds -> ISO 8601 UTC text (microseconds, ``Z``)."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def from_iso(text: str) -> float:
    """ISO 8601 text (must state its offset, e.g. ``Z``) -> POSIX seconds."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if dt.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset; write e.g. 2023-12-19T00:00:00Z")
    return dt.timestamp()


def _tri_diag(n: int) -> list[int]:
    """Positions of the diagonal elements in the row-major upper triangle of an n x n matrix."""
    out, k = [], 0
    for i in range(n):
        out.append(k)
        k += n - i
    return out


def _tri_pairs(n: int) -> tuple[tuple[int, int, int, int, int], ...]:
    """(i, j, position of [i,j], position of [i,i], position of [j,j]) for every i < j, packed row-major."""
    d = _tri_diag(n)
    return tuple((i, j, d[i] + j - i, d[i], d[j]) for i in range(n) for j in range(i + 1, n))


_TRI = {n: (_tri_diag(n), _tri_pairs(n)) for n in (1, 2, 3, 4, 6)}


def tri_size(n: int) -> int:
    """Number of elements in the upper triangle of an n x n matrix."""
    return n * (n + 1) // 2


def check_cov(flat, n: int, name: str = "cov") -> None:
    """Cheap PSD plausibility check of a packed (row-major upper-triangle) covariance, pure Python.

    Requires ``len(flat) == n(n+1)/2``, every variance >= 0 and every correlation within [-1, 1] (each 2x2
    principal minor >= 0, with a relative slack of 1e-9). Raises ``ValueError`` naming ``name`` and the element.
    """
    if len(flat) != n * (n + 1) // 2:
        raise ValueError(f"{name}: expected {tri_size(n)} upper-triangle elements of a {n}x{n} matrix, got {len(flat)}")
    diag, pairs = _TRI.get(n) or (_tri_diag(n), _tri_pairs(n))
    for i, k in enumerate(diag):
        if not flat[k] >= 0.0:
            raise ValueError(f"{name}: variance [{i},{i}] = {flat[k]!r} is negative; the covariance is not PSD")
    for i, j, k, a, b in pairs:
        c = flat[k]
        if c * c > flat[a] * flat[b] * 1.000000001 + 1e-300:
            raise ValueError(f"{name}: element [{i},{j}] = {c!r} exceeds sqrt(P[{i},{i}] P[{j},{j}]); "
                             "the covariance is not PSD")


@functools.lru_cache(maxsize=16)
def _triu(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n)


@functools.lru_cache(maxsize=16)
def _tri_full(n: int) -> np.ndarray:
    """(n, n) index of each element of the full symmetric matrix in its packed upper triangle."""
    idx = np.empty((n, n), np.intp)
    iu = _triu(n)
    idx[iu] = np.arange(tri_size(n))
    idx.T[iu] = np.arange(tri_size(n))
    return idx


def pack_cov(P, name: str = "cov") -> tuple[float, ...]:
    """Symmetric PSD matrix (n x n array-like) -> its row-major upper triangle as a tuple of floats.

    Checks at the origin what the cheap decode-time check cannot: finiteness, symmetry (relative 1e-9) and
    that the smallest eigenvalue is >= -1e-9 times the largest. Raises ``ValueError`` naming ``name``.
    """
    P = np.asarray(P, dtype=float)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError(f"{name}: contains NaN or inf")
    scale = max(float(np.max(np.abs(P))), 1e-300)
    if np.max(np.abs(P - P.T)) > 1e-9 * scale:
        raise ValueError(f"{name}: not symmetric (max |P - P^T| = {np.max(np.abs(P - P.T)):.3g})")
    w = np.linalg.eigvalsh(0.5 * (P + P.T))
    if w[0] < -1e-9 * max(w[-1], 1e-300):
        raise ValueError(f"{name}: not positive semi-definite (smallest eigenvalue {w[0]:.3g})")
    return tuple(P[_triu(P.shape[0])].tolist())


def pack_covs(P, name: str = "cov") -> list[tuple[float, ...] | ValueError]:
    """``pack_cov`` of a stack of matrices (k, n, n) in one vectorised pass (the same checks); per matrix the
    packed tuple, or the ``ValueError`` that ``pack_cov`` would raise for it."""
    P = np.asarray(P, dtype=float)
    if P.ndim != 3 or P.shape[1] != P.shape[2]:
        raise ValueError(f"{name}: expected a stack of square matrices, got shape {P.shape}")
    if not len(P):
        return []
    finite = np.isfinite(P).all(axis=(1, 2))
    Pf = np.where(finite[:, None, None], P, 0.0)
    scale = np.maximum(np.abs(Pf).max(axis=(1, 2)), 1e-300)
    sym = np.abs(Pf - np.swapaxes(Pf, 1, 2)).max(axis=(1, 2)) <= 1e-9 * scale
    w = np.linalg.eigvalsh(0.5 * (Pf + np.swapaxes(Pf, 1, 2)))
    psd = w[:, 0] >= -1e-9 * np.maximum(w[:, -1], 1e-300)
    flat = P[:, _triu(P.shape[1])[0], _triu(P.shape[1])[1]].tolist()
    out: list = []
    for k in range(len(P)):
        if finite[k] and sym[k] and psd[k]:
            out.append(tuple(flat[k]))
        else:  # the single-matrix check names the problem
            try:
                out.append(pack_cov(P[k], name))
            except ValueError as exc:
                out.append(exc)
    return out


def unpack_cov(flat, n: int) -> np.ndarray:
    """Row-major upper triangle -> the full symmetric n x n matrix."""
    if len(flat) != tri_size(n):
        raise ValueError(f"expected {tri_size(n)} upper-triangle elements of a {n}x{n} matrix, got {len(flat)}")
    return np.asarray(flat, dtype=float)[_tri_full(n)]


def unpack_covs(flats, n: int) -> np.ndarray:
    """``unpack_cov`` of k packed matrices ((k, n(n+1)/2) array-like) in one pass: (k, n, n)."""
    F = np.asarray(flats, dtype=float) if len(flats) else np.zeros((0, tri_size(n)))
    if F.ndim != 2 or F.shape[1] != tri_size(n):
        raise ValueError(f"expected k x {tri_size(n)} upper-triangle elements of {n}x{n} matrices, got {F.shape}")
    return F[:, _tri_full(n)]


# ---------------------------------------------------------------------------------------------- parts
class _Part(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, gc=False):
    """Base of nested parts (no tag, no version)."""


class GeoPoint(_Part, kw_only=True):
    """A geodetic point: latitude and longitude [deg], height above the WGS-84 ellipsoid [m]."""

    lat_deg: LatDeg
    lon_deg: LonDeg
    alt_m: AltM = 0.0


class Ellipse(_Part, kw_only=True):
    """A confidence ellipse on the ground: semi-axes [m], orientation of the major axis [deg from north,
    clockwise, in [0, 180)], and the confidence level it is drawn at (0.95 unless stated)."""

    semi_major_m: NonNegM
    semi_minor_m: NonNegM
    orientation_deg: Annotated[float, Meta(ge=0.0, lt=180.0)]
    confidence: Annotated[float, Meta(gt=0.0, lt=1.0)] = 0.95

    def __post_init__(self):
        if self.semi_minor_m > self.semi_major_m:
            raise ValueError(f"ellipse: semi_minor_m ({self.semi_minor_m}) > semi_major_m ({self.semi_major_m})")


class RegionProbability(_Part, kw_only=True):
    """A region (land territory, EEZ; named as in ``warnlink.geo`` regions) and a probability in [0, 1]."""

    region: Name
    probability: Prob


# ---------------------------------------------------------------------------------------------- messages
class Message(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, tag_field="type", gc=False):
    """Base of every message: version ``v`` and the ``type`` tag (set by each subclass)."""

    v: Version = SCHEMA_VERSION


class SensorReport(Message, tag="report", kw_only=True):
    """One detection (never leaves its nation). Radar: ``measurement`` = range [m], azimuth [rad from north,
    clockwise], elevation [rad] and optionally range-rate [m/s]; infrared: the two line-of-sight angles [rad]
    in the satellite's nadir frame. ``cov`` is the packed measurement covariance in the same units."""

    id: Id
    nation: Nation
    sensor_id: Name
    sensor_kind: Literal["radar", "ir"]
    time: UnixTime
    measurement: Annotated[tuple[Finite, ...], Meta(min_length=2, max_length=4)]
    cov: Annotated[tuple[CovElem, ...], Meta(min_length=3, max_length=10)]
    sensor_pos_ecef_m: tuple[PosM, PosM, PosM]
    exercise: bool

    def __post_init__(self):
        m = len(self.measurement)
        if self.sensor_kind == "radar" and m not in (3, 4):
            raise ValueError(f"measurement: a radar report has 3 or 4 components (range, az, el[, rdot]), got {m}")
        if self.sensor_kind == "ir" and m != 2:
            raise ValueError(f"measurement: an infrared report has 2 line-of-sight angles, got {m}")
        check_cov(self.cov, m, "cov")


class Track(Message, tag="track", kw_only=True):
    """A tracked object: ECEF state ``[x, y, z, vx, vy, vz]`` [m, m/s] valid at ``time`` with its packed 6x6
    covariance (21 numbers), track status and estimated flight phase. ``event_id`` links it to its launch."""

    id: Id
    origin: Nation
    time: UnixTime
    state: tuple[PosM, PosM, PosM, VelMS, VelMS, VelMS]
    cov: Cov6
    status: TrackStatus
    phase: FlightPhase
    exercise: bool
    event_id: Id | None = None

    def __post_init__(self):
        check_cov(self.cov, 6, "cov")

    def covariance(self) -> np.ndarray:
        """The 6x6 covariance matrix [m^2, m^2/s, m^2/s^2]."""
        return unpack_cov(self.cov, 6)

    @classmethod
    def from_arrays(cls, *, id: str, origin: str, time: float, x, P, status: str, phase: str, exercise: bool,
                    event_id: str | None = None) -> Track:
        """Build a Track from a state vector (6,) and a full covariance (6, 6), checking both."""
        x = np.asarray(x, dtype=float)
        if x.shape != (6,) or not np.all(np.isfinite(x)):
            raise ValueError(f"x: expected 6 finite numbers, got shape {x.shape}")
        return cls(id=id, origin=origin, time=float(time), state=tuple(x.tolist()), cov=pack_cov(P, "P"),
                   status=status, phase=phase, exercise=exercise, event_id=event_id)


class LaunchEvent(Message, tag="launch", kw_only=True):
    """A new launch. ``event_id`` is the launch's stable identity (shared by every later estimate, track and
    assessment of it); ``id`` identifies this estimate. The launch point's uncertainty is a packed 3x3 ENU
    covariance [m^2] (east, north, up at the point); the launch time's is a standard deviation [s]."""

    id: Id
    event_id: Id
    origin: Nation
    time: UnixTime
    first_detection: UnixTime
    launch_point: GeoPoint
    launch_time: UnixTime
    launch_point_cov_enu_m2: Cov3
    launch_time_sigma_s: NonNegS
    exercise: bool

    def __post_init__(self):
        check_cov(self.launch_point_cov_enu_m2, 3, "launch_point_cov_enu_m2")


class Assessment(Message, tag="assessment", kw_only=True):
    """The assessment of one object (``object_id``, usually a track id) of a launch (``event_id``): launch
    point and time, predicted impact point and time with its confidence ellipse (95% unless stated), apogee
    and ground range [m], missile class, object kind, threatened regions and overflown regions with
    probabilities, and an overall confidence in [0, 1]."""

    id: Id
    event_id: Id
    object_id: Id
    origin: Nation
    time: UnixTime
    launch_point: GeoPoint
    launch_time: UnixTime
    impact_point: GeoPoint
    impact_time: UnixTime
    impact_ellipse: Ellipse
    apogee_m: NonNegM
    range_m: NonNegM
    missile_class: Name
    object_kind: ObjectKind
    threatened: Annotated[tuple[RegionProbability, ...], Meta(max_length=MAX_REGIONS)] = ()
    overflights: Annotated[tuple[RegionProbability, ...], Meta(max_length=MAX_REGIONS)] = ()
    confidence: Prob
    exercise: bool

    def __post_init__(self):
        if self.impact_time < self.launch_time:
            raise ValueError(f"impact_time ({self.impact_time}) is before launch_time ({self.launch_time})")


MAX_BATCH_TRACKS = 100
"""Most tracks in one ``TrackBatch`` (100 of the largest tracks, about 500 bytes each, fit the envelope's 64 KiB)."""


def _check_batch(batch, items: tuple, name: str, what: str, key: str, key_name: str) -> None:
    """A batch's items share its origin and marking, are unique by ``key``, and its time is the newest item's
    (``ValueError`` naming the item: ``name[k]``)."""
    ids = set()
    for k, m in enumerate(items):
        if m.origin != batch.origin:
            raise ValueError(f"{name}[{k}]: origin {m.origin} but the batch's origin is {batch.origin}")
        if m.exercise != batch.exercise:
            raise ValueError(f"{name}[{k}]: exercise={m.exercise} but the batch's exercise={batch.exercise}")
        v = getattr(m, key)
        if v in ids:
            raise ValueError(f"{name}[{k}]: {key_name} {v!r} appears twice in the batch")
        ids.add(v)
    newest = max(m.time for m in items)
    if batch.time != newest:
        raise ValueError(f"time: {batch.time} but the newest {what}'s time is {newest}")


def _batch_of(cls, items, name: str, what: str):
    """The batch ``cls`` of ``items`` (a non-empty sequence of one origin and marking) in its field ``name``."""
    items = tuple(items)
    if not items:
        raise ValueError(f"{name}: a batch needs at least one {what}")
    return cls(origin=items[0].origin, time=max(m.time for m in items), exercise=items[0].exercise, **{name: items})


class TrackBatch(Message, tag="tracks", kw_only=True):
    """The tracks of one release (an ally's tracking push, the hub's fused system tracks of one pass) in one
    message of kind ``track``: one signature, one envelope, one acknowledgement for all of them. Every track
    has the batch's ``origin`` and ``exercise`` marking, ids are unique within the batch, and ``time`` (the
    envelope's valid time) is the newest track's time. A receiver applies each track as if it came alone."""

    origin: Nation
    time: UnixTime
    exercise: bool
    tracks: Annotated[tuple[Track, ...], Meta(min_length=1, max_length=MAX_BATCH_TRACKS)]

    def __post_init__(self):
        _check_batch(self, self.tracks, "tracks", "track", "id", "track id")

    @classmethod
    def of(cls, tracks) -> TrackBatch:
        """The batch of ``tracks`` (a non-empty sequence of ``Track`` of one origin and marking)."""
        return _batch_of(cls, tracks, "tracks", "track")


def batch_tracks(payload: Any) -> tuple[Track, ...]:
    """The tracks a payload of kind ``track`` carries: a ``TrackBatch``'s tracks, or the one ``Track``."""
    return payload.tracks if type(payload) is TrackBatch else (payload,)


MAX_BATCH_ASSESSMENTS = 64
"""Most assessments in one ``AssessmentBatch``. A sender also keeps the batch's encoded size under the envelope's
64 KiB (``ASSESSMENT_BATCH_BYTES``): a typical assessment is about 700 bytes encoded, but one naming 128 regions of
128-character names is about 20 KiB."""

ASSESSMENT_BATCH_BYTES = 56 * 1024
"""Most encoded payload bytes a sender puts in one ``AssessmentBatch`` (the envelope's limit less room for its
own fields)."""


class AssessmentBatch(Message, tag="assessments", kw_only=True):
    """The assessments of one assessment round (every object whose picture changed since the last round) in one
    message of kind ``assessment``: one signature, one envelope, one acknowledgement for all of them. Every
    assessment has the batch's ``origin`` and ``exercise`` marking, object ids are unique within the batch, and
    ``time`` (the envelope's valid time) is the newest assessment's time. A receiver applies each assessment as
    if it came alone."""

    origin: Nation
    time: UnixTime
    exercise: bool
    assessments: Annotated[tuple[Assessment, ...], Meta(min_length=1, max_length=MAX_BATCH_ASSESSMENTS)]

    def __post_init__(self):
        _check_batch(self, self.assessments, "assessments", "assessment", "object_id", "object id")

    @classmethod
    def of(cls, assessments) -> AssessmentBatch:
        """The batch of ``assessments`` (a non-empty sequence of ``Assessment`` of one origin and marking)."""
        return _batch_of(cls, assessments, "assessments", "assessment")


def batch_assessments(payload: Any) -> tuple[Assessment, ...]:
    """The assessments a payload of kind ``assessment`` carries: an ``AssessmentBatch``'s, or the one
    ``Assessment``."""
    return payload.assessments if type(payload) is AssessmentBatch else (payload,)


# ---------------------------------------------------------------------------------------------- registry
_TYPES: dict[str, type] = {"report": SensorReport, "track": Track, "launch": LaunchEvent, "assessment": Assessment}
_KIND_OF: dict[type, str] = {cls: kind for kind, cls in _TYPES.items()}
_KIND_OF[TrackBatch] = "track"
_KIND_OF[AssessmentBatch] = "assessment"
_ALSO: dict[str, tuple[type, ...]] = {"track": (TrackBatch,), "assessment": (AssessmentBatch,)}
"""Further payload types a kind accepts beside its registered type (decoded as a tagged union)."""
_DECODERS: dict[str, msgspec.msgpack.Decoder] = {}
_union_decoder: msgspec.msgpack.Decoder | None = None
_alert_resolved = False
_encoder = msgspec.msgpack.Encoder()


def register_payload(kind: str, cls: type) -> None:
    """Register ``cls`` as the payload type of message kind ``kind`` (the hook by which ``Alert`` joins).

    ``cls`` must be a ``msgspec.Struct``. Payloads are decoded with the type of the envelope's kind, so a tag
    is not required; a tagged type must use ``tag_field="type"`` and a tag no other registered type uses
    (tagged types can also be decoded without knowing the kind, ``decode_payload(data)``).
    """
    global _union_decoder
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r} (expected one of {', '.join(KINDS)})")
    if not (isinstance(cls, type) and issubclass(cls, Struct)):
        raise TypeError(f"payload type for {kind!r} must be a msgspec.Struct subclass, got {cls!r}")
    cfg = cls.__struct_config__
    if cfg.tag is not None:
        if cfg.tag_field != "type":
            raise TypeError(f"{cls.__qualname__} is tagged on {cfg.tag_field!r}; payload tags use the field 'type'")
        for other_kind, other in _TYPES.items():
            if other is not cls and other_kind != kind and other.__struct_config__.tag == cfg.tag:
                raise TypeError(f"tag {cfg.tag!r} of {cls.__qualname__} is already used by {other.__qualname__}")
    old = _TYPES.get(kind)
    if old is not None:
        _KIND_OF.pop(old, None)
    for extra in _ALSO.pop(kind, ()):
        _KIND_OF.pop(extra, None)
    _TYPES[kind] = cls
    _KIND_OF[cls] = kind
    _DECODERS.pop(kind, None)
    _union_decoder = None


def _resolve_alert() -> None:
    """Register ``warnlink.alerts.model.Alert`` for kind ``alert`` if that module exists (once, lazily, so
    either module may import the other first)."""
    global _alert_resolved
    if _alert_resolved:
        return
    _alert_resolved = True
    if "alert" in _TYPES:
        return
    try:
        spec = importlib.util.find_spec(ALERT_MODULE)
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return
    alert = getattr(importlib.import_module(ALERT_MODULE), "Alert", None)
    if alert is None:
        warnings.warn(f"{ALERT_MODULE} defines no Alert; alert messages cannot be shared", RuntimeWarning,
                      stacklevel=3)
        return
    try:
        register_payload("alert", alert)
    except TypeError as exc:
        warnings.warn(f"{ALERT_MODULE}.Alert cannot be shared: {exc}", RuntimeWarning, stacklevel=3)


def payload_types() -> dict[str, type]:
    """Message kind -> payload struct type, for every registered kind (``Alert`` once it is available)."""
    _resolve_alert()
    return dict(_TYPES)


def kind_of(payload: Any) -> str:
    """The message kind of a payload instance; ``TypeError`` if its type is not registered."""
    kind = _KIND_OF.get(type(payload))
    if kind is None:
        _resolve_alert()
        kind = _KIND_OF.get(type(payload))
        if kind is None:
            raise TypeError(f"{type(payload).__qualname__} is not a registered message type "
                            f"(registered: {', '.join(c.__qualname__ for c in _TYPES.values())})")
    return kind


def payload_decoder(kind: str | None = None) -> msgspec.msgpack.Decoder:
    """A msgpack decoder for the payload type of ``kind`` (with the further types it accepts: kind ``track``
    also reads a ``TrackBatch``), or (``kind=None``) for the tagged union of every
    registered tagged type. ``KeyError`` for a kind with no registered type."""
    global _union_decoder
    _resolve_alert()
    if kind is not None:
        dec = _DECODERS.get(kind)
        if dec is None:
            t = _TYPES[kind]
            for extra in _ALSO.get(kind, ()):
                t = t | extra
            dec = _DECODERS[kind] = msgspec.msgpack.Decoder(t)
        return dec
    if _union_decoder is None:
        tagged = [t for t in (*_TYPES.values(), *(x for xs in _ALSO.values() for x in xs))
                  if t.__struct_config__.tag is not None]
        union = tagged[0]
        for t in tagged[1:]:
            union = union | t
        _union_decoder = msgspec.msgpack.Decoder(union)
    return _union_decoder


def encode_payload(payload: Struct) -> bytes:
    """A payload struct as msgpack bytes (map form; tagged types carry their ``type`` tag)."""
    return _encoder.encode(payload)


def decode_payload(data: bytes, kind: str | None = None) -> Struct:
    """Msgpack bytes -> the payload struct of ``kind`` (or of whichever tagged type the ``type`` tag names).
    ``msgspec.ValidationError``/``DecodeError`` name the bad field's path; ``KeyError`` for an unknown kind."""
    return payload_decoder(kind).decode(data)


def identify_payload(data: bytes) -> str | None:
    """The first registered kind whose type decodes ``data`` without error, or None (diagnostics only)."""
    for kind in payload_types():
        try:
            payload_decoder(kind).decode(data)
        except (msgspec.MsgspecError, ValueError, TypeError):
            continue
        return kind
    return None


def payload_origin(payload: Any) -> str | None:
    """The nation a payload says it comes from (``origin``, or ``nation`` for a ``SensorReport``), or None."""
    if type(payload) is SensorReport:
        return payload.nation
    origin = getattr(payload, "origin", None)
    return origin if isinstance(origin, str) else None


def payload_exercise(payload: Any) -> bool:
    """The exercise marking of a payload: its ``exercise`` flag, or for a payload with a CAP-like ``status``
    (actual / exercise / test ...) True unless the status is ``actual``. ``ValueError`` when it has neither."""
    ex = getattr(payload, "exercise", None)
    if isinstance(ex, bool):
        return ex
    status = getattr(payload, "status", None)
    if status is not None:
        value = getattr(status, "value", status)
        if isinstance(value, str):
            return value.lower() != "actual"
    raise ValueError(f"{type(payload).__qualname__} carries no exercise marking (an 'exercise' bool or a 'status')")


def payload_time(payload: Any) -> float | None:
    """The valid time of a payload (its ``time``, or ``valid_at``, as POSIX seconds), or None if it has none."""
    t = getattr(payload, "time", None)
    if t is None:
        t = getattr(payload, "valid_at", None)
    if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t):
        return float(t)
    if isinstance(t, datetime):
        return t.timestamp()
    return None
