"""The 2023-04-13 booster case, end to end (examples/booster-hokkaido.yaml): a spent first stage falls into
Japan's EEZ off northern Hokkaido while the warhead flies on, over Sakhalin, outside the EEZ. The JPN node
must raise no warning on the stage, or cancel it within 5 s (simulation time).

Which track follows which true object is read from the simulator's truth *after* the run, for the check
only; the node decides kinds from its own estimates."""

from datetime import datetime
from pathlib import Path

import pytest

from warnlink.assessment.replay import replay_scenario
from warnlink.geo.regions import region_of
from warnlink.scenario.model import load_scenario
from warnlink.scenario.simulate import fly_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "examples" / "booster-hokkaido.yaml"


@pytest.fixture(scope="module")
def run():
    sc = load_scenario(SCENARIO)
    return sc, replay_scenario(sc)


def _in_japan(lat, lon) -> bool:
    land, eez = region_of(lat, lon)
    return str(land) == "JPN" or str(eez) == "JPN"


def test_scenario_is_the_booster_case(run):
    sc, _ = run
    objects, _ = fly_scenario(sc)
    impacts = {o.object_id.rsplit("/", 1)[-1]: o.trajectory.impact_point() for o in objects}
    assert _in_japan(*impacts["stage1"])
    assert not _in_japan(*impacts["warhead"])


def _t(a):
    return datetime.fromisoformat(a["sent"].replace("Z", "+00:00"))


def test_no_warning_stands_on_the_stage(run):
    _, res = run
    by_alert_id = {}
    for o in res["objects"]:
        by_alert_id.setdefault(o["alert_object_id"], []).append(o)
    stage_ids = {oid for oid, objs in by_alert_id.items()
                 if all(o["truth"] and o["truth"]["kind"] == "stage" for o in objs)}
    assert any(o["truth"] and o["truth"]["object_id"].endswith("stage1") for o in res["objects"])
    jpn = [a for a in res["alerts"] if a["nation"] == "JPN"]
    for oid in stage_ids:
        chain = [a for a in jpn if a["object_id"] == oid]
        opened = None
        for a in chain:
            if a["msg_type"] == "Alert":
                opened = a
            elif a["msg_type"] == "Cancel" and opened is not None:
                assert (_t(a) - _t(opened)).total_seconds() <= 5.0, (oid, opened["t_s"], a["t_s"])
                opened = None
        assert opened is None, f"warning on stage {oid} never cancelled"


def test_no_impact_warning_for_japan_and_the_warhead_is_outside(run):
    _, res = run
    impact_alerts = [a for a in res["alerts"] if a["nation"] == "JPN" and a["msg_type"] != "Cancel"
                     and a["regions"]]
    assert impact_alerts == []
    warheads = [o for o in res["objects"] if o["truth"] and o["truth"]["kind"] == "warhead" and o["estimate"]
                and o["duplicate_of"] is None]
    assert warheads
    for o in warheads:
        assert o["estimate"]["japan_eez"] == "outside"
        assert o["estimate"]["overflew_japan"] is False
    assert all(a["status"] == "Exercise" for a in res["alerts"])
