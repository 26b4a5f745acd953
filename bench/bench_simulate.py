"""Benchmark: simulate the 2022-11-18 ICBM (about 69 minutes) with the full notional laydown.

Prints wall time, reports per second, the speed-up over real time (aim: > 100x on one core) and
the shaper's time per catalogue event. Run: ``python bench/bench_simulate.py [--json]``.
The first run includes Numba's compile; a warm-up flight is run first so it is not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core

from warnlink.physics import CLASSES, fly
from warnlink.scenario.catalog import find_event, load_catalog, reproduce
from warnlink.scenario.history import scenario_from_event
from warnlink.scenario.simulate import fly_scenario, simulate, write_outputs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--event", default="2022-11-18_1")
    ap.add_argument("--repeat", type=int, default=3, help="simulation repetitions (best is kept)")
    ap.add_argument("--out", default=None, help="also time writing the outputs to this directory")
    args = ap.parse_args()

    fly(CLASSES["ICBM-liquid"], 39.2, 125.7, 90, 1.0)  # warm-up (Numba cache load)
    events = load_catalog()
    sc = scenario_from_event(find_event(events, args.event))

    t0 = time.perf_counter()
    objects, _ = fly_scenario(sc)
    flight_s = time.perf_counter() - t0

    best = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        sim = simulate(sc)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    write_s = None
    if args.out:
        t0 = time.perf_counter()
        write_outputs(sim, args.out)
        write_s = time.perf_counter() - t0

    shaped = [e for e in events if e.has_figures]
    t0 = time.perf_counter()
    for e in shaped:
        reproduce(e)
    shaper_s = (time.perf_counter() - t0) / len(shaped)

    flight_time = max(o.t_end_s for o in objects) - min(o.t_start_s for o in objects)
    result = {
        "event": args.event,
        "sensors": len(sim.sensors),
        "objects": len(sim.objects),
        "reports": len(sim.reports),
        "simulated_s": round(sim.duration_s, 1),
        "flight_time_s": round(flight_time, 1),
        "wall_s": round(best, 4),
        "of_which_shaping_and_flight_s": round(flight_s, 4),
        "reports_per_s": round(len(sim.reports) / best),
        "speedup_over_real_time": round(sim.duration_s / best, 1),
        "write_outputs_s": None if write_s is None else round(write_s, 3),
        "shaper_s_per_event": round(shaper_s, 3),
        "shaper_events": len(shaped),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:32s} {v}")


if __name__ == "__main__":
    main()
