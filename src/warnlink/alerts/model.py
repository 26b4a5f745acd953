"""The ``Alert`` message: one per nation and threatened object, issued, updated and cancelled as a chain.

A typed, versioned, frozen ``msgspec`` struct. Decoding JSON checks every field's type and range and names
the field's path in the error (``$.impact.lat_deg``); the cross-field rules below are checked on decoding
*and* on construction in Python (``__post_init__``):

- **Exercise marking** (defence in depth, layer 1 of 3): ``exercise=True`` if and only if ``status`` is
  ``"Exercise"``; an exercise alert can never carry ``"Actual"``. The headline of an exercise alert starts
  with ``EXERCISE`` and of a test alert with ``TEST``, so a display that shows only the headline still
  shows the marking (Hawaii, 13 Jan 2018: a drill message sent as real).
- **Chain**: an ``Alert`` has no references; an ``Update`` or ``Cancel`` references every earlier
  message of its chain (id and sent time, enough for CAP's ``sender,identifier,sent``); a ``Cancel``
  states its ``reason``.
- **Times** are timezone-aware UTC.

Units: degrees for positions (this message is an edge, read by people and CAP), metres for the ellipse
semi-axes, probabilities in [0, 1].
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

SCHEMA_VERSION = 1
"""Version of the ``Alert`` vocabulary; a message with another ``version`` is rejected on decoding."""

STATUSES = ("Actual", "Exercise", "Test")
MSG_TYPES = ("Alert", "Update", "Cancel")
KINDS = ("warhead", "unknown", "stage", "debris")
"""Object kinds an assessment may report; only ``warhead`` and ``unknown`` can ever raise an alert."""
CANCEL_REASONS = ("track_lost", "stale", "reclassified", "below_threshold")
"""Why a chain was cancelled: track reported lost, no update within the staleness limit, the object
re-classified as a stage or debris, the probabilities fell below the release thresholds."""

Status = Literal["Actual", "Exercise", "Test"]
MsgType = Literal["Alert", "Update", "Cancel"]
Kind = Literal["warhead", "unknown", "stage", "debris"]
CancelReason = Literal["track_lost", "stale", "reclassified", "below_threshold"]

_UUID7_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_UUID7 = re.compile(_UUID7_RE)
AlertId = Annotated[str, Meta(pattern=_UUID7_RE)]
Nation = Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
ObjectId = Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^[^\s\x00-\x1f\x7f]+$")]
RegionName = Annotated[str, Meta(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")]
Probability = Annotated[float, Meta(ge=0.0, le=1.0)]
Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, Meta(ge=-180.0, le=180.0)]
SemiAxisM = Annotated[float, Meta(ge=0.0, le=2.0e7)]


class AlertError(ValueError):
    """An alert message that cannot be used; the message names the field."""


def _utc(name: str, value: datetime | None) -> None:
    if value is None:
        return
    if not isinstance(value, datetime):
        raise ValueError(f"{name}: expected a datetime, got {type(value).__name__}")
    off = value.utcoffset()
    if off is None:
        raise ValueError(f"{name}: time must be timezone-aware UTC (e.g. 2022-10-04T22:27:00Z), got a naive time")
    if off != timedelta(0):
        raise ValueError(f"{name}: time must be UTC (offset +00:00), got offset {off}")


class Reference(Struct, frozen=True, forbid_unknown_fields=True):
    """An earlier message of the same chain: its id and sent time (CAP references it as sender,id,sent)."""

    id: AlertId
    sent: datetime

    def __post_init__(self):
        if not isinstance(self.id, str) or not _UUID7.match(self.id):
            raise ValueError(f"references.id: {self.id!r} is not a UUIDv7 string")
        _utc("references.sent", self.sent)


class ImpactArea(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Predicted impact point and its confidence ellipse on the ground.

    ``orientation_deg`` is the azimuth of the semi-major axis, from north, clockwise [deg].
    ``confidence`` is the probability mass inside the ellipse (0.95 for the 95% ellipse).
    """

    lat_deg: Lat
    lon_deg: Lon
    semi_major_m: SemiAxisM
    semi_minor_m: SemiAxisM
    orientation_deg: Annotated[float, Meta(ge=-360.0, le=360.0)]
    confidence: Annotated[float, Meta(gt=0.0, lt=1.0)] = 0.95

    def __post_init__(self):
        for name in ("lat_deg", "lon_deg", "semi_major_m", "semi_minor_m", "orientation_deg", "confidence"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or v != v or v in (float("inf"), -float("inf")):
                raise ValueError(f"impact.{name}: expected a finite number, got {v!r}")
        if not -90.0 <= self.lat_deg <= 90.0 or not -180.0 <= self.lon_deg <= 180.0:
            raise ValueError(f"impact: lat/lon out of range ({self.lat_deg}, {self.lon_deg})")
        if not 0.0 <= self.semi_minor_m <= self.semi_major_m:
            raise ValueError(f"impact.semi_minor_m: must be in [0, semi_major_m={self.semi_major_m}], "
                             f"got {self.semi_minor_m}")


class Alert(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A warning message for one nation about one object: issue (``Alert``), ``Update`` or ``Cancel``.

    ``regions`` are the nation's regions (e.g. ``JPN_land``, ``JPN_eez``) whose impact probability passed
    the policy's threshold; ``probability`` is the probability of impact in any of the nation's (disjoint)
    land and EEZ regions, their sum.
    ``overflight_regions``/``overflight_probability`` likewise for overflight. ``valid_at`` is the time the
    content is valid for, ``sent`` the time the message was issued (both UTC).
    """

    version: Literal[1] = SCHEMA_VERSION
    id: AlertId
    nation: Nation
    status: Status
    msg_type: MsgType
    references: tuple[Reference, ...] = ()
    sent: datetime
    valid_at: datetime
    event_id: ObjectId
    object_id: ObjectId
    object_kind: Kind
    regions: tuple[RegionName, ...] = ()
    probability: Probability = 0.0
    overflight_regions: tuple[RegionName, ...] = ()
    overflight_probability: Probability = 0.0
    overflight_start: datetime | None = None
    overflight_end: datetime | None = None
    impact_time: datetime | None = None
    impact: ImpactArea | None = None
    headline: Annotated[str, Meta(min_length=1, max_length=160)]
    description: Annotated[str, Meta(max_length=4000)] = ""
    reason: CancelReason | None = None
    exercise: bool
    """True when the content derives from exercise data (or the node runs in exercise mode)."""

    def __post_init__(self):
        _check_alert(self)


def _check_alert(a: Alert) -> None:
    """Cross-field rules (also run on construction, where msgspec checks no types)."""
    if type(a.exercise) is not bool:
        raise ValueError(f"exercise: must be true or false, got {a.exercise!r}")
    if a.status not in STATUSES:
        raise ValueError(f"status: must be one of {', '.join(STATUSES)}, got {a.status!r}")
    if a.msg_type not in MSG_TYPES:
        raise ValueError(f"msg_type: must be one of {', '.join(MSG_TYPES)}, got {a.msg_type!r}")
    if a.exercise and a.status != "Exercise":
        raise ValueError(f"status: an exercise alert (exercise=true) must have status 'Exercise', not {a.status!r}")
    if a.status == "Exercise" and not a.exercise:
        raise ValueError("exercise: an alert with status 'Exercise' must have exercise=true")
    if not isinstance(a.id, str) or not _UUID7.match(a.id):
        raise ValueError(f"id: {a.id!r} is not a UUIDv7 string")
    if a.version != SCHEMA_VERSION:
        raise ValueError(f"version: unsupported version {a.version!r} (this is version {SCHEMA_VERSION})")
    if not isinstance(a.headline, str) or not a.headline:
        raise ValueError("headline: must be a non-empty string")
    marker = {"Exercise": "EXERCISE", "Test": "TEST"}.get(a.status)
    if marker and not a.headline.startswith(marker):
        raise ValueError(f"headline: a {a.status} alert's headline must start with {marker!r}, got {a.headline!r}")
    if a.object_kind not in KINDS:
        raise ValueError(f"object_kind: must be one of {', '.join(KINDS)}, got {a.object_kind!r}")
    for name in ("sent", "valid_at", "overflight_start", "overflight_end", "impact_time"):
        _utc(name, getattr(a, name))
    if a.overflight_start and a.overflight_end and a.overflight_end < a.overflight_start:
        raise ValueError("overflight_end: earlier than overflight_start")
    ids = [r.id for r in a.references]
    if len(set(ids)) != len(ids):
        raise ValueError("references: duplicate ids")
    if a.id in ids:
        raise ValueError("references: an alert cannot reference itself")
    if any(r.sent > a.sent for r in a.references):
        raise ValueError("references: a referenced message was sent after this one")
    if a.msg_type == "Alert":
        if a.references:
            raise ValueError("references: a new Alert references no earlier message (use Update or Cancel)")
        if a.reason is not None:
            raise ValueError("reason: only a Cancel states a reason")
    else:
        if not a.references:
            raise ValueError(f"references: an {a.msg_type} must reference the earlier messages of its chain")
        if a.msg_type == "Cancel" and a.reason not in CANCEL_REASONS:
            raise ValueError(f"reason: a Cancel must state one of {', '.join(CANCEL_REASONS)}, got {a.reason!r}")
        if a.msg_type == "Update" and a.reason is not None:
            raise ValueError("reason: only a Cancel states a reason")
    if a.msg_type != "Cancel":
        if not a.regions and not a.overflight_regions:
            raise ValueError(f"regions: an {a.msg_type} needs at least one threatened region (impact or overflight)")
        if a.object_kind in ("stage", "debris"):
            raise ValueError(f"object_kind: a {a.object_kind} never raises an {a.msg_type}")


def decode_alert(data: bytes | str) -> Alert:
    """Decode one ``Alert`` from JSON; ``AlertError`` names the field that is wrong."""
    try:
        return msgspec.json.decode(data, type=Alert)
    except msgspec.ValidationError as exc:
        raise AlertError(f"invalid alert: {exc}") from None
    except msgspec.DecodeError as exc:
        raise AlertError(f"alert is not valid JSON: {exc}") from None


def encode_alert(alert: Alert) -> bytes:
    """Encode an ``Alert`` as JSON (round-trips through ``decode_alert``)."""
    return msgspec.json.encode(alert)


def uuid7(unix_ms: int, entropy: bytes) -> str:
    """A UUIDv7 string (RFC 9562): 48-bit Unix time [ms], then 74 bits taken from ``blake2b(entropy)``.

    Deterministic, so ids survive replay: the same run gives the same ids.
    """
    if not 0 <= unix_ms < 1 << 48:
        raise ValueError(f"unix_ms out of range for UUIDv7: {unix_ms}")
    r = int.from_bytes(hashlib.blake2b(entropy, digest_size=10).digest(), "big")
    rand_a = r >> 68  # 12 bits
    rand_b = r & ((1 << 62) - 1)
    value = (unix_ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
