"""Time-ordered identifiers: UUIDv7 (RFC 9562), pure standard library (Python 3.11 has no ``uuid.uuid7``).

Layout (128 bits): 48-bit Unix time in milliseconds, version ``7``, 12 bits of sub-millisecond time
(RFC 9562 section 6.2 method 3), variant ``10``, 62 random bits (from ``random``, seeded from the OS and
re-seeded in a forked child: ids must be unique, not secret). Ids made by one process are strictly increasing
(a clock that stalls or steps back bumps the 60-bit time field by one), so sorting ids as strings sorts them by
creation time. An id given an explicit ``time_ns`` is a pure function of that time and
fresh randomness, so replays of recorded data can stamp ids at the recorded times.
"""

from __future__ import annotations

import random
import re
import threading
import time

UUID7_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z"
"""Canonical text form of a UUIDv7 (lower-case hex); ``\\Z``, not ``$``, so a trailing newline does not match."""
_UUID7_RE = re.compile(UUID7_PATTERN)
_lock = threading.Lock()
_last = 0  # last 60-bit time field (ms << 12 | sub-ms fraction) handed out by uuid7() without time_ns


def _time_field(ns: int) -> int:
    ms, rem = divmod(ns, 1_000_000)
    return (ms << 12) | (rem * 4096 // 1_000_000)


def uuid7(time_ns: int | None = None) -> str:
    """A new UUIDv7 as canonical lower-case text (``xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx``).

    ``time_ns``: Unix time in nanoseconds to stamp (default: now, strictly increasing within the process).
    """
    global _last
    if time_ns is None:
        t = _time_field(time.time_ns())
        with _lock:
            if t <= _last:
                t = _last + 1
            _last = t
    else:
        if not isinstance(time_ns, int) or isinstance(time_ns, bool) or not 0 <= time_ns < (1 << 48) * 1_000_000:
            raise ValueError(f"uuid7: time_ns must be an int in [0, 2**48 ms) nanoseconds, got {time_ns!r}")
        t = _time_field(time_ns)
    value = ((t >> 12) << 80) | (0x7 << 76) | ((t & 0xFFF) << 64) | (0b10 << 62)
    value |= random.getrandbits(62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_uuid7(text: object) -> bool:
    """True when ``text`` is a UUIDv7 in canonical lower-case text form."""
    return isinstance(text, str) and _UUID7_RE.match(text) is not None


def uuid7_time(text: str) -> float:
    """The Unix time [s] stamped in a UUIDv7 (millisecond resolution plus the 12-bit sub-millisecond field)."""
    if not is_uuid7(text):
        raise ValueError(f"not a canonical UUIDv7: {text!r}")
    h = text.replace("-", "")
    ms = int(h[:12], 16)
    sub = int(h[13:16], 16)
    return (ms + sub / 4096.0) / 1000.0
