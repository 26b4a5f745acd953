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


# --- one chain per missile (``warnlink.sharing.speakers``) -----------------------------------------------------

def _pic(oid: str, t: float, lat: float = 40.5, lon: float = 139.0, kind: str = "unknown",
         smaj: float = 20e3, p: float = 0.97) -> _PictureObject:
    o = _obj(t, "midcourse", None)
    o.object_id, o.kind = oid, kind
    o.assessment.update(lat_deg=lat, lon_deg=lon, semi_major_m=smaj, impact_time=1000.0,
                        probabilities={"JPN_eez": p} if p else {})
    return o


def _rounds(node, sent, rounds):
    for objs in rounds:
        node.objects = {o.object_id: o for o in objs}
        node._alert_round(objs)
    return [(a.msg_type, a.object_id) for a in sent]


def test_duplicate_objects_of_one_missile_share_one_chain(tmp_path):
    """Two picture objects predicting one impact (the fusion left them apart): one Alert, no second chain,
    and when the speaker leaves the picture the other carries the chain on without a Cancel."""
    node, sent = _node(tmp_path)
    _rounds(node, sent, [[_pic("O1", 100.0), _pic("O3", 100.0, lat=40.55)],
                         [_pic("O1", 101.0), _pic("O3", 101.0, lat=40.55)]])
    assert [(a.msg_type, a.object_id) for a in sent] == [("Alert", "O1")]
    node.objects = {"O3": _pic("O3", 102.0, lat=40.55)}
    node._lost(["O1"])
    node._alert_round([node.objects["O3"]])
    assert [a.msg_type for a in sent] == ["Alert"]           # no Cancel: O3 speaks for the chain now
    node.objects, node.data_time = {}, 103.0
    node._lost(["O3"])
    assert [(a.msg_type, a.object_id) for a in sent][-1] == ("Cancel", "O1")  # no member left: basis lost


def test_a_stage_in_the_missiles_chain_does_not_cancel_it_and_leaves_when_it_falls_short(tmp_path):
    node, sent = _node(tmp_path)
    # the stage speaks first (the missile's own object is younger), then is read as a stage
    _rounds(node, sent, [[_pic("O2", 100.0)], [_pic("O2", 101.0), _pic("O1", 101.0, lat=40.52)]])
    assert [(a.msg_type, a.object_id) for a in sent] == [("Alert", "O2")]
    _rounds(node, sent, [[_pic("O2", 102.0, kind="stage"), _pic("O1", 102.0, lat=40.52)]])
    assert [a.msg_type for a in sent] == ["Alert"]           # the missile speaks on: no "reclassified" Cancel
    # the stage's prediction now falls 300 km short: a key of its own, and as a stage it opens no chain
    _rounds(node, sent, [[_pic("O2", 103.0, lat=38.0, kind="stage", p=0.0), _pic("O1", 103.0, lat=40.52)]])
    assert [a.msg_type for a in sent] == ["Alert"]
    assert node.alert_keys.key_of["O2"] != node.alert_keys.key_of["O1"] == "O2"


def test_a_second_missile_aimed_elsewhere_gets_its_own_chain(tmp_path):
    node, sent = _node(tmp_path)
    _rounds(node, sent, [[_pic("O1", 100.0), _pic("O5", 100.0, lat=37.0, lon=134.0)]])
    assert sorted((a.msg_type, a.object_id) for a in sent) == [("Alert", "O1"), ("Alert", "O5")]


def test_only_a_stage_left_cancels_as_reclassified(tmp_path):
    node, sent = _node(tmp_path)
    _rounds(node, sent, [[_pic("O2", 100.0)], [_pic("O2", 101.0, kind="stage")]])
    assert [a.msg_type for a in sent] == ["Alert", "Cancel"] and sent[-1].reason == "reclassified"


def test_stage_reading_is_over_the_launch_picture_not_the_round(tmp_path):
    """An object is a stage by the longest range of its launch over the whole picture: a round holding only
    the stage (the missile's object unchanged) does not read it as the missile."""
    from types import SimpleNamespace

    node, _sent = _node(tmp_path)
    stage = _pic("O2", 100.0)
    stage.phase = "midcourse"
    node.objects = {"O2": stage}  # the missile's track has ended: its assessment is all that is left of it
    node.last_assessments["O1"] = {"t": 90.0, "impacted": True, "range_m": 4_600e3, "event_id": "JPN-E1",
                                   "object_id": "O1"}
    node._release_assessments = lambda items: None  # no fabric here
    pred = SimpleNamespace(impacted=np.array([True]), lat_deg=np.array([40.7]), lon_deg=np.array([148.5]),
                           ground_range_m=np.array([1_860e3]), apogee_alt_m=np.array([422e3]),
                           impact_time_s=np.array([900.0]), semi_major_m=np.array([5e3]),
                           semi_minor_m=np.array([3e3]), orientation_deg=np.array([10.0]))
    node._assess_finish([stage], [None], pred, [[]], [{}])
    assert node.objects["O2"].kind == "stage"


def test_in_boost_the_objects_of_one_launch_share_a_chain(tmp_path):
    """A boosting object's impact is a lower bound that moves with every second of burn: the next round's
    object of the same launch (a new picture object for the missile) joins its chain, wherever its
    prediction has moved, instead of opening a second one while the first goes stale."""
    node, sent = _node(tmp_path)
    a = _obj(100.0, "boost", 100.0, overflight=True)
    a.object_id = "O2"
    b = _obj(125.0, "boost", 125.0, overflight=True)
    b.object_id = "O1"
    b.assessment.update(lat_deg=41.5, lon_deg=145.0, impact_time=1400.0)
    _rounds(node, sent, [[a], [b]])
    assert [(m.msg_type, m.object_id) for m in sent] == [("Alert", "O2")]
    assert node.alert_engine.tick(126.0) == []  # the chain had its update at 125 s: not stale
    assert node.alert_keys.speaker["O2"] == "O1"


def test_an_unchanged_object_in_the_picture_keeps_its_chain_until_it_leaves(tmp_path):
    """A round without a new report of the alerted object (a long radar revisit, or a replay faster than real
    time) is no loss of its basis: its assessment stands at the round's time; leaving the picture is."""
    node, sent = _node(tmp_path)
    o1 = _pic("O1", 100.0)
    _rounds(node, sent, [[o1]])
    other = _pic("O7", 130.0, lat=35.0, lon=131.0, p=0.0)
    other.event_id = "JPN-E2"
    node.objects = {"O1": o1, "O7": other}
    node._round_t = 130.0
    node._alert_round([other])                       # a round of another launch only, 30 s later
    assert node.alert_engine.tick(130.5) == []       # not stale: O1 is still in the picture
    node.objects, node.data_time = {"O7": other}, 131.0
    node._lost(["O1"])
    assert [(m.msg_type, m.object_id, m.reason) for m in sent] == [("Alert", "O1", None),
                                                                    ("Cancel", "O1", "track_lost")]


# --- a lost coasting object's prediction stands; coast-born tracks are of a known launch ------------------------

def test_a_lost_mature_object_keeps_its_chain_until_impact_and_a_new_track_takes_it_over(tmp_path):
    """2022-11-18 at the JPN node: the JPN radar's midcourse track ends minutes after burnout, the warhead is
    seen again only in its last minutes. Its EEZ warning must stand meanwhile, and the terminal track carry it on."""
    node, sent = _node(tmp_path)
    o1 = _pic("O1", 300.0)
    o1.assessment.update(last_boost_t=250.0, impact_time=4100.0)
    _rounds(node, sent, [[o1]])
    node.data_time = 301.0
    node._lost(["O1"], {"O1": o1})            # out of coverage: no Cancel
    node.objects = {}
    for t in (320.0, 1000.0, 3000.0):
        node._round_t = t
        node._alert_round([])
        assert node.alert_engine.tick(t + 0.5) == []
    o9 = _pic("O9", 4000.0, lat=40.52)          # the terminal-phase track: joins the chain and speaks
    o9.event_id = "JPN-unassigned"              # (a coast-born track of no known launch, as the node groups it)
    o9.assessment.update(impact_time=4110.0)
    node.objects, node._round_t = {"O9": o9}, 4000.0
    node._alert_round([o9])
    assert [(m.msg_type, m.object_id) for m in sent] == [("Alert", "O1")]
    assert node.alert_keys.speaker["O1"] == "O9" and "O1" not in node._extrap


def test_a_lost_object_s_prediction_ends_at_its_impact(tmp_path):
    node, sent = _node(tmp_path)
    o1 = _pic("O1", 300.0)
    o1.assessment.update(last_boost_t=250.0, impact_time=900.0)
    _rounds(node, sent, [[o1]])
    node.data_time, node.objects = 301.0, {}
    node._lost(["O1"], {"O1": o1})
    for t in (910.0, 915.0, 925.0):             # past the impact: probabilities zero, Cancel after the release hold
        node._round_t = t
        node._alert_round([])
    assert [(m.msg_type, m.reason) for m in sent] == [("Alert", None), ("Cancel", "below_threshold")]
    assert node._extrap == {}


def test_a_young_or_boosting_lost_object_cancels_at_once(tmp_path):
    node, sent = _node(tmp_path)
    o1 = _pic("O1", 300.0)                      # never seen boosting, coasted 0 s under assessment: not mature
    _rounds(node, sent, [[o1]])
    node.data_time, node.objects = 301.0, {}
    node._lost(["O1"], {"O1": o1})
    assert [(m.msg_type, m.reason) for m in sent] == [("Alert", None), ("Cancel", "track_lost")]


def test_a_coast_born_track_joins_the_launch_its_ballistic_arc_comes_from(tmp_path):
    """The warhead of 2022-11-18 (simulated truth) seen first at 90% of its flight: its backward ballistic arc
    ends within ``ORIGIN_GATE_KM`` of the launch site, ``ORIGIN_GATE_S`` after lift-off; the node joins it to
    that launch, not to another one, and announces none of its own."""
    from warnlink.physics.flight import fly
    from warnlink.physics.missiles import get_class
    from warnlink.scenario.catalog import load_catalog
    from warnlink.scenario.history import scenario_from_event
    from warnlink.scenario.simulate import launch_profile
    from warnlink.sharing.node import ORIGIN_GATE_KM, ORIGIN_GATE_S, _ballistic_origin_job, _ground_km

    ev = next(e for e in load_catalog() if e.event_id == "2022-11-18_1")
    launch = scenario_from_event(ev).launches[0]
    pr = launch_profile(launch)
    f = fly(get_class(pr.missile), launch.site.lat, launch.site.lon, pr.azimuth_deg, pr.kick_deg, pr.cutoff,
            variant=pr.variant)
    wh = next(o for o in f.objects if o.kind == "warhead")
    t = 0.9 * wh.t_end
    p, v, _ = wh.sample([t])
    lat, lon, t0 = _ballistic_origin_job(np.concatenate([p[0], v[0]]), t)
    assert _ground_km(lat, lon, launch.site.lat, launch.site.lon) < ORIGIN_GATE_KM / 3
    assert ORIGIN_GATE_S[0] <= t0 <= ORIGIN_GATE_S[1]
    node, _sent = _node(tmp_path)
    node.own_events = {"JPN-E1": {"lat_deg": launch.site.lat, "lon_deg": launch.site.lon, "time": 0.0},
                       "JPN-E2": {"lat_deg": 35.0, "lon_deg": 129.0, "time": -100.0}}
    assert node._event_of_origin((lat, lon, t0)) == "JPN-E1"
    assert node._event_of_origin((lat, lon, t0 + 3600.0)) is None   # not of that launch's time
    assert node._event_of_origin((30.0, 150.0, t0)) is None          # nor of its place


# --- warning from partners' shared assessments ---------------------------------------------------------------

def _shared(t: float, lat: float = 40.5, kind: str = "unknown", p: float = 0.9, boost: bool = False,
            event: str = "KOR-E1", oid: str = "KOR-O2", impact_time: float = 1000.0):
    """A KOR assessment as the JPN node receives it (``BOOST_CONFIDENCE``: assessed in boost at KOR)."""
    from warnlink.sharing.ids import uuid7
    from warnlink.sharing.messages import Assessment, Ellipse, GeoPoint, RegionProbability
    from warnlink.sharing.node import BOOST_CONFIDENCE

    return Assessment(id=uuid7(), event_id=event, object_id=oid, origin="KOR", time=t,
                      launch_point=GeoPoint(lat_deg=39.2, lon_deg=125.7, alt_m=0.0), launch_time=0.0,
                      impact_point=GeoPoint(lat_deg=lat, lon_deg=139.0), impact_time=impact_time,
                      impact_ellipse=Ellipse(semi_major_m=40e3, semi_minor_m=30e3, orientation_deg=80.0),
                      apogee_m=6e6, range_m=1e6, missile_class="ICBM", object_kind=kind,
                      threatened=(RegionProbability(region="JPN_eez", probability=p),) if p else (),
                      overflights=(), confidence=BOOST_CONFIDENCE if boost else 0.9, exercise=False)


def _receive(node, a) -> None:
    """What the node's receive path keeps of a partner assessment (``_apply``), then a partner-only round."""
    from warnlink.sharing.node import BOOST_CONFIDENCE

    key = (a.origin, a.object_id)
    node.partner_assessments[key] = a
    if a.confidence == BOOST_CONFIDENCE:
        node._partner_boost_t[key] = a.time
    node.data_time = max(node.data_time, a.time)
    node._partner_round()


def _kor_launch(node) -> None:
    node.own_events["JPN-E1"] = {"lat_deg": 39.2, "lon_deg": 125.7, "time": 0.0}
    node.event_alias["KOR-E1"] = "JPN-E1"     # (the launch notices linked: one launch)


def test_a_partner_s_coasting_assessment_warns_when_no_own_object_can(tmp_path):
    """2022-11-18 at JPN: the JPN radars lose the warhead minutes after burnout; KOR's prediction of the EEZ
    impact stands. The JPN node warns from it, and no lower bound (KOR assessing in boost, or just after) does."""
    node, sent = _node(tmp_path)
    _kor_launch(node)
    _receive(node, _shared(100.0, boost=True))
    _receive(node, _shared(100.0 + 7.0))                        # within STAGING_WATCH_S of KOR's last boost
    assert sent == []
    _receive(node, _shared(100.0 + STAGING_WATCH_S))
    assert [(a.msg_type, a.regions, a.object_id) for a in sent] == [("Alert", ("JPN_eez",), "KOR/KOR-O2")]
    for t in (1010.0, 1015.0, 1025.0):                          # past its impact: below threshold
        node.data_time = node._round_t = t
        node._partner_round()
    assert [(a.msg_type, a.reason) for a in sent[1:]] == [("Cancel", "below_threshold")]
    node.data_time = 1000.0 + 61.0                              # and then forgotten
    node._partner_round()
    assert node._partner_objs == {} and len(sent) == 2


def test_a_partner_s_assessment_of_an_unknown_launch_or_a_stage_never_warns(tmp_path):
    node, sent = _node(tmp_path)
    _receive(node, _shared(300.0))                              # no launch of it known at this node
    assert sent == [] and node._partner_objs == {}
    node, sent = _node(tmp_path)
    _kor_launch(node)
    _receive(node, _shared(300.0, kind="stage"))                # of the known launch, but a stage
    assert sent == [] and list(node._partner_objs) == ["KOR/KOR-O2"]


def test_an_own_object_speaks_before_a_partner_s_and_a_partner_s_carries_the_chain_through_a_gap(tmp_path):
    node, sent = _node(tmp_path)
    _kor_launch(node)
    own = _pic("O1", 300.0)                                     # JPN's own track of the missile
    _receive(node, _shared(299.0, lat=40.6))                    # KOR's: the same impact, 11 km off
    node.objects = {"O1": own}
    node._alert_round([own])
    assert [(a.msg_type, a.object_id) for a in sent] == [("Alert", "KOR/KOR-O2")]  # KOR's opened it first...
    assert node.alert_keys.speaker["KOR/KOR-O2"] == "O1"        # ... and the own object speaks now
    _receive(node, _shared(310.0, lat=40.6))                    # a newer partner assessment: own still speaks
    assert node.alert_keys.speaker["KOR/KOR-O2"] == "O1"
    n = len(sent)
    node.objects, node.data_time = {}, 311.0                    # own track lost young (not mature): KOR's carries on
    node._lost(["O1"], {"O1": own})
    assert len(sent) == n and node.alert_keys.speaker["KOR/KOR-O2"] == "KOR/KOR-O2"


def test_the_impact_time_gate_grows_with_the_time_to_go():
    """Two predictions of one ICBM 62 min before impact were 64 s apart (2022-11-18 demo, JPN's own and KOR's):
    one chain; 64 s apart 5 min before impact they are two objects."""
    from warnlink.sharing.speakers import AlertKeys, Candidate

    keys = AlertKeys()
    far = [Candidate("A", "E", False, "unknown", 0.0, 41.70, 136.53, 3744.0, 60e3),
           Candidate("B", "E", False, "unknown", 0.0, 41.39, 136.64, 3808.0, 40e3)]
    assert keys.near(*far)
    near = [Candidate("A", "E", False, "unknown", 3500.0, 41.70, 136.53, 3744.0, 5e3),
            Candidate("B", "E", False, "unknown", 3500.0, 41.70, 136.53, 3808.0, 5e3)]
    assert not keys.near(*near)


def test_a_forgotten_partner_assessment_stands_until_impact_only_when_mature(tmp_path):
    """A partner's track ends (its assessments stop; the node forgets them after ``PARTNER_TRACK_TTL_S``): a
    prediction made later than any notional burn after the launch time it states stands until its impact;
    a younger one's chain is cancelled as lost."""
    for t, cancelled in ((200.0, True), (400.0, False)):
        node, sent = _node(tmp_path)
        _kor_launch(node)
        _receive(node, _shared(t))
        assert [a.msg_type for a in sent] == ["Alert"]
        node.partner_assessments.clear()                          # forgotten
        node.data_time = node._round_t = t + 130.0
        node._partner_round()
        assert ([(a.msg_type, a.reason) for a in sent[1:]] == [("Cancel", "track_lost")]) == cancelled, sent
        if not cancelled:
            for rt in (t + 200.0, 990.0):                          # its prediction stands until its impact (1000 s)
                node._round_t = rt
                node._alert_round([])
                assert node.alert_engine.tick(rt + 0.5) == [] and len(sent) == 1


# --- the own tracker's drag: a re-entering stage is no threat (2022-11-18 demo: Updates to 02:27) ---------------

def test_drag_kind_reads_the_ballistic_coefficient_only_where_it_is_known():
    from warnlink.assessment.replay import drag_kind

    kappa = np.array([1 / 100.0, 1 / 20.0, 1 / 5000.0, 1 / 700.0, 1 / 100.0, 0.0, np.nan])
    rel = np.array([0.05, 0.05, 0.05, 0.05, 0.5, 0.05, 0.05])  # 1-sigma as a fraction of kappa
    var = (rel * np.nan_to_num(kappa, nan=1e-3)) ** 2
    assert list(drag_kind(kappa, var)) == ["stage", "debris", "warhead", "", "", "", ""]


def test_an_own_track_whose_drag_shows_a_stage_cancels_the_chain_it_spoke_for(tmp_path):
    """The 2022-11-18 tail: after the warhead fell, JPN's own track of the spent last stage (range and impact
    point like the warhead's, so not "short") kept the EEZ chain alive with impact-time Updates for 4 min.
    Its drag (ballistic coefficient ~100 kg/m^2, known in the air) makes it a stage: the chain is cancelled."""
    from types import SimpleNamespace

    from warnlink.sharing.node import _OwnTracks
    from warnlink.tracking.tracker import CONFIRMED

    node, sent = _node(tmp_path)
    node._release_assessments = lambda items: None  # no fabric here
    obj = _pic("O5", 100.0)
    obj.contributors = {"JPN": node._own_track_id(7)}
    node.objects = {"O5": obj}
    pred = SimpleNamespace(impacted=np.array([True]), lat_deg=np.array([40.5]), lon_deg=np.array([139.0]),
                           ground_range_m=np.array([990e3]), apogee_alt_m=np.array([6000e3]),
                           impact_time_s=np.array([1000.0]), semi_major_m=np.array([5e3]),
                           semi_minor_m=np.array([3e3]), orientation_deg=np.array([10.0]))
    probs = [{"JPN_eez": 0.97}]
    node._assess_finish([obj], [None], pred, [[]], probs)
    assert [a.msg_type for a in sent] == ["Alert"]
    own = _OwnTracks()
    own.ids, own.status = np.array([7]), np.array([CONFIRMED])
    own.kappa, own.kappa_var = np.array([1 / 100.0]), np.array([(0.05 / 100.0) ** 2])
    node._read_drag(own)
    obj2 = _pic("O5", 101.0)
    obj2.contributors = dict(obj.contributors)
    node.objects = {"O5": obj2}
    node._assess_finish([obj2], [None], pred, [[]], probs)
    assert node.objects["O5"].kind == "stage"
    assert [a.msg_type for a in sent] == ["Alert", "Cancel"] and sent[-1].reason == "reclassified"
    own.kappa_var = np.array([(0.5 / 100.0) ** 2])  # unknown drag later (in the vacuum): the reading stands
    node._read_drag(own)
    assert node.own_drag_kind[node._own_track_id(7)] == "stage"


def test_an_assessment_round_goes_as_one_signed_batch_per_marking(tmp_path):
    """The objects of one assessment round are shared as one AssessmentBatch (one signature, one publish), not
    one message per object; exercise and actual objects never share a batch; each object gets its own
    ``assessment_sent`` timing record; a round too big for one envelope is split by encoded size."""
    from types import SimpleNamespace

    from warnlink.sharing.messages import ASSESSMENT_BATCH_BYTES, AssessmentBatch, encode_payload

    node, _sent = _node(tmp_path)
    queued = []
    node._seal_and_queue = lambda payload, **kw: queued.append((payload, kw.get("timing"))) or True
    objs = [_pic(f"O{k}", 100.0 + k) for k in range(3)]
    objs[2].exercise = True
    for o in objs:
        o.track_wall, o.new_wall = 5.0 + o.t, 4.5 + o.t
    node.objects = {o.object_id: o for o in objs}
    n = len(objs)
    pred = SimpleNamespace(impacted=np.ones(n, bool), lat_deg=np.full(n, 40.5), lon_deg=np.full(n, 139.0),
                           ground_range_m=np.full(n, 990e3), apogee_alt_m=np.full(n, 400e3),
                           impact_time_s=np.full(n, 1000.0), semi_major_m=np.full(n, 5e3),
                           semi_minor_m=np.full(n, 3e3), orientation_deg=np.full(n, 10.0))
    node._assess_finish(objs, [None] * n, pred, [[]] * n, [{"JPN_eez": 0.97}] * n)
    batches = [(p, t) for p, t in queued if isinstance(p, AssessmentBatch)]
    assert [(b.exercise, [a.object_id for a in b.assessments]) for b, _ in batches] == [
        (True, ["O2"]), (False, ["O0", "O1"])]
    assert [[(ev, f["object_id"], f["track_wall"], f["new_wall"]) for ev, f in t] for _, t in batches] == [
        [("assessment_sent", "O2", 107.0, 106.5)],
        [("assessment_sent", "O0", 105.0, 104.5), ("assessment_sent", "O1", 106.0, 105.5)]]
    assert node.counters["assessments_sent"] == 3 and node.counters["assessment_batches_sent"] == 2
    # big assessments (long region names): split so no batch's payload passes the budget
    queued.clear()
    big = batches[1][0].assessments[0]
    regions = tuple(msgspec.structs.replace(big.threatened[0], region=f"{k:03d}" + "x" * 120) for k in range(64))
    items = [(msgspec.structs.replace(big, object_id=f"B{k}", threatened=regions), None, None) for k in range(12)]
    node._release_assessments(items)
    sizes = [len(encode_payload(p)) for p, _ in queued]
    assert len(queued) > 1 and max(sizes) <= ASSESSMENT_BATCH_BYTES + 64, sizes
    assert [a.object_id for p, _ in queued for a in p.assessments] == [f"B{k}" for k in range(12)]


def test_the_object_that_outranges_a_stage_of_its_launch_is_the_warhead(tmp_path):
    """2022-10-04 in the demo: each node listed the IRBM as "unknown" beside its separated stage, since only the
    own tracker's drag could make an object a warhead. Now an object of a launch that has a stage (by range
    or by drag), and is no stage itself, is the warhead; a launch seen as one object stays "unknown"."""
    from types import SimpleNamespace

    node, _sent = _node(tmp_path)
    node._release_assessments = lambda items: None  # no fabric here

    def round_(objs, ranges):
        n = len(objs)
        pred = SimpleNamespace(impacted=np.ones(n, bool), lat_deg=np.full(n, 40.5), lon_deg=np.full(n, 139.0),
                               ground_range_m=np.array(ranges, float), apogee_alt_m=np.full(n, 900e3),
                               impact_time_s=np.full(n, 1000.0), semi_major_m=np.full(n, 5e3),
                               semi_minor_m=np.full(n, 3e3), orientation_deg=np.full(n, 10.0))
        node.objects.update({o.object_id: o for o in objs})
        node._assess_finish(objs, [None] * n, pred, [[]] * n, [{}] * n)
        return [node.objects[o.object_id].kind for o in objs]

    assert round_([_pic("O1", 100.0)], [4_500e3]) == ["unknown"]            # one object: no telling
    assert round_([_pic("O1", 101.0), _pic("O2", 101.0)], [4_600e3, 900e3]) == ["warhead", "stage"]
    assert round_([_pic("O1", 102.0)], [4_600e3]) == ["warhead"]            # the stage's last reading stands
    node2, _ = _node(tmp_path / "b")
    node = node2
    node._release_assessments = lambda items: None
    node.own_drag_kind[node._own_track_id(3)] = "stage"                     # a stage by its drag, same range
    obj, stage = _pic("O1", 100.0), _pic("O3", 100.0)
    stage.contributors = {"JPN": node._own_track_id(3)}
    assert round_([obj, stage], [4_600e3, 4_550e3]) == ["warhead", "stage"]
    other = _pic("O9", 100.0)
    other.event_id = "JPN-E2"                                               # another launch: no stage of its own
    assert round_([other], [1_000e3]) == ["unknown"]


def test_a_round_reassesses_an_object_only_when_what_it_depends_on_changed(tmp_path):
    """A picture rebuild re-aligns every object to the newest own track time; that told nothing new, yet each
    such object was assessed and shared again (and its track update looked a second or more old in ``bench
    fabric``). A round takes an object again when a member track updates, its launch or that launch's
    estimate changes, or its marking does; not when only its time moved."""
    node, _sent = _node(tmp_path)
    o = _pic("O1", 100.0)
    o.src_sig = (("JPN", "T1", 100.0),)
    o.assessment = None
    node.objects = {"O1": o}
    node.own_events["JPN-E1"] = {"lat_deg": 39.2, "lon_deg": 125.7, "time": 0.0, "origin": "JPN"}

    def due():
        objs, sigs, launch = node._assess_due()
        for obj, sig in zip(objs, sigs, strict=True):  # as the round's end records it
            obj.assessment = {"t": obj.t, "impacted": False, "sig": sig}
        return [(obj.object_id, (li or {}).get("time")) for obj, li in zip(objs, launch, strict=True)]

    assert due() == [("O1", 0.0)]
    assert due() == []
    o.t = 100.5                                                   # re-aligned by a rebuild: nothing new
    assert due() == []
    o.src_sig = (("JPN", "T1", 100.4),)                           # the member track updated
    assert due() == [("O1", 0.0)]
    o.src_sig = (("JPN", "T1", 100.4), ("USA", "U7", 100.2))      # a partner track joined
    assert due() == [("O1", 0.0)]
    node.own_events["JPN-E1"]["time"] = 1.5                       # the launch estimate refined
    assert due() == [("O1", 1.5)]
    node.event_alias["JPN-E1"] = "KOR-E3"                         # linked to another launch
    assert due() == [("O1", None)]
    o.exercise = True
    assert due() == [("O1", None)]
    assert due() == []


def test_an_object_remembers_the_oldest_track_update_no_shared_assessment_reflects(tmp_path):
    """``new_wall``, the assessment age's start in ``bench fabric``: when the oldest member update that no
    assessment of the object reflects yet reached the node. Updates superseded before a round count from
    their own arrival; a rebuild that brings no new update sets none."""
    node, _sent = _node(tmp_path)
    o = _PictureObject("O1")

    def entry(origin, tid, t, wall):
        return (origin, tid, np.zeros(6), np.eye(6), t, "midcourse", False, None, {}, wall)

    node._finish_object(o, [entry("JPN", "T1", 100.0, 1000.0)], 1000.0)
    assert o.new_wall == 1000.0
    node._finish_object(o, [entry("JPN", "T1", 100.1, 1000.1)], 1000.1)   # superseded before any round
    node._finish_object(o, [entry("JPN", "T1", 100.1, 1000.1), entry("USA", "U1", 99.8, 999.9)], 1000.2)
    assert o.new_wall == 999.9 and o.track_wall == 1000.1                 # the partner track's arrival
    o.new_wall = None                                                      # a round took the object
    node._finish_object(o, [entry("JPN", "T1", 100.1, 1000.1), entry("USA", "U1", 99.8, 999.9)], 1000.3)
    assert o.new_wall is None                                              # a rebuild: nothing new
    node._finish_object(o, [entry("JPN", "T1", 100.2, 1000.4), entry("USA", "U1", 99.8, 999.9)], 1000.4)
    assert o.new_wall == 1000.4


def test_an_assessment_that_fails_its_check_does_not_take_its_round_down(tmp_path):
    """One assessment a receiver would refuse (here a probability of 1.5) is counted and left out; the rest of
    the round goes in the batch (one bad object used to cost only its own message, and still does)."""
    from warnlink.sharing.ids import uuid7
    from warnlink.sharing.messages import Assessment, Ellipse, GeoPoint, RegionProbability

    node, _sent = _node(tmp_path)
    queued = []
    node._seal_and_queue = lambda payload, **kw: queued.append(payload) or True

    def assessment(oid, p):
        return Assessment(id=uuid7(), event_id="JPN-E1", object_id=oid, origin="JPN", time=100.0,
                          launch_point=GeoPoint(lat_deg=39.2, lon_deg=125.7), launch_time=0.0,
                          impact_point=GeoPoint(lat_deg=40.5, lon_deg=139.0), impact_time=700.0,
                          impact_ellipse=Ellipse(semi_major_m=5e3, semi_minor_m=3e3, orientation_deg=10.0),
                          apogee_m=4e5, range_m=1e6, missile_class="IRBM", object_kind="unknown",
                          threatened=(RegionProbability(region="JPN_eez", probability=p),), confidence=0.9,
                          exercise=False)

    node._release_assessments([(assessment("O1", 0.5), 1.0, 1.0), (assessment("O2", 1.5), 1.0, 1.0),
                               (assessment("O3", 0.7), 1.0, 1.0)])
    assert [[a.object_id for a in b.assessments] for b in queued] == [["O1", "O3"]]
    assert node.counters["seal_errors"] == 1 and node.counters["assessments_sent"] == 2


# --- the spent stage's held prediction (the 2022-10-04 demo under CI load: "possible impact in JPN_eez") -----------

def _assess(node, objs, ranges):
    """One assessment round of ``objs`` (their own assessments as the prediction), ``ranges`` their ranges [m]."""
    from types import SimpleNamespace

    n = len(objs)

    def col(key):
        return np.array([o.assessment[key] for o in objs], float)

    pred = SimpleNamespace(impacted=np.ones(n, bool), lat_deg=col("lat_deg"), lon_deg=col("lon_deg"),
                           ground_range_m=np.array(ranges, float), apogee_alt_m=np.full(n, 420e3),
                           impact_time_s=col("impact_time"), semi_major_m=col("semi_major_m"),
                           semi_minor_m=col("semi_minor_m"), orientation_deg=col("orientation_deg"))
    node.objects.update({o.object_id: o for o in objs})
    node._round_t = max(node._round_t, *(o.t for o in objs))
    node._assess_finish(objs, [None] * n, pred, [[]] * n, [o.assessment["probabilities"] for o in objs])


def test_an_unknown_object_no_round_reassesses_is_a_stage_once_its_launch_outranges_it(tmp_path):
    """The stage's object unchanged in the picture, or lost with its prediction standing (``_extrap``), kept
    the kind of its last round ("unknown", read beside the missile's growing range) and warned of impact in
    the EEZ a minute after the missile's 4 500 km range was known. Now each round reads them by range too."""
    for lost in (False, True):
        node, sent = _node(tmp_path / str(lost))
        node._release_assessments = lambda items: None
        stage = _pic("O2", 100.0, lat=40.73, lon=148.22, smaj=207e3, p=0.43)
        stage.assessment.update(last_boost_t=20.0, range_m=1_815e3)
        node.objects = {"O2": stage}
        if lost:
            node.objects = {}
            node._extrap["O2"] = stage
            node.alert_keys.adopt("O2", node._candidate(stage))
        missile = _pic("O1", 101.0, lat=32.7, lon=177.5, p=0.0)
        _assess(node, [missile], [4_577e3])
        assert stage.kind == "stage", lost
        node._alert_round([])
        assert sent == [], lost


def test_a_partner_s_assessment_speaking_for_an_overflight_chain_leaves_the_overflight_standing(tmp_path):
    """A shared assessment says which nations the path overflies, not when: speaking for the missile's chain
    after the own object left the picture, it was read as "no overflight" and cancelled the chain "below
    threshold" before the missile flew over (the 2022-10-04 demo, 1 of 8 runs). The overflight warned of stands
    until its predicted end."""
    node, sent = _node(tmp_path)
    _kor_launch(node)
    _receive(node, _shared(100.0, p=0.0))                    # KOR's view of the missile: no impact region
    o1 = _obj(105.0, "midcourse", None, overflight=True)     # the own object: overflight 165-195 s
    o1.assessment.update(impact_time=1000.0, probabilities={})
    _rounds(node, sent, [[o1]])
    assert [(a.msg_type, a.regions, a.overflight_regions) for a in sent] == [("Alert", (), ("JPN_land",))]
    key = node.alert_keys.key_of[o1.object_id]
    assert node.alert_keys.key_of["KOR/KOR-O2"] == key     # one chain
    node.objects, node.data_time = {}, 106.0
    node._lost([o1.object_id])                               # KOR's assessment speaks for it now
    for t in (110.0, 130.0, 150.0, 170.0, 190.0):
        _receive(node, _shared(t, p=0.0))
        assert node.alert_engine.tick(t) == []
    assert [a.msg_type for a in sent] == ["Alert"]          # (before: Cancel "below_threshold" at 120 s)
    for t in (200.0, 215.0):                                 # the overflight is over
        _receive(node, _shared(t, p=0.0))
    assert [(a.msg_type, a.reason) for a in sent] == [("Alert", None), ("Cancel", "below_threshold")]


def test_a_partner_s_unknown_object_short_of_the_launch_s_longest_range_is_a_stage(tmp_path):
    """USA saw the 2022-10-04 stage without the missile's range and shared it "unknown"; the JPN node, which knew
    the missile's 4 500 km, warned from it "possible impact in JPN_eez (p=0.69)" (1 of 8 demos). The own stage rule
    applies to partners' assessments too; without the own range they still warn (the test above)."""
    node, sent = _node(tmp_path)
    _kor_launch(node)
    node.last_assessments["O1"] = {"t": 150.0, "impacted": True, "range_m": 4_500e3, "event_id": "JPN-E1",
                                   "object_id": "O1"}                       # the own missile object: 4 500 km
    for t in (160.0, 170.0, 180.0):
        _receive(node, _shared(t))                                          # 1 000 km, JPN_eez 0.9, "unknown"
    assert sent == [] and node._partner_objs["KOR/KOR-O2"].kind == "stage"
    node.last_assessments["O1"]["range_m"] = 1_500e3                        # a launch whose longest is this one
    _receive(node, _shared(190.0))
    assert [(a.msg_type, a.regions) for a in sent] == [("Alert", ("JPN_eez",))]
