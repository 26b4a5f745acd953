"""Leak test on the real deployment: a salvo seen by Korean, Japanese and US sensors is replayed through the
fabric (each nation's own reports into its own node), then everything JPN's node received is inspected for
any trace of KOR's sensors, and everything KOR's node received for JPN's:

- every message it received, as bytes (taken from the origins' streams and matched to the SHA-256 of each
  ``received``/``rejected`` record of its audit log, so exactly what it got), decoded envelope and payload;
- its own streams (``<N>_OUT``, ``<N>_DEAD``) and its server's whole JetStream store, byte for byte;
- every file of its node directory (audit log, snapshot, timing, CAP alerts, logs).

Searched for: the other ally's sensor ids and names, sensor types, the exact sensor positions as the sensor
model produced them (float64, big- and little-endian: a leaked raw report or report batch would carry them),
any sensor site within 20 km in a decoded position, report subjects or ``report`` payloads, and any field
of a sensor report (``sensor_id``, ``sensor_kind``, ``sensor_pos_ecef_m``, ``measurement``). A positive
control first shows the search finds all of these in a raw KOR report batch.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import struct
import time
from importlib import resources

import msgspec
import numpy as np
import pytest

from warnlink.geo import geodetic2ecef
from warnlink.scenario.model import decode_scenario
from warnlink.scenario.simulate import simulate
from warnlink.sharing.envelope import Envelope
from warnlink.sharing.fabric import _run_async
from warnlink.sharing.messages import decode_payload
from warnlink.sharing.node import encode_batch
from warnlink.sharing.runtime import Runtime, replay

SCENARIO = """
name: leak-salvo
exercise: true
seed: 7
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
    count: 3
    spacing_s: 4
    azimuth_spread_deg: 4
  - id: east
    site: {lat: 39.168, lon: 127.482}
    time: 2026-03-01T00:00:20Z
    missile: SRBM-solid
    azimuth_deg: 100
    apogee_km: 90
    range_km: 300
    count: 2
    spacing_s: 4
    azimuth_spread_deg: 4
"""
T_FROM, T_TO, SPEED = 55.0, 330.0, 30.0
REPORT_FIELDS = ("sensor_id", "sensor_kind", "sensor_pos_ecef_m", "measurement")
SITE_RADIUS_M = 20e3


class Secrets:
    """What must never leave ``nation``: its sensors' ids, names, types and exact positions."""

    def __init__(self, nation: str, sim):
        rows = [r for r in csv.DictReader((resources.files("warnlink") / "data" / "sensors.csv").open())
                if r["nation"] == nation]
        self.nation = nation
        self.ids = sorted(r["sensor_id"] for r in rows)
        self.names = sorted(r["name"] for r in rows)
        self.kinds = sorted({r["kind"] for r in rows})
        self.sites = np.array([geodetic2ecef(float(r["lat"]), float(r["lon"]), float(r["alt_m"]), deg=True)
                               for r in rows], float).reshape(-1, 3)
        self.latlon = [(float(r["lat"]), float(r["lon"])) for r in rows]
        rep = sim.reports
        mine = np.array([sim.sensors[i].nation == nation for i in rep.sensor])
        self.positions = np.unique(rep.sensor_pos_ecef_m[mine], axis=0)
        self.tokens = [t.encode() for t in self.ids + self.names] + [
            struct.pack(fmt, v) for p in self.positions for v in p for fmt in (">d", "<d")]

    def in_bytes(self, data: bytes, where: str) -> list[str]:
        return [f"{where}: {t[:40]!r}" for t in self.tokens if t in data]

    def in_value(self, value, where: str) -> list[str]:
        """Walk a decoded structure: strings, numbers, positions, field names."""
        found = []

        def walk(v, path):
            if isinstance(v, dict):
                for k, x in v.items():
                    if isinstance(k, str) and (k in REPORT_FIELDS or "sensor" in k.lower()):
                        found.append(f"{where}{path}: field {k!r}")
                    walk(x, f"{path}.{k}")
                if {"lat_deg", "lon_deg"} <= set(v) and all(isinstance(v[k], float) for k in ("lat_deg", "lon_deg")):
                    for la, lo in self.latlon:
                        if abs(v["lat_deg"] - la) < 0.15 and abs(v["lon_deg"] - lo) < 0.15:
                            found.append(f"{where}{path}: point {v['lat_deg']:.3f},{v['lon_deg']:.3f} at a sensor site")
            elif isinstance(v, list | tuple):
                if len(v) >= 3 and all(isinstance(x, float) for x in v[:3]):
                    d = np.linalg.norm(self.sites - np.array(v[:3]), axis=1) if len(self.sites) else []
                    if len(d) and d.min() < SITE_RADIUS_M:
                        found.append(f"{where}{path}: position {d.min():.0f} m from a sensor site")
                for i, x in enumerate(v):
                    walk(x, f"{path}[{i}]")
            elif isinstance(v, str):
                if v in self.ids or v in self.names or v in self.kinds or any(i in v for i in self.ids):
                    found.append(f"{where}{path}: {v!r}")
            elif isinstance(v, bytes):
                found.extend(self.in_bytes(v, f"{where}{path}"))

        walk(value, "")
        return found


@pytest.fixture(scope="module")
def salvo():
    sim = simulate(decode_scenario(SCENARIO))
    r = sim.reports
    keep = (r.arrival_s >= T_FROM) & (r.arrival_s <= T_TO)
    return dataclasses.replace(sim, reports=r.take(keep))


def test_the_search_finds_a_leaked_report(salvo):
    """Positive control: a raw KOR report batch contains every kind of secret the search looks for."""
    kor = Secrets("KOR", salvo)
    r = salvo.reports
    mine = np.array([salvo.sensors[i].nation == "KOR" for i in r.sensor])
    batch = r.take(np.flatnonzero(mine)[:200])
    data = encode_batch(batch, nation="KOR", epoch=salvo.epoch.timestamp(), exercise=True)
    hits = kor.in_bytes(data, "batch")
    assert any("KOR-GP-BUSAN" in h for h in hits)
    assert sum("b'" in h and "KOR" not in h for h in hits) >= 3  # exact positions, as float64
    decoded = msgspec.msgpack.decode(data)
    assert kor.in_value(decoded, "batch")
    assert kor.in_value({"sensor_id": "x"}, "m") and kor.in_value({"lat_deg": 35.1, "lon_deg": 129.03}, "m")
    assert len(kor.positions) >= 3 and len(Secrets("JPN", salvo).positions) >= 2


async def _stream_messages(rt: Runtime, nation: str, stream: str) -> list[tuple[str, bytes]]:
    """Every message of ``nation``'s stream (read by its admin with an ephemeral consumer)."""
    nc = await rt.fabric.connect(nation, "admin")
    try:
        js = nc.jetstream(timeout=5)
        info = await js.stream_info(stream)
        n = info.state.messages
        out: list[tuple[str, bytes]] = []
        if n == 0:
            return out
        from nats.js.api import AckPolicy, ConsumerConfig

        sub = await js.pull_subscribe(">", stream=stream, config=ConsumerConfig(ack_policy=AckPolicy.NONE))
        while len(out) < n:
            try:
                batch = await sub.fetch(min(500, n - len(out)), timeout=5)
            except Exception as exc:  # report which stream could not be read
                raise AssertionError(f"{stream}: read {len(out)} of {n} messages: {exc!r}") from exc
            for m in batch:
                out.append((m.subject, bytes(m.data)))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


def _audit(rt: Runtime, nation: str) -> list[dict]:
    out = []
    for p in sorted(rt.node_dir(nation).glob("audit*.jsonl")):
        for line in p.read_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
    return out


def _received_bytes(audit: list[dict], nation: str, streams: dict) -> tuple[list[tuple[str, bytes]], list[dict]]:
    """The bytes of every partner message ``nation``'s audit log says it received or rejected (the audit
    records read before the streams, so every one of them is in a stream)."""
    by_hash = {hashlib.sha256(d).hexdigest(): (s, d) for msgs in streams.values() for s, d in msgs}
    recs = [r for r in audit if r["direction"] in ("received", "rejected") and r["origin"] != nation
            and not r["subject"].startswith(f"wl.{nation}.")]
    got, unmatched = [], []
    for r in recs:
        hit = by_hash.get(r["sha256"])
        (got.append(hit) if hit else unmatched.append(r))
    return got, unmatched


def _inspect(rt: Runtime, nation: str, secrets: Secrets, streams: dict, audit: list[dict]) -> tuple[list[str], dict]:
    leaks: list[str] = []
    got, unmatched = _received_bytes(audit, nation, streams)
    assert unmatched == [], f"{len(unmatched)} received messages not found in the origins' streams"
    kinds: dict[str, int] = {}
    for subject, data in got:
        leaks += secrets.in_bytes(data, subject)
        env = msgspec.msgpack.decode(data, type=Envelope)
        kinds[env.kind] = kinds.get(env.kind, 0) + 1
        if env.kind == "report" or ".report" in subject:
            leaks.append(f"{subject}: a sensor report")
        if env.origin == secrets.nation and env.kind == "track":
            leaks.append(f"{subject}: a {secrets.nation} track (released to the hub only)")
        leaks += secrets.in_value(msgspec.to_builtins(env), subject)
        payload = decode_payload(env.payload, env.kind)
        leaks += secrets.in_value(msgspec.to_builtins(payload), f"{subject} payload")
    # the node's own streams, its server's whole store, its files
    for stream in (f"{nation}_OUT", f"{nation}_DEAD"):
        for subject, data in streams.get(stream, []):
            leaks += secrets.in_bytes(data, f"{stream} {subject}")
    server = rt.fabric.config.home(nation).name
    files = [p for p in (rt.fabric.state_dir / server / "jetstream").rglob("*") if p.is_file()]
    files += [p for p in rt.node_dir(nation).rglob("*") if p.is_file()]
    for p in files:
        leaks += secrets.in_bytes(p.read_bytes(), str(p.relative_to(rt.state_dir)))
    snap = rt.snapshot(nation)
    leaks += secrets.in_value(snap, f"{nation} snapshot")
    return leaks, {"messages": len(got), "by_kind": kinds, "files": len(files)}


def test_no_sensor_of_one_ally_reaches_the_other(tmp_path, salvo):
    kor_secrets, jpn_secrets = Secrets("KOR", salvo), Secrets("JPN", salvo)
    rt = Runtime(tmp_path / "wl")
    try:
        rt.up()
        t0 = time.monotonic()
        counts = _run_async(lambda: replay(rt, salvo, speed=SPEED))
        assert counts.get("KOR", 0) > 1000 and counts.get("JPN", 0) > 300, counts

        def settled():
            snaps = [rt.snapshot(n) or {} for n in rt.nations]
            return all(s.get("counters", {}).get("reports", 0) >= counts.get(s.get("nation"), 0) for s in snaps)

        rt.wait_for(settled, timeout=60)
        time.sleep(2.0)  # the last publishes and deliveries
        replay_s = time.monotonic() - t0

        async def read_all():
            out = {}
            for n in rt.nations:
                for st in (f"{n}_OUT", f"{n}_DEAD"):
                    out[st] = await _stream_messages(rt, n, st)
            return out

        audits = {n: _audit(rt, n) for n in ("JPN", "KOR")}  # before the streams: each record is in a stream
        streams = _run_async(read_all)
        jpn_leaks, jpn_seen = _inspect(rt, "JPN", kor_secrets, streams, audits["JPN"])
        kor_leaks, kor_seen = _inspect(rt, "KOR", jpn_secrets, streams, audits["KOR"])
        jpn_snap, kor_snap = rt.snapshot("JPN"), rt.snapshot("KOR")
    finally:
        rt.down(timeout=3.0)
    print(f"\nleak test: replay+settle {replay_s:.1f} s; JPN inspected {jpn_seen}; KOR inspected {kor_seen}")
    # the event really crossed: JPN got KOR's warning data and the hub's tracks, KOR got JPN's
    assert jpn_seen["by_kind"].get("launch", 0) >= 1 and jpn_seen["by_kind"].get("assessment", 0) >= 1
    assert jpn_seen["by_kind"].get("track", 0) >= 1 and kor_seen["by_kind"].get("assessment", 0) >= 1
    assert any(x.startswith("KOR:") for x in jpn_snap["partner_launches"])
    assert any(x.startswith("JPN:") for x in kor_snap["partner_launches"])
    assert jpn_leaks == [], jpn_leaks[:10]
    assert kor_leaks == [], kor_leaks[:10]

