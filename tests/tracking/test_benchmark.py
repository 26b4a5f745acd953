"""The tracker benchmark on a small, fast case: its JSON keys, finite and sensible values, the window."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import chi2

pytest.importorskip("stonesoup")

from warnlink.scenario.model import decode_scenario
from warnlink.scenario.simulate import simulate
from warnlink.tracking import benchmark

SMALL = """
name: bench-small
exercise: true
seed: 5
sensors: {include: [USA-TPY2-SEONGJU]}
launches:
  - id: L
    site: {lat: 39.2, lon: 125.673}
    time: 2026-01-01T00:00:00Z
    missile: SRBM-solid
    azimuth_deg: 95
    apogee_km: 97
    range_km: 380
    count: 2
    spacing_s: 3
    azimuth_spread_deg: 4
    separate_stages: false
"""
REQUIRED = ("reports_per_s", "gospa_mean", "rmse_midcourse_m", "wall_s")


@pytest.fixture(scope="module")
def sim():
    return simulate(decode_scenario(SMALL))


@pytest.fixture(scope="module")
def result(sim):
    return benchmark.benchmark_reports(sim.reports, sim.objects, name="small", max_time_s=120.0)


def test_result_has_the_issue_keys_with_finite_values(result):
    text = json.dumps(result, default=float)  # what `warnlink bench tracker --json` prints
    back = json.loads(text)
    for who in ("warnlink", "stonesoup"):
        for k in REQUIRED:
            v = back[who][k]
            assert isinstance(v, float) and math.isfinite(v) and v > 0, (who, k, v)
    for k in ("pcrlb_midcourse_m", "nees_mean"):
        assert math.isfinite(back[k]) and back[k] > 0
    lo, hi = back["nees_band_95"]
    assert (lo, hi) == pytest.approx(tuple(chi2.ppf([0.025, 0.975], 6)), abs=1e-3)
    assert set(back["targets_met"]) == {"gospa", "throughput", "rmse_vs_pcrlb", "nees"}


def test_values_are_sensible(sim, result):
    wl, ss = result["warnlink"], result["stonesoup"]
    # both trackers follow the two missiles: GOSPA well below the cut-off term of missing both
    # (c * sqrt(2 / 2 * 2) = 1414 m for two objects missed), RMSE below one report's cross-range error
    r = sim.reports
    single = float(np.sqrt(np.mean(r.z[r.truth >= 0, 0] ** 2 * 2 * r.cov[r.truth >= 0, 1, 1])))
    for res in (wl, ss):
        assert res["gospa_mean"] < 1000.0
        assert res["rmse_midcourse_m"] < single
        assert res["reports_per_s"] == pytest.approx(result["reports"] / res["wall_s"])
    # a lower bound: no tracker beats it by much (RMSE is a finite-sample estimate), none is far above it
    assert 0.7 < result["ratios"]["rmse_midcourse_over_pcrlb"] < 3.0
    assert result["pcrlb_midcourse_m"] < single
    # NEES: the fraction inside the single-value 95% band is a fraction, and the mean is the warnlink one
    assert 0.0 <= result["nees_frac_in_band"] <= 1.0
    assert result["nees_mean"] == wl["nees_mean"]
    assert result["ratios"]["gospa_warnlink_over_stonesoup"] == pytest.approx(wl["gospa_mean"] / ss["gospa_mean"])


def test_the_window_is_stated_and_applied_to_both(sim, result):
    sub = result["subset"]
    assert sub["max_time_s"] == 120.0 and sub["t1_s"] - sub["t0_s"] == pytest.approx(120.0)
    kept = sim.reports.t_s <= sub["t1_s"]
    assert result["reports"] == int(kept.sum()) < len(sim.reports)
    full = result["warnlink_full_stream"]
    assert full["reports"] == len(sim.reports)


def test_bad_window_and_scenario_fail_clearly(sim, tmp_path):
    with pytest.raises(ValueError, match="max_time_s"):
        benchmark.window(sim.reports, -1.0)
    with pytest.raises(FileNotFoundError, match="not found"):
        benchmark.run_benchmark([tmp_path / "missing.yaml"])
    with pytest.raises(ValueError, match="truth object"):
        benchmark.benchmark_reports(sim.reports, [], stonesoup=False)
