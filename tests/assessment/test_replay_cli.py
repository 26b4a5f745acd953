"""The replay's outputs as users get them: ``warnlink replay ID --json`` and ``warnlink replay --all`` (a real
subprocess), the launch uncertainty in the estimate, and the Japan-MoD-style summary (``mod_summary``)."""

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from warnlink.assessment.replay import main_object, mod_summary
from warnlink.geo import distance_m, ecef2geodetic
from warnlink.scenario.catalog import find_event, load_catalog
from warnlink.scenario.history import scenario_from_event
from warnlink.scenario.simulate import simulate

KEYS = ("launch_lat", "launch_lon", "launch_time", "impact_lat", "impact_lon", "impact_time", "apogee_km",
        "range_km", "flight_time_s", "japan_eez", "overflew_japan")
EVENT = "2022-01-17_1"
"""Two SRBMs, ~300 km into the Sea of Japan, outside Japan's EEZ (MoD): the quickest catalogue event."""


def cli(*args):
    p = subprocess.run([sys.executable, "-m", "warnlink.cli", *args], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


@pytest.fixture(scope="module")
def replay_json():
    return json.loads(cli("replay", EVENT, "--json"))


def _iso(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_replay_json_has_the_documented_keys(replay_json):
    r = replay_json
    assert list(r)[:6] == ["event_id", "published", "objects", "first_detection_s", "first_verdict_s", "alerts"]
    assert r["event_id"] == EVENT and r["exercise"] is True
    assert r["published"]["range_km"]["value"] == 300 and r["published"]["japan_eez"] == "outside"
    assert r["objects"], "no tracked object"
    for o in r["objects"]:
        assert o["kind"] in ("warhead", "stage", "debris", "unknown")
        if o["estimate"] is not None:
            assert set(KEYS) <= set(o["estimate"])
            assert o["estimate"]["japan_eez"] in ("inside", "outside")
            assert isinstance(o["estimate"]["overflew_japan"], bool)
    assert 0 < r["first_detection_s"] < r["first_verdict_s"]
    assert r["alerts"] == []  # a shot into the Sea of Japan outside the EEZ threatens no one
    assert "outside Japan's EEZ" in r["summary"]


def test_launch_uncertainty_is_in_the_estimate(replay_json):
    """The backward boost's 1-sigma launch time and 95% launch ellipse reach the JSON; the true launch of the
    object (site and time as the simulation flew it: the second missile, 20 s after the first) lies inside
    them for this event. A ballistic back-propagation carries no uncertainty and says so (null)."""
    mo = main_object(replay_json)
    est = mo["estimate"]
    sim = simulate(scenario_from_event(find_event(load_catalog(), EVENT), seed=0))
    truth = next(o for o in sim.objects if o.object_id == mo["truth"]["object_id"])
    p, _, _ = truth.trajectory.sample(np.array([0.0]))
    lat, lon, _ = ecef2geodetic(*p[0], deg=True)
    assert est["launch_method"].startswith("backward boost")
    sig, ell = est["launch_time_sigma_s"], est["launch_ellipse_95"]
    assert sig > 0 and ell["semi_major_km"] >= ell["semi_minor_km"] > 0
    miss_km = float(distance_m(est["launch_lat"], est["launch_lon"], lat, lon)) / 1e3
    assert miss_km < ell["semi_major_km"], (miss_km, ell)
    dt = (_iso(est["launch_time"]) - (sim.epoch + timedelta(seconds=truth.offset_s))).total_seconds()
    assert abs(dt) < 3 * sig, (dt, sig)
    for o in replay_json["objects"]:
        e = o["estimate"]
        if e is not None and e["launch_method"] and e["launch_method"].startswith("ballistic"):
            assert e["launch_time_sigma_s"] is None and e["launch_ellipse_95"] is None


def test_replay_all_prints_the_table_over_a_catalogue_file(tmp_path):
    src = Path(__file__).parents[2] / "src/warnlink/data/dprk_launches.csv"
    lines = src.read_text().splitlines()
    one = tmp_path / "one.csv"
    one.write_text("\n".join([lines[0], *[x for x in lines if x.startswith(EVENT)]]) + "\n")
    out = cli("replay", "--all", "--catalog", str(one), "--jobs", "1")
    table = [x for x in out.splitlines() if x.startswith("|") and EVENT in x]
    assert len(table) == 2, out  # one row in the comparison table, one in the timeliness table
    totals = json.loads(out.split("totals: ", 1)[1])
    assert totals["events"] == 1 and totals["failed"] == 0, totals
    assert totals["range_ok"] == "1/1" and totals["japan_eez_ok"] == "1/1", totals


def _result(**est):
    base = {"launch_lat": 39.0, "launch_lon": 125.0, "launch_time": "2017-07-28T14:41:00Z",
            "launch_method": "backward boost (ICBM)", "impact_lat": 41.49, "impact_lon": 136.97,
            "impact_time": "2017-07-28T15:27:30Z", "apogee_km": 3724.6, "range_km": 998.4, "flight_time_s": 2790.0,
            "japan_eez": "inside", "class": "ICBM", "shape": "lofted", "final": True, "lower_bound": False,
            "assessed_at_s": 2700.0}
    base.update(est)
    return {"objects": [{"kind": "warhead", "duplicate_of": None, "estimate": base}]}


def test_mod_summary_reads_like_the_ministry_of_defense():
    s = mod_summary(_result())
    assert s == ("The ICBM-class missile (lofted) flew for about 46 minutes, reached a maximum altitude of about "
                 "3,725 km, flew about 998 km, and fell at about 00:27 JST inside Japan's EEZ, about 200 km W of "
                 "Oshima-Oshima (Hokkaido).")


def test_mod_summary_without_a_launch_point_leaves_out_what_it_cannot_know():
    s = mod_summary(_result(flight_time_s=None, range_km=None, shape=None, japan_eez="outside"))
    assert "flew for" not in s and "flew about" not in s and "(shape unknown)" in s
    assert "outside Japan's EEZ" in s and "3,725 km" in s


def test_mod_summary_is_none_without_an_assessed_object():
    assert mod_summary({"objects": []}) is None
    assert mod_summary({"objects": [{"kind": "warhead", "duplicate_of": None, "estimate": None}]}) is None
