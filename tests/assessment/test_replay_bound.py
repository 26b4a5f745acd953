"""The replay's inputs to the shared lower-bound rule (``Replay._bound`` -> ``warnlink.alerts.is_lower_bound``):
boosting counts only while the object climbs (2024-11-05: the boost model read re-entry drag as thrust and
each SRBM's KOR chain was cancelled and issued again), and a prediction jump above the air counts as a burn
the boost model missed (2023-07-12: a third stage's burn moved the prediction into Japan's EEZ). A bare
replay object with a stand-in tracker table: no simulation is run."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from warnlink.alerts import STAGING_WATCH_S
from warnlink.assessment.replay import Replay, _Obj


def _replay(p_boost: float, obj: _Obj) -> Replay:
    r = Replay.__new__(Replay)
    r.tracker = SimpleNamespace(mu=np.array([[1.0 - p_boost, p_boost]]))
    r.objs = [obj]
    return r


def test_boost_counts_for_the_lower_bound_only_while_climbing():
    climbing = _Obj(row=0, born_s=0.0, prev_climb=2500.0)
    assert _replay(0.8, climbing)._bound(climbing, 100.0)
    descending = _Obj(row=0, born_s=0.0, prev_climb=-3000.0, descended=True, last_boost_s=299.0,
                      ascent_boost_s=60.0)
    assert not _replay(0.8, descending)._bound(descending, 300.0)   # re-entry drag, not thrust
    assert not _replay(0.1, descending)._bound(descending, 300.0)


def test_a_prediction_jump_above_the_air_is_a_missed_burn():
    o = _Obj(row=0, born_s=0.0, prev_climb=1500.0, ascent_boost_s=100.0, thrust_s=400.0)
    r = _replay(0.1, o)
    assert r._bound(o, 400.0 + STAGING_WATCH_S - 1.0)
    assert not r._bound(o, 400.0 + STAGING_WATCH_S)


def test_a_separation_between_coasting_objects_is_no_lower_bound():
    """examples/land-noto.yaml: a split recorded 150 s into the coast of two tracks cancelled the warhead's
    warning twice (its prediction withheld as a lower bound past the release hold). A split at staging (within
    the staging watch of the last boost) still is one, for the parent and the child alike."""
    for split_s, boost_s, bound in ((322.0, 133.5, False), (140.0, 133.5, True)):
        parent = _Obj(row=0, born_s=40.0, prev_climb=200.0, ascent_boost_s=boost_s)
        child = _Obj(row=1, born_s=104.0, prev_climb=160.0, parent=0, split_s=split_s)
        r = _replay(0.01, parent)
        r.tracker.mu = np.array([[0.99, 0.01], [0.99, 0.01]])
        r.objs = [parent, child]
        t = split_s + 1.0
        assert r._bound(parent, t) is bound and r._bound(child, t) is bound


def test_a_boosting_prediction_that_falls_later_is_no_glide():
    """2025-05-08: the warhead's boost predictions fell later by ~10 s a second (it was still burning); the glide
    test took that for lift at 65 s and its lift footprint, 674 km long, reached Hokkaido."""
    o = _Obj(row=0, born_s=40.0)
    for k in range(40):   # 40 s of boost, the predicted impact time slipping 10 s per second
        Replay._glide_check(o, True, 60.0 + k, 200.0 + 10.0 * k, 2.0, 60.0 + k)
    assert not o.manoeuvre
    for k in range(12):   # coasting, the same slip: a glide
        Replay._glide_check(o, False, 120.0 + k, 600.0 + 1.0 * k, 0.2, 120.0 + k)
    assert o.manoeuvre and o.manoeuvre_s == 130.0
