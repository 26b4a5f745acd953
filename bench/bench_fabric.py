"""Benchmark: warning-data latency through the real three-server fabric, beside raw NATS in the same run.

Thin wrapper of ``warnlink.sharing.benchmark`` (the same as ``warnlink bench fabric``). Run:
``python bench/bench_fabric.py [--json] [--rates 100,1000,5000] [--duration 3] [--markdown]``.
"""

from __future__ import annotations

import argparse

from warnlink.sharing.benchmark import DEFAULT_DURATION_S, markdown, run_benchmark, to_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--markdown", action="store_true", help="print the README table")
    ap.add_argument("--rates", default="100,1000,5000", help="offered loads [KOR sensor reports/s]")
    ap.add_argument("--duration", type=float, default=DEFAULT_DURATION_S, help="seconds of traffic per load")
    ap.add_argument("--state-dir", default=None, help="keep the fabric and node state here")
    args = ap.parse_args()
    result = run_benchmark([int(x) for x in args.rates.split(",")], args.duration, state_dir=args.state_dir)
    print(to_json(result) if args.json else markdown(result))


if __name__ == "__main__":
    main()
