"""Per-node audit log: append-only, hash-chained JSON Lines of every message sent, received, rejected and dropped
as a duplicate.

One record per line, fields in this order (canonical JSON as msgspec writes it: no spaces, shortest float
form)::

    {"seq":1,"time":1702944000.25,"direction":"received","subject":"wl.KOR.JPN-USA.launch","msg_id":"...",
     "origin":"KOR","reason":null,"detail":null,"sha256":"<of the message bytes>","prev_hash":"<64 hex>",
     "hash":"<64 hex>"}

``seq`` counts from 1; ``time`` is UTC POSIX seconds; ``direction`` is ``sent``, ``received``, ``rejected``
(with the ``reason`` code and ``detail`` of the rejection) or ``duplicate`` (a verified redelivery of a
message already received: same id, same signed bytes; dropped with no second effect); ``msg_id`` and
``origin`` are as the envelope claims (null when it did not decode); ``sha256`` is the hash of the exact
message bytes (the bytes themselves live in the streams and the dead-letter store).
``hash = SHA-256(DOMAIN || the record's JSON without its "hash" field)`` and ``prev_hash`` is the previous
record's ``hash`` (64 zeros for the first), so changing,
deleting, inserting or reordering any record breaks the chain at that point.

The chain alone cannot reveal records removed from the end, nor a log rewritten from the altered point
onwards with fresh hashes. Two anchors cover that, in the head file ``<log>.head`` (one fixed-length line,
rewritten in place after every record): the seq and hash of the last record, and, when the log is given the
node's ``KeyRing``, a checkpoint (seq, hash) signed with the node's Ed25519 key, renewed at every flush. A
rewrite is then detectable by anyone holding the node's public key; records after the last checkpoint are
protected by the chain and the unsigned head only.

**Durability (fsync policy).** Each record goes to the operating system in one ``write`` on a file opened
``O_APPEND``, so a crash of the process loses nothing that was appended. ``fsync`` decides power-loss
durability: ``"interval"`` (default) flushes to disk (log, then head) when a record arrives at least
``fsync_interval_s`` seconds after the last flush, and on ``flush()``/``close()``; the node calls ``flush()``
on a timer too, so that a power cut loses at most the last interval even when traffic stops;
``"always"`` flushes after every record (durable, costs a disk sync per message); ``"never"`` leaves it to
the operating system (tests, tmpfs). A checkpoint is signed at every flush.

``verify(path)`` checks everything and returns an ``AuditReport``; ``verify_cli(path)`` gives ``(ok, text)``
for ``warnlink audit verify``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Literal

import msgspec
from msgspec import Struct

from warnlink.sharing.envelope import Envelope, KeyRing, KeyRingError, Rejected

DOMAIN = b"warnlink/audit/v1\x00"
HEAD_DOMAIN = b"warnlink/audit-head/v1\x00"
GENESIS = "0" * 64
DIRECTIONS = ("sent", "received", "rejected", "duplicate")
FSYNC_POLICIES = ("interval", "always", "never")
MAX_SUBJECT = 256
MAX_DETAIL = 512
_TAIL_READ = 1 << 16
_HEAD_LEN = len(f"v1 {0:020d} {GENESIS} {0:020d} {GENESIS} {'-':<20} {'-':<128}\n")


class AuditError(RuntimeError):
    """An audit log that cannot be opened for appending (damaged tail, truncated, wrong head)."""


class _Body(Struct, forbid_unknown_fields=True, frozen=True):
    seq: int
    time: float
    direction: Literal["sent", "received", "rejected", "duplicate"]
    subject: str
    msg_id: str | None
    origin: str | None
    reason: str | None
    detail: str | None
    sha256: str
    prev_hash: str


class AuditRecord(_Body, frozen=True):
    """One audit record (see the module docstring)."""

    hash: str


_ENC = msgspec.json.Encoder()
_DEC = msgspec.json.Decoder(AuditRecord)


def _record_hash(body: _Body) -> str:
    return hashlib.sha256(DOMAIN + _ENC.encode(body)).hexdigest()


def _clip(text: str | None, n: int) -> str | None:
    if text is None:
        return None
    text = str(text)
    return text if len(text) <= n else text[: n - 3] + "..."


class _Head(Struct):
    seq: int
    hash: str
    cseq: int
    chash: str
    key_id: str | None
    sig: str | None

    def line(self) -> bytes:
        return (f"v1 {self.seq:020d} {self.hash} {self.cseq:020d} {self.chash} {self.key_id or '-':<20} "
                f"{self.sig or '-':<128}\n").encode()


def _parse_head(data: bytes) -> _Head:
    parts = data.decode("ascii").split()
    if len(data) != _HEAD_LEN or len(parts) != 7 or parts[0] != "v1":
        raise ValueError("head file is not one 'v1 seq hash cseq chash key sig' line of the fixed length")
    _, seq, h, cseq, ch, key, sig = parts
    for x in (h, ch):
        if len(x) != 64 or any(c not in "0123456789abcdef" for c in x):
            raise ValueError("head file hash is not 64 hex digits")
    return _Head(int(seq), h, int(cseq), ch, None if key == "-" else key, None if sig == "-" else sig)


def _checkpoint_bytes(seq: int, h: str) -> bytes:
    return HEAD_DOMAIN + f"{seq}:{h}".encode()


def head_path(path: str | Path) -> Path:
    """The head (anchor) file of an audit log: ``<log>.head``."""
    path = Path(path)
    return path.with_name(path.name + ".head")


def _last_line(path: Path) -> bytes | None:
    """The last complete line of the file (None if empty); ``AuditError`` if the file ends mid-record."""
    size = path.stat().st_size
    if size == 0:
        return None
    with path.open("rb") as f:
        f.seek(max(0, size - _TAIL_READ))
        tail = f.read()
    if not tail.endswith(b"\n"):
        raise AuditError(f"{path}: the last record is incomplete (crash during a write?); run `warnlink audit "
                         "verify` on it and start a new log file")
    lines = tail[:-1].split(b"\n")
    if len(lines) < 2 and size > len(tail):
        raise AuditError(f"{path}: last record longer than {_TAIL_READ} bytes")
    return lines[-1] + b"\n"


class AuditLog:
    """Append-only, hash-chained audit log of one node (thread-safe). See the module docstring.

    ``keyring``: the node's key ring; when it has a signing key, checkpoints in the head file are signed.
    ``fsync``: ``interval`` (default), ``always`` or ``never``; ``fsync_interval_s`` for ``interval``.
    Opening an existing log continues its chain; a log whose last record is incomplete, or that is shorter
    than its head file says, is refused (``AuditError``): verify it and start a new file.
    """

    def __init__(self, path: str | Path, *, keyring: KeyRing | None = None, fsync: str = "interval",
                 fsync_interval_s: float = 1.0, clock=time.time):
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync policy must be one of {', '.join(FSYNC_POLICIES)}, got {fsync!r}")
        self.path = Path(path)
        self.head_path = head_path(self.path)
        self.keyring = keyring if keyring is not None and keyring.key_id is not None else None
        self.fsync = fsync
        self.fsync_interval_s = float(fsync_interval_s)
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.seq, self.last_hash = 0, GENESIS
        head = None
        if self.path.exists():
            last = _last_line(self.path)
            if last is not None:
                try:
                    rec = _DEC.decode(last)
                except (msgspec.MsgspecError, ValueError) as exc:
                    raise AuditError(f"{self.path}: the last record is not valid ({exc}); verify the log") from None
                self.seq, self.last_hash = rec.seq, rec.hash
        if self.head_path.exists():
            try:
                head = _parse_head(self.head_path.read_bytes())
            except (ValueError, UnicodeDecodeError) as exc:
                raise AuditError(f"{self.head_path}: {exc}; verify the log") from None
            if head.seq > self.seq:
                raise AuditError(f"{self.path}: the head says seq {head.seq} but the log ends at seq {self.seq} "
                                 "(records deleted from the end?); verify the log and start a new file")
            if head.seq == self.seq and head.hash != self.last_hash:
                raise AuditError(f"{self.path}: the last record's hash differs from the head's; verify the log")
        self._head = head or _Head(self.seq, self.last_hash, 0, GENESIS, None, None)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._hfd = os.open(self.head_path, os.O_RDWR | os.O_CREAT, 0o640)
        self._last_sync = self._clock()
        if head is None or head.seq != self.seq:
            self._write_head()

    # ------------------------------------------------------------------ writing
    def append(self, direction: str, subject: str, data: bytes, *, msg_id: str | None = None,
               origin: str | None = None, reason: str | None = None, detail: str | None = None) -> AuditRecord:
        """Append one record for the message ``data`` seen on ``subject``; returns the record."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        digest = hashlib.sha256(bytes(data)).hexdigest()
        with self._lock:
            if self._fd < 0:
                raise AuditError(f"{self.path}: the audit log is closed")
            body = _Body(self.seq + 1, float(self._clock()), direction, _clip(subject, MAX_SUBJECT) or "",
                         _clip(msg_id, 64), _clip(origin, 8), _clip(reason, 32), _clip(detail, MAX_DETAIL), digest,
                         self.last_hash)
            rec = AuditRecord(*msgspec.structs.astuple(body), _record_hash(body))
            os.write(self._fd, _ENC.encode(rec) + b"\n")
            self.seq, self.last_hash = rec.seq, rec.hash
            if self.fsync == "always" or (self.fsync == "interval"
                                          and self._clock() - self._last_sync >= self.fsync_interval_s):
                self._sync()
            else:
                self._write_head()
        return rec

    def sent(self, subject: str, data: bytes, envelope: Envelope | None = None, *, msg_id: str | None = None,
             origin: str | None = None) -> AuditRecord:
        """Record a message this node sent."""
        if envelope is not None:
            msg_id, origin = envelope.msg_id, envelope.origin
        return self.append("sent", subject, data, msg_id=msg_id, origin=origin)

    def received(self, subject: str, data: bytes, envelope: Envelope) -> AuditRecord:
        """Record a message this node received and accepted."""
        return self.append("received", subject, data, msg_id=envelope.msg_id, origin=envelope.origin)

    def duplicate(self, subject: str, data: bytes, envelope: Envelope) -> AuditRecord:
        """Record a verified redelivery of a message already received (dropped: no second effect)."""
        return self.append("duplicate", subject, data, msg_id=envelope.msg_id, origin=envelope.origin,
                           reason="duplicate", detail="already received and applied")

    def rejected(self, subject: str, data: bytes, rejection: Rejected) -> AuditRecord:
        """Record a message this node rejected, with the reason."""
        return self.append("rejected", subject, data if isinstance(data, bytes | bytearray | memoryview) else b"",
                           msg_id=rejection.msg_id, origin=rejection.origin, reason=rejection.reason.value,
                           detail=rejection.detail)

    def flush(self) -> None:
        """Force the log and head to disk and renew the signed checkpoint. The log's ``fsync`` runs outside
        the lock, so a flush from another thread (the node's I/O thread) does not hold up ``append``."""
        with self._lock:
            fd, seq, h = self._fd, self.seq, self.last_hash
        if fd < 0:
            return
        if self.fsync != "never":
            try:
                os.fsync(fd)
            except OSError:  # closed meanwhile (close() synced it)
                return
        with self._lock:
            if self._fd < 0:
                return
            self._checkpoint(seq, h)  # what the fsync covered
            self._write_head()
            hfd = self._hfd
        if self.fsync != "never":
            with contextlib.suppress(OSError):
                os.fsync(hfd)
        self._last_sync = self._clock()

    def close(self) -> None:
        """Flush and close (idempotent)."""
        with self._lock:
            if self._fd < 0:
                return
            self._sync()
            os.close(self._fd)
            os.close(self._hfd)
            self._fd = self._hfd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _sync(self) -> None:
        if self.fsync != "never":
            os.fsync(self._fd)
        self._checkpoint()
        self._write_head()
        if self.fsync != "never":
            os.fsync(self._hfd)
        self._last_sync = self._clock()

    def _checkpoint(self, seq: int | None = None, h: str | None = None) -> None:
        """Sign the chain's end up to ``seq`` / ``h`` (default: the current end; only what is on disk) into
        the head, when it moved or the key changed."""
        seq, h = (self.seq, self.last_hash) if seq is None else (seq, h)
        if self.keyring is not None and seq > 0 and (self._head.cseq != seq
                                                     or self._head.key_id != self.keyring.key_id):
            sig = self.keyring.sign(_checkpoint_bytes(seq, h)).hex()
            self._head = _Head(self.seq, self.last_hash, seq, h, self.keyring.key_id, sig)

    def _write_head(self) -> None:
        h = self._head
        self._head = _Head(self.seq, self.last_hash, h.cseq, h.chash, h.key_id, h.sig)
        os.pwrite(self._hfd, self._head.line(), 0)


# ---------------------------------------------------------------------------------------------- verifying
class AuditReport(Struct):
    """The result of ``verify``: ``ok`` when no problem was found; ``problems`` (tampering, damage) and
    ``warnings`` (what could not be checked) as text naming the line and seq."""

    ok: bool
    path: str
    records: int
    last_seq: int
    last_hash: str
    problems: list[str]
    warnings: list[str]
    checkpoint_seq: int = 0
    checkpoint_verified: bool = False


def verify(path: str | Path, keyring: KeyRing | None = None) -> AuditReport:
    """Check an audit log: every record well formed and canonical, its hash right, seqs consecutive from 1,
    each ``prev_hash`` the previous record's hash, no incomplete last line, the head file agreeing with the
    end of the log, and the signed checkpoint (verified when ``keyring`` trusts the signing key)."""
    path = Path(path)
    problems: list[str] = []
    warnings: list[str] = []
    if not path.exists():
        return AuditReport(False, str(path), 0, 0, GENESIS, [f"{path}: no such file"], [])
    head = None
    hp = head_path(path)
    if hp.exists():
        try:
            head = _parse_head(hp.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(f"head file {hp.name}: altered or damaged ({exc})")
    expected, prev, n = 1, GENESIS, 0
    last_seq, last_hash = 0, GENESIS
    chash_at = None
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                problems.append(f"line {lineno}: truncated tail (incomplete last record, {len(raw)} bytes)")
                break
            try:
                rec = _DEC.decode(raw)
            except (msgspec.MsgspecError, ValueError) as exc:
                problems.append(f"line {lineno}: altered (not a valid audit record: {exc})")
                prev = None
                continue
            n += 1
            where = f"line {lineno} (seq {rec.seq})"
            if _ENC.encode(rec) + b"\n" != raw:
                problems.append(f"{where}: altered (not in canonical form)")
            body = _Body(*msgspec.structs.astuple(rec)[:-1])
            if _record_hash(body) != rec.hash:
                problems.append(f"{where}: altered (hash does not match the content)")
            if rec.seq > expected:
                problems.append(f"{where}: records seq {expected}..{rec.seq - 1} missing (deleted)")
            elif rec.seq < expected:
                problems.append(f"{where}: seq out of order, expected {expected} (reordered or inserted record)")
            if prev is not None and rec.prev_hash != prev:
                problems.append(f"{where}: chain broken (prev_hash is not the previous record's hash)")
            if head is not None and head.key_id is not None and rec.seq == head.cseq:
                chash_at = rec.hash
            expected, prev = rec.seq + 1, rec.hash
            last_seq, last_hash = rec.seq, rec.hash
    cverified = False
    if head is None:
        if n and not any(p.startswith("head file") for p in problems):
            warnings.append(f"no head file {hp.name}: records deleted from the end cannot be detected")
    else:
        if head.seq > last_seq:
            problems.append(f"truncated tail: the head records seq {head.seq} but the log ends at seq {last_seq} "
                            "(records deleted from the end)")
        elif head.seq == last_seq and head.hash != last_hash:
            problems.append(f"head: hash of seq {head.seq} differs from the log's last record (altered)")
        elif head.seq < last_seq:
            warnings.append(f"head is {last_seq - head.seq} record(s) behind the log (crash between the two "
                            "writes?); those records are not anchored")
        if head.key_id is None:
            warnings.append("no signed checkpoint: a log rewritten with fresh hashes cannot be detected")
        else:
            if chash_at is None:
                problems.append(f"checkpoint: seq {head.cseq} is not in the log (truncated or altered)")
            elif chash_at != head.chash:
                problems.append(f"checkpoint: the log's hash at seq {head.cseq} differs from the signed one "
                                "(altered and re-chained)")
            if keyring is None:
                warnings.append(f"checkpoint signature by {head.key_id} not checked (no public keys given)")
            elif keyring.node_of(head.key_id) is None:
                warnings.append(f"checkpoint signed by {head.key_id}, a key not in the given key ring: not checked")
            elif not keyring.verify(head.key_id, bytes.fromhex(head.sig or ""), _checkpoint_bytes(head.cseq,
                                                                                                   head.chash)):
                problems.append(f"checkpoint: signature by {head.key_id} does not verify (head altered)")
            else:
                cverified = not any(p.startswith("checkpoint") for p in problems)
    return AuditReport(not problems, str(path), n, last_seq, last_hash, problems, warnings,
                       head.cseq if head is not None else 0, cverified)


def verify_cli(path: str | Path, keys_dir: str | Path | None = None, max_lines: int = 50) -> tuple[bool, str]:
    """``warnlink audit verify``: check the log (and the checkpoint signature with the public keys in
    ``keys_dir``); returns (ok, text for the terminal)."""
    keyring = None
    if keys_dir is not None:
        try:
            keyring = KeyRing.load(keys_dir)
        except KeyRingError as exc:
            return False, f"FAILED: {exc}"
    try:
        r = verify(path, keyring)
    except OSError as exc:
        return False, f"FAILED: {path}: {exc}"
    lines = [f"{'OK' if r.ok else 'FAILED'}: {r.path}: {r.records} records, last seq {r.last_seq}, last hash "
             f"{r.last_hash[:16]}"]
    if r.checkpoint_verified:
        lines.append(f"  signed checkpoint at seq {r.checkpoint_seq} verified")
    for p in r.problems[:max_lines]:
        lines.append(f"  problem: {p}")
    if len(r.problems) > max_lines:
        lines.append(f"  ... and {len(r.problems) - max_lines} more problems")
    for w in r.warnings:
        lines.append(f"  warning: {w}")
    return r.ok, "\n".join(lines)
