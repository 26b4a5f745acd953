"""Benchmark: warnlink's tracker against the Stone Soup reference tracker on the same reports, in one run.

Scenarios: ``examples/salvo-20-korea.yaml`` (20-missile salvo, Korean laydown) and
``examples/icbm-2022-11-18.yaml`` (the 2022-11-18 ICBM seen by every sensor). Prints per scenario, for
``warnlink`` and ``stonesoup``: reports per second, mean GOSPA, midcourse RMSE, wall time; the midcourse
PCRLB and warnlink's NEES with its 95% chi-square band (``warnlink.tracking.benchmark``).

Run: ``python bench/bench_tracker.py [--json] [--full] [--max-time-s S] [--scenario FILE ...]``
(the same as ``warnlink bench tracker``; needs ``pip install -e '.[bench]'`` for Stone Soup).
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core each, as the two trackers run one after the other

from warnlink.tracking.benchmark import run_benchmark, table_rows


def main() -> None:
    """Parse the arguments, run the benchmark, print JSON or a text table per scenario."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--full", action="store_true", help="whole streams for Stone Soup too (slow)")
    ap.add_argument("--max-time-s", type=float, default=None, help="both trackers on the first S seconds only")
    ap.add_argument("--scenario", action="append", default=None, help="scenario file (repeatable)")
    args = ap.parse_args()
    windows = None if args.full else ("default" if args.max_time_s is None else args.max_time_s)
    result = run_benchmark(args.scenario, max_time_s=windows)
    if args.json:
        print(json.dumps(result, default=float))
        return
    for name, res in result["scenarios"].items():
        print(f"\n{name}")
        for measure, wl, ss in table_rows(res):
            print(f"  {measure:40s} {wl:>28s} {ss:>16s}")


if __name__ == "__main__":
    main()
