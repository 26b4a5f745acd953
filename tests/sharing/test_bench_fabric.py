"""The fabric benchmark (``warnlink bench fabric``): the latency bookkeeping on known records, and one short
run on the real deployment (keys present, values finite). No speed is asserted here: the targets live in
the benchmark's own output."""

from __future__ import annotations

import json
import math

import numpy as np
from typer.testing import CliRunner

from warnlink.sharing.benchmark import check_targets, markdown, report_latencies, run_benchmark, to_json


def test_report_latency_is_the_first_fused_record_that_reflects_the_batch():
    sent = np.array([10.0, 11.0, 12.0, 13.0])
    n = np.array([1, 2, 1, 5])
    fused = [  # (prov KOR, wall): the picture reflects KOR's reports up to prov at wall
        {"prov": {"KOR": 10.0}, "wall": 10.05},
        {"prov": {"KOR": 12.0}, "wall": 12.02},  # reflects batches 11.0 and 12.0
        {"prov": {"KOR": 11.0}, "wall": 12.50},  # later, older provenance: not the first
        {"prov": {"USA": 12.0}, "wall": 12.10},  # no KOR provenance
    ]
    r = report_latencies(sent, n, fused)
    assert (r["n"], r["lost"], r["fused_n"]) == (9, 5, 3)  # the batch of 13.0 (5 reports) never reflected
    lat = np.repeat([50.0, 1020.0, 20.0], [1, 2, 1])
    assert math.isclose(r["p50_ms"], float(np.percentile(lat, 50)), abs_tol=1e-6)
    assert math.isclose(r["p99_ms"], float(np.percentile(lat, 99)), abs_tol=1e-6)
    assert report_latencies(sent, n, [])["lost"] == 9


def test_assessment_age_counts_from_the_oldest_update_an_assessment_is_first_to_reflect(tmp_path):
    """An assessment of KOR's object reflects member updates that reached KOR at 100.0 (superseded before the
    round) and 100.3 (the newest); JPN receives it at 100.9: its age is 0.9 s (0.6 s from the newest update,
    the figure before 2026-12-03). One reflecting no new update (a re-send) counts in the old figure only."""
    from warnlink.sharing.benchmark import assessment_ages

    def write(nation, name, rows):
        d = tmp_path / "nodes" / nation
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))

    write("KOR", "timing.jsonl", [
        {"ev": "assessment_sent", "wall": 100.8, "msg_id": "m1", "object_id": "O1", "track_wall": 100.3,
         "new_wall": 100.0},
        {"ev": "assessment_sent", "wall": 101.8, "msg_id": "m2", "object_id": "O1", "track_wall": 100.3,
         "new_wall": None},
        {"ev": "assessment_sent", "wall": 150.0, "msg_id": "m3", "object_id": "O1", "track_wall": 149.0,
         "new_wall": 149.0}])  # (outside the window)
    write("JPN", "audit.jsonl", [{"direction": "received", "msg_id": m, "time": t}
                                 for m, t in (("m1", 100.9), ("m2", 101.9), ("m3", 150.1))])
    write("USA", "audit.jsonl", [])
    ages = assessment_ages(tmp_path, ["USA", "KOR", "JPN"], 90.0, 110.0)
    newest = assessment_ages(tmp_path, ["USA", "KOR", "JPN"], 90.0, 110.0, newest=True)
    assert len(ages) == 1 and len(newest) == 2, (ages, newest)
    assert np.allclose(ages, [0.9]) and np.allclose(newest, [0.6, 1.6])


def test_targets_are_judged_at_1000_reports_per_second():
    res = {"rates": [{"rate": 100, "p99_ms": 80.0, "raw_p99_ms": 1.0},
                     {"rate": 1000, "p99_ms": 40.0, "raw_p99_ms": 10.0}],
           "launch_notice_s": 0.4, "assessment_age_p99_s": 1.5}
    assert check_targets(res) == {"p99_within_5x_raw_at_1000": True, "p99_under_50ms_at_1000": True,
                                  "launch_notice_within_1s": True, "assessment_age_within_1s": False}


def test_a_short_run_on_the_real_deployment_reports_every_figure(tmp_path):
    res = run_benchmark((100,), 1.0, state_dir=tmp_path / "bench", durable=False)
    print("\n" + markdown(res))
    assert [r["rate"] for r in res["rates"]] == [100]
    for r in res["rates"]:
        for k in ("rate", "p50_ms", "p99_ms", "raw_p50_ms", "raw_p99_ms"):
            assert isinstance(r[k], int | float) and math.isfinite(r[k]) and r[k] >= 0, (k, r)
        assert r["raw_lost"] == 0 and r["reports"] > 0
        assert r["raw_p50_ms"] <= r["raw_p99_ms"] and r["p50_ms"] <= r["p99_ms"]
    for k in ("launch_notice_s", "assessment_age_p99_s"):
        assert isinstance(res[k], float) and math.isfinite(res[k]) and res[k] >= 0, (k, res[k])
    assert set(res["targets"]) == {"p99_within_5x_raw_at_1000", "p99_under_50ms_at_1000", "launch_notice_within_1s",
                                   "assessment_age_within_1s"}
    assert json.loads(to_json(res))["rates"][0]["rate"] == 100


def test_cli_rejects_bad_rates():
    from warnlink.cli import app

    out = CliRunner().invoke(app, ["bench", "fabric", "--rates", "1000,fast"])
    assert out.exit_code == 2 and "comma-separated integers" in out.output


def test_steady_state_latency_starts_at_the_first_reflected_batch():
    sent = np.array([10.0, 11.0, 12.0])
    n = np.array([3, 1, 1])
    fused = [{"prov": {"KOR": 11.0}, "wall": 14.0}, {"prov": {"KOR": 12.0}, "wall": 12.5}]
    r = report_latencies(sent, n, fused, steady=True)  # the batch of 10.0 waited for the first track
    assert (r["n"], r["lost"]) == (2, 0)
    assert math.isclose(r["p50_ms"], 1000.0)  # 11.0 -> 12.5 (the first record reflecting it), 12.0 -> 12.5
