"""Separated objects in the replay: which boosting track a new one parted from (``Replay._find_parent``) and
which launch estimate stands for it (``Replay._launch_of``). Bare replay objects with a stand-in tracker table
(no sensors, no tracker); the numbers are those of 2024-01-14's replay (an IRBM's second stage first tracked at
175 s, 0.6 km from the missile's track but 581 m/s slower, its two-point velocity uncertain by 226 m/s) and
2023-06-15's (a last stage lit 250 s into the flight, whose own backward boost put a "launch" in mid-sea)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from warnlink.assessment.replay import SPLIT_GATE_M_S, Replay, _Obj
from warnlink.tracking.tracker import CONFIRMED, DELETED


def _table(dv_m_s: float, sigma_new_m_s: float, sigma_parent_m_s: float = 34.0, d_m: float = 600.0):
    """A boosting parent (row 0, born 93.7 s) and a new track (row 1, born 175.2 s) ``d_m`` beside it and
    ``dv_m_s`` slower, both at 176 s."""
    x = np.zeros((2, 8))
    x[0, :6] = [-3.0e6, 4.0e6, 4.0e6, 1000.0, 1200.0, 1000.0]
    v = x[0, 3:6] / np.linalg.norm(x[0, 3:6])
    x[1, :3] = x[0, :3] + d_m * np.array([0.0, 0.0, 1.0])
    x[1, 3:6] = x[0, 3:6] - dv_m_s * v
    P = np.zeros((2, 8, 8))
    for i, s in enumerate((sigma_parent_m_s, sigma_new_m_s)):
        P[i] = np.diag([100.0**2] * 3 + [s**2 / 3.0] * 3 + [1.0, 1.0])  # trace of the velocity block: s^2
    r = Replay.__new__(Replay)
    r.tracker = SimpleNamespace(x=x, P=P, t=np.array([176.0, 176.0]), status=np.array([CONFIRMED, CONFIRMED]),
                                mu=np.array([[0.1, 0.9], [0.9, 0.1]]))
    r.objs = [_Obj(row=0, born_s=93.7, seen_boost=True, last_boost_s=176.0), _Obj(row=1, born_s=175.2)]
    return r


def test_a_new_track_slower_than_its_parent_within_its_velocity_uncertainty_separated_from_it():
    r = _table(dv_m_s=581.0, sigma_new_m_s=226.0)
    r._find_parent(r.objs[1], 177.0)
    assert r.objs[1].parent == 0 and r.objs[1].kind == "stage"


def test_a_well_known_velocity_far_off_the_parents_is_no_separation():
    r = _table(dv_m_s=581.0, sigma_new_m_s=20.0, sigma_parent_m_s=20.0)
    r._find_parent(r.objs[1], 177.0)
    assert r.objs[1].parent is None


def test_within_the_fixed_gate_a_well_known_velocity_still_separates():
    r = _table(dv_m_s=0.9 * SPLIT_GATE_M_S, sigma_new_m_s=20.0, sigma_parent_m_s=20.0)
    r._find_parent(r.objs[1], 177.0)
    assert r.objs[1].parent == 0


@pytest.mark.parametrize("d_m", [12_000.0])
def test_the_velocity_uncertainty_does_not_widen_the_position_gate(d_m):
    r = _table(dv_m_s=0.0, sigma_new_m_s=2000.0, d_m=d_m)
    r._find_parent(r.objs[1], 177.0)
    assert r.objs[1].parent is None


def test_a_deleted_track_is_no_parent():
    r = _table(dv_m_s=100.0, sigma_new_m_s=226.0)
    r.tracker.status[0] = DELETED
    r._find_parent(r.objs[1], 177.0)
    assert r.objs[1].parent is None


def _launch(t_s: float, method: str) -> dict:
    return {"lat_deg": 39.0, "lon_deg": 125.7, "time_s": t_s, "time_sigma_s": 1.0, "ellipse_km": [1.0, 1.0],
            "method": method, "missile_class": "SRBM-solid"}


def _family(own_launch_s: float, grandparent: bool = False):
    """Parent row 0 (born 60 s, launch by ballistic back-propagation), child row 1 (born 90 s, separated from
    row 0, its own backward boost at ``own_launch_s``); with ``grandparent``, row 0 itself separated from a row
    2 first seen at 20 s."""
    r = Replay.__new__(Replay)
    parent = _Obj(row=0, born_s=60.0, launch=_launch(12.0, "ballistic back-propagation (no boost seen)"))
    child = _Obj(row=1, born_s=90.0, parent=0, seen_boost=True,
                 launch=_launch(own_launch_s, "backward boost (SRBM-solid, class from the burnout energy)"))
    r.objs = [parent, child]
    if grandparent:
        parent.parent = 2
        r.objs.append(_Obj(row=2, born_s=20.0, launch=_launch(11.0, "ballistic back-propagation (no boost seen)")))
    return r


def test_a_separated_objects_own_launch_before_its_parent_was_seen_stands():
    # a second missile taken for a part of the first (2019-05-09): launched before the parent was tracked
    r = _family(own_launch_s=40.0)
    assert r._launch_of(r.objs[1])["time_s"] == 40.0


def test_a_separated_objects_own_launch_while_its_parent_was_tracked_gives_way_to_the_parents():
    # a stage lit in the air: its "launch" falls while the parent was already seen flying
    r = _family(own_launch_s=75.0)
    la = r._launch_of(r.objs[1])
    assert la["time_s"] == 12.0 and la["method"].endswith("(separated from track 0)")


def test_the_parents_parents_first_sight_counts():
    r = _family(own_launch_s=40.0, grandparent=True)  # before row 0's first sight, after row 2's
    la = r._launch_of(r.objs[1])
    assert la["method"].startswith("ballistic") and la["time_s"] == 11.0
    assert r._first_sight_of_parents(r.objs[1]) == 20.0


def test_a_provisional_stage_confirmed_by_its_drag_lets_the_part_that_left_it_be_the_warhead():
    # 2024-07-01: a stage taken so at its split, then by its drag, kept the split's "(provisional)" basis, and the
    # warhead track that parted from it stayed "unknown"
    r = Replay.__new__(Replay)
    r.tracker = SimpleNamespace(x=np.zeros((3, 8)), P=np.tile(np.eye(8), (3, 1, 1)), t=np.full(3, 120.0),
                                status=np.array([CONFIRMED] * 3), mu=np.array([[1.0, 0.0]] * 3))
    r.objs = [_Obj(row=0, born_s=30.0, kind="warhead", kind_basis="seen boosting", seen_boost=True),
              _Obj(row=1, born_s=45.0, parent=0, split_s=45.0, kind="stage",
                   kind_basis="separated from track 0 at t=45 s (provisional)"),
              _Obj(row=2, born_s=52.0, parent=1, split_s=52.0, kind_basis="parted from coasting track 1 at t=52 s")]
    r._beta = lambda row: (116.0, 0.05) if row == 1 else (None, None)
    r._kinds([0, 1, 2], 120.0)
    assert r.objs[1].kind == "stage" and r.objs[1].kind_basis.startswith("ballistic coefficient 116")
    r._kinds([0, 1, 2], 121.0)
    assert r.objs[2].kind == "warhead", r.objs[2].kind_basis
