"""A warning whose track is lost, end to end: every sensor falls silent mid-flight (the simulated reports after
the outage are dropped; the rest of the run is the real replay: tracker, assessment, alert engines).

Lost in boost, the track's prediction is only a lower bound: the warning is cancelled "track lost" within 5 s
(simulation time) of the tracker losing the track (``delete_after_s`` without an update). Lost after coasting
(``MATURE_COAST_S``), the ballistic prediction stands and so does the warning, until the predicted impact."""

import dataclasses

import numpy as np
import pytest

from warnlink.assessment.replay import Replay
from warnlink.scenario.catalog import find_event, load_catalog
from warnlink.scenario.history import scenario_from_event
from warnlink.scenario.simulate import simulate
from warnlink.tracking.tracker import TrackerConfig


def _silent_after(event_id: str, cut_s: float):
    """Replay ``event_id`` with every report measured later than ``cut_s`` after launch dropped."""
    sc = scenario_from_event(find_event(load_catalog(), event_id), seed=0)
    sim = simulate(sc)
    launch_s = min((launch.time - sim.epoch).total_seconds() for launch in sc.launches)
    r = sim.reports
    keep = np.flatnonzero(r.t_s < launch_s + cut_s)
    silent = dataclasses.replace(sim, reports=r.take(keep))
    res = Replay(silent, event_id=event_id, launch_s=launch_s).run()
    last_report_s = float(r.t_s[keep].max()) - launch_s
    impact_s = min(o.t_end_s for o in sim.objects if o.kind == "warhead") - launch_s  # the first missile's
    return res, last_report_s, impact_s


def _jpn(res):
    return [a for a in res["alerts"] if a["nation"] == "JPN"]


@pytest.mark.parametrize("cut_s", [125.0])
def test_a_track_lost_in_boost_is_cancelled_within_5_s(cut_s):
    """2022-10-04 (IRBM over Japan): the JPN overflight warning goes out in boost (116 s); the sensors fall
    silent at 125 s, 57 s before burnout. Before ``Tracker.expire`` the track was never deleted (deletion ran
    only in scans) and the warning stood to 550 s; then, deleted, it was held as coasting (the IMM had read coast
    from 78 s) to 550 s."""
    res, last_s, _ = _silent_after("2022-10-04_1", cut_s)
    jpn = _jpn(res)
    assert jpn and jpn[0]["msg_type"] == "Alert" and jpn[0]["t_s"] <= cut_s
    cancels = [a for a in jpn if a["msg_type"] == "Cancel"]
    assert len(cancels) == 1 and cancels[0]["reason"] == "track_lost", jpn
    lost_s = last_s + TrackerConfig().delete_after_s
    assert 0.0 <= cancels[0]["t_s"] - lost_s <= 5.0, (cancels[0]["t_s"], lost_s)
    assert cancels[0] is jpn[-1]  # nothing after it


def test_a_track_lost_in_coast_keeps_its_warning_to_the_impact():
    """2016-09-05 (three MRBMs into Japan's EEZ): the first missile's EEZ warning goes out at 120 s, in coast;
    the sensors fall silent at 135 s, before the other two are warned of. The track's ballistic prediction
    stands (losing a track in midcourse is not losing the threat): the warning is not cancelled before the true
    impact, then is cancelled "below threshold" within 15 s of it."""
    res, _, impact_s = _silent_after("2016-09-05_1", 135.0)
    jpn = _jpn(res)
    assert jpn and jpn[0]["msg_type"] == "Alert" and "JPN_eez" in jpn[0]["headline"]
    cancels = [a for a in jpn if a["msg_type"] == "Cancel"]
    assert len(cancels) == 1 and cancels[0]["reason"] == "below_threshold", jpn
    assert impact_s - 5.0 <= cancels[0]["t_s"] <= impact_s + 15.0, (cancels[0]["t_s"], impact_s)
