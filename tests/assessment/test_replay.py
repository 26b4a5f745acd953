"""End to end on real launches: simulate, sense, track, assess, alert (warnlink.assessment.replay).

The estimates are checked against the catalogue's published figures and verdicts (public statements),
the object kinds against the simulator's truth (which the assessment never reads), and every alert
against the exercise rule and the OASIS CAP 1.2 schema."""

import json
import subprocess
import sys
import time

import msgspec
import pytest

from warnlink.alerts import validate_cap
from warnlink.assessment.replay import (
    ALERT_AFTER_S,
    STEP_S,
    Replay,
    main_object,
    replay_event,
    replay_scenario,
    table_markdown,
    timeliness_markdown,
)
from warnlink.assessment.replay import summary_row as row_of
from warnlink.scenario.catalog import find_event, load_catalog
from warnlink.scenario.history import scenario_from_event

KEYS = ("launch_lat", "launch_lon", "launch_time", "impact_lat", "impact_lon", "impact_time", "apogee_km",
        "range_km", "flight_time_s", "japan_eez", "overflew_japan")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def srbm(catalog):
    """2022-01-17: two SRBMs, ~300 km into the Sea of Japan, outside Japan's EEZ (MoD)."""
    ev = find_event(catalog, "2022-01-17_1")
    t0 = time.perf_counter()
    res = replay_event(ev)
    return ev, res, time.perf_counter() - t0


def test_replay_one_event_meets_the_targets(srbm):
    ev, res, _ = srbm
    assert res["run"]["wall_s"] < res["run"]["simulated_s"]  # faster than real time, with everything in
    assert list(res)[:6] == ["event_id", "published", "objects", "first_detection_s", "first_verdict_s", "alerts"]
    assert res["event_id"] == ev.event_id and res["published"]["range_km"]["value"] == 300
    mo = main_object(res)
    est = mo["estimate"]
    assert set(KEYS) <= set(est)
    assert mo["kind"] == "warhead" and mo["truth"]["kind"] == "warhead"  # decided from the estimates
    assert ev.range.ok(est["range_km"], 0.10) and ev.apogee.ok(est["apogee_km"], 0.10)
    assert est["japan_eez"] == "outside" and est["overflew_japan"] is False
    assert res["comparison"]["japan_eez_ok"] and res["comparison"]["overflight_ok"]
    assert 0 < res["first_detection_s"] < res["first_verdict_s"] < 300
    # the launch point is within the 95% uncertainty scale of the launch site (tens of km at most)
    from warnlink.geo import distance_m

    assert float(distance_m(est["launch_lat"], est["launch_lon"], ev.launch_lat, ev.launch_lon)) < 30e3
    json.dumps(res)  # JSON-ready as the CLI prints it
    assert "2022-01-17_1" in table_markdown([row_of(res)]) and "2022-01-17_1" in timeliness_markdown([row_of(res)])


def test_verdict_within_seconds_of_the_first_track(srbm):
    """An SRBM first tracked after burnout: the correct Japan-EEZ verdict ("outside") comes with the first
    mature impact prediction, ``ALERT_AFTER_S`` of coast after the first confirmed track (plus one window each
    for the assessment and the verdict), and never changes."""
    _, res, _ = srbm
    row = row_of(res)
    assert row["first_correct_verdict_s"] == row["first_verdict_s"] == row["verdict_settled_s"]
    assert row["first_verdict_s"] - res["first_track_s"] <= ALERT_AFTER_S + 2 * STEP_S


def test_no_alert_for_a_shot_that_threatens_no_one(srbm):
    _, res, _ = srbm
    assert res["alerts"] == []


@pytest.fixture(scope="module")
def eez_shot(catalog):
    """2022-11-02: SRBMs that fell south of the Northern Limit Line, inside the ROK EEZ (an air-raid warning
    on Ulleungdo); the KOR node alerts on the ROK EEZ."""
    return find_event(catalog, "2022-11-02_1")


def test_alerts_are_exercise_cap_that_validates(eez_shot):
    res = replay_event(eez_shot)
    assert any(a["msg_type"] == "Alert" and a["regions"] for a in res["alerts"])
    for a in res["alerts"]:
        assert a["status"] == "Exercise"
        assert a["headline"].startswith("EXERCISE")
        assert "<status>Exercise</status>" in a["cap_xml"]
        validate_cap(a["cap_xml"].encode())
    # every chain starts with an Alert and later messages reference it
    first = {}
    for a in res["alerts"]:
        first.setdefault((a["nation"], a["object_id"]), a["msg_type"])
    assert set(first.values()) == {"Alert"}


def test_exercise_rule_end_to_end_no_path_gives_actual(eez_shot):
    """The same shot as non-exercise data: a replay node runs in test mode (simulated data is never real),
    so the messages are Test; as exercise data they are Exercise; Actual never appears."""
    sc = scenario_from_event(eez_shot)
    real = msgspec.structs.replace(sc, exercise=False)
    res = replay_scenario(real, event_id=eez_shot.event_id)
    statuses = {a["status"] for a in res["alerts"]}
    assert statuses == {"Test"}
    assert all("<status>Test</status>" in a["cap_xml"] for a in res["alerts"])


def test_bad_input_is_rejected_with_a_reason():
    with pytest.raises(ValueError, match="step_s"):
        Replay(None, event_id="x", launch_s=30.0, step_s=0.0)
    for args, expected in ((["replay", "1999-01-01_1"], "no event '1999-01-01_1'"),
                           (["replay", "2022-01-05_1", "--all"], "not several"),
                           (["replay"], "exactly one")):
        p = subprocess.run([sys.executable, "-m", "warnlink.cli", *args], capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and expected in p.stderr, (args, p.stderr)


def test_main_object_is_no_lower_bound_while_another_estimate_is():
    """2024-07-01's structure: the second missile's boosting track, lost at 70 s, kept a lower-bound
    prediction (128 km off, 726 km range); the warheads carried on by the tracks parted from the stages
    stand for the event, the first launched first; a lower bound only when nothing else is left, and a
    missile's lower bound before a stage's estimate."""

    def obj(track, kind, launch, range_km, bound, dup=None, at=300.0):
        return {"object_id": f"e/track{track}", "kind": kind, "duplicate_of": dup,
                "estimate": {"launch_time": launch, "launch_method": "backward boost (SRBM-solid)",
                             "assessed_at_s": at, "range_km": range_km, "lower_bound": bound}}

    # launched within the same 10 s as the second missile's other track and assessed later
    boosting = obj(2, "warhead", "2024-06-30T20:05:22Z", 726.2, True, at=400.0)
    first = obj(3, "warhead", "2024-06-30T20:05:01Z", 597.6, False)
    second = obj(5, "warhead", "2024-06-30T20:05:21Z", 604.8, False)
    stage = obj(1, "stage", "2024-06-30T20:05:01Z", 91.6, False)
    assert main_object({"objects": [boosting, first, second, stage]}) is first
    assert main_object({"objects": [boosting, second, stage]}) is second
    assert main_object({"objects": [boosting, stage, obj(6, "warhead", "x", 1.0, False, dup=3)]}) is boosting
    assert main_object({"objects": [stage]}) is stage


def test_main_object_prefers_a_track_followed_to_impact_over_one_lost_in_flight():
    """2024-01-14's structure: the warhead's first track, last assessed at 150 s, predicted 21 km apogee and
    243 km range; its re-acquisition, launched (back-propagated) 11 s later and followed to its predicted
    impact, 51.5 km and 527 km (published >50, >500). The followed track stands for the event, whatever the
    launch order; among followed tracks the first launched still comes first."""

    def obj(track, launch, method, final, at):
        return {"object_id": f"e/track{track}", "kind": "warhead", "duplicate_of": None,
                "estimate": {"launch_time": launch, "launch_method": method, "assessed_at_s": at,
                             "final": final, "lower_bound": False}}

    lost = obj(1, "2024-01-14T05:53:31Z", "backward boost (SRBM-solid)", False, 149.8)
    followed = obj(4, "2024-01-14T05:53:42Z", "ballistic back-propagation (no boost seen)", True, 549.3)
    assert main_object({"objects": [lost, followed]}) is followed
    assert main_object({"objects": [lost]}) is lost
    first_followed = obj(2, "2024-01-14T05:53:20Z", "backward boost (SRBM-solid)", True, 500.0)
    assert main_object({"objects": [lost, followed, first_followed]}) is first_followed
