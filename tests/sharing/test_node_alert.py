"""The national node's alert path (``NationalNode._alert``) applies the replay's lower-bound rule
(``warnlink.alerts.is_lower_bound``): a boosting object, or one within ``STAGING_WATCH_S`` of its last boost,
warns of overflight where its path crosses the land, never of impact (the 2022-10-04 demo: "possible impact
in JPN_eez (p=0.97)" from a short prediction while the missile still burned). No servers: the engine's
messages are collected instead of sent."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import numpy as np

from warnlink.alerts import STAGING_WATCH_S, AlertEngine, load_policy
from warnlink.sharing.node import NationalNode, _PictureObject


def _node(tmp_path) -> tuple[NationalNode, list]:
    node = NationalNode("JPN", tmp_path / "state", mode="test")
    policy = msgspec.structs.replace(load_policy("JPN"), confirm_s=0.0)  # each input decides at once
    node.alert_engine = AlertEngine(policy, mode="test", epoch=datetime(1970, 1, 1, tzinfo=UTC))
    sent: list = []
    node._send_alert = sent.append
    return node, sent


def _obj(t: float, phase: str, last_boost_t: float | None, overflight: bool = False,
         climb: float = 2000.0) -> _PictureObject:
    o = _PictureObject("JPN-O1")
    o.t, o.phase, o.event_id, o.kind, o.exercise = t, phase, "JPN-E1", "unknown", False
    o.x = np.array([6.5e6, 0.0, 0.0, climb, 3000.0, 0.0])  # ECEF: climbing (or descending) over 0N 0E
    o.assessment = {
        "t": t, "impacted": True, "lat_deg": 40.5, "lon_deg": 139.0, "impact_time": t + 600.0,
        "semi_major_m": 60e3, "semi_minor_m": 20e3, "orientation_deg": 80.0,
        "probabilities": {"JPN_eez": 0.97}, "last_boost_t": last_boost_t,
        "overflights": [{"nation": "JPN", "start": t + 60.0, "end": t + 90.0}] if overflight else []}
    return o


def test_a_boosting_object_never_gives_an_impact_alert(tmp_path):
    node, sent = _node(tmp_path)
    t0 = 1.67e9
    for k in range(20):                                  # boosting: a lower bound, the mean path misses Japan
        node._alert(_obj(t0 + k, "boost", t0 + k))
    assert sent == []
    node._alert(_obj(t0 + 20, "boost", t0 + 20, overflight=True))  # ... and now crosses it: overflight only
    assert [(a.msg_type, a.regions, a.overflight_regions) for a in sent] == [("Alert", (), ("JPN_land",))]
    assert sent[0].impact is None
    last = t0 + 20
    node._alert(_obj(last + STAGING_WATCH_S - 1, "midcourse", last, overflight=True))  # just burnt out
    assert len(sent) == 1
    node._alert(_obj(last + STAGING_WATCH_S, "midcourse", last, overflight=True))      # no longer a bound
    assert sent[-1].msg_type == "Update" and sent[-1].regions == ("JPN_eez",) and sent[-1].impact is not None


def test_a_descending_object_read_as_boosting_keeps_its_impact_warning(tmp_path):
    """Re-entry drag read by the boost model as thrust (2024-11-05) is no lower bound: no cancel and re-issue."""
    node, sent = _node(tmp_path)
    node._alert(_obj(300.0, "midcourse", None, climb=-3000.0))
    node._alert(_obj(301.0, "boost", None, climb=-3000.0))
    assert [(a.msg_type, a.regions) for a in sent] == [("Alert", ("JPN_eez",))]
