"""The fabric benchmark (``warnlink bench fabric``): warning-data latency through the real three-server
fabric, side by side with raw NATS measured in the same run on the same servers.

For each offered load (default 100, 1 000 and 5 000 KOR sensor reports per second) it measures

- ``raw_p50_ms`` / ``raw_p99_ms``: raw NATS, a KOR client publishing on a core subject that crosses the
  KOR leaf -> USA hub -> JPN leaf, received by a JPN client (the floor any sharing over this fabric pays),
  at the same message rate and a similar message size as the sealed warning data;
- ``p50_ms`` / ``p99_ms``: end to end, from a KOR sensor report handed to the KOR node to the JPN node's
  fused track that includes it (KOR node: track, assess, seal, publish durably; hub; JPN node: pull,
  verify, fuse);

and, once per run, ``launch_notice_s`` (a track's confirmation at its origin -> the launch notice at all
three nodes) and ``assessment_age_p99_s`` (a track update -> the shared impact prediction reflecting it).
Targets (issue 5): p99 within 5x raw NATS and under 50 ms at 1 000 reports/s; launch notice and assessment
age within 1 s. Absolute times on a shared machine are noisy: compare the columns of one run.

Timestamps are ``time.monotonic_ns()`` (CLOCK_MONOTONIC, one clock for every process of the host).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

from warnlink.sharing.fabric import Fabric, PartnerReader, load_config

DEFAULT_RATES = (100, 1000, 5000)
DEFAULT_DURATION_S = 3.0
RAW_SUBJECT = "wl.KOR.JPN-USA.track.bench"
"""The raw probe's subject: the one path from a KOR client to a JPN client (KOR's JPN-USA release)."""
RAW_SIZE = 700
"""Bytes per raw probe message (about a sealed assessment)."""
TARGETS = {"p99_over_raw_max": 5.0, "p99_ms_max_at_1000": 50.0, "launch_notice_s_max": 1.0,
           "assessment_age_p99_s_max": 1.0}
TICK_S = 0.001


def _pct(values, q: float) -> float | None:
    a = np.asarray(values, dtype=float)
    return float(np.percentile(a, q)) if a.size else None


def _summary(lat_ms, sent: int) -> dict:
    a = np.asarray(lat_ms, dtype=float)
    return {"n": int(a.size), "lost": int(sent - a.size), "p50_ms": _pct(a, 50), "p99_ms": _pct(a, 99),
            "max_ms": float(a.max()) if a.size else None}


async def paced(rate: float, duration_s: float, send: Callable[[int], Any], *,
                flush: Callable[[], Awaitable[None]] | None = None) -> int:
    """Call ``send(i)`` for i = 0, 1, ... at ``rate`` per second for ``duration_s`` (open loop: each tick
    sends what is due, so a slow tick is followed by a burst); returns the number sent."""
    n = max(1, round(rate * duration_s))
    t0 = time.perf_counter()
    i = 0
    while i < n:
        due = min(n, int((time.perf_counter() - t0) * rate) + 1)
        while i < due:
            r = send(i)
            if asyncio.iscoroutine(r):
                await r
            i += 1
        if flush is not None:
            await flush()
        await asyncio.sleep(TICK_S)
    return n


async def raw_core_latency(fabric: Fabric, rate: float, duration_s: float, size: int = RAW_SIZE) -> dict:
    """Raw NATS: KOR client -> KOR leaf -> hub -> JPN leaf -> JPN client, core publish/subscribe."""
    kor, jpn = await fabric.connect("KOR"), await fabric.connect("JPN")
    try:
        n_max = round(rate * duration_s) + 1
        sent = np.zeros(n_max, dtype=np.int64)
        lat: list[float] = []
        run = uuid.uuid4().bytes[:4]
        pad = os.urandom(max(0, size - 12))

        async def cb(msg):
            t = time.monotonic_ns()
            d = msg.data
            if d[:4] == run:
                lat.append((t - sent[int.from_bytes(d[4:12], "big")]) / 1e6)

        sub = await jpn.subscribe(RAW_SUBJECT, cb=cb, pending_msgs_limit=1_000_000)
        await jpn.flush()
        await _wait_interest(kor, jpn, lat, run)

        def send(i: int):
            sent[i] = time.monotonic_ns()
            return kor.publish(RAW_SUBJECT, run + i.to_bytes(8, "big") + pad)

        n = await paced(rate, duration_s, send, flush=kor.flush)
        await _settle(lambda: len(lat), n)
        await sub.unsubscribe()
        return _summary(lat, n)
    finally:
        await kor.close()
        await jpn.close()


async def _wait_interest(kor, jpn, lat: list, run: bytes, timeout: float = 5.0) -> None:
    """Interest crosses KOR leaf <- hub <- JPN leaf asynchronously: probe until a message gets through."""
    probe = run[::-1]
    got = asyncio.Event()

    async def cb(msg):
        if msg.data == probe:
            got.set()

    sub = await jpn.subscribe(RAW_SUBJECT, cb=cb)
    await jpn.flush()
    deadline = time.monotonic() + timeout
    while not got.is_set():
        if time.monotonic() > deadline:
            raise TimeoutError("no route KOR -> hub -> JPN for the raw probe")
        await kor.publish(RAW_SUBJECT, probe)
        await kor.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(got.wait(), 0.05)
    await sub.unsubscribe()


async def _settle(count: Callable[[], int], n: int, quiet_s: float = 0.5, timeout: float = 10.0) -> None:
    """Wait until ``count()`` reaches ``n``, or stops growing for ``quiet_s``."""
    deadline = time.monotonic() + timeout
    last, last_t = -1, time.monotonic()
    while count() < n and time.monotonic() < deadline:
        c = count()
        if c != last:
            last, last_t = c, time.monotonic()
        elif time.monotonic() - last_t > quiet_s:
            return
        await asyncio.sleep(0.01)


async def raw_durable_latency(fabric: Fabric, rate: float, duration_s: float, size: int = RAW_SIZE) -> dict:
    """The durable path without a node: JetStream publish into KOR_OUT (PubAck awaited in the background)
    -> JPN's pull consumer read by a ``PartnerReader``. Uses (and leaves empty) JPN's consumer of KOR_OUT,
    so run it before the JPN node reads from it."""
    kor, jpn = await fabric.connect("KOR"), await fabric.connect("JPN")
    try:
        n_max = round(rate * duration_s) + 1
        sent = np.zeros(n_max, dtype=np.int64)
        lat: list[float] = []
        run = uuid.uuid4().hex[:8]
        pad = os.urandom(max(0, size - 12))

        async def handle(msg):
            t = time.monotonic_ns()
            mid = (msg.headers or {}).get("Nats-Msg-Id", "")
            if mid.startswith(run):
                lat.append((t - sent[int(mid[9:])]) / 1e6)

        js = kor.jetstream()
        pending: set[asyncio.Task] = set()

        def send(i: int):
            sent[i] = time.monotonic_ns()
            t = asyncio.ensure_future(js.publish(RAW_SUBJECT, pad, headers={"Nats-Msg-Id": f"{run}-{i}"},
                                                 timeout=5))
            pending.add(t)
            t.add_done_callback(pending.discard)

        async with PartnerReader(jpn, fabric.feed("JPN", "KOR"), handle, expires_s=0.5):
            n = await paced(rate, duration_s, send)
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            await _settle(lambda: len(lat), n, quiet_s=1.5)
        return _summary(lat, n)
    finally:
        await kor.close()
        await jpn.close()


async def purge_streams(fabric: Fabric) -> None:
    """Empty every origin stream (the raw probes must not reach the nodes)."""
    for nation in fabric.config.nations:
        nc = await fabric.connect(nation, "admin")
        try:
            with contextlib.suppress(Exception):
                await nc.jetstream().purge_stream(f"{nation}_OUT")
        finally:
            await nc.close()


# ---------------------------------------------------------------------------------------------- end to end
EndToEnd = Callable[..., Awaitable[dict]]
"""``async e2e(fabric, state_dir, rates, duration_s) -> {"rates": {rate: {p50_ms, p99_ms, ...}},
"launch_notice_s": float, "assessment_age_p99_s": float}``."""


def _node_e2e() -> EndToEnd | None:
    """The end-to-end measurement through the national nodes, when the node runtime is available."""
    try:
        from warnlink.sharing import node  # noqa: F401
    except ImportError:
        return None
    return None  # wired once the node runtime has landed


async def _run(rates, duration_s: float, state_dir: Path, durable: bool, e2e: EndToEnd | None) -> dict:
    fabric = Fabric(load_config(), state_dir / "fabric")
    t0 = time.monotonic()
    try:
        await asyncio.to_thread(fabric.up)
        raw = {}
        for rate in rates:
            row = {"core": await raw_core_latency(fabric, rate, duration_s)}
            if durable:
                await purge_streams(fabric)
                row["durable"] = await raw_durable_latency(fabric, rate, duration_s)
            raw[rate] = row
        await purge_streams(fabric)
        ee = await e2e(fabric, state_dir, rates, duration_s) if e2e is not None else None
    finally:
        await asyncio.to_thread(fabric.down, 3.0)
    out_rates = []
    for rate in rates:
        core = raw[rate]["core"]
        r = (ee or {}).get("rates", {}).get(rate, {})
        entry = {"rate": rate, "p50_ms": r.get("p50_ms"), "p99_ms": r.get("p99_ms"),
                 "raw_p50_ms": core["p50_ms"], "raw_p99_ms": core["p99_ms"], "n": r.get("n"),
                 "raw_n": core["n"], "raw_lost": core["lost"]}
        if durable:
            entry["raw_durable_p50_ms"] = raw[rate]["durable"]["p50_ms"]
            entry["raw_durable_p99_ms"] = raw[rate]["durable"]["p99_ms"]
        for k in ("lost", "fused_n"):
            if k in r:
                entry[k] = r[k]
        if entry["p99_ms"] is not None and entry["raw_p99_ms"]:
            entry["p99_over_raw"] = entry["p99_ms"] / entry["raw_p99_ms"]
        out_rates.append(entry)
    result = {
        "rates": out_rates,
        "launch_notice_s": (ee or {}).get("launch_notice_s"),
        "assessment_age_p99_s": (ee or {}).get("assessment_age_p99_s"),
        "duration_s": duration_s,
        "end_to_end": ee is not None,
        "wall_s": time.monotonic() - t0,
        "cpus": os.cpu_count(),
    }
    for k, v in (ee or {}).items():
        if k not in ("rates", "launch_notice_s", "assessment_age_p99_s"):
            result.setdefault(k, v)
    result["targets"] = check_targets(result)
    return result


def check_targets(result: dict) -> dict:
    """Each target of issue 5 -> True / False (None when not measured)."""
    at = {r["rate"]: r for r in result["rates"]}
    r1k = at.get(1000)

    def le(a, b):
        return None if a is None or b is None else bool(a <= b)

    return {
        "p99_within_5x_raw_at_1000": le(r1k and r1k.get("p99_ms"),
                                        r1k and r1k["raw_p99_ms"] and r1k["raw_p99_ms"] * TARGETS["p99_over_raw_max"]),
        "p99_under_50ms_at_1000": le(r1k and r1k.get("p99_ms"), TARGETS["p99_ms_max_at_1000"]),
        "launch_notice_within_1s": le(result.get("launch_notice_s"), TARGETS["launch_notice_s_max"]),
        "assessment_age_within_1s": le(result.get("assessment_age_p99_s"), TARGETS["assessment_age_p99_s_max"]),
    }


def run_benchmark(rates=DEFAULT_RATES, duration_s: float = DEFAULT_DURATION_S, *, state_dir: str | Path | None = None,
                  durable: bool = True, end_to_end: bool = True) -> dict:
    """Start a fabric (and the nodes) in ``state_dir`` (default: a temporary directory), measure, stop
    everything, and return the result (see the module docstring)."""
    rates = tuple(int(r) for r in rates)
    e2e = _node_e2e() if end_to_end else None
    if state_dir is not None:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        return asyncio.run(_run(rates, duration_s, Path(state_dir), durable, e2e))
    with tempfile.TemporaryDirectory(prefix="warnlink-bench-") as d:
        return asyncio.run(_run(rates, duration_s, Path(d), durable, e2e))


def _f(v, fmt: str = "{:.2f}") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v)


def table_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the result table (CLI and README)."""
    head = ["reports/s", "p50 ms", "p99 ms", "raw p50 ms", "raw p99 ms", "p99 / raw p99"]
    durable = any("raw_durable_p50_ms" in r for r in result["rates"])
    if durable:
        head += ["raw durable p50 ms", "raw durable p99 ms"]
    rows = []
    for r in result["rates"]:
        row = [f"{r['rate']:,}", _f(r["p50_ms"]), _f(r["p99_ms"]), _f(r["raw_p50_ms"]), _f(r["raw_p99_ms"]),
               _f(r.get("p99_over_raw"), "{:.1f}x")]
        if durable:
            row += [_f(r.get("raw_durable_p50_ms")), _f(r.get("raw_durable_p99_ms"))]
        rows.append(row)
    return head, rows


def markdown(result: dict) -> str:
    """The result as a Markdown table plus the once-per-run figures."""
    head, rows = table_rows(result)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" ---: " for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines.append("")
    lines.append(f"launch notice (confirmation at the origin -> all three nodes): "
                 f"{_f(result['launch_notice_s'], '{:.3f}')} s; "
                 "assessment age p99 (track update -> shared impact prediction): "
                 f"{_f(result['assessment_age_p99_s'], '{:.3f}')} s")
    return "\n".join(lines)


def to_json(result: dict) -> str:
    """The result as one JSON object (non-finite numbers as null)."""
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v
    return json.dumps(clean(result))
