"""Per-push latency of the tracker in real-time use: the salvo stream pushed in small batches.

The national nodes (``warnlink.sharing.node``) push about 10 ms of reports at a time through
``Tracker.push``; at 1 000 reports/s that is ~10 reports. This script simulates a scenario (default
``examples/salvo-20-korea.yaml``, 28 690 reports), sorts the reports by arrival, warms the compiled
kernels up on a throw-away tracker, then pushes the stream ``--batch`` reports at a time into one tracker
and prints the distribution of the time per push (wall and thread CPU time: p50, p90, p99, max, in ms)
and, for comparison, the wall and CPU time of one ``Tracker.run`` over the whole stream.

Run: ``python bench/bench_push.py [--batch 10] [--scenario FILE] [--json]``. Wall times on a shared
machine include waiting for a core; the thread CPU time is the tracker's own work.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from warnlink.tracking.benchmark import EXAMPLES
from warnlink.tracking.tracker import Tracker


def _summary(ms: np.ndarray) -> dict:
    return {q: float(np.percentile(ms, v)) for q, v in (("p50", 50), ("p90", 90), ("p99", 99))} | {
        "max": float(ms.max()), "total_s": float(ms.sum() / 1e3)}


def push_latency(reports, batch: int = 10) -> dict:
    """Push ``reports`` (a ``ReportBatch``) in arrival order ``batch`` at a time into one ``Tracker``;
    the per-push wall and CPU time distributions [ms] and the whole-stream ``run`` times [s]."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1 report, got {batch}")
    arrival = reports.sorted_by_arrival()
    Tracker().run(arrival.take(np.arange(min(2000, len(arrival)))))  # warm-up: Numba cache
    chunks = [arrival.take(np.arange(s, min(s + batch, len(arrival)))) for s in range(0, len(arrival), batch)]
    tracker = Tracker()
    wall, cpu = np.empty(len(chunks)), np.empty(len(chunks))
    for i, chunk in enumerate(chunks):
        w0, c0 = time.perf_counter(), time.thread_time()
        tracker.push(chunk)
        cpu[i], wall[i] = time.thread_time() - c0, time.perf_counter() - w0
    w0, c0 = time.perf_counter(), time.process_time()
    Tracker().run(arrival)
    run_wall, run_cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"reports": len(arrival), "batch": batch, "pushes": len(chunks), "push_wall_ms": _summary(wall * 1e3),
            "push_cpu_ms": _summary(cpu * 1e3), "run_wall_s": run_wall, "run_cpu_s": run_cpu,
            "run_reports_per_s": len(arrival) / run_wall}


def main() -> None:
    """Parse the arguments, simulate, measure, print."""
    from warnlink.scenario.model import load_scenario
    from warnlink.scenario.simulate import simulate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=10, help="reports per push (default 10)")
    ap.add_argument("--scenario", default=str(EXAMPLES / "salvo-20-korea.yaml"), help="scenario file")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    res = push_latency(simulate(load_scenario(args.scenario)).reports, args.batch)
    if args.json:
        print(json.dumps(res))
        return
    print(f"{res['reports']} reports, {res['pushes']} pushes of {res['batch']}")
    for k in ("push_wall_ms", "push_cpu_ms"):
        s = res[k]
        print(f"  {k:13s} p50 {s['p50']:.2f}  p90 {s['p90']:.2f}  p99 {s['p99']:.2f}  max {s['max']:.1f}  "
              f"(total {s['total_s']:.2f} s)")
    print(f"  run: {res['run_wall_s']:.2f} s wall, {res['run_cpu_s']:.2f} s CPU, "
          f"{res['run_reports_per_s']:,.0f} reports/s")


if __name__ == "__main__":
    main()
