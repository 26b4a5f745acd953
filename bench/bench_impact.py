"""Impact prediction speed: 40 tracks of an MRBM in one vectorised ``predict_impact`` call against the same 40
one by one, in the same run (``python bench/bench_impact.py``). Replaces a timed unit test."""

from __future__ import annotations

import time

import numpy as np

from warnlink.assessment import predict_impact
from warnlink.physics.flight import fly
from warnlink.physics.missiles import CLASSES


def main() -> None:
    """Print the best of 5 wall times of the vectorised call and of the loop, and their ratio."""
    f = fly(CLASSES["MRBM-liquid"], 39.17, 127.45, 90.0, 10.0, separate_stages=False)
    ts = np.linspace(150.0, 650.0, 40)
    p, v, _ = f.warhead.sample(ts)
    x = np.hstack([p, v])
    P = np.broadcast_to(np.diag([300.0**2] * 3 + [5.0**2] * 3), (40, 6, 6))
    predict_impact(x[:2], P[:2], ts[:2])  # compiled

    def best(fn):
        out = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return min(out)

    vec = best(lambda: predict_impact(x, P, ts))
    loop = best(lambda: [predict_impact(x[k:k + 1], P[k:k + 1], ts[k:k + 1]) for k in range(40)])
    print(f"predict_impact, 40 MRBM tracks: one call {vec * 1e3:.1f} ms, one by one {loop * 1e3:.1f} ms "
          f"({loop / vec:.1f}x)")


if __name__ == "__main__":
    main()
