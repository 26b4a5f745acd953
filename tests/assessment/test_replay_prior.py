"""A track that speaks for an object whose earlier track was lost with a standing prediction fuses its impact
prediction with that one (``Replay._fuse_held``) when the two agree. 2022-11-03: the warhead's track, lost at
741 s after 590 s of coast, predicted the impact 0.3 km from the truth (2.7 km ellipse), about 7 km outside the
approximated EEZ's median line with Russia; the track that re-acquired it at 1 193 s predicted, alone, 30-200 km
off with 765 -> 154 km ellipses and p(JPN) 0.58-0.73, and raised a JPN chain (Alert at 1 202 s, Cancel at
1 258 s). Here the simulator's own 2022-11-03 warhead supplies the states; the young track is the true state
with a 40 m/s eastward velocity error and a young track's covariance. A bare replay object with a stand-in
tracker table: no sensors, no tracker."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from warnlink.assessment.replay import Replay, _Obj
from warnlink.geo import distance_m
from warnlink.tracking.tracker import CONFIRMED, DELETED

LOST_S, NOW_S = 741.0, 1202.0


@pytest.fixture(scope="module")
def warhead():
    from warnlink.scenario.catalog import find_event, load_catalog
    from warnlink.scenario.history import scenario_from_event
    from warnlink.scenario.simulate import fly_scenario

    objs, _ = fly_scenario(scenario_from_event(find_event(load_catalog(), "2022-11-03_1")))
    return next(o.trajectory for o in objs if o.kind == "warhead")


def _state(traj, t_s, dv_east=0.0):
    p, v, _ = traj.sample([t_s])
    x = np.zeros(8)
    x[:3], x[3:6] = p[0], v[0]
    lon = np.arctan2(p[0, 1], p[0, 0])
    x[3:6] += dv_east * np.array([-np.sin(lon), np.cos(lon), 0.0])  # along the local east
    return x


def _replay(warhead, *, dv_east=40.0, young_sigma=(1_000.0, 30.0), prior=True):
    """Track 0 coasted from 153 s and was lost at ``LOST_S`` (its prediction held); track 1, born at 1 193 s,
    re-acquires it. Returns the replay after track 1's assessment at ``NOW_S``."""
    x = np.stack([_state(warhead, LOST_S), _state(warhead, NOW_S, dv_east)])
    P = np.zeros((2, 8, 8))
    P[0] = np.diag([30.0**2] * 3 + [0.3**2] * 3 + [1.0, 1.0])
    P[1] = np.diag([young_sigma[0] ** 2] * 3 + [young_sigma[1] ** 2] * 3 + [1.0, 1.0])
    r = Replay.__new__(Replay)
    r.event_id, r.verdicts, r.first_verdict_s = "E", [], None
    r.tracker = SimpleNamespace(x=x, P=P, t=np.array([LOST_S, NOW_S]), status=np.array([CONFIRMED, CONFIRMED]),
                                mu=np.array([[1.0, 0.0], [1.0, 0.0]]), ids=np.array([0, 1]))
    r.objs = [_Obj(row=0, born_s=70.0, kind="warhead", kind_basis="seen boosting", first_coast_s=153.0),
              _Obj(row=1, born_s=1193.0, kind="warhead", kind_basis="re-acquisition of track 0", same_as=0,
                   first_coast_s=1195.0, reacq_checked=True)]
    r._beta = lambda row: (None, None)
    r._assess(np.array([0]), LOST_S)  # the held prediction: the real assessment of the mature track
    r.tracker.status[0] = DELETED
    if prior:
        r.objs[0].held_s = LOST_S + 1.0
    r._assess(np.array([1]), NOW_S)
    return r


def test_the_held_prediction_is_right_and_outside(warhead):
    r = _replay(warhead)
    held = r.objs[0].pred
    lat, lon = warhead.impact_point()
    assert float(distance_m(held["lat"], held["lon"], lat, lon)) < 3e3
    assert held["p_japan"] < 0.05 and held["semi_major_m"] < 10e3


def test_alone_the_young_track_puts_the_impact_in_japans_eez(warhead):
    """The premise: without the held prediction the young track's own says JPN_eez above its 0.2 threshold."""
    pr = _replay(warhead, prior=False).objs[1].pred
    assert pr.get("prior") is None
    assert pr["p_japan"] >= 0.2 and pr["semi_major_m"] > 30e3


def test_the_young_track_is_fused_with_the_held_prediction(warhead):
    r = _replay(warhead)
    pr, held = r.objs[1].pred, r.objs[0].pred
    lat, lon = warhead.impact_point()
    assert pr["p_japan"] < 0.2  # no JPN chain: the 2022-11-03 false alert
    assert pr["prior"] == 0
    assert pr["semi_major_m"] <= held["semi_major_m"] + 1.0
    assert float(distance_m(pr["lat"], pr["lon"], lat, lon)) < 5e3


def test_a_prediction_that_disagrees_with_the_held_one_is_not_fused(warhead):
    """A confident young prediction far from the held one (a burn or a manoeuvre since, or another object) is
    its own: 400 m/s east moves the impact ~250 km, with a 1 m/s covariance."""
    pr = _replay(warhead, dv_east=400.0, young_sigma=(30.0, 1.0)).objs[1].pred
    assert pr["prior"] is None


def test_a_track_born_before_the_loss_gets_no_prior(warhead):
    """Its measurements overlap the lost track's: no fusion."""
    r = _replay(warhead, prior=False)
    r.objs[0].held_s = 1194.0  # lost after track 1 was born
    r._assess(np.array([1]), NOW_S + 1.0)
    assert r.objs[1].pred["prior"] is None


def test_leaving_the_prior_is_no_manoeuvre(warhead):
    """Fused while its ellipse is wide, alone once it is narrow and no longer agrees with the prior: the jump test
    compares the track's own predictions, so the step from the fused mean back to its own is no manoeuvre."""
    r = _replay(warhead)
    assert r.objs[1].pred["prior"] == 0
    r.tracker.P[1] = np.diag([30.0**2] * 3 + [0.3**2] * 3 + [1.0, 1.0])
    r.tracker.t[1] = NOW_S + 1.0
    r._assess(np.array([1]), NOW_S + 1.0)
    pr = r.objs[1].pred
    assert pr["prior"] is None  # 25 km from the held prediction with a 1 km ellipse: they disagree
    assert not r.objs[1].manoeuvre


def test_a_jump_of_the_tracks_own_prediction_is_still_a_manoeuvre(warhead):
    """The jump test itself stands: the track's own prediction moving ~200 km in 1 s beyond both ellipses."""
    r = _replay(warhead, prior=False, young_sigma=(30.0, 1.0))
    assert not r.objs[1].manoeuvre
    r.tracker.x[1] = _state(warhead, NOW_S + 1.0, 400.0)
    r.tracker.t[1] = NOW_S + 1.0
    r._assess(np.array([1]), NOW_S + 1.0)
    assert r.objs[1].manoeuvre
