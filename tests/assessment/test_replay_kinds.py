"""Which of two separated coasting objects is the stage (``Replay._kinds``), on the simulator's own land-noto
flight (examples/land-noto.yaml): the stage leaves the warhead 11 m/s slower, falls 1.6 km behind it by 300 s,
but is 0.35 km *ahead* along the velocity at 491 s (the two arcs swap their along-track order in the descent).
The "falling behind" rule then took the stage for the warhead, handed it the warhead's chain, and the stage's
drag cancelled that chain ("reclassified") 21 s before impact. Its energy stays lower throughout. A bare
replay object with a stand-in tracker table (the true states): no sensors, no tracker."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from warnlink.assessment.replay import Replay, _Obj
from warnlink.tracking.tracker import CONFIRMED, DELETED


@pytest.fixture(scope="module")
def noto():
    from pathlib import Path

    from warnlink.scenario.model import load_scenario
    from warnlink.scenario.simulate import fly_scenario

    sc = load_scenario(Path(__file__).parents[2] / "examples" / "land-noto.yaml")
    objs, _ = fly_scenario(sc)
    return {o.kind: o.trajectory for o in objs}


def _pair(noto, t_s: float, sigma_m: float = 30.0, sigma_m_s: float = 1.0):
    x = np.zeros((2, 8))
    for i, kind in enumerate(("warhead", "stage")):
        p, v, _ = noto[kind].sample([t_s])
        x[i, :6] = np.r_[p[0], v[0]]
    P = np.tile(np.diag([sigma_m**2] * 3 + [sigma_m_s**2] * 3 + [1.0, 1.0]), (2, 1, 1))
    r = Replay.__new__(Replay)
    r.tracker = SimpleNamespace(x=x, P=P, t=np.array([t_s, t_s]), status=np.array([CONFIRMED, CONFIRMED]),
                                mu=np.array([[1.0, 0.0], [1.0, 0.0]]), ids=np.array([0, 1]))
    r.objs = [_Obj(row=0, born_s=40.0, kind="warhead", kind_basis="seen boosting", seen_boost=True),
              _Obj(row=1, born_s=60.0, parent=0, split_s=t_s - 20.0, kind="stage",
                   kind_basis="parted from track 0 (provisional)")]
    r._beta = lambda row: (None, None)
    return r


@pytest.mark.parametrize("t_s", [300.0, 491.0])
def test_the_stage_is_the_one_with_less_energy_whatever_the_along_track_order(noto, t_s):
    r = _pair(noto, t_s)
    w, s = r.tracker.x[0], r.tracker.x[1]
    gap = float((s[:3] - w[:3]) @ (w[3:6] / np.linalg.norm(w[3:6])))
    assert (gap < -1000.0) if t_s == 300.0 else (gap > 300.0)   # behind at 300 s, ahead at 491 s
    r._kinds([0, 1], t_s)
    assert (r.objs[0].kind, r.objs[1].kind) == ("warhead", "stage")
    assert r.objs[1].split_decided and r.objs[0].handed_to is None and r.objs[1].continues is None


def test_a_decided_stage_is_no_duplicate_of_its_warhead(noto):
    r = _pair(noto, 340.0)   # 2.7 km and 8 m/s apart: inside the duplicate gate (3 km, 150 m/s)
    r._kinds([0, 1], 340.0)
    assert r.objs[1].kind == "stage" and r.objs[1].split_decided
    for t in (351.0, 353.0, 355.0, 357.0):
        r.tracker.t[:] = t
        r._duplicates([0, 1], t)
    assert r.objs[1].duplicate_of is None and r.objs[1].parent == 0


def test_an_undecided_parted_track_raises_no_chain_beside_its_missile(noto):
    r = _pair(noto, 350.0)
    child = r.objs[1]
    child.kind = "unknown"
    assert r._parted_undecided(child)
    child.split_decided = True
    assert not r._parted_undecided(child)
    child.split_decided = False
    r.tracker.status[0] = DELETED   # the missile's track lost: the parted one carries the threat
    assert not r._parted_undecided(child)


def test_a_reentry_vehicle_parted_from_its_missiles_track_speaks_for_its_chain(noto):
    """land-noto: the warhead's second track parted from its degraded first 13 s before impact, was found a
    re-entry vehicle by its drag and raised a second chain; it carries on the first one's."""
    r = _pair(noto, 549.0)
    r.event_id = "land-noto"
    r._beta = lambda row: (4800.0, 0.1) if row == 1 else (None, None)
    r._kinds([0, 1], 549.0)
    assert r.objs[1].kind == "warhead" and r._oid(1) == r._oid(0) == "land-noto/track0"
