"""Tracker consistency and accuracy across seeds, per flight phase: where the NEES misses its band.

For each seed of the two benchmark scenarios (``examples/icbm-2022-11-18.yaml``, first 1 200 s as in
``warnlink bench tracker``; ``examples/salvo-20-korea.yaml``, whole stream) this simulates the reports
with that seed, runs warnlink's ``Tracker`` (``TrackerConfig`` defaults, or ``--config`` overrides) in
arrival order, scores it (``warnlink.tracking.score.score``) and prints per run:

* midcourse RMSE / PCRLB with the benchmark's bound (``pcrlb`` defaults, midcourse process noise
  1e-2 m^2/s^3) and with the bound's midcourse noise set to the tracker's ``q_coast`` (the bound of the
  model the tracker assumes; the simulated truth has no midcourse model error at all);
* GOSPA mean, swaps, confirmed tracks;
* per truth phase (boost, midcourse, terminal): points, mean 6-state NEES, the fraction of points inside
  the single-value 95% band (1.24-14.45; 0.95 expected) and below it (covariance too large), and the
  mean position and velocity parts of the NEES (3 each expected);
* the IMM boost-model probability of the confirmed track updates per estimated phase (10/50/90/99%);
* the NEES per truth phase split by the scored estimate's dominant IMM model (boost probability above
  or below 1/2).

Over all seeds of a scenario (from two on) it also prints the **Monte Carlo NEES test** (Bar-Shalom et
al. 2001, section 5.4.2; ``warnlink.tracking.metrics.mc_nees``): at each (grid time, object) point the
6-state NEES averaged over the runs that track that object there (n of them) is judged against the 95%
band of chi-square(6 n) / n; the fraction of points inside it (0.95 expected), below it (covariance too
large) and above it (too small), per truth phase. Every ICBM seed flies the same trajectory (the seed
draws sensor noise, detections and false alarms), so the points of different runs are the same object at
the same time.

Run: ``python bench/bench_seeds.py [--icbm-seeds 0,1,...] [--salvo-seeds 20,7,1]
[--config '{"q_coast": 1e-4}'] [--json]``. About 15-30 s of CPU per run (simulation and bound included).
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import msgspec
import numpy as np

from warnlink.scenario.model import load_scenario
from warnlink.scenario.simulate import simulate
from warnlink.tracking.benchmark import DEFAULT_WINDOWS_S, EXAMPLES, MIDCOURSE, window
from warnlink.tracking.metrics import chi2_band, mc_nees
from warnlink.tracking.pcrlb import DEFAULT_Q_M2_S3, pcrlb, pcrlb_phase_rms
from warnlink.tracking.score import score
from warnlink.tracking.tracker import CONFIRMED, PHASES, Tracker, TrackerConfig

SCENARIOS = {"icbm": "icbm-2022-11-18.yaml", "salvo": "salvo-20-korea.yaml"}


def _phase_table(phase, nees_vals, err, cov) -> dict:
    """Per truth phase: points, NEES mean, fraction in / below the band, position and velocity NEES."""
    lo, hi = chi2_band(6, 1)
    out = {}
    for i, name in enumerate(PHASES):
        m = phase == i
        if not m.any():
            continue
        v = nees_vals[m]
        e, c = err[m], cov[m]
        n_pos = np.einsum("ni,nij,nj->n", e[:, :3], np.linalg.inv(c[:, :3, :3]), e[:, :3])
        n_vel = np.einsum("ni,nij,nj->n", e[:, 3:], np.linalg.inv(c[:, 3:, 3:]), e[:, 3:])
        out[name] = {"points": int(m.sum()), "nees_mean": float(v.mean()),
                     "in_band": float(np.mean((v >= lo) & (v <= hi))), "below_band": float(np.mean(v < lo)),
                     "nees_pos_mean": float(n_pos.mean()), "nees_vel_mean": float(n_vel.mean())}
    return out


def _model_table(phase, nees_vals, p_boost) -> dict:
    """Per truth phase and dominant IMM model of the scored estimate: points, NEES mean, fraction in band."""
    lo, hi = chi2_band(6, 1)
    out = {}
    for i, name in enumerate(PHASES):
        for model, m in (("boost", p_boost > 0.5), ("coast", ~(p_boost > 0.5))):
            m = m & (phase == i)
            if m.any():
                v = nees_vals[m]
                out[f"{name}/{model}"] = {"points": int(m.sum()), "nees_mean": float(v.mean()),
                                          "in_band": float(np.mean((v >= lo) & (v <= hi))),
                                          "below_band": float(np.mean(v < lo))}
    return out


def mc_summary(runs: list[dict]) -> dict:
    """The Monte Carlo NEES test over ``runs`` (``seed_run`` results of one scenario, with ``_pairs``):
    per truth phase and overall, points with at least two runs, the fraction inside / below / above
    the band of their run count, the mean run count and the mean of the averaged NEES."""
    keys = np.concatenate([np.stack([r["_pairs"][0], r["_pairs"][1]], axis=1) for r in runs])
    vals = np.concatenate([r["_pairs"][3] for r in runs])
    ph = np.concatenate([r["_pairs"][2] for r in runs])
    out = {}
    for name, sel in [("all", np.ones(len(vals), bool))] + [(n, ph == i) for i, n in enumerate(PHASES)]:
        # a point's phase is the truth's, the same in every run, so selecting rows by phase selects points
        mc = mc_nees(keys[sel], vals[sel], d=6)
        if not len(mc["mean"]):
            continue
        out[name] = {"points": len(mc["mean"]), "runs_mean": float(mc["n_runs"].mean()),
                     "in_band": float(mc["inside"].mean()), "below_band": float(mc["below"].mean()),
                     "above_band": float(np.mean(~mc["inside"] & ~mc["below"])),
                     "avg_nees_median": float(np.median(mc["mean"])), "avg_nees_mean": float(mc["mean"].mean())}
    return out


def seed_run(kind: str, seed: int, config: TrackerConfig) -> dict:
    """Simulate scenario ``kind`` (``"icbm"`` or ``"salvo"``) with ``seed``, track, score (module docstring)."""
    path = EXAMPLES / SCENARIOS[kind]
    sim = simulate(msgspec.structs.replace(load_scenario(path), seed=seed))
    reports, win = window(sim.reports, DEFAULT_WINDOWS_S.get(path.stem))
    hist = Tracker(config).run(reports.sorted_by_arrival())
    s = score(hist, sim.objects, t_window=win, return_pairs=True)
    t_p, i_p, ph_p, nees_vals = s["pairs"]
    mid = ph_p == MIDCOURSE
    rmse = s["rmse_m"].get("midcourse")
    ratios, bounds = {}, {}
    for label, q_mid in (("bench", DEFAULT_Q_M2_S3[1]), ("matched", config.q_coast)):
        if q_mid not in bounds:
            q = (DEFAULT_Q_M2_S3[0], q_mid, DEFAULT_Q_M2_S3[2])
            bounds[q_mid] = pcrlb_phase_rms(pcrlb(sim.objects, reports, q=q), points=(t_p[mid], i_p[mid]))["midcourse"]
        ratios[label] = rmse / bounds[q_mid] if rmse is not None and bounds[q_mid] else None
    a = hist.arrays()
    conf = a["status"] == CONFIRMED
    p_boost = {name: np.round(np.quantile(a["p_boost"][conf & (a["phase"] == i)], [0.1, 0.5, 0.9, 0.99]),
                              4).tolist()
               for i, name in enumerate(PHASES) if (conf & (a["phase"] == i)).any()}
    lo, hi = chi2_band(6, 1)
    return {"scenario": kind, "seed": seed, "rmse_midcourse_m": rmse,
            "rmse_over_pcrlb": ratios["bench"], "rmse_over_pcrlb_matched_q": ratios["matched"],
            "gospa_mean": s["gospa_mean"], "swaps": s["swaps"], "n_tracks_confirmed": s["n_tracks_confirmed"],
            "nees_mean": float(np.mean(nees_vals)),
            "nees_in_band": float(np.mean((nees_vals >= lo) & (nees_vals <= hi))),
            "phases": _phase_table(ph_p, nees_vals, *s["pair_errors"]), "p_boost_quantiles": p_boost,
            "phase_model": _model_table(ph_p, nees_vals, s["pair_sources"][1]), "_pairs": s["pairs"]}


def _line(r: dict) -> str:
    ph = "; ".join(f"{k} {v['points']} pts NEES {v['nees_mean']:.2f} in {v['in_band']:.2f} below "
                   f"{v['below_band']:.2f} pos/vel {v['nees_pos_mean']:.2f}/{v['nees_vel_mean']:.2f}"
                   for k, v in r["phases"].items())
    return (f"{r['scenario']:5s} seed {r['seed']:2d}  RMSE/PCRLB {r['rmse_over_pcrlb']:.2f} (matched q "
            f"{r['rmse_over_pcrlb_matched_q']:.2f})  GOSPA {r['gospa_mean']:.0f} m  swaps {r['swaps']}  "
            f"NEES {r['nees_mean']:.2f} in band {r['nees_in_band']:.3f}\n      {ph}\n      "
            f"p_boost 10/50/90/99%: {r['p_boost_quantiles']}\n      by model: "
            + "; ".join(f"{k} {v['points']} NEES {v['nees_mean']:.2f} in {v['in_band']:.2f} below {v['below_band']:.2f}"
                        for k, v in r["phase_model"].items()))


def _mc_line(kind: str, mc: dict) -> str:
    return f"{kind} Monte Carlo NEES test: " + "; ".join(
        f"{k} {v['points']} pts ({v['runs_mean']:.1f} runs) in {v['in_band']:.3f} below {v['below_band']:.3f} "
        f"above {v['above_band']:.3f} avg NEES median {v['avg_nees_median']:.2f} mean {v['avg_nees_mean']:.2f}"
        for k, v in mc.items())


def main() -> None:
    """Parse the arguments, run every seed, print a line block per run or one JSON object."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--icbm-seeds", default="0,1,2,3,4,5,6,7", help="comma-separated seeds ('' for none)")
    ap.add_argument("--salvo-seeds", default="20,7,1", help="comma-separated seeds ('' for none)")
    ap.add_argument("--config", default="{}", help="TrackerConfig overrides as a JSON object")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    try:
        overrides = json.loads(args.config)
        config = TrackerConfig(**overrides)
    except (json.JSONDecodeError, TypeError) as exc:
        ap.error(f"--config must be a JSON object of TrackerConfig fields: {exc}")
    runs, mc = [], {}
    for kind, seeds in (("icbm", args.icbm_seeds), ("salvo", args.salvo_seeds)):
        mine = []
        for seed in (int(v) for v in seeds.split(",") if v.strip()):
            mine.append(seed_run(kind, seed, config))
            if not args.json:
                print(_line(mine[-1]), flush=True)
        if len(mine) >= 2:
            mc[kind] = mc_summary(mine)
            if not args.json:
                print(_mc_line(kind, mc[kind]), flush=True)
        runs += mine
    for r in runs:
        del r["_pairs"]
    if args.json:
        print(json.dumps({"config": overrides, "runs": runs, "monte_carlo_nees": mc}))


if __name__ == "__main__":
    main()
