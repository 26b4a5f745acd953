"""The node's launch re-estimate at burnout (``node._burnouts``) does not depend on how the reports were
batched: a push that holds a track's whole boost after its confirmation (a loaded node's backlog) still
yields the last confidently boosting state, the same one small pushes give."""

import itertools

import numpy as np
import pytest

from warnlink.scenario.model import decode_scenario
from warnlink.scenario.simulate import simulate
from warnlink.sharing.node import _burnouts
from warnlink.tracking.tracker import Tracker

ONE = """
name: burnout-batching
exercise: true
seed: 3
sensors: {include: [KOR-GP-CHUNGCHEONG, USA-TPY2-SEONGJU, KOR-AEGIS-EAST]}
launches:
  - id: L
    site: {lat: 39.2, lon: 125.673}
    time: 2026-01-01T00:00:00Z
    missile: MRBM-liquid
    azimuth_deg: 95
    apogee_km: 450
    range_km: 1000
    separate_stages: false
"""


def _run(reports, cuts):
    tr, state, found = Tracker(), {}, {}
    for a, b in itertools.pairwise(cuts):
        h0 = len(tr.history.t_s)
        tr.push(reports.take(np.arange(a, b)))
        found.update(_burnouts(tr, state, h0))
    return found


@pytest.fixture(scope="module")
def reports():
    sim = simulate(decode_scenario(ONE))
    rep = sim.reports
    return rep.take(np.argsort(rep.t_s, kind="stable"))


def test_one_push_of_the_whole_boost_gives_the_same_burnout_state_as_small_pushes(reports):
    n = len(reports)
    t = reports.t_s
    # small pushes: one per 2 s of reports (a live feed); big: everything up to 60 s after the last report
    # of the boost in one push (the track's whole boost after its confirmation), then the rest
    small = [0, *np.searchsorted(t, np.arange(t[0] + 2.0, t[-1], 2.0)).tolist(), n]
    small = sorted(set(small))
    fine = _run(reports, small)
    assert fine, "no burnout found with small pushes"
    tid, (tb, xb, _, _) = next(iter(fine.items()))
    big = _run(reports, [0, int(np.searchsorted(t, tb + 60.0)), n])
    assert tid in big, "a push holding the whole boost lost the burnout"
    tb2, xb2, _, _ = big[tid]
    # the boost state is the last confident one before burnout whatever the batching (the tracker's
    # updates are the same; only where the pushes end differs)
    assert abs(tb2 - tb) < 1e-6 and np.allclose(xb2, xb, rtol=0, atol=1e-3)
