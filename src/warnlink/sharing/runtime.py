"""Orchestration of the whole embedded deployment: the fabric (three nats-server processes) plus the three
national node processes, in one state directory; and the headless demo.

Layout of a state directory (``Runtime(state_dir)``)::

    fabric/            the Fabric's state (configuration with resolved ports, credentials, PKI, servers)
    keys/              Ed25519 envelope keys: <N>.key.pem (0600) and <N>.pub.pem per nation
    nodes/<N>/         each node's files (see ``warnlink.sharing.node``): audit log, snapshot, timing, CAP
    runtime.json       node settings (mode, intervals) so that ``Runtime.attach`` restarts nodes alike

``up()`` generates what is missing (credentials, TLS certificates, envelope keys), starts the servers (hub
first), provisions the origin streams, partner consumers and the dead-letter streams ``<N>_DEAD``, starts
one node process per nation and waits until each reports ready. ``down()`` stops the nodes (SIGTERM, then
SIGKILL after a timeout) and then the servers; it works from another process too (``Runtime.attach``).
Everything started is stopped again when ``up`` fails, and a ``with Runtime(...)`` block always runs ``down``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec

from warnlink.sharing.fabric import Fabric, FabricConfig, FabricError, _pid_alive, _run_async, load_config
from warnlink.sharing.ids import uuid7
from warnlink.sharing.node import dead_letter_subject, encode_batch, feed_subject, node_dir

RUNTIME_FILE = "runtime.json"
NODE_MODULE = "warnlink.sharing.node"


def default_runtime_dir() -> Path:
    """Where ``warnlink up`` keeps its state: ``$WARNLINK_STATE_DIR``, else ``$XDG_STATE_HOME/warnlink``
    (``~/.local/state/warnlink``)."""
    env = os.environ.get("WARNLINK_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "warnlink"


def ensure_keys(keys_dir: Path, nations: Iterable[str]) -> None:
    """Generate the Ed25519 envelope key of every nation that has none (kept across ``up``/``down``)."""
    from warnlink.sharing.envelope import KeyRing

    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    for n in nations:
        if not (keys_dir / f"{n}.key.pem").exists():
            KeyRing.generate(n).save(keys_dir)


def _is_node_process(pid: int, state_dir: Path, nation: str) -> bool:
    if not _pid_alive(pid):
        return False
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True
    return NODE_MODULE.encode() in cmd and nation.encode() in cmd and str(state_dir).encode() in cmd


class Feeder:
    """A sensor feed into one nation's node: ``await send(batch, epoch=, exercise=)`` publishes a report batch
    on the nation-local feed subject (header ``Wl-Sent`` = now). Use as ``async with rt.feeder("KOR") as f``."""

    def __init__(self, runtime: Runtime, nation: str):
        self.runtime, self.nation = runtime, nation
        self.nc = None
        self.sent = 0

    async def __aenter__(self) -> Feeder:
        self.nc = await self.runtime.fabric.connect(self.nation, "node", name=f"warnlink-feed-{self.nation.lower()}")
        self.js = self.nc.jetstream(timeout=10.0)
        return self

    async def __aexit__(self, *exc) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.flush(timeout=2)
            with contextlib.suppress(Exception):
                await self.nc.close()
            self.nc = None

    async def send(self, batch, *, epoch: float, exercise: bool, batch_id: str | None = None) -> float:
        """Publish one batch; returns its ``Wl-Sent`` stamp."""
        batch_id = batch_id or uuid7()
        data = encode_batch(batch, nation=self.nation, epoch=epoch, exercise=exercise, batch_id=batch_id)
        return await self.send_raw(data, msg_id=batch_id)

    async def send_raw(self, data: bytes, msg_id: str | None = None) -> float:
        """Publish raw bytes on the feed subject (also for hostile-input tests) into the nation-local feed
        stream ``<N>_FEED``, waiting for its acknowledgement (``Nats-Msg-Id``: ``msg_id`` or a fresh id; the
        stream stores a re-sent id once), so that a batch sent while the node is down waits for it. While the
        nation's server is down or recovering its streams (a restart after ``kill -9``: more than 10 s under
        load), the publish is retried with the same id until ``FEED_RETRY_S`` has passed, then the error is
        raised: a sensor feed loses nothing to a server restart."""
        import nats.errors
        import nats.js.errors

        sent = time.time()
        msg_id = msg_id or uuid7()
        while True:
            try:
                await self.js.publish(feed_subject(self.nation), data, timeout=10.0,
                                      headers={"Wl-Sent": repr(sent), "Nats-Msg-Id": msg_id})
                break
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError):
                if time.time() - sent > FEED_RETRY_S:
                    raise
                await asyncio.sleep(0.5)
        self.sent += 1
        return sent


FEED_RETRY_S = 60.0
"""How long a sensor feed keeps re-sending a batch its server has not acknowledged (``Feeder.send_raw``)."""


class Runtime:
    """The fabric and the national nodes of one state directory. See the module docstring.

    ``config``: a ``FabricConfig``, a path to a fabric YAML, or None (the embedded default).
    ``mode``: the nodes' alert mode (``live``, ``exercise``, ``test``); ``node_args``: extra command-line
    arguments of every node (e.g. ``["--assess-interval", "0.25"]``).
    """

    def __init__(self, state_dir: str | Path | None = None, config: FabricConfig | str | Path | None = None, *,
                 mode: str = "live", node_args: list[str] | None = None, python: str | None = None):
        self.state_dir = Path(state_dir or default_runtime_dir()).resolve()
        if isinstance(config, FabricConfig):
            cfg = config
        else:
            cfg = load_config(config)
        self.fabric = Fabric(cfg, self.state_dir / "fabric")
        self.mode = mode
        self.node_args = list(node_args or [])
        self.python = python or sys.executable
        self._procs: dict[str, subprocess.Popen] = {}
        self.interrupt: threading.Event | None = None
        """When set (e.g. by a signal handler), ``up`` gives up at its next wait and stops what it started."""

    # ------------------------------------------------------------------ state
    @classmethod
    def attach(cls, state_dir: str | Path | None = None) -> Runtime:
        """The runtime whose state is in ``state_dir`` (default: ``default_runtime_dir()``)."""
        sd = Path(state_dir or default_runtime_dir()).resolve()
        fab = Fabric.attach(sd / "fabric")
        rt = cls.__new__(cls)
        rt.state_dir, rt.fabric, rt._procs, rt.interrupt = sd, fab, {}, None
        rt.python = sys.executable
        try:
            raw = json.loads((sd / RUNTIME_FILE).read_text())
        except (OSError, ValueError):
            raw = {}
        rt.mode = raw.get("mode", "live")
        rt.node_args = list(raw.get("node_args", []))
        return rt

    @property
    def nations(self) -> list[str]:
        """The nations of the fabric (one node each)."""
        return list(self.fabric.config.nations)

    @property
    def local_nations(self) -> list[str]:
        """The nations whose server this machine manages: their nodes run here (a deployment on separate
        machines runs each nation's node beside its server)."""
        return [s.nation for s in self.fabric.config.servers if s.managed]

    @property
    def keys_dir(self) -> Path:
        """The envelope key directory."""
        return self.state_dir / "keys"

    def node_dir(self, nation: str) -> Path:
        """``nation``'s node directory."""
        return node_dir(self.state_dir, nation)

    def audit_path(self, nation: str) -> Path:
        """``nation``'s current audit log."""
        return self.node_dir(nation) / "audit.jsonl"

    def save_config(self) -> None:
        """Write the runtime's settings (mode, node arguments) to ``<state>/runtime.json``, so that later
        ``warnlink status``/``down`` and node restarts use the same; ``up`` does this first."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / RUNTIME_FILE).write_text(json.dumps({"mode": self.mode, "node_args": self.node_args}))

    # ------------------------------------------------------------------ up / down
    def up(self, timeout: float = 180.0) -> dict:
        """Start servers and nodes, wait until every node is ready; returns ``status()``.

        On failure (or Ctrl-C) everything this call started is stopped again."""
        running = [n for n in self.nations if self.node_pid(n) is not None]
        if running:
            raise FabricError(f"{self.state_dir}: node(s) {', '.join(running)} already running; `warnlink down` first")
        self.save_config()
        ensure_keys(self.keys_dir, self.nations)
        try:
            self.fabric.up()
            _run_async(self.provision_local_streams)
            self.warm_up(timeout=timeout * 5)
            for n in self.local_nations:
                self.start_node(n, wait=False)
            self.wait_ready(self.local_nations, timeout=timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                self.down()
            raise
        return self.status()

    def warm_up(self, timeout: float = 300.0) -> float:
        """Compile (or load from the on-disk cache) the nodes' Numba paths once, in a separate process, so
        that three nodes starting together load the cache instead of compiling in parallel; returns seconds."""
        t0 = time.monotonic()
        log = self.state_dir / "warm-up.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([self.python, "-m", NODE_MODULE, "--warm-up"], stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            while proc.poll() is None:
                self._check_interrupt()
                if time.monotonic() - t0 > timeout:
                    raise FabricError(f"node warm-up did not finish in {timeout} s")
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            raise FabricError(f"node warm-up failed (exit {proc.returncode}):\n{log.read_text()[-3000:]}")
        return time.monotonic() - t0

    def _check_interrupt(self) -> None:
        if self.interrupt is not None and self.interrupt.is_set():
            raise KeyboardInterrupt("interrupted")

    async def provision_local_streams(self) -> None:
        """Create (or update) each managed nation's nation-local streams: the dead-letter stream ``<N>_DEAD``
        (subject ``wl.<N>.local.dead``, 7 days, at most 1 000 000 messages) and the sensor feed stream
        ``<N>_FEED`` (subject ``wl.<N>.local.report``, one hour, deduplicated on ``Nats-Msg-Id``) with the
        durable consumer its node reads (explicit acknowledgement), so that reports sent while a node is down
        wait for it. The fabric must be up; ``up`` calls it, and so does a caller that starts the servers and
        the nodes itself (the benchmark)."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
        from nats.js.errors import BadRequestError

        from warnlink.sharing.fabric import FEED_CONSUMER, feed_stream_name

        pol = self.fabric.config.streams
        for n in self.nations:
            s = self.fabric.config.home(n)
            if not s.managed:  # another machine's fabric provisions its own nation
                continue
            nc = await self.fabric.connect(n, self.fabric._admin(n))
            try:
                js = nc.jetstream(timeout=5)
                streams = [
                    StreamConfig(name=f"{n}_DEAD", description=f"{n}'s rejected messages with the reason (headers)",
                                 subjects=[dead_letter_subject(n)], storage=StorageType.FILE,
                                 max_age=7 * 86400.0, max_msgs=1_000_000),
                    StreamConfig(name=feed_stream_name(n), description=f"{n}'s own sensor report batches (local)",
                                 subjects=[feed_subject(n)], storage=StorageType.FILE, max_age=3600.0,
                                 duplicate_window=pol.duplicate_window_s, max_bytes=pol.max_bytes)]
                for sc in streams:
                    try:
                        await js.add_stream(sc)
                    except BadRequestError:
                        await js.update_stream(sc)
                await js.add_consumer(feed_stream_name(n), ConsumerConfig(
                    durable_name=FEED_CONSUMER, description=f"{n}'s node reading its own sensor feed",
                    deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT, ack_wait=pol.ack_wait_s,
                    max_ack_pending=pol.max_ack_pending))
            finally:
                await nc.close()

    def down(self, timeout: float = 10.0) -> dict:
        """Stop every node (SIGTERM to all, SIGKILL after ``timeout``), then every server; ``{name: outcome}``."""
        result = {}
        signalled = set()
        for n in self.nations:  # signal all first, so that they stop in parallel
            pid = self.node_pid(n)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
                    signalled.add(n)
        for n in self.nations:
            with contextlib.suppress(Exception):
                outcome = self.stop_node(n, timeout=timeout)
                result[f"node-{n}"] = "stopped" if outcome == "not running" and n in signalled else outcome
        try:
            result.update(self.fabric.down(timeout=5.0))
        except FabricError as exc:
            result["fabric"] = str(exc)
        return result

    def __enter__(self) -> Runtime:
        self.up()
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    # ------------------------------------------------------------------ nodes
    def node_pid(self, nation: str) -> int | None:
        """The pid of ``nation``'s node process if it runs, else None."""
        proc = self._procs.get(nation)
        if proc is not None and proc.poll() is None:
            return proc.pid
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.node_dir(nation) / "node.pid").read_text().strip())
            if _is_node_process(pid, self.state_dir, nation):
                return pid
        return None

    def start_node(self, nation: str, *, wait: bool = True, timeout: float = 60.0) -> int:
        """Start ``nation``'s node process (``wait``: until its snapshot says ready); returns its pid."""
        if self.node_pid(nation) is not None:
            raise FabricError(f"node {nation} is already running (pid {self.node_pid(nation)})")
        d = self.node_dir(nation)
        d.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            (d / "snapshot.json").unlink()
        cmd = [self.python, "-m", NODE_MODULE, "--nation", nation, "--state", str(self.state_dir), "--mode",
               self.mode, *self.node_args]
        with open(d / "stdout.log", "ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, close_fds=True)
        self._procs[nation] = proc
        (d / "node.pid").write_text(f"{proc.pid}\n")
        if wait:
            self.wait_ready([nation], timeout=timeout)
        return proc.pid

    def stop_node(self, nation: str, *, kill: bool = False, timeout: float = 5.0) -> str:
        """Stop ``nation``'s node: SIGTERM (a clean stop: flush, snapshot), or SIGKILL with ``kill`` (a crash).
        Returns ``stopped``, ``killed`` or ``not running``."""
        pid = self.node_pid(nation)
        proc = self._procs.pop(nation, None)
        if pid is None:
            return "not running"
        result = "killed" if kill else "stopped"
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if kill:  # the node leads its own process group: its worker process goes with it
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid):
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.02)
            else:
                time.sleep(0.02)
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                result = "killed"
                deadline = time.monotonic() + timeout
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.wait(timeout=1)
        if kill:
            with contextlib.suppress(OSError):
                (self.node_dir(nation) / "node.pid").unlink()
        return result

    def kill_node(self, nation: str) -> str:
        """``kill -9`` of ``nation``'s node (nothing is flushed: a crash)."""
        return self.stop_node(nation, kill=True)

    def restart_node(self, nation: str, *, kill: bool = True, timeout: float = 60.0) -> int:
        """Kill (or stop) ``nation``'s node and start it again; returns the new pid once it is ready."""
        self.stop_node(nation, kill=kill)
        return self.start_node(nation, wait=True, timeout=timeout)

    def snapshot(self, nation: str) -> dict | None:
        """``nation``'s latest node snapshot (see ``warnlink.sharing.node``), or None."""
        try:
            return json.loads((self.node_dir(nation) / "snapshot.json").read_text())
        except (OSError, ValueError):
            return None

    def wait_ready(self, nations: Iterable[str] | None = None, timeout: float = 60.0) -> float:
        """Wait until the nodes (all, or ``nations``) report ready; returns the seconds waited."""
        want = list(nations) if nations is not None else self.nations
        t0 = time.monotonic()
        while True:
            pending = []
            for n in want:
                snap = self.snapshot(n)
                pid = self.node_pid(n)
                if pid is None:
                    tail = ""
                    with contextlib.suppress(OSError):
                        tail = "\n".join((self.node_dir(n) / "stdout.log").read_text(errors="replace")
                                         .splitlines()[-15:])
                        tail += "\n" + "\n".join((self.node_dir(n) / "node.log").read_text(errors="replace")
                                                 .splitlines()[-15:])
                    raise FabricError(f"node {n} exited while starting\n{tail}")
                if not (snap and snap.get("ready") and snap.get("pid") == pid):
                    pending.append(n)
            if not pending:
                return time.monotonic() - t0
            self._check_interrupt()
            if time.monotonic() - t0 > timeout:
                raise FabricError(f"node(s) {', '.join(pending)} not ready after {timeout} s")
            time.sleep(0.05)

    def wait_for(self, pred: Callable[[], Any], timeout: float = 10.0, step: float = 0.05) -> float:
        """Poll ``pred()`` until true; returns the seconds waited (``TimeoutError`` otherwise)."""
        t0 = time.monotonic()
        while not pred():
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(step)
        return time.monotonic() - t0

    # ------------------------------------------------------------------ feeding
    def feeder(self, nation: str) -> Feeder:
        """An async context manager publishing report batches into ``nation``'s node."""
        return Feeder(self, nation)

    async def feed(self, nation: str, batch, *, epoch: float, exercise: bool) -> float:
        """Publish one report batch into ``nation``'s node (opens and closes a connection)."""
        async with self.feeder(nation) as f:
            return await f.send(batch, epoch=epoch, exercise=exercise)

    def feed_sync(self, nation: str, batch, *, epoch: float, exercise: bool) -> float:
        """``feed`` from synchronous code."""
        return _run_async(lambda: self.feed(nation, batch, epoch=epoch, exercise=exercise))

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        """Servers, links, streams (the fabric's ``status()``) and node health, as a dict."""
        try:
            st = self.fabric.status()
        except Exception as exc:  # a fabric that cannot be read is reported, not raised
            st = {"healthy": False, "servers": [], "links": [], "streams": {}, "error": str(exc)}
        nodes = []
        now = time.time()
        for n in self.local_nations:
            pid = self.node_pid(n)
            snap = self.snapshot(n) or {}
            c = snap.get("counters", {})
            age = now - snap["wall"] if "wall" in snap else None
            nodes.append({
                "nation": n, "pid": pid, "running": pid is not None,
                "ready": bool(snap.get("ready")) and pid is not None and snap.get("pid") == pid,
                "snapshot_age_s": round(age, 3) if age is not None else None,
                "healthy": pid is not None and bool(snap.get("ready")) and age is not None and age < 5.0,
                "batches": c.get("batches", 0), "reports": c.get("reports", 0),
                "sent": {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("sent:")},
                "received": {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("received:")},
                "rejected": c.get("rejected", 0) + c.get("rejected_batches", 0),
                "dead_lettered": c.get("dead_lettered", 0),
                "launches": len(snap.get("picture", [])),
                "objects": sum(len(e.get("objects", [])) for e in snap.get("picture", [])),
                "alerts_sent": c.get("alerts_sent", 0),
                "audit": str(self.audit_path(n)),
            })
        st["nodes"] = nodes
        st["state_dir"] = str(self.state_dir)
        st["healthy"] = bool(st.get("healthy")) and all(x["healthy"] for x in nodes)
        return st


# ---------------------------------------------------------------------------------------------- demo
async def replay(rt: Runtime, sim, *, speed: float = 50.0, step_s: float = 0.05, until_s: float | None = None,
                 nations: Iterable[str] | None = None, progress: Callable[[float], None] | None = None,
                 stop: threading.Event | None = None) -> dict:
    """Replay a simulation's reports through the fabric: each nation's own reports into its own node, in
    arrival order, ``speed`` times faster than real time, in batches of ``step_s`` of wall time (until
    ``stop`` is set). Returns counts per nation."""
    import numpy as np

    r = sim.reports
    nat = np.array([s.nation for s in sim.sensors])
    epoch = sim.epoch.timestamp()
    exercise = bool(sim.scenario.exercise)
    want = list(nations) if nations is not None else rt.nations
    if until_s is not None:
        r = r.take(r.arrival_s <= until_s)
    counts = {}
    if len(r) == 0:
        return counts
    a0 = float(r.arrival_s.min())
    window = step_s * speed
    slot = np.floor((r.arrival_s - a0) / window).astype(np.int64)
    feeders = {n: rt.feeder(n) for n in want}
    async with contextlib.AsyncExitStack() as stack:
        for f in feeders.values():
            await stack.enter_async_context(f)
        t0 = time.monotonic()
        for k in np.unique(slot):
            if stop is not None and stop.is_set():
                break
            target = t0 + k * step_s
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sel = slot == k
            for n in want:
                m = sel & (nat[r.sensor] == n)
                if m.any():
                    await feeders[n].send(r.take(m), epoch=epoch, exercise=exercise)
                    counts[n] = counts.get(n, 0) + int(m.sum())
            if progress:
                progress(float(k * window))
    return counts


def run_demo(event_id: str = "2022-10-04_1", *, speed: float = 50.0, state_dir: str | Path | None = None,
             catalog=None, settle_s: float = 3.0, say: Callable[[str], None] = print) -> dict:
    """``warnlink demo --headless``: up, replay a catalogue event through the fabric (each nation's own
    sensor reports into its own node, ``speed`` x real time), collect each nation's picture and alerts, down.
    Always stops what it started (also on error or Ctrl-C). Returns a summary dict."""
    import tempfile

    import numpy as np

    from warnlink.scenario.catalog import find_event, load_catalog
    from warnlink.scenario.history import scenario_from_event
    from warnlink.scenario.simulate import simulate

    t_start = time.monotonic()
    ev = find_event(load_catalog(catalog), event_id)
    sim = simulate(scenario_from_event(ev))
    impact_s = max(o.t_end_s for o in sim.objects)
    tmp = None
    if state_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="warnlink-demo-")
        state_dir = tmp.name
    rt = Runtime(state_dir)
    summary: dict[str, Any] = {"event_id": ev.event_id, "exercise": bool(sim.scenario.exercise), "speed": speed}

    stop = threading.Event()

    def on_signal(signum, frame):  # Ctrl-C / SIGTERM: stop the replay, unwind through the finally (down)
        if stop.is_set():
            raise KeyboardInterrupt(f"signal {signum}")
        stop.set()
        say("interrupted: stopping the nodes and the servers ...")

    old_handlers = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            old_handlers[sig] = signal.signal(sig, on_signal)

    def check():
        if stop.is_set():
            raise KeyboardInterrupt("interrupted")

    rt.interrupt = stop

    try:
        say(f"starting the fabric and the national nodes in {rt.state_dir} ...")
        rt.up()
        check()
        summary["up_s"] = round(time.monotonic() - t_start, 2)
        say(f"up in {summary['up_s']} s; replaying {ev.event_id} ({ev.missile_type}) at {speed:g}x "
            f"({len(sim.reports)} reports, {impact_s:.0f} s of flight)")
        t_rep = time.monotonic()
        counts = _run_async(lambda: replay(rt, sim, speed=speed, until_s=impact_s + 10.0, stop=stop))
        check()
        summary["replay_s"] = round(time.monotonic() - t_rep, 2)
        summary["reports"] = counts
        # A node that fell behind (e.g. the first run on a machine, while Numba fills its cache) still holds
        # a backlog of its own reports: wait until every node has taken all it was fed, then settle.
        def caught_up() -> bool:
            check()
            snaps = {n: rt.snapshot(n) or {} for n in counts}
            return all(snaps[n].get("counters", {}).get("reports", 0) >= c for n, c in counts.items())

        def idle() -> bool:  # every node's tracking and launch-estimate jobs taken back (none in flight)
            check()
            return all(not any((rt.snapshot(n) or {}).get("busy", {"": 1}).values()) for n in counts)

        try:
            lag = rt.wait_for(caught_up, timeout=max(60.0, impact_s / speed * 10.0), step=0.2)
        except TimeoutError:
            lag = None
            say("warning: a node had not taken all its reports when the wait ended; its picture is partial")
        summary["catch_up_s"] = None if lag is None else round(lag, 2)
        if lag is not None and lag > 1.0:
            say(f"the nodes took their last reports {lag:.1f} s after the replay ended (they fell behind)")
        try:  # the last pushes' launch re-estimates (at burnout) are in before the settle
            rt.wait_for(idle, timeout=60.0, step=0.2)
        except TimeoutError:
            say("warning: a node's tracking or launch-estimate worker was still busy when the wait ended")
        stop.wait(settle_s)
        check()
        summary["nations"] = {n: _nation_summary(rt.snapshot(n) or {}) for n in rt.nations}
        summary["status_healthy"] = rt.status().get("healthy")
        summary["leak_check"] = _leak_check(rt, sim)
        del np
    finally:
        summary["down"] = rt.down()
        for sig, h in old_handlers.items():
            signal.signal(sig, h)
        if tmp is not None:
            with contextlib.suppress(Exception):
                tmp.cleanup()
    summary["wall_s"] = round(time.monotonic() - t_start, 2)
    return summary


def _nation_summary(snap: dict) -> dict:
    c = snap.get("counters", {})
    launches = []
    for ev in snap.get("picture", []):
        objs = []
        for o in ev.get("objects", []):
            a = o.get("assessment") or {}
            objs.append({"object_id": o["object_id"], "origins": o.get("origins"), "kind": o.get("kind"),
                         "exercise": o.get("exercise"),
                         "impact": ({"lat_deg": round(a["lat_deg"], 3), "lon_deg": round(a["lon_deg"], 3),
                                     "semi_major_km": round(a["semi_major_m"] / 1e3, 1),
                                     "semi_minor_km": round(a["semi_minor_m"] / 1e3, 1),
                                     "time": a["impact_time"], "range_km": round(a["range_m"] / 1e3),
                                     "apogee_km": round(a["apogee_m"] / 1e3),
                                     "overflights": sorted({p["nation"] for p in a.get("overflights", [])}),
                                     "probabilities": {k: round(v, 3) for k, v in a.get("probabilities", {}).items()}}
                                    if a.get("impacted") else None)})
        partner = {k: len(v) for k, v in ev.get("partner_assessments", {}).items()}
        launches.append({"event_id": ev["event_id"], "aliases": ev.get("aliases"), "launch": ev.get("launch"),
                         "exercise": ev.get("exercise"), "objects": objs, "partner_assessments": partner})
    final = []
    for a in snap.get("assessments", []):
        if not a.get("impacted"):
            continue
        final.append({"object_id": a["object_id"], "event_id": a.get("event_id"), "origins": a.get("origins"),
                      "kind": a.get("kind"), "live": a.get("live"), "exercise": a.get("exercise"),
                      "lat_deg": round(a["lat_deg"], 3), "lon_deg": round(a["lon_deg"], 3),
                      "semi_major_km": round(a["semi_major_m"] / 1e3, 1),
                      "semi_minor_km": round(a["semi_minor_m"] / 1e3, 1), "impact_time": a["impact_time"],
                      "range_km": round(a["range_m"] / 1e3), "apogee_km": round(a["apogee_m"] / 1e3),
                      "overflights": sorted({p["nation"] for p in a.get("overflights", [])})})
    return {"ready_at_end": snap.get("ready"), "assessments": final, "batches": c.get("batches", 0),
            "reports": c.get("reports", 0),
            "sent": {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("sent:")},
            "received": {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("received:")},
            "rejected": c.get("rejected", 0), "launches": launches,
            "alerts": [{k: a[k] for k in ("status", "msg_type", "regions", "overflight_regions", "headline")}
                       for a in snap.get("alerts", [])],
            "partner_alerts": len(snap.get("partner_alerts", []))}


def _leak_check(rt: Runtime, sim) -> dict:
    """Scan what each node *received* (audit log subjects, snapshot text) for the other allies' sensor ids."""
    out = {}
    for n in ("KOR", "JPN"):
        if n not in rt.nations:
            continue
        other = "JPN" if n == "KOR" else "KOR"
        ids = [s.sensor_id for s in sim.sensors if s.nation == other]
        text = ""
        with contextlib.suppress(OSError):
            text = (rt.node_dir(n) / "snapshot.json").read_text()
        leaked = [i for i in ids if i in text]
        subjects = set()
        with contextlib.suppress(OSError), open(rt.audit_path(n), "rb") as fh:
            for line in fh:
                with contextlib.suppress(ValueError):
                    rec = json.loads(line)
                    if rec.get("direction") == "received":
                        subjects.add(rec.get("subject"))
        bad = sorted(s for s in subjects if s and (s.startswith(f"wl.{other}.") and
                                                   (".track" in s or ".report" in s)))
        out[n] = {"sensor_ids_found": leaked, "forbidden_subjects": bad, "ok": not leaked and not bad}
    return out


def print_demo(summary: dict, say: Callable[[str], None] = print) -> None:
    """Human-readable lines of a ``run_demo`` summary."""
    from datetime import UTC, datetime

    def ts(t):
        return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S") if t else "-"

    mark = "EXERCISE" if summary.get("exercise") else "ACTUAL"
    say(f"{mark} - {summary['event_id']}: replayed at {summary['speed']:g}x; up {summary.get('up_s')} s, "
        f"replay {summary.get('replay_s')} s, total {summary.get('wall_s')} s")
    for n, s in (summary.get("nations") or {}).items():
        say(f"[{n}] {s['reports']} own reports in {s['batches']} batches; sent {s['sent']}; received "
            f"{s['received']}; rejected {s['rejected']}")
        for ev in s["launches"]:
            li = ev.get("launch") or {}
            if not li:  # objects of no known launch (e.g. terminal-phase tracks): listed without a launch line
                say(f"  objects of no known launch ({ev['event_id']}); partner assessments "
                    f"{ev['partner_assessments']}")
            else:
                say(f"  launch {ev['event_id']} (aliases {', '.join(a for a in ev['aliases'] if a != ev['event_id'])}"
                    f"): point {li.get('lat_deg', float('nan')):.3f}N {li.get('lon_deg', float('nan')):.3f}E at "
                    f"{ts(li.get('time'))}Z (from {li.get('origin')}); partner assessments "
                    f"{ev['partner_assessments']}")
            for o in ev["objects"]:
                imp = o["impact"]
                if imp is None:
                    say(f"    object {o['object_id']} [{'+'.join(o['origins'] or [])}]: no impact predicted yet")
                    continue
                say(f"    object {o['object_id']} [{'+'.join(o['origins'] or [])}] {o['kind']}: impact "
                    f"{imp['lat_deg']:.2f}N {imp['lon_deg']:.2f}E at {ts(imp['time'])}Z, 95% ellipse "
                    f"{imp['semi_major_km']}x{imp['semi_minor_km']} km, range {imp['range_km']} km, apogee "
                    f"{imp['apogee_km']} km, overflies {','.join(imp['overflights']) or '-'}")
        for a in s.get("assessments", []):
            say(f"  assessment of {a['object_id']} [{'+'.join(a['origins'] or [])}] {a['kind']}"
                f"{'' if a['live'] else ' (track ended)'}: impact {a['lat_deg']:.2f}N {a['lon_deg']:.2f}E at "
                f"{ts(a['impact_time'])}Z, 95% ellipse {a['semi_major_km']}x{a['semi_minor_km']} km, range "
                f"{a['range_km']} km, apogee {a['apogee_km']} km, overflies {','.join(a['overflights']) or '-'}")
        if s["alerts"]:
            for a in s["alerts"]:
                say(f"  alert {a['status']} {a['msg_type']}: {a['headline']}")
        else:
            say("  alerts: none")
        say(f"  partner alerts received: {s['partner_alerts']}")
    for n, lc in (summary.get("leak_check") or {}).items():
        say(f"leak check {n}: {'ok' if lc['ok'] else 'LEAK ' + json.dumps(lc)}")


def _json(obj) -> str:
    return json.dumps(msgspec.to_builtins(obj))


__all__ = ["Feeder", "Runtime", "default_runtime_dir", "ensure_keys", "print_demo", "replay", "run_demo"]
