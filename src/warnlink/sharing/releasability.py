"""Releasability: what each nation releases to whom, and the subject scheme that carries the decision.

A ``Policy`` (YAML, default ``data/releasability.yaml`` = the real mechanism) maps (origin nation, message
kind) to the set of other nations that may receive it. The decision rides in the NATS subject, so that
server permissions and consumer filters enforce it and every receiver re-checks it (single source for the
fabric, the sealer and the verifier)::

    wl.<ORIGIN>.<RELEASE>.<KIND>[.<id>]

``ORIGIN`` is KOR, JPN or USA; ``KIND`` one of report, track, launch, assessment, alert; ``RELEASE`` is
``local`` (never leaves the origin) or the sorted, dash-joined set of receiving nations other than the origin
(``USA``, ``JPN-USA``, ``KOR-USA``, ``JPN-KOR``). Under the default policy:

=======  =====================  =====================  ==========================================
origin   report                 track                  launch / assessment / alert
=======  =====================  =====================  ==========================================
KOR      ``wl.KOR.local.report``  ``wl.KOR.USA.track``     ``wl.KOR.JPN-USA.<kind>``
JPN      ``wl.JPN.local.report``  ``wl.JPN.USA.track``     ``wl.JPN.KOR-USA.<kind>``
USA      ``wl.USA.local.report``  ``wl.USA.JPN-KOR.track`` ``wl.USA.JPN-KOR.<kind>``
=======  =====================  =====================  ==========================================

US tracks go to both partners: the US is a party to both bilateral links that pre-date the trilateral
mechanism and shared tracks on each; a US track carries no ally sensor identity (see
``check_no_sensor_identity``). Rules the loader enforces whatever the file says: sensor reports are local;
a nation never lists itself; every release beyond the origin includes the hub (the allies are linked only
through it).

``check_no_sensor_identity`` is the scrubber at the point of release: a payload that leaves its nation must
not have any field whose name mentions a sensor (``sensor_id``, ``sensor_pos_ecef_m`` ...), checked on the
type's field names recursively (cached per type).
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import yaml

from warnlink.sharing.messages import KINDS, NATIONS, kind_of

SUBJECT_PREFIX = "wl"
LOCAL = "local"
_ID_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FORBIDDEN_FIELD = re.compile(r"sensor", re.IGNORECASE)
"""A field whose name matches this is sensor identity (id, kind, position) and never leaves its nation."""
_TOP_KEYS = ("version", "hub", "release")


class PolicyError(ValueError):
    """A releasability policy that cannot be used; the message names the file and the bad key."""


class SubjectError(ValueError):
    """A subject that is not a well-formed warnlink subject."""


class ReleaseError(ValueError):
    """A payload that must not leave its nation (or not to these receivers)."""


class Subject(NamedTuple):
    """A parsed subject: origin nation, set of receiving nations (empty = local), kind, optional id token."""

    origin: str
    release: frozenset
    kind: str
    id: str | None

    @property
    def release_token(self) -> str:
        """The subject's release token (``local`` or the sorted dash-joined nations)."""
        return release_token(self.release)


def release_token(nations) -> str:
    """``local`` for an empty set, else the nations sorted and joined with ``-`` (``JPN-USA``)."""
    return "-".join(sorted(nations)) if nations else LOCAL


@functools.lru_cache(maxsize=4096)
def parse_subject(subject: str) -> Subject:
    """Parse ``wl.<ORIGIN>.<RELEASE>.<KIND>[.<id>]``; ``SubjectError`` says what is wrong.

    The release token must be canonical (sorted, no repeats, not the origin) so that each release has exactly
    one subject; this is syntax only, not policy (see ``Policy.allows`` and ``may_receive``). Results are
    cached (subjects repeat).
    """
    if not isinstance(subject, str):
        raise SubjectError(f"subject must be a string, got {type(subject).__name__}")
    tokens = subject.split(".")
    if len(tokens) not in (4, 5) or tokens[0] != SUBJECT_PREFIX:
        raise SubjectError(f"subject {subject[:200]!r} is not of the form wl.<ORIGIN>.<RELEASE>.<KIND>[.<id>]")
    _, origin, rel, kind = tokens[:4]
    if origin not in NATIONS:
        raise SubjectError(f"subject {subject!r}: unknown origin {origin!r} (expected one of {', '.join(NATIONS)})")
    if kind not in KINDS:
        raise SubjectError(f"subject {subject!r}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    if rel == LOCAL:
        release: frozenset = frozenset()
    else:
        parts = rel.split("-")
        for p in parts:
            if p not in NATIONS:
                raise SubjectError(f"subject {subject!r}: unknown nation {p!r} in release token {rel!r}")
        release = frozenset(parts)
        if origin in release:
            raise SubjectError(f"subject {subject!r}: release token {rel!r} names the origin {origin}")
        if rel != release_token(release):
            raise SubjectError(f"subject {subject!r}: release token {rel!r} is not canonical "
                               f"(write {release_token(release)!r})")
    sid = None
    if len(tokens) == 5:
        sid = tokens[4]
        if not _ID_TOKEN.fullmatch(sid):
            raise SubjectError(f"subject {subject[:200]!r}: id token must be 1-64 of [A-Za-z0-9_-]")
    return Subject(origin, release, kind, sid)


class Policy:
    """A releasability policy: ``receivers(origin, kind)`` -> the other nations that may receive it."""

    def __init__(self, release: dict[tuple[str, str], frozenset], hub: str, source: str = "<policy>"):
        self._release = dict(release)
        self.hub = hub
        self.source = source

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """Load and validate a policy YAML file; ``PolicyError`` names the file and the bad key."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read releasability policy: {exc}") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: Any, source: str = "<mapping>") -> Policy:
        """Validate a policy given as a mapping (the YAML's content)."""

        def fail(key: str, msg: str):
            raise PolicyError(f"{source}: {key}: {msg}" if key else f"{source}: {msg}")

        if not isinstance(data, dict):
            fail("", f"expected a mapping with keys {', '.join(_TOP_KEYS)}, got {type(data).__name__}")
        for key in data:
            if key not in _TOP_KEYS:
                fail(str(key), f"unknown key (expected {', '.join(_TOP_KEYS)})")
        for key in _TOP_KEYS:
            if key not in data:
                fail(key, "missing")
        if data["version"] != 1 or isinstance(data["version"], bool):
            fail("version", f"unsupported policy version {data['version']!r} (expected 1)")
        hub = data["hub"]
        if hub not in NATIONS:
            fail("hub", f"unknown nation {hub!r} (expected one of {', '.join(NATIONS)})")
        rel = data["release"]
        if not isinstance(rel, dict):
            fail("release", f"expected a mapping nation -> kind -> [nations], got {type(rel).__name__}")
        for origin in rel:
            if origin not in NATIONS:
                fail(f"release.{origin}", f"unknown nation (expected {', '.join(NATIONS)})")
        release: dict[tuple[str, str], frozenset] = {}
        for origin in NATIONS:
            key = f"release.{origin}"
            if origin not in rel:
                fail(key, "missing: every nation states what it releases")
            kinds = rel[origin]
            if not isinstance(kinds, dict):
                fail(key, f"expected a mapping kind -> [nations], got {type(kinds).__name__}")
            for kind in kinds:
                if kind not in KINDS:
                    fail(f"{key}.{kind}", f"unknown kind (expected {', '.join(KINDS)})")
            for kind in KINDS:
                kkey = f"{key}.{kind}"
                if kind not in kinds:
                    fail(kkey, "missing: list every kind ([] for never released)")
                to = kinds[kind]
                if to is None:
                    to = []
                if not isinstance(to, list):
                    fail(kkey, f"expected a list of nations, got {type(to).__name__}")
                for i, n in enumerate(to):
                    if n not in NATIONS:
                        fail(f"{kkey}[{i}]", f"unknown nation {n!r} (expected one of {', '.join(NATIONS)})")
                    if n == origin:
                        fail(f"{kkey}[{i}]", f"{origin} cannot release to itself (use at home is implicit)")
                if len(set(to)) != len(to):
                    fail(kkey, f"nation listed twice in {to}")
                if kind == "report" and to:
                    fail(kkey, "sensor reports never leave their nation (DESIGN section 6); must be []")
                if to and origin != hub and hub not in to:
                    fail(kkey, f"a release beyond {origin} must include the hub {hub}: "
                               "the allies are linked only through it")
                release[(origin, kind)] = frozenset(to)
        return cls(release, hub, source)

    # ------------------------------------------------------------------ queries
    def receivers(self, origin: str, kind: str) -> frozenset:
        """The nations other than ``origin`` that may receive ``kind`` messages from it (empty: local)."""
        try:
            return self._release[(origin, kind)]
        except KeyError:
            if origin not in NATIONS:
                raise ValueError(f"unknown origin nation {origin!r} (expected one of {', '.join(NATIONS)})") from None
            raise ValueError(f"unknown message kind {kind!r} (expected one of {', '.join(KINDS)})") from None

    def allows(self, origin: str, kind: str, release) -> bool:
        """True when releasing ``kind`` from ``origin`` to the set ``release`` stays within the policy."""
        return frozenset(release) <= self.receivers(origin, kind)

    def subject_for(self, origin: str, kind: str, id: str | None = None, release=None) -> str:
        """The subject for ``kind`` from ``origin`` (release = the policy's, or a narrower set given)."""
        allowed = self.receivers(origin, kind)
        rel = allowed if release is None else frozenset(release)
        if not rel <= allowed:
            raise ReleaseError(f"{origin} {kind} may go to {release_token(allowed)} only, not to "
                                   f"{', '.join(sorted(rel - allowed))} (policy {self.source})")
        subject = f"{SUBJECT_PREFIX}.{origin}.{release_token(rel)}.{kind}"
        if id is not None:
            if not isinstance(id, str) or not _ID_TOKEN.fullmatch(id):
                raise ValueError(f"subject id token {id!r} must be 1-64 of [A-Za-z0-9_-]")
            subject += "." + id
        return subject

    def may_receive(self, nation: str, subject: str) -> bool:
        """True when ``nation`` may receive a message published on ``subject``: the subject is well formed, its
        release stays within the policy, and the nation is the origin or one of the receivers."""
        try:
            s = parse_subject(subject)
        except SubjectError:
            return False
        if not s.release <= self._release[(s.origin, s.kind)]:
            return False
        return nation == s.origin or nation in s.release

    def publish_subjects(self, origin: str) -> list[str]:
        """Subject patterns ``origin`` publishes on under this policy: one per kind, and the same with ``.*`` for an
        id token."""
        out = []
        for kind in KINDS:
            s = self.subject_for(origin, kind)
            out += [s, s + ".*"]
        return out

    def receive_filters(self, nation: str) -> list[str]:
        """Subject patterns of the other nations' messages ``nation`` may receive (for permissions and consumer
        filters): ``wl.<ORIGIN>.<RELEASE>.<KIND>`` and the same with ``.*`` for an id token."""
        if nation not in NATIONS:
            raise ValueError(f"unknown nation {nation!r} (expected one of {', '.join(NATIONS)})")
        out = []
        for origin in NATIONS:
            if origin == nation:
                continue
            for kind in KINDS:
                rel = self._release[(origin, kind)]
                if nation in rel:
                    s = f"{SUBJECT_PREFIX}.{origin}.{release_token(rel)}.{kind}"
                    out += [s, s + ".*"]
        return out

    def table(self) -> dict[str, dict[str, list[str]]]:
        """The policy as ``{origin: {kind: [receivers sorted]}}``."""
        return {o: {k: sorted(self._release[(o, k)]) for k in KINDS} for o in NATIONS}


# ---------------------------------------------------------------------------------------------- scrubber
@functools.lru_cache(maxsize=256)
def sensor_identity_fields(cls: type) -> tuple[str, ...]:
    """Paths of fields of struct type ``cls`` (recursively through nested structs, lists, tuples, unions,
    dict values) whose names mention a sensor; ``<dict keys>`` when a free-form mapping could hide one."""
    found: list[str] = []
    seen: set[type] = set()

    def walk(t: msgspec.inspect.Type, path: str) -> None:
        mi = msgspec.inspect
        if isinstance(t, mi.StructType):
            if t.cls in seen:
                return
            seen.add(t.cls)
            for f in t.fields:
                fpath = f"{path}.{f.encode_name}"
                if _FORBIDDEN_FIELD.search(f.name) or _FORBIDDEN_FIELD.search(f.encode_name):
                    found.append(fpath)
                walk(f.type, fpath)
        elif isinstance(t, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
            walk(t.item_type, path + "[]")
        elif isinstance(t, mi.TupleType):
            for i, item in enumerate(t.item_types):
                walk(item, f"{path}[{i}]")
        elif isinstance(t, mi.UnionType):
            for item in t.types:
                walk(item, path)
        elif isinstance(t, mi.DictType):
            if not isinstance(t.key_type, (mi.LiteralType, mi.EnumType)):
                found.append(path + ".<dict keys>")
            walk(t.value_type, path + "{}")
        elif isinstance(t, mi.AnyType):
            found.append(path + ".<any>")
        elif isinstance(t, (mi.TypedDictType, mi.DataclassType, mi.NamedTupleType)):
            for f in t.fields:
                fpath = f"{path}.{f.name}"
                if _FORBIDDEN_FIELD.search(f.name):
                    found.append(fpath)
                walk(f.type, fpath)

    walk(msgspec.inspect.type_info(cls), "$")
    return tuple(found)


def check_no_sensor_identity(payload: Any) -> None:
    """Raise ``ReleaseError`` if ``payload`` (about to leave its nation) is a sensor report or its type has
    any field that could carry sensor identity (names mentioning a sensor; free-form mappings)."""
    kind = kind_of(payload)
    if kind == "report":
        raise ReleaseError("sensor reports never leave their nation")
    bad = sensor_identity_fields(type(payload))
    if bad:
        raise ReleaseError(f"{type(payload).__qualname__} cannot leave its nation: fields "
                               f"{', '.join(bad)} may carry sensor identity")


# ---------------------------------------------------------------------------------------------- default
DEFAULT_POLICY_FILE = "releasability.yaml"


def default_policy_path() -> Path:
    """The packaged default policy file (the real mechanism)."""
    return Path(str(resources.files("warnlink") / "data" / DEFAULT_POLICY_FILE))


@functools.lru_cache(maxsize=1)
def default_policy() -> Policy:
    """The packaged default policy, loaded once."""
    return Policy.load(default_policy_path())


def receivers(origin: str, kind: str) -> frozenset:
    """``Policy.receivers`` under the default policy."""
    return default_policy().receivers(origin, kind)


def subject_for(origin: str, kind: str, id: str | None = None, release=None) -> str:
    """``Policy.subject_for`` under the default policy."""
    return default_policy().subject_for(origin, kind, id, release)


def may_receive(nation: str, subject: str) -> bool:
    """``Policy.may_receive`` under the default policy."""
    return default_policy().may_receive(nation, subject)
