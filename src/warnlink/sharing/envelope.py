"""The signed envelope around every message that crosses a boundary, and its verification.

Wire format: one msgpack array (``Envelope``, array-like, fields in the order below), at most
``MAX_MESSAGE_BYTES``::

    [v, msg_id, origin, seq, sent_time, valid_time, kind, subject, release, exercise, payload, key_id, signature]

``payload`` is the msgpack encoding of the message struct (``messages.encode_payload``); ``release`` the
sorted receiving nations (empty = local); times are UTC POSIX seconds. The signature is Ed25519 (RFC 8032)
over the **canonical signing bytes**: ``DOMAIN`` followed by the msgpack array of the first twelve fields
(everything but the signature) as msgspec encodes them: integers in their shortest form, every float as
float64, strings as UTF-8 str, ``payload`` as bin. The verifier re-encodes the decoded fields, so a message
whose wire form is not canonical fails the signature check: there is one byte string per envelope.

Sequence numbers count per origin stream (origin, kind). By default a ``Sealer`` starts each stream at the
current Unix time in microseconds, so a restarted node continues above its previous numbers without
persisting them (as long as it sent fewer than a million messages a second); pass ``start_seq`` to resume
from stored counters instead.

``Verifier.open`` checks, in order: size, decoding, signer (the key id must be trusted and belong to the
envelope's origin), signature, labels (subject = the sealed subject; subject, origin, release and kind agree;
the release stays within the policy), that the message is releasable to this node's nation, replay (per
stream: a reused message id, a sequence number already seen or older than the window), the payload
(validated by its type; its type, origin, exercise marking and valid time agree with the envelope) and that a
released payload carries no sensor identity. Any failure raises ``Rejected(reason, detail)``; nothing else
escapes (an unexpected error becomes ``Rejected("internal", ...)``). Replay state is committed only for an
accepted message, so a copy replayed on a wrong subject cannot block the genuine one. Memory is bounded:
per stream the ids of the last ``window`` sequence numbers.

Ed25519 keys are managed with ``cryptography`` (PEM files); signing and verifying use libsodium through
PyNaCl when it is installed (about twice as fast as OpenSSL here; same signatures), else ``cryptography``.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from msgspec import Meta, Struct

from warnlink.sharing.ids import UUID7_PATTERN, uuid7
from warnlink.sharing.messages import (
    KINDS,
    NATIONS,
    Kind,
    Nation,
    UnixTime,
    decode_payload,
    encode_payload,
    identify_payload,
    kind_of,
    payload_exercise,
    payload_origin,
    payload_time,
)
from warnlink.sharing.releasability import (
    Policy,
    ReleaseError,
    SubjectError,
    check_no_sensor_identity,
    default_policy,
    parse_subject,
    release_token,
)

try:  # optional fast path: libsodium
    from nacl.bindings import crypto_sign as _sodium_sign
    from nacl.bindings import crypto_sign_open as _sodium_open
    from nacl.bindings import crypto_sign_seed_keypair as _sodium_keypair
    from nacl.exceptions import CryptoError as _SodiumError

    HAVE_SODIUM = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_SODIUM = False

BACKENDS = ("libsodium", "openssl") if HAVE_SODIUM else ("openssl",)
DEFAULT_BACKEND = BACKENDS[0]
ENVELOPE_VERSION = 1
DOMAIN = b"warnlink/envelope/v1\x00"
"""Domain separation: prefixed to the signed bytes so an envelope signature means nothing elsewhere."""
MAX_MESSAGE_BYTES = 64 * 1024
DEFAULT_WINDOW = 4096
"""Sequence numbers kept per stream for replay detection (reordering tolerated within the window)."""
KEY_ID_PATTERN = r"^[A-Z]{3}:[0-9a-f]{16}\Z"

MsgId = Annotated[str, Meta(pattern=UUID7_PATTERN)]
Seq = Annotated[int, Meta(ge=0, le=2**63 - 1)]
KeyId = Annotated[str, Meta(max_length=20, pattern=KEY_ID_PATTERN)]


class Envelope(Struct, array_like=True, frozen=True, forbid_unknown_fields=True, gc=False):
    """A signed message (see the module docstring for the wire format and the signing bytes)."""

    v: Annotated[int, Meta(ge=1, le=ENVELOPE_VERSION)]
    msg_id: MsgId
    origin: Nation
    seq: Seq
    sent_time: UnixTime
    valid_time: UnixTime
    kind: Kind
    subject: Annotated[str, Meta(min_length=1, max_length=160)]
    release: Annotated[tuple[Nation, ...], Meta(max_length=len(NATIONS))]
    exercise: bool
    payload: Annotated[bytes, Meta(max_length=MAX_MESSAGE_BYTES)]
    key_id: KeyId
    signature: Annotated[bytes, Meta(min_length=64, max_length=64)]

    def signing_bytes(self) -> bytes:
        """The canonical bytes the signature covers."""
        return DOMAIN + _ENCODER.encode((self.v, self.msg_id, self.origin, self.seq, self.sent_time, self.valid_time,
                                         self.kind, self.subject, self.release, self.exercise, self.payload,
                                         self.key_id))

    @property
    def release_set(self) -> frozenset:
        """The receiving nations as a set."""
        return frozenset(self.release)


_ENCODER = msgspec.msgpack.Encoder()
_ENV_DECODER = msgspec.msgpack.Decoder(Envelope)
_ENV_FIELDS = Envelope.__struct_fields__
_INDEX_PATH = re.compile(r"`\$\[(\d+)\]")


def _name_fields(msg: str) -> str:
    """Replace array positions in a msgspec error path (`$[3]`) with the envelope field names (`$.seq`)."""
    def sub(m: re.Match) -> str:
        i = int(m.group(1))
        return f"`$.{_ENV_FIELDS[i]}" if i < len(_ENV_FIELDS) else m.group(0)
    return _INDEX_PATH.sub(sub, msg)


class Reason(StrEnum):
    """Why a message was rejected (the dead-letter reason code)."""

    OVERSIZED = "oversized"
    UNDECODABLE = "undecodable"
    UNKNOWN_SIGNER = "unknown_signer"
    BAD_SIGNATURE = "bad_signature"
    MISLABELLED = "mislabelled"
    EXERCISE_MISMATCH = "exercise_mismatch"
    NOT_RELEASABLE = "not_releasable"
    REPLAYED_ID = "replayed_id"
    OLD_SEQUENCE = "old_sequence"
    INVALID_PAYLOAD = "invalid_payload"
    INTERNAL = "internal"


class Rejected(Exception):  # noqa: N818 - the name the fabric and the brief use
    """A message refused by ``Verifier.open``: ``reason`` (a ``Reason``), ``detail`` (text) and the decoded
    ``envelope`` when there was one (its fields are as claimed; trust them only if the signature passed)."""

    def __init__(self, reason: Reason, detail: str, envelope: Envelope | None = None):
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.envelope = envelope

    @property
    def msg_id(self) -> str | None:
        """The claimed message id, if the envelope decoded."""
        return self.envelope.msg_id if self.envelope is not None else None

    @property
    def origin(self) -> str | None:
        """The claimed origin, if the envelope decoded."""
        return self.envelope.origin if self.envelope is not None else None


class SealError(ValueError):
    """A payload that cannot be sealed (invalid, wrong origin, no exercise marking, too large ...)."""


class KeyRingError(ValueError):
    """A key that cannot be used or a key file that cannot be read; the message names the file."""


# ---------------------------------------------------------------------------------------------- keys
def key_id_for(node_id: str, raw_public: bytes) -> str:
    """The key id of a public key: ``<NODE>:<first 16 hex digits of SHA-256(raw 32-byte key)>``."""
    return f"{node_id}:{hashlib.sha256(raw_public).hexdigest()[:16]}"


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _verifier_for(raw: bytes, backend: str) -> Callable[[bytes, bytes], bool]:
    if backend == "libsodium":
        def verify(sig: bytes, data: bytes) -> bool:
            try:
                _sodium_open(sig + data, raw)
            except _SodiumError:
                return False
            return True
        return verify
    pub = Ed25519PublicKey.from_public_bytes(raw)

    def verify(sig: bytes, data: bytes) -> bool:
        try:
            pub.verify(sig, data)
        except InvalidSignature:
            return False
        return True
    return verify


def _check_node(node_id: str) -> str:
    if node_id not in NATIONS:
        raise KeyRingError(f"node id {node_id!r} must be a nation code ({', '.join(NATIONS)})")
    return node_id


class KeyRing:
    """This node's Ed25519 signing key (optional) and the public keys it trusts, each bound to a node id.

    Files: ``<NODE>.key.pem`` (private, PKCS#8 PEM, mode 0600, encrypted when a password is given) and
    ``<NODE>.pub.pem`` (SubjectPublicKeyInfo PEM); extra keys of a node (rotation) as ``<NODE>.<tag>.pub.pem``.
    A node id is its nation code. ``backend``: ``libsodium`` (default when PyNaCl is installed) or ``openssl``.
    """

    def __init__(self, backend: str | None = None):
        backend = backend or DEFAULT_BACKEND
        if backend not in BACKENDS:
            raise ValueError(f"Ed25519 backend {backend!r} not available (have {', '.join(BACKENDS)})")
        self.backend = backend
        self.node_id: str | None = None
        self.key_id: str | None = None
        self._private: Ed25519PrivateKey | None = None
        self._sign: Callable[[bytes], bytes] | None = None
        self._trusted: dict[str, tuple[str, Callable[[bytes, bytes], bool]]] = {}
        self._raw: dict[str, bytes] = {}

    # ------------------------------------------------------------------ own key
    @classmethod
    def generate(cls, node_id: str, backend: str | None = None) -> KeyRing:
        """A key ring with a fresh signing key for ``node_id`` (which it also trusts)."""
        ring = cls(backend)
        ring.set_private_key(node_id, Ed25519PrivateKey.generate())
        return ring

    def set_private_key(self, node_id: str, key: Ed25519PrivateKey) -> str:
        """Use ``key`` as this node's signing key (and trust its public half); returns its key id."""
        _check_node(node_id)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyRingError(f"signing key must be Ed25519, got {type(key).__name__}")
        self.node_id, self._private = node_id, key
        raw_pub = _raw_public(key.public_key())
        self.key_id = self.trust(node_id, raw_pub)
        if self.backend == "libsodium":
            seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                     serialization.NoEncryption())
            _, sk = _sodium_keypair(seed)
            self._sign = lambda data: _sodium_sign(data, sk)[:64]
        else:
            self._sign = key.sign
        return self.key_id

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature of ``data`` with this node's key."""
        if self._sign is None:
            raise SealError("this key ring has no signing key (load or generate one)")
        return self._sign(data)

    def public_pem(self) -> bytes:
        """This node's public key as PEM."""
        if self._private is None:
            raise SealError("this key ring has no signing key")
        return self._private.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)

    def save(self, directory: str | Path, password: bytes | None = None) -> tuple[Path, Path]:
        """Write ``<NODE>.key.pem`` (mode 0600) and ``<NODE>.pub.pem`` into ``directory``; returns both paths."""
        if self._private is None:
            raise SealError("this key ring has no signing key to save")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        enc = (serialization.BestAvailableEncryption(password) if password
               else serialization.NoEncryption())
        data = self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
        key_path, pub_path = d / f"{self.node_id}.key.pem", d / f"{self.node_id}.pub.pem"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.chmod(key_path, 0o600)
        pub_path.write_bytes(self.public_pem())
        return key_path, pub_path

    @classmethod
    def load(cls, directory: str | Path, node_id: str | None = None, password: bytes | None = None,
             backend: str | None = None) -> KeyRing:
        """Trust every ``*.pub.pem`` in ``directory``; with ``node_id``, also load ``<NODE>.key.pem`` to sign."""
        ring = cls(backend)
        d = Path(directory)
        if not d.is_dir():
            raise KeyRingError(f"{d}: key directory does not exist")
        ring.trust_dir(d)
        if node_id is not None:
            path = d / f"{_check_node(node_id)}.key.pem"
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=password)
            except (OSError, ValueError, TypeError) as exc:
                raise KeyRingError(f"{path}: cannot load the private key: {exc}") from exc
            if not isinstance(key, Ed25519PrivateKey):
                raise KeyRingError(f"{path}: not an Ed25519 private key ({type(key).__name__})")
            ring.set_private_key(node_id, key)
        return ring

    # ------------------------------------------------------------------ trusted keys
    def trust(self, node_id: str, public_key: Ed25519PublicKey | bytes) -> str:
        """Trust ``public_key`` (object, raw 32 bytes, or PEM bytes) as a key of ``node_id``; returns its key id.

        ``KeyRingError`` if the key is not Ed25519 or its id is already bound to another node.
        """
        _check_node(node_id)
        if isinstance(public_key, Ed25519PublicKey):
            raw = _raw_public(public_key)
        elif isinstance(public_key, bytes) and len(public_key) == 32:
            raw = public_key
            try:
                Ed25519PublicKey.from_public_bytes(raw)
            except ValueError as exc:
                raise KeyRingError(f"not an Ed25519 public key: {exc}") from exc
        elif isinstance(public_key, bytes):
            try:
                key = serialization.load_pem_public_key(public_key)
            except ValueError as exc:
                raise KeyRingError(f"not a PEM public key: {exc}") from exc
            if not isinstance(key, Ed25519PublicKey):
                raise KeyRingError(f"public key of {node_id} must be Ed25519, got {type(key).__name__}")
            raw = _raw_public(key)
        else:
            raise KeyRingError(f"public key must be an Ed25519PublicKey, raw 32 bytes or PEM, got {type(public_key)}")
        kid = key_id_for(node_id, raw)
        self._trusted[kid] = (node_id, _verifier_for(raw, self.backend))
        self._raw[kid] = raw
        return kid

    def trust_file(self, path: str | Path, node_id: str | None = None) -> str:
        """Trust the public key in a PEM file; ``node_id`` defaults to the file name's first dot-separated part."""
        path = Path(path)
        node = node_id or path.name.split(".")[0]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeyRingError(f"{path}: cannot read public key: {exc}") from exc
        try:
            return self.trust(node, data)
        except KeyRingError as exc:
            raise KeyRingError(f"{path}: {exc}") from exc

    def trust_dir(self, directory: str | Path) -> list[str]:
        """Trust every ``*.pub.pem`` file in ``directory``; returns their key ids."""
        return [self.trust_file(p) for p in sorted(Path(directory).glob("*.pub.pem"))]

    def untrust(self, key_id: str) -> None:
        """Stop trusting a key (revocation)."""
        self._trusted.pop(key_id, None)
        self._raw.pop(key_id, None)

    def node_of(self, key_id: str) -> str | None:
        """The node a trusted key id belongs to, or None if the key is not trusted."""
        entry = self._trusted.get(key_id)
        return entry[0] if entry else None

    def verify(self, key_id: str, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` over ``data`` is valid for the trusted key ``key_id`` (False if unknown)."""
        entry = self._trusted.get(key_id)
        return entry is not None and entry[1](signature, data)

    def trusted(self) -> dict[str, str]:
        """Trusted key id -> node id."""
        return {k: v[0] for k, v in self._trusted.items()}


# ---------------------------------------------------------------------------------------------- sealing
class Sealed(NamedTuple):
    """A sealed message ready to publish: the subject, the bytes, and its id (use as ``Nats-Msg-Id``)."""

    subject: str
    data: bytes
    msg_id: str
    seq: int
    kind: str


def seal_message(payload: Struct, *, keyring: KeyRing, seq: int, policy: Policy | None = None, release=None,
                 subject_id: str | None = None, msg_id: str | None = None, sent_time: float | None = None,
                 valid_time: float | None = None, max_bytes: int = MAX_MESSAGE_BYTES) -> Sealed:
    """Validate, label, sign and encode ``payload`` from this key ring's node (see ``seal``)."""
    if keyring.node_id is None or keyring.key_id is None:
        raise SealError("this key ring has no signing key (load or generate one)")
    origin = keyring.node_id
    try:
        kind = kind_of(payload)
    except TypeError as exc:
        raise SealError(str(exc)) from None
    body = encode_payload(payload)
    try:
        checked = decode_payload(body, kind)  # the receiver's validation, at the origin
    except (msgspec.MsgspecError, ValueError) as exc:
        raise SealError(f"invalid {kind} payload: {exc}") from None
    p_origin = payload_origin(checked)
    if p_origin is not None and p_origin != origin:
        raise SealError(f"{kind} payload says it comes from {p_origin}, but this node is {origin}")
    try:
        exercise = payload_exercise(checked)
    except ValueError as exc:
        raise SealError(str(exc)) from None
    policy = policy or default_policy()
    allowed = policy.receivers(origin, kind)
    rel = allowed if release is None else frozenset(release)
    if not rel <= allowed:
        raise ReleaseError(f"{origin} {kind} may go to {release_token(allowed)} only, not to "
                               f"{', '.join(sorted(rel - allowed))}")
    if rel:
        check_no_sensor_identity(checked)
    p_time = payload_time(checked)
    if p_time is None:
        if valid_time is None:
            raise SealError(f"{kind} payload has no time field; give valid_time")
        p_time = float(valid_time)
    elif valid_time is not None and float(valid_time) != p_time:
        raise SealError(f"valid_time {valid_time} differs from the payload's time {p_time}")
    subject = policy.subject_for(origin, kind, subject_id, rel)
    env = Envelope(ENVELOPE_VERSION, msg_id or uuid7(), origin, int(seq),
                   float(time.time() if sent_time is None else sent_time), p_time, kind, subject,
                   tuple(sorted(rel)), exercise, body, keyring.key_id, b"\0" * 64)
    env = msgspec.structs.replace(env, signature=keyring.sign(env.signing_bytes()))
    data = _ENCODER.encode(env)
    if len(data) > max_bytes:
        raise SealError(f"sealed {kind} message is {len(data)} bytes, over the limit of {max_bytes}")
    try:  # the envelope's own constraints (ids, times, lengths), checked before anything leaves
        _ENV_DECODER.decode(data)
    except (msgspec.MsgspecError, ValueError) as exc:
        raise SealError(f"invalid envelope: {_name_fields(str(exc))}") from None
    return Sealed(subject, data, env.msg_id, env.seq, kind)


def seal(payload: Struct, *, keyring: KeyRing, seq: int, policy: Policy | None = None, release=None,
         subject_id: str | None = None, msg_id: str | None = None, sent_time: float | None = None,
         valid_time: float | None = None, max_bytes: int = MAX_MESSAGE_BYTES) -> bytes:
    """Seal ``payload`` (a registered message struct) from the key ring's node: validate it as a receiver
    would, label it (kind, release from the policy or a narrower ``release``, exercise flag and valid time
    from the payload), check a released payload carries no sensor identity, sign, encode. Returns the bytes
    to publish on ``policy.subject_for(origin, kind, subject_id, release)``. ``SealError`` /
    ``ReleaseError`` say what is wrong."""
    return seal_message(payload, keyring=keyring, seq=seq, policy=policy, release=release, subject_id=subject_id,
                        msg_id=msg_id, sent_time=sent_time, valid_time=valid_time, max_bytes=max_bytes).data


class Sealer:
    """Seals this node's messages with a sequence counter per stream (kind).

    ``start_seq``: first sequence number of every stream (default: the current Unix time in microseconds, so
    a restarted node continues above its old numbers), or a mapping kind -> next number (``counters()``).
    """

    def __init__(self, keyring: KeyRing, policy: Policy | None = None, start_seq: int | dict | None = None,
                 max_bytes: int = MAX_MESSAGE_BYTES):
        if keyring.node_id is None:
            raise SealError("a Sealer needs a key ring with a signing key")
        self.keyring = keyring
        self.policy = policy or default_policy()
        self.max_bytes = max_bytes
        base = time.time_ns() // 1000 if start_seq is None or isinstance(start_seq, dict) else int(start_seq)
        starts = start_seq if isinstance(start_seq, dict) else {}
        self._next: dict[str, int] = {}
        self._counters = {k: itertools.count(int(starts.get(k, base))) for k in KINDS}

    def seal(self, payload: Struct, *, release=None, subject_id: str | None = None, sent_time: float | None = None,
             valid_time: float | None = None) -> Sealed:
        """Seal ``payload`` with the next sequence number of its stream (see ``seal``)."""
        try:
            kind = kind_of(payload)
        except TypeError as exc:
            raise SealError(str(exc)) from None
        seq = next(self._counters[kind])
        self._next[kind] = seq + 1
        return seal_message(payload, keyring=self.keyring, seq=seq, policy=self.policy, release=release,
                            subject_id=subject_id, sent_time=sent_time, valid_time=valid_time,
                            max_bytes=self.max_bytes)

    def counters(self) -> dict[str, int]:
        """Next sequence number per kind that has been used (persist to resume with ``start_seq``)."""
        return dict(self._next)


# ---------------------------------------------------------------------------------------------- verifying
class _Stream:
    """Replay state of one origin stream: highest sequence seen, seq -> msg id within the window, a heap of
    the seqs held (to prune in order)."""

    __slots__ = ("heap", "high", "seen")

    def __init__(self):
        self.high = -1
        self.seen: dict[int, str] = {}
        self.heap: list[int] = []


class Verifier:
    """Opens messages received by ``nation``'s node: see the module docstring for the checks, in order.

    ``counts`` counts ``accepted`` and every rejection reason. ``state()``/``load_state()`` save and restore the
    replay windows across restarts (without them a restarted verifier accepts one copy of an old message).
    """

    def __init__(self, keyring: KeyRing, nation: str, policy: Policy | None = None, window: int = DEFAULT_WINDOW,
                 max_bytes: int = MAX_MESSAGE_BYTES):
        if nation not in NATIONS:
            raise ValueError(f"unknown nation {nation!r} (expected one of {', '.join(NATIONS)})")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.keyring = keyring
        self.nation = nation
        self.policy = policy or default_policy()
        self.window = int(window)
        self.max_bytes = int(max_bytes)
        self.counts: Counter = Counter()
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._ids: dict[str, dict[str, tuple[str, int]]] = {n: {} for n in NATIONS}

    def open(self, subject: str, data: bytes) -> tuple[Envelope, Any]:
        """Verify and decode a message received on ``subject``: returns (envelope, payload) or raises
        ``Rejected`` (never anything else)."""
        try:
            env, payload = self._open(subject, data)
        except Rejected as rej:
            self.counts[rej.reason.value] += 1
            raise
        except Exception as exc:  # a bug must not take the node down; it is counted and dead-lettered
            self.counts[Reason.INTERNAL.value] += 1
            raise Rejected(Reason.INTERNAL, f"{type(exc).__name__}: {exc}") from exc
        self.counts["accepted"] += 1
        return env, payload

    def _open(self, subject: str, data: bytes) -> tuple[Envelope, Any]:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise Rejected(Reason.UNDECODABLE, f"message is {type(data).__name__}, not bytes")
        if len(data) > self.max_bytes:
            raise Rejected(Reason.OVERSIZED, f"{len(data)} bytes, over the limit of {self.max_bytes}")
        try:
            env = _ENV_DECODER.decode(data)
        except (msgspec.MsgspecError, ValueError) as exc:  # ValueError: msgspec raises UnicodeDecodeError as is
            raise Rejected(Reason.UNDECODABLE, f"not a warnlink envelope: {_name_fields(str(exc))}") from None
        # ---- signer and signature
        key_node = self.keyring.node_of(env.key_id)
        if key_node is None:
            raise Rejected(Reason.UNKNOWN_SIGNER, f"key {env.key_id} is not trusted", env)
        if key_node != env.origin:
            raise Rejected(Reason.UNKNOWN_SIGNER, f"key {env.key_id} belongs to {key_node}, not to the origin "
                                                  f"{env.origin}", env)
        if not self.keyring.verify(env.key_id, env.signature, env.signing_bytes()):
            raise Rejected(Reason.BAD_SIGNATURE, f"signature does not verify with key {env.key_id}", env)
        # ---- labels
        if subject != env.subject:
            raise Rejected(Reason.MISLABELLED, f"received on {str(subject)[:160]!r} but sealed for {env.subject!r}",
                           env)
        try:
            s = parse_subject(env.subject)
        except SubjectError as exc:
            raise Rejected(Reason.MISLABELLED, str(exc), env) from None
        if s.origin != env.origin:
            raise Rejected(Reason.MISLABELLED, f"subject origin {s.origin} but envelope origin {env.origin}", env)
        if s.kind != env.kind:
            raise Rejected(Reason.MISLABELLED, f"subject kind {s.kind} but envelope kind {env.kind}", env)
        if list(env.release) != sorted(s.release):
            raise Rejected(Reason.MISLABELLED, f"subject releases to {s.release_token} but envelope to "
                                               f"{'-'.join(env.release) or 'local'}", env)
        allowed = self.policy.receivers(env.origin, env.kind)
        if not s.release <= allowed:
            raise Rejected(Reason.MISLABELLED, f"{env.origin} {env.kind} may go to {release_token(allowed)} only "
                                               f"under the policy, not to {s.release_token}", env)
        if self.nation != env.origin and self.nation not in s.release:
            raise Rejected(Reason.NOT_RELEASABLE, f"{env.origin} {env.kind} on {env.subject} is not releasable "
                                                  f"to {self.nation}", env)
        # ---- replay
        stream_key = (env.origin, env.kind)
        stream = self._streams.get(stream_key)
        seen_id = self._ids[env.origin].get(env.msg_id)
        if seen_id is not None:
            raise Rejected(Reason.REPLAYED_ID, f"message id {env.msg_id} already received ({seen_id[0]} seq "
                                               f"{seen_id[1]})", env)
        if stream is not None:
            if env.seq <= stream.high - self.window:
                raise Rejected(Reason.OLD_SEQUENCE, f"{env.origin} {env.kind} seq {env.seq} is older than the replay "
                                                    f"window (highest {stream.high}, window {self.window})", env)
            if env.seq in stream.seen:
                raise Rejected(Reason.OLD_SEQUENCE, f"{env.origin} {env.kind} seq {env.seq} already used by message "
                                                    f"{stream.seen[env.seq]}", env)
        # ---- payload
        try:
            payload = decode_payload(env.payload, env.kind)
        except KeyError:
            raise Rejected(Reason.INVALID_PAYLOAD, f"no message type is registered for kind {env.kind!r}",
                           env) from None
        except (msgspec.MsgspecError, ValueError, TypeError) as exc:
            other = identify_payload(env.payload)
            if other is not None and other != env.kind:
                raise Rejected(Reason.MISLABELLED, f"payload is a {other} message but the envelope says "
                                                   f"{env.kind}", env) from None
            raise Rejected(Reason.INVALID_PAYLOAD, f"invalid {env.kind} payload: {exc}", env) from None
        p_origin = payload_origin(payload)
        if p_origin is not None and p_origin != env.origin:
            raise Rejected(Reason.MISLABELLED, f"payload origin {p_origin} but envelope origin {env.origin}", env)
        try:
            p_ex = payload_exercise(payload)
        except ValueError as exc:
            raise Rejected(Reason.INVALID_PAYLOAD, str(exc), env) from None
        if p_ex != env.exercise:
            raise Rejected(Reason.EXERCISE_MISMATCH, f"envelope exercise={env.exercise} but payload "
                                                     f"exercise={p_ex}", env)
        p_time = payload_time(payload)
        if p_time is not None and p_time != env.valid_time:
            raise Rejected(Reason.MISLABELLED, f"envelope valid_time {env.valid_time} but payload time {p_time}", env)
        if s.release:
            try:
                check_no_sensor_identity(payload)
            except ReleaseError as exc:
                raise Rejected(Reason.NOT_RELEASABLE, str(exc), env) from None
        self._commit(stream_key, env)
        return env, payload

    def _commit(self, key: tuple[str, str], env: Envelope) -> None:
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream()
        ids = self._ids[key[0]]
        stream.seen[env.seq] = env.msg_id
        heapq.heappush(stream.heap, env.seq)
        ids[env.msg_id] = (key[1], env.seq)
        if env.seq > stream.high:
            stream.high = env.seq
        floor = stream.high - self.window
        heap = stream.heap
        while heap and heap[0] <= floor:
            old = heapq.heappop(heap)
            mid = stream.seen.pop(old)
            if ids.get(mid) == (key[1], old):
                del ids[mid]

    def state(self) -> dict:
        """The replay windows as a JSON-able dict (persist it to survive a restart)."""
        return {"window": self.window,
                "streams": {f"{o}/{k}": {"high": st.high, "seen": {str(q): m for q, m in st.seen.items()}}
                            for (o, k), st in self._streams.items()}}

    def load_state(self, state: dict) -> None:
        """Restore replay windows saved by ``state()`` (merging into the current ones)."""
        for name, st in state.get("streams", {}).items():
            origin, kind = name.split("/")
            key = (origin, kind)
            entries = sorted((int(q), m) for q, m in st["seen"].items())
            for q, m in entries:
                self._commit(key, _Stub(q, m))
            stream = self._streams.get(key)
            if stream is None:
                stream = self._streams[key] = _Stream()
            stream.high = max(stream.high, int(st["high"]))


class _Stub(NamedTuple):
    seq: int
    msg_id: str
