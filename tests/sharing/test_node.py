"""The national nodes on real servers: KOR sensor reports -> KOR node -> hub -> JPN node's fused picture,
releasability of what each node received, exercise marking, bad input, a node killed and restarted, the
audit logs, and ``warnlink demo --headless``.

One runtime (three nats-server processes and three node processes) is shared by the tests of this module
(``session``): the first part of a catalogue event (2022-10-04, the IRBM over Japan) is replayed through it
once, each nation's own reports into its own node.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from warnlink.sharing.releasability import default_policy, parse_subject
from warnlink.sharing.runtime import Runtime, replay

EVENT = "2022-10-04_1"
REPLAY_UNTIL_S = 480.0  # seconds after the scenario epoch: launch at 30 s, KOR tracks from ~95 s
SPEED = 50.0


def run(coro):
    """Run a coroutine from a plain test."""
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def sim():
    from warnlink.scenario.catalog import find_event, load_catalog
    from warnlink.scenario.history import scenario_from_event
    from warnlink.scenario.simulate import simulate

    return simulate(scenario_from_event(find_event(load_catalog(), EVENT)))


@pytest.fixture(scope="module")
def session(tmp_path_factory, sim):
    """A running runtime into which the first REPLAY_UNTIL_S of the event have been replayed; also the bad
    input sent before the replay and the counts of what was fed."""
    rt = Runtime(tmp_path_factory.mktemp("node") / "rt")
    try:
        rt.up()
        bad = run(_send_bad_input(rt))
        counts = run(replay(rt, sim, speed=SPEED, until_s=REPLAY_UNTIL_S))
        # let the last messages travel and the nodes assess once more
        rt.wait_for(lambda: all((rt.snapshot(n) or {}).get("counters", {}).get("reports", 0) >= counts.get(n, 0)
                                for n in rt.nations), timeout=120)
        time.sleep(2.0)
        yield {"rt": rt, "counts": counts, "bad": bad}
    finally:
        rt.down()


async def _send_bad_input(rt: Runtime) -> int:
    """Garbage, a truncated batch and a batch labelled as another nation's, on KOR's feed."""
    from warnlink.sensors.reports import ReportBatch
    from warnlink.sharing.node import encode_batch

    empty = ReportBatch.empty(["KOR-X"])
    async with rt.feeder("KOR") as f:
        await f.send_raw(b"\x00not a batch")
        await f.send_raw(encode_batch(empty, nation="KOR", epoch=0.0, exercise=True)[:-3])
        await f.send_raw(encode_batch(empty, nation="JPN", epoch=0.0, exercise=True))
    return 3


def _received_records(path: Path) -> list[dict]:
    out = []
    for p in sorted(path.parent.glob("audit*.jsonl")):
        for line in p.read_text().splitlines():
            rec = json.loads(line)
            if rec["direction"] == "received":
                out.append(rec)
    return out


def _timing(rt: Runtime, nation: str, ev: str) -> list[dict]:
    p = rt.node_dir(nation) / "timing.jsonl"
    return [r for r in map(json.loads, p.read_text().splitlines()) if r.get("ev") == ev]


# ---------------------------------------------------------------------------------------------- end to end
def test_kor_reports_reach_the_jpn_fused_picture_through_the_hub(session, sim):
    rt = session["rt"]
    assert session["counts"].get("KOR", 0) > 100
    kor, jpn = rt.snapshot("KOR"), rt.snapshot("JPN")
    assert kor["counters"].get("sent:track", 0) > 10, kor["counters"]
    assert kor["counters"].get("sent:launch", 0) >= 1, kor["counters"]
    # every own confirmation is recorded with the event its track joined or opened (the launch notice's id)
    confirmed = _timing(rt, "KOR", "confirmed")
    launched = {r["event_id"] for r in _timing(rt, "KOR", "launch_sent")}
    assert confirmed and all(r.get("event_id") for r in confirmed), confirmed[:3]
    assert {r["event_id"] for r in confirmed if r.get("opened")} <= launched
    # the hub fused KOR's tracks with its own (and JPN's)
    usa_fused = [r for r in _timing(rt, "USA", "fused") if "KOR" in r["origins"] and "USA" in r["origins"]]
    assert usa_fused, "the USA node never fused a KOR track with its own"
    # JPN fused the hub's system tracks with its own; their provenance reaches back to KOR's reports
    jpn_fused = [r for r in _timing(rt, "JPN", "fused") if "KOR" in r.get("new", [])]
    assert jpn_fused, "no JPN fused track includes KOR sensor reports"
    lat = np.array([r["wall"] - r["prov"]["KOR"] for r in jpn_fused])
    print(f"\nKOR report -> JPN fused track: n={len(lat)} p50={np.median(lat) * 1e3:.0f} ms "
          f"p99={np.percentile(lat, 99) * 1e3:.0f} ms (3 nodes on a shared machine)")
    assert np.all(lat > 0)  # the figure depends on the load of the machine; `warnlink bench fabric` measures it
    # one picture per launch at JPN: KOR's and the hub's launch notices linked to JPN's own launch
    events = [e for e in jpn["picture"] if e["objects"]]
    assert len(events) == 1, [e["event_id"] for e in jpn["picture"]]
    aliases = events[0]["aliases"]
    assert any(a.startswith("KOR-") for a in aliases) and any(a.startswith("USA-") for a in aliases), aliases
    assert "KOR" in events[0]["partner_assessments"], events[0]["partner_assessments"].keys()
    objs = events[0]["objects"]
    assert any(set(o["origins"]) == {"JPN", "USA"} for o in objs), [o["origins"] for o in objs]
    # the fused warhead estimate agrees with the truth: the one true object within a few km
    t = np.array([o["time"] for o in objs])
    truth = _truth_positions(sim, t)
    err = np.array([np.min(np.linalg.norm(tp - np.asarray(o["state"][:3]), axis=1)) for o, tp in zip(objs, truth,
                                                                                                      strict=True)])
    assert err.min() < 5e3, err
    # the launch estimate (the boost-model one, computed in each node's worker process): within 50 km of the
    # published launch point
    def refined():
        evs = [e for e in rt.snapshot("JPN")["picture"] if e["objects"]]
        return evs and (evs[0]["launch"] or {}).get("sigma_s", 1e9) < 30

    rt.wait_for(refined, timeout=120)
    launch = next(e for e in rt.snapshot("JPN")["picture"] if e["objects"])["launch"]
    d = _km(launch["lat_deg"], launch["lon_deg"], 40.611, 126.426)
    assert d < 50, (launch, d)


def _truth_positions(sim, t_unix):
    """ECEF positions of every true object at each time (list of (k, 3))."""
    out = []
    for t in np.atleast_1d(t_unix):
        ts = t - sim.epoch.timestamp()
        pts = []
        for o in sim.objects:
            pos, _vel, ok = o.trajectory.sample([ts - o.offset_s])
            if ok[0]:
                pts.append(pos[0])
        out.append(np.array(pts) if pts else np.full((1, 3), np.inf))
    return out


def _km(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians([lat1, lon1]), np.radians([lat2, lon2])
    a = np.sin((p2[0] - p1[0]) / 2) ** 2 + np.cos(p1[0]) * np.cos(p2[0]) * np.sin((p2[1] - p1[1]) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


# ---------------------------------------------------------------------------------------------- releasability
def test_jpn_never_receives_kor_tracks_or_reports(session):
    rt = session["rt"]
    policy = default_policy()
    for nation, other in (("JPN", "KOR"), ("KOR", "JPN")):
        recs = _received_records(rt.audit_path(nation))
        partner = [r for r in recs if r["origin"] != nation]
        assert partner, f"{nation} received nothing from its partners"
        for r in partner:
            s = parse_subject(r["subject"])
            assert policy.may_receive(nation, r["subject"]), r
            assert s.kind != "report"
            if s.origin == other:
                assert s.kind in ("launch", "assessment", "alert"), r
        snap = rt.snapshot(nation)
        assert set(snap["partner_tracks"]) <= {"USA"}, snap["partner_tracks"].keys()
        assert snap["verifier"].get("accepted", 0) > 0
        assert set(snap["verifier"]) == {"accepted"}, snap["verifier"]  # nothing genuine was rejected
        # nothing about the other ally's sensors anywhere in what this node holds
        text = (rt.node_dir(nation) / "snapshot.json").read_text()
        assert f"{other}-GP" not in text and f"{other}-FPS" not in text and f"{other}-AEGIS" not in text
    # what KOR received from JPN came through its consumer at JPN (the originator's filter)
    assert rt.snapshot("KOR")["readers"]["JPN"]["received"] > 0


def test_exercise_input_never_yields_an_actual_alert(session):
    rt = session["rt"]
    jpn = rt.snapshot("JPN")
    # 2022-10-04 overflew Japan: JPN's node raised (exercise) warnings
    assert jpn["alerts"], "JPN raised no alert for an overflight of Japan"
    statuses = {a["status"] for n in rt.nations for a in rt.snapshot(n)["alerts"]}
    statuses |= {a["status"] for n in rt.nations for a in rt.snapshot(n)["partner_alerts"]}
    assert statuses == {"Exercise"}, statuses
    caps = list((rt.node_dir("JPN") / "cap").glob("*.xml"))
    assert caps
    for p in caps:
        xml = p.read_text()
        assert "<status>Exercise</status>" in xml and "Actual" not in xml
    for n in rt.nations:
        for ev in rt.snapshot(n)["picture"]:
            assert ev["exercise"] is True or not ev["objects"]
            assert all(o["exercise"] for o in ev["objects"])
    assert rt.snapshot("KOR")["partner_alerts"], "KOR did not receive JPN's alerts"


def test_bad_feed_input_is_rejected_with_a_reason_and_dead_lettered(session):
    rt = session["rt"]
    kor = rt.snapshot("KOR")
    c = kor["counters"]
    assert c.get("rejected_batches") == session["bad"], c
    assert c.get("rejected:undecodable", 0) >= 1 and c.get("rejected:mislabelled", 0) == 1
    assert c.get("dead_lettered", 0) >= session["bad"]
    rej = [json.loads(line) for line in rt.audit_path("KOR").read_text().splitlines()
           if '"direction":"rejected"' in line]
    assert len(rej) >= session["bad"] and all(r["reason"] and r["detail"] for r in rej)
    dead = [s for s in rt.fabric.status()["streams"]["kor"] if s["name"] == "KOR_DEAD"]
    assert dead and dead[0]["messages"] >= session["bad"]
    assert kor["ready"] and c.get("batches", 0) > 100  # and it went on working


# ---------------------------------------------------------------------------------------------- restart, audit
def test_a_killed_node_restarts_and_catches_up_without_duplicated_effect(session, sim):
    rt = session["rt"]
    before = rt.snapshot("JPN")
    n_before = before["received_ids"]
    rt.kill_node("JPN")
    # KOR keeps working while JPN is down: more of the flight (the part after REPLAY_UNTIL_S)
    from warnlink.sensors.reports import ReportBatch

    r = sim.reports
    nat = np.array([s.nation for s in sim.sensors])
    sel = (r.arrival_s > REPLAY_UNTIL_S) & (r.arrival_s <= REPLAY_UNTIL_S + 60) & (nat[r.sensor] == "USA")
    assert sel.any()
    sent_usa = rt.snapshot("USA")["counters"].get("sent:assessment", 0)
    rt.feed_sync("USA", r.take(sel), epoch=sim.epoch.timestamp(), exercise=True)
    # JPN's own sensors report while its node is down: the feed stream JPN_FEED keeps them for it
    own = (r.arrival_s > REPLAY_UNTIL_S) & (r.arrival_s <= REPLAY_UNTIL_S + 60) & (nat[r.sensor] == "JPN")
    assert own.any()
    rt.feed_sync("JPN", r.take(own), epoch=sim.epoch.timestamp(), exercise=True)
    rt.wait_for(lambda: rt.snapshot("USA")["counters"].get("sent:assessment", 0) > sent_usa, timeout=30)
    t0 = time.monotonic()
    rt.start_node("JPN", timeout=300)  # generous: a cold Numba cache is compiled at start
    # it catches up on what the USA released while it was down, and on its own reports
    rt.wait_for(lambda: rt.snapshot("JPN")["received_ids"] > n_before, timeout=30)
    rt.wait_for(lambda: rt.snapshot("JPN")["counters"].get("reports", 0) >= int(own.sum()), timeout=30)
    assert rt.snapshot("JPN")["counters"]["reports"] == int(own.sum())  # each once (a fresh node counts from 0)
    print(f"\nJPN restarted and received the backlog in {time.monotonic() - t0:.2f} s")
    snap = rt.snapshot("JPN")
    assert snap["counters"].get("rejected", 0) == 0, snap["counters"]  # no redelivery seen as a replay
    ids = [rec["msg_id"] for rec in _received_records(rt.audit_path("JPN"))]
    assert len(ids) == len(set(ids)), "a message was applied twice"
    del ReportBatch


def test_audit_verify_detects_alteration(session, tmp_path):
    rt = session["rt"]
    exe = [sys.executable, "-m", "warnlink.cli"]
    env = {**os.environ, "WARNLINK_STATE_DIR": str(rt.state_dir)}
    ok = subprocess.run([*exe, "audit", "verify", str(rt.state_dir)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count("OK:") >= 3
    # a copy of KOR's log with one received record's subject changed
    d = tmp_path / "altered" / "nodes" / "KOR"
    d.mkdir(parents=True)
    src = rt.audit_path("KOR")
    text = src.read_text()
    altered = re.sub(r'"subject":"wl\.USA\.JPN-KOR\.track"', '"subject":"wl.USA.JPN-KOR.alert"', text, count=1)
    assert altered != text
    (d / "audit.jsonl").write_text(altered)
    (d / "audit.jsonl.head").write_bytes(Path(str(src) + ".head").read_bytes())
    bad = subprocess.run([*exe, "audit", "verify", str(d / "audit.jsonl"), "--keys", str(rt.keys_dir)],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1, bad.stdout
    assert "altered" in bad.stdout


def test_status_reports_servers_links_streams_and_nodes(session):
    st = session["rt"].status()
    assert st["healthy"], json.dumps(st)[:2000]
    assert {s["name"] for s in st["servers"]} == {"usa", "kor", "jpn"}
    assert all(lk["up"] for lk in st["links"])
    assert {n["nation"] for n in st["nodes"] if n["ready"]} == {"USA", "KOR", "JPN"}
    names = {s["name"] for streams in st["streams"].values() for s in streams}
    assert {"KOR_OUT", "JPN_OUT", "USA_OUT", "KOR_DEAD", "JPN_DEAD", "USA_DEAD"} <= names


# ---------------------------------------------------------------------------------------------- demo
def test_demo_headless_exits_zero_and_stops_everything(tmp_path):
    state = tmp_path / "demo"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "warnlink.cli", "demo", "--headless", "--speed", "80",
                        "--state-dir", str(state)], capture_output=True, text=True, timeout=300)
    wall = time.monotonic() - t0
    print(f"\ndemo --headless: {wall:.1f} s\n{r.stdout[-3000:]}")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "[JPN]" in r.stdout and "assessment of" in r.stdout
    assert "alert Exercise" in r.stdout and "Actual" not in r.stdout
    # each nation's launch time: the boost model re-run at burnout over the classes the burnout energy allows
    # (2022-10-04 was launched at 22:22:00 UTC; the estimate at confirmation alone was 19-53 s early)
    launches = re.findall(r"^  launch \S+ .*? at (\d\d):(\d\d):(\d\d)Z \(from (\w+)\)", r.stdout, re.M)
    assert len(launches) == 3, r.stdout[-3000:]
    for hh, mm, ss, origin in launches:
        err = int(hh) * 3600 + int(mm) * 60 + int(ss) - (22 * 3600 + 22 * 60)
        assert abs(err) <= 10, (origin, err)
    # two objects fly over Japan (the missile and its spent second stage, which falls at 148.5E): at most one JPN
    # warning chain each (the stage's while it is not yet known for one: in 2 of 8 runs under CI load), each
    # ended (by the overflight's end, or as a stage), none by churn ("stale"), none an impact warning. (Before the
    # node's chain keys: 6-8 Alerts and 5-7 Cancels, "stale", "reclassified", "track lost".)
    jpn = r.stdout[r.stdout.index("\n[JPN] "):].split("\nleak check")[0]  # (its section: "[JPN]" also marks origins)
    alerts = jpn.count("alert Exercise Alert")
    assert 1 <= alerts <= 2 and jpn.count("alert Exercise Cancel") == alerts, jpn
    assert "(stale)" not in jpn and "possible impact" not in jpn, jpn
    # and a JPN warning stands through the whole of the missile's true flight over Japan (the simulated truth's
    # ground track). (Once, under load, a partner's assessment speaking for the chain cancelled it 80 s before.)
    start, end = _true_overflight("2022-10-04_1", "JPN")
    chains = _cap_chains(state / "nodes" / "JPN" / "cap")
    assert any(a <= start and (c is None or c >= end) for a, c in chains.values()), (start, end, chains)
    # no server or node process left behind
    left = subprocess.run(["pgrep", "-f", str(state)], capture_output=True, text=True).stdout.split()
    assert not left, left


def _true_overflight(event_id: str, nation: str) -> tuple[datetime, datetime]:
    """When the simulated warhead's ground track of a catalogue event enters and leaves ``nation``'s land."""
    from warnlink.geo.regions import overflights
    from warnlink.scenario.catalog import find_event, load_catalog
    from warnlink.scenario.history import scenario_from_event
    from warnlink.scenario.simulate import simulate, truth_table

    sim = simulate(scenario_from_event(find_event(load_catalog(), event_id)))
    tt = truth_table(sim).to_pydict()
    war = np.array(tt["kind"]) == "warhead"
    lat, lon, t = (np.array(tt[c])[war] for c in ("lat_deg", "lon_deg", "t_s"))
    ov = [o for o in overflights(lat, lon, t) if o.nation == nation]
    assert len(ov) == 1, ov
    return sim.epoch + timedelta(seconds=ov[0].t_enter_s), sim.epoch + timedelta(seconds=ov[0].t_exit_s)


def _cap_chains(cap_dir: Path) -> dict[str, tuple[datetime, datetime | None]]:
    """A node's CAP files as chains: the first Alert's identifier -> (its sent time, its Cancel's or None)."""
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    opened, closed = {}, {}
    for f in cap_dir.glob("*.xml"):
        root = ET.parse(f).getroot()
        sent = datetime.fromisoformat(root.findtext("cap:sent", namespaces=ns))
        kind, ident = root.findtext("cap:msgType", namespaces=ns), root.findtext("cap:identifier", namespaces=ns)
        if kind == "Alert":
            opened[ident] = sent
        elif kind == "Cancel":
            for ref in (root.findtext("cap:references", namespaces=ns) or "").split():
                closed[ref.split(",")[1]] = sent
    return {i: (a, closed.get(i)) for i, a in opened.items()}


def test_demo_icbm_into_the_eez_is_warned_at_the_jpn_node_before_impact(tmp_path):
    """2022-11-18 (Hwasong-17, lofted, 69 min, impact in Japan's EEZ at 02:23 UTC): the JPN radars' midcourse track
    ends a few minutes after burnout and the warhead is seen again only in its last minutes, by radars that never
    saw it launched. Before: those terminal tracks opened "launches" in the Sea of Japan, the re-entering warhead
    was read as a 135 km "stage", and the JPN node sent no impact warning at all (one overflight Alert, cancelled
    "stale"). Now the JPN node warns of the EEZ impact before it and announces no launch away from the site.
    (Not asserted, because not yet true in every run: the warning within minutes of launch, through the coverage
    gap, comes only when the node's rounds catch the midcourse track coasting, about half the runs at 80x; and in
    the terminal phase a chain can still end "stale" and be re-opened, 2 of the last 3 CI runs under load.)"""
    state = tmp_path / "demo"
    r = subprocess.run([sys.executable, "-m", "warnlink.cli", "demo", "--headless", "--event", "2022-11-18_1",
                        "--speed", "80", "--state-dir", str(state)], capture_output=True, text=True, timeout=300)
    print(r.stdout[-3000:])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    jpn = r.stdout[r.stdout.index("\n[JPN] "):].split("\nleak check")[0]  # (its section: "[JPN]" also marks origins)
    assert "alert Exercise Alert: EXERCISE - JPN missile warning: possible impact in JPN_eez" in jpn, jpn
    sent = sorted(re.search(r"<sent>(.*?)</sent>", p.read_text()).group(1)
                  for p in (state / "nodes" / "JPN" / "cap").glob("*.xml"))
    assert datetime.fromisoformat(sent[0]) < datetime(2022, 11, 18, 2, 23, tzinfo=UTC), sent
    # no launch announced away from the launch site (39.2N 125.7E)
    for lat, lon in re.findall(r"^  launch \S+ .*?: point ([\d.]+)N ([\d.]+)E", r.stdout, re.M):
        assert abs(float(lat) - 39.2) < 1.0 and abs(float(lon) - 125.7) < 1.0, (lat, lon)


def test_demo_headless_stops_everything_on_ctrl_c(tmp_path):
    state = tmp_path / "demo-int"
    proc = subprocess.Popen([sys.executable, "-m", "warnlink.cli", "demo", "--headless", "--state-dir", str(state)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # interrupt mid-replay: once every node has written a snapshot
        deadline = time.monotonic() + 240
        while not all((state / "nodes" / n / "snapshot.json").exists() for n in ("USA", "KOR", "JPN")):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the demo did not come up"
            time.sleep(0.2)
        time.sleep(2.0)
        proc.send_signal(2)  # SIGINT, as Ctrl-C
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, out[-2000:]
    assert "interrupted" in out
    left = subprocess.run(["pgrep", "-f", str(state)], capture_output=True, text=True).stdout.split()
    assert not left, left
