"""Faults on the real deployment (three nats-server processes, three national node processes), each its own
test, each in the middle of a salvo event replayed through the fabric:

- ``kill -9`` of the hub server, restarted a few seconds later;
- the KOR leaf link cut for 30 s (the KOR leaf server reloaded without its remote, then with it again; the
  servers and the nodes keep running);
- ``kill -9`` of the JPN node process, restarted a few seconds later.

After each: every warning message sent (each ``sent`` record of every node's audit log) reached every
partner its subject releases it to exactly once in effect (one ``received`` record there, no rejection, no
dead letter), the partners' pictures converge on the originators' (JPN holds the latest version of every
track the hub released to it and every launch KOR announced), and the recovery times are printed.
Warning data must resume within 2 s of a link returning (``RESUME_TARGET_S``): the measured resume times are
printed with the figures. Speed targets do not belong in timed tests (these run beside other tests on a
2-core CI machine, where a node's event loop can lag by seconds), so the assertion is the property the
target protects: data resumes on the fast path (pull consumers), well before JetStream source/mirror
replication would (10-40 s after a link drop, measured with nats-server 2.15): ``FAST_PATH_LIMIT_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import time
from collections import Counter

import pytest

from warnlink.scenario.model import decode_scenario
from warnlink.scenario.simulate import simulate
from warnlink.sharing.fabric import _run_async
from warnlink.sharing.runtime import Runtime, replay

SCENARIO = """
name: faults-salvo
exercise: true
seed: 11
sensors:
  nations: [KOR, USA, JPN]
  exclude: [USA-SBIRS-GEO]
launches:
  - id: west
    site: {lat: 39.2, lon: 125.673}
    time: 2026-03-01T00:00:00Z
    missile: SRBM-solid
    azimuth_deg: 95
    apogee_km: 97
    range_km: 380
    count: 2
    spacing_s: 4
    azimuth_spread_deg: 4
  - id: east
    site: {lat: 39.168, lon: 127.482}
    time: 2026-03-01T00:00:20Z
    missile: SRBM-solid
    azimuth_deg: 100
    apogee_km: 90
    range_km: 300
    count: 1
"""
T_FROM, T_TO = 55.0, 400.0
"""Scenario seconds replayed (from just before the first detections to shortly before the last impact)."""
RESUME_TARGET_S = 2.0
"""The issue's target for warning data after a link returns (printed beside each measured figure)."""
FAST_PATH_LIMIT_S = 8.0
"""Asserted: resumed on the fast path, not after JetStream source/mirror's 10-40 s."""


@pytest.fixture(scope="module")
def salvo():
    sim = simulate(decode_scenario(SCENARIO))
    r = sim.reports
    keep = (r.arrival_s >= T_FROM) & (r.arrival_s <= T_TO)
    return dataclasses.replace(sim, reports=r.take(keep))


@pytest.fixture
def runtime(tmp_path):
    rt = Runtime(tmp_path / "wl")
    try:
        rt.up()
        yield rt
    finally:
        rt.down(timeout=3.0)


# ------------------------------------------------------------------------------------------------ evidence
def audit_records(rt: Runtime, nation: str) -> list[dict]:
    """Every record of a node's audit log, all segments (a crash may have started a new one)."""
    d = rt.node_dir(nation)
    out = []
    for p in sorted(d.glob("audit*.jsonl")):
        for line in p.read_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
    return out


def release_of(subject: str) -> list[str]:
    tok = subject.split(".")[2]
    return [] if tok == "local" else tok.split("-")


def delivery_report(rt: Runtime) -> dict:
    """For every node's sent records: which partners received them how often; rejections anywhere."""
    recs = {n: audit_records(rt, n) for n in rt.nations}
    received = {n: Counter(r["msg_id"] for r in recs[n] if r["direction"] == "received" and r["origin"] != n)
                for n in rt.nations}
    missing, dup, sent = [], [], Counter()
    sent_ids = {n: set() for n in rt.nations}
    for n in rt.nations:
        for r in recs[n]:
            if r["direction"] != "sent":
                continue
            sent_ids[n].add(r["msg_id"])
            kind = r["subject"].split(".")[3]
            for p in release_of(r["subject"]):
                sent[(n, p, kind)] += 1
                c = received[p][r["msg_id"]]
                if c == 0:
                    missing.append((n, p, kind, r["msg_id"]))
                elif c > 1:
                    dup.append((n, p, kind, r["msg_id"], c))
    # what a partner accepted must have been recorded as sent by its origin
    unrecorded = [(p, r["origin"], r["subject"], r["msg_id"]) for p in rt.nations for r in recs[p]
                  if r["direction"] == "received" and r["origin"] != p and r["origin"] in sent_ids
                  and r["msg_id"] not in sent_ids[r["origin"]]]
    rejected = [(n, r["reason"], r["subject"]) for n in rt.nations for r in recs[n] if r["direction"] == "rejected"]
    return {"sent": sent, "missing": missing, "duplicates": dup, "unrecorded": unrecorded, "rejected": rejected,
            "records": recs}


def wait_delivered(rt: Runtime, timeout: float) -> tuple[dict, float]:
    """Poll until nothing sent is missing at a partner and everything received is recorded as sent by its
    origin (a retry after a lost PubAck records it late), or ``timeout``; returns the last report and the time."""
    t0 = time.monotonic()
    t_delivered = None
    while True:
        rep = delivery_report(rt)
        now = time.monotonic()
        if not rep["missing"] and t_delivered is None:
            t_delivered = now
        late_ok = t_delivered is not None and (not rep["unrecorded"] or now - t_delivered > 10.0)
        if late_ok or now - t0 > timeout:  # a killed node's in-flight messages are never recorded: 10 s at most
            return rep, (t_delivered if t_delivered is not None else now) - t0
        time.sleep(0.25)


def assert_exactly_once(rep: dict, in_flight: set | None = None) -> None:
    """Every message sent reached each partner its subject names exactly once, nothing was rejected, and
    everything a partner accepted is in its origin's audit log as sent (a publish retried after a lost PubAck
    is stored once and must still be recorded: found by this test, fixed in the node). ``in_flight``: ids of
    messages a crashed node had published when it was killed, whose PubAck it never saw (stored, delivered,
    but not in its audit log: a crash cannot record them)."""
    summary = {f"{o}->{p} {k}": n for (o, p, k), n in sorted(rep["sent"].items())}
    assert rep["sent"][("KOR", "JPN", "assessment")] > 0 and rep["sent"][("USA", "JPN", "track")] > 0, summary
    assert rep["missing"] == [], (len(rep["missing"]), rep["missing"][:5], summary)
    assert rep["duplicates"] == [], rep["duplicates"][:5]
    assert rep["rejected"] == [], rep["rejected"][:5]
    unrecorded = [u for u in rep["unrecorded"] if u[3] not in (in_flight or set())]
    assert unrecorded == [], (len(unrecorded), unrecorded[:3])


def picture_problems(rt: Runtime) -> list[str]:
    """Why the partners' pictures have not (yet) converged on the originators': [] when they have."""
    jpn, usa, kor = rt.snapshot("JPN"), rt.snapshot("USA"), rt.snapshot("KOR")
    if not (jpn and usa and kor):
        return ["a snapshot is missing"]
    out = []
    kor_events = {a for ev in kor["picture"] for a in ev["aliases"] if a.startswith("KOR-")}
    if not kor_events:
        out.append("KOR opened no launch event")
    for n, snap in (("JPN", jpn), ("USA", usa)):
        have = {x.split(":", 1)[1] for x in snap["partner_launches"] if x.startswith("KOR:")}
        if kor_events - have:
            out.append(f"{n} lacks KOR launch notice(s) {sorted(kor_events - have)}")
    # the hub releases its system tracks (objects its own sensors contribute to)
    hub_objects = {o["object_id"] for ev in usa["picture"] for o in ev["objects"] if "USA" in o["origins"]}
    jpn_from_hub = set(jpn["partner_tracks"].get("USA", []))
    if hub_objects - jpn_from_hub:
        out.append(f"JPN lacks hub track(s) {sorted(hub_objects - jpn_from_hub)[:3]}")
    fused = [o for ev in jpn["picture"] for o in ev["objects"] if "USA" in o["origins"]]
    if hub_objects and not fused:
        out.append("JPN's picture holds no object fused with a hub track")
    for snap in (jpn, usa, kor):
        if snap["counters"].get("internal_errors", 0):
            out.append(f"{snap['nation']} had internal errors")
    return out


def wait_converged(rt: Runtime, timeout: float = 10.0) -> tuple[list[str], float]:
    t0 = time.monotonic()
    while True:
        probs = picture_problems(rt)
        if not probs or time.monotonic() - t0 > timeout:
            return probs, time.monotonic() - t0
        time.sleep(0.25)


def finish(problems: list[str]) -> None:
    """The pictures converged (after a node's crash too: launch notices it had applied before the crash are
    back in its picture; found by this test, fixed in the node)."""
    assert problems == [], problems


def link_up_wall(rt: Runtime, leaf: str, timeout: float = 30.0) -> float:
    """Wait until ``leaf``'s link is up at the hub; the wall-clock time it was seen up."""
    deadline = time.monotonic() + timeout
    while not rt.fabric._links_up().get(leaf):
        assert time.monotonic() < deadline, f"link {leaf} not back within {timeout} s"
        time.sleep(0.01)
    return time.time()


def first_received_after(rt: Runtime, nation: str, origin: str, wall: float) -> float | None:
    """Wall time of the first message from ``origin`` that ``nation`` accepted after ``wall``."""
    ts = [r["time"] for r in audit_records(rt, nation)
          if r["direction"] == "received" and r["origin"] == origin and r["time"] > wall]
    return min(ts) if ts else None


def sent_between(rt: Runtime, origin: str, t0: float, t1: float, to: str) -> list[dict]:
    return [r for r in audit_records(rt, origin) if r["direction"] == "sent" and t0 <= r["time"] <= t1
            and to in release_of(r["subject"])]


def print_figures(name: str, figures: dict) -> None:
    print(f"\n{name}: " + ", ".join(f"{k}={v:.3f} s" if isinstance(v, float) else f"{k}={v}"
                                   for k, v in figures.items()) + f" (resume target {RESUME_TARGET_S} s)")


async def store_times(rt: Runtime, origin: str) -> dict[str, float]:
    """Message id -> the time ``origin``'s stream stored it (POSIX s), for every message of ``<origin>_OUT``."""
    from nats.js.api import AckPolicy, ConsumerConfig

    nc = await rt.fabric.connect(origin, "admin")
    out: dict[str, float] = {}
    try:
        js = nc.jetstream(timeout=5)
        n = (await js.stream_info(f"{origin}_OUT")).state.messages
        sub = await js.pull_subscribe(">", stream=f"{origin}_OUT", config=ConsumerConfig(ack_policy=AckPolicy.NONE))
        seen = 0
        while seen < n:
            msgs = await sub.fetch(min(1000, n - seen), timeout=5)
            for m in msgs:
                seen += 1
                mid = (m.headers or {}).get("Nats-Msg-Id")
                if mid:
                    out[mid] = m.metadata.timestamp.timestamp()
        await sub.unsubscribe()
    finally:
        await nc.close()
    return out


async def event_flowing(rt: Runtime, timeout: float = 60.0) -> None:
    """Wait until the event is under way at JPN: KOR's assessments and the hub's tracks arriving."""
    t0 = time.monotonic()
    while True:
        c = (rt.snapshot("JPN") or {}).get("counters", {})
        if c.get("received:assessment", 0) >= 3 and c.get("received:track", 0) >= 3:
            return
        assert time.monotonic() - t0 < timeout, f"the event never reached JPN: {c}"
        await asyncio.sleep(0.1)


async def replay_with(rt: Runtime, sim, speed: float, fault) -> dict:
    """Replay the event and run ``fault`` (a coroutine function) concurrently; returns what fault returned."""
    rep_task = asyncio.create_task(replay(rt, sim, speed=speed))
    out = await fault()
    await rep_task
    return out


# ------------------------------------------------------------------------------------------------ link cut
class LeafLinkSwitch:
    """Cuts and restores one leaf's link to the hub while every server keeps running: the leaf's
    configuration is reloaded (SIGHUP) without its remote, then with it again (nats-server 2.15 reloads
    leaf-node remotes). The leaf and its JetStream domain stay up, as they would on a cut cable."""

    def __init__(self, rt: Runtime, leaf: str):
        self.fabric, self.leaf = rt.fabric, leaf
        self.conf = self.fabric._paths(leaf)["conf"]
        self.original = self.conf.read_text()
        i = self.original.index("  remotes: [")
        self.cut_text = self.original[:i] + "  remotes: []\n}\n"

    def _reload(self, text: str) -> None:
        self.conf.write_text(text)
        os.kill(self.fabric.pid(self.leaf), signal.SIGHUP)

    def cut(self) -> None:
        self._reload(self.cut_text)

    def restore(self) -> None:
        self._reload(self.original)


# ------------------------------------------------------------------------------------------------ the faults
def test_kill_9_of_the_hub_mid_event(runtime, salvo):
    rt = runtime
    down_s = 3.0

    async def fault():
        await event_flowing(rt)  # mid-event: tracks confirmed, launches announced, assessments flowing
        t_kill = time.time()
        assert rt.fabric.stop_server("usa", kill=True) == "killed"
        await asyncio.sleep(down_s)
        t_restart = time.time()
        await asyncio.to_thread(rt.fabric.start_server, "usa")
        t_hub = time.time()
        t_kor = await asyncio.to_thread(link_up_wall, rt, "kor")
        t_jpn = await asyncio.to_thread(link_up_wall, rt, "jpn")
        return {"t_kill": t_kill, "t_restart": t_restart, "t_hub": t_hub, "t_links": max(t_kor, t_jpn)}

    f = _run_async(lambda: replay_with(rt, salvo, 30.0, fault))
    rep, settle = wait_delivered(rt, timeout=60.0)
    first_kor = first_received_after(rt, "JPN", "KOR", f["t_links"])
    first_usa = first_received_after(rt, "JPN", "USA", f["t_links"])
    backlog = sent_between(rt, "KOR", f["t_kill"], f["t_links"], "JPN")
    jpn_recv = {r["msg_id"]: r["time"] for r in audit_records(rt, "JPN") if r["direction"] == "received"}
    caught_up = max((jpn_recv[r["msg_id"]] for r in backlog if r["msg_id"] in jpn_recv), default=None)
    figures = {"hub_restart_s": f["t_hub"] - f["t_restart"], "links_after_hub_s": f["t_links"] - f["t_hub"],
               "kor_data_at_jpn_after_links_s": (first_kor - f["t_links"]) if first_kor else None,
               "hub_data_at_jpn_after_links_s": (first_usa - f["t_links"]) if first_usa else None,
               "kor_backlog_msgs": len(backlog),
               "kor_backlog_at_jpn_after_links_s": (caught_up - f["t_links"]) if caught_up else None,
               "outage_s": f["t_links"] - f["t_kill"], "all_delivered_after_replay_s": settle}
    problems, figures["picture_converged_s"] = wait_converged(rt)
    print_figures("hub kill -9", figures)
    assert_exactly_once(rep)
    assert backlog, "KOR sent nothing for JPN while the hub was down: the fault was not mid-event"
    assert first_kor is not None and first_kor - f["t_links"] < FAST_PATH_LIMIT_S
    assert caught_up is not None
    finish(problems)


def test_kor_leaf_link_cut_for_30_s(runtime, salvo):
    rt = runtime
    switch = LeafLinkSwitch(rt, "kor")
    cut_s = 30.0

    async def fault():
        await event_flowing(rt)
        t_cut = time.time()
        switch.cut()
        t0 = time.monotonic()
        while rt.fabric._links_up().get("kor"):  # the hub sees the link go
            assert time.monotonic() - t0 < 5
            await asyncio.sleep(0.01)
        t_seen_down = time.time()
        await asyncio.sleep(cut_s - (time.time() - t_cut))
        t_restore = time.time()
        switch.restore()
        t_up = await asyncio.to_thread(link_up_wall, rt, "kor")
        return {"t_cut": t_cut, "t_seen_down": t_seen_down, "t_restore": t_restore, "t_up": t_up}

    try:
        f = _run_async(lambda: replay_with(rt, salvo, 9.0, fault))
    finally:
        switch.restore()
    rep, settle = wait_delivered(rt, timeout=60.0)
    stored = _run_async(lambda: store_times(rt, "KOR"))
    kor_sent = {r["msg_id"] for r in rep["records"]["KOR"] if r["direction"] == "sent"}
    assert kor_sent and kor_sent <= set(stored), "a message KOR's audit says it sent is not in its stream"
    first_kor = first_received_after(rt, "JPN", "KOR", f["t_up"])
    first_kor_usa = first_received_after(rt, "USA", "KOR", f["t_up"])
    backlog = sent_between(rt, "KOR", f["t_cut"], f["t_up"], "JPN")
    jpn_recv = {r["msg_id"]: r["time"] for r in audit_records(rt, "JPN") if r["direction"] == "received"}
    caught_up = max((jpn_recv[r["msg_id"]] for r in backlog if r["msg_id"] in jpn_recv), default=None)
    # while cut, nothing KOR stored after the cut reached JPN (JPN may still be working off what came before)
    during = [r for r in audit_records(rt, "JPN") if r["direction"] == "received" and r["origin"] == "KOR"
              and r["time"] < f["t_restore"] and stored.get(r["msg_id"], 0) > f["t_seen_down"]]
    figures = {"cut_s": f["t_restore"] - f["t_cut"], "link_up_after_restore_s": f["t_up"] - f["t_restore"],
               "kor_data_at_jpn_after_link_s": (first_kor - f["t_up"]) if first_kor else None,
               "kor_data_at_usa_after_link_s": (first_kor_usa - f["t_up"]) if first_kor_usa else None,
               "kor_backlog_msgs": len(backlog),
               "kor_backlog_at_jpn_after_link_s": (caught_up - f["t_up"]) if caught_up else None,
               "all_delivered_after_replay_s": settle}
    problems, figures["picture_converged_s"] = wait_converged(rt)
    print_figures("KOR leaf link cut", figures)
    assert during == [], during[:3]
    assert_exactly_once(rep)
    assert len(backlog) > 10, "KOR sent little for JPN during the cut: the fault was not mid-event"
    assert first_kor is not None and first_kor - f["t_up"] < FAST_PATH_LIMIT_S
    assert first_kor_usa is not None and first_kor_usa - f["t_up"] < FAST_PATH_LIMIT_S
    finish(problems)


def test_kill_9_and_restart_of_the_jpn_node(runtime, salvo):
    rt = runtime
    down_s = 3.0

    async def fault():
        await event_flowing(rt)
        old_pid = rt.node_pid("JPN")
        t_kill = time.time()
        assert rt.kill_node("JPN") == "killed"
        await asyncio.sleep(down_s)
        t_start = time.time()
        new_pid = await asyncio.to_thread(rt.start_node, "JPN")
        t_ready = time.time()
        assert new_pid != old_pid
        return {"t_kill": t_kill, "t_start": t_start, "t_ready": t_ready}

    f = _run_async(lambda: replay_with(rt, salvo, 30.0, fault))
    rep, settle = wait_delivered(rt, timeout=60.0)
    first_kor = first_received_after(rt, "JPN", "KOR", f["t_start"])
    first_usa = first_received_after(rt, "JPN", "USA", f["t_start"])
    backlog = sent_between(rt, "KOR", f["t_kill"], f["t_ready"], "JPN")
    jpn_recv = {r["msg_id"]: r["time"] for r in audit_records(rt, "JPN") if r["direction"] == "received"}
    caught_up = max((jpn_recv[r["msg_id"]] for r in backlog if r["msg_id"] in jpn_recv), default=None)
    figures = {"node_start_to_ready_s": f["t_ready"] - f["t_start"],
               "kor_data_after_ready_s": (first_kor - f["t_ready"]) if first_kor else None,
               "hub_data_after_ready_s": (first_usa - f["t_ready"]) if first_usa else None,
               "kor_backlog_msgs": len(backlog),
               "kor_backlog_after_ready_s": (caught_up - f["t_ready"]) if caught_up else None,
               "all_delivered_after_replay_s": settle,
               "duplicates_dropped": (rt.snapshot("JPN") or {}).get("counters", {}).get("duplicates", 0)}
    problems, figures["picture_converged_s"] = wait_converged(rt)
    stored = _run_async(lambda: store_times(rt, "JPN"))
    in_flight = {u[3] for u in rep["unrecorded"] if u[1] == "JPN" and stored.get(u[3], 0) <= f["t_kill"] + 0.5}
    figures["jpn_in_flight_at_kill"] = len(in_flight)
    print_figures("JPN node kill -9", figures)
    assert_exactly_once(rep, in_flight)
    assert backlog, "KOR sent nothing for JPN while its node was down: the fault was not mid-event"
    assert first_kor is not None and first_kor - f["t_ready"] < FAST_PATH_LIMIT_S
    finish(problems)
