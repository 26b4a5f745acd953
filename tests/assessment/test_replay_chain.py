"""A true warning's chain through the terminal phase's track losses and re-acquisitions (2022-11-18: the ICBM
fell inside Japan's EEZ after 69 min). Before: the lost track's held prediction stopped feeding the chain the
moment a young track re-acquired the warhead, 5 s before that track was mature (Cancel "stale" at 3 870 s, a new
Alert at 3 872 s), and the young re-acquisition's own loss cancelled it again ("track_lost" at 3 915 s)."""

import pytest

from warnlink.assessment.replay import replay_event
from warnlink.scenario.catalog import find_event, load_catalog


@pytest.fixture(scope="module")
def icbm():
    return replay_event(find_event(load_catalog(), "2022-11-18_1"))


def test_the_eez_warning_holds_to_impact_through_re_acquisitions(icbm):
    jpn = [a for a in icbm["alerts"] if a["nation"] == "JPN"]
    assert jpn and jpn[0]["msg_type"] == "Alert" and "JPN_eez" in jpn[0]["regions"]
    first = jpn[0]["object_id"]
    impact_s = 69.3 * 60.0 - 60.0  # the simulated flight's 69.3 min, less a minute of margin
    chain = [a for a in jpn if a["object_id"] == first]
    early = [(a["msg_type"], a["t_s"], a["reason"]) for a in chain[1:] if a["t_s"] < impact_s]
    assert all(m == "Update" for m, _, _ in early), early
    assert not [a for a in jpn if a["reason"] in ("stale", "track_lost")]
