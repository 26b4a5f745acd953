"""Tracking metrics: GOSPA and OSPA against Stone Soup's implementation and hand cases, NEES against
its chi-square distribution, breaks and swaps on constructed pairings."""

import datetime
import itertools

import numpy as np
import pytest

from warnlink.tracking.metrics import (
    UNASSIGNED,
    chi2_band,
    gospa,
    gospa_series,
    mc_nees,
    nees,
    ospa,
    rmse,
    track_breaks_and_swaps,
)

KEYS = ("distance", "localisation", "missed", "false")
T0 = datetime.datetime(2026, 1, 1)
ECEF = np.array([-3.1e6, 4.1e6, 3.7e6])  # a point near Korea's latitude, so distances are small differences


@pytest.fixture(scope="module")
def stonesoup():
    """Stone Soup's GOSPA/OSPA metric classes and State type (the `bench` extra)."""
    ospametric = pytest.importorskip("stonesoup.metricgenerator.ospametric")
    from stonesoup.types.state import State

    return ospametric.GOSPAMetric, ospametric.OSPAMetric, State


def _states(State, pos, when=T0):
    return [State(x.reshape(-1, 1), timestamp=when) for x in pos]


def _random_cases(rng, n_cases):
    """(truth, estimates, c, p) with cardinalities 0..40 (never both empty), positions spread over
    a few km around an ECEF point, and a cut-off that leaves some pairs beyond it.

    c is a whole number of metres so that c^p is exact: Stone Soup recognises a pair beyond the
    cut-off by testing ``-np.power(c, p) == -c**p``, and for p = 3 and most real c the two powers
    differ in the last bit, so it books such pairs as localisation instead of missed + false (its
    distance is still right)."""
    sizes = [(0, 5), (6, 0), (0, 1), (1, 0), (1, 1), (30, 40), (40, 25)]
    sizes += [tuple(rng.integers(0, 15, 2)) for _ in range(n_cases - len(sizes))]
    for i, (m, n) in enumerate(sizes):
        if m + n == 0:
            m = 1
        X = ECEF + rng.uniform(-3e3, 3e3, (m, 3))
        Y = ECEF + rng.uniform(-3e3, 3e3, (n, 3))
        yield X, Y, float(rng.integers(300, 3000)), (1, 2, 3)[i % 3]


def test_gospa_matches_stonesoup_on_random_cases(stonesoup):
    GOSPAMetric, _, State = stonesoup
    rng = np.random.default_rng(2026)
    n_cut = n_cases = 0
    worst = 0.0
    for X, Y, c, p in _random_cases(rng, 60):
        ref, ref_assign = GOSPAMetric(c=c, p=p).compute_gospa_metric(_states(State, Y), _states(State, X))
        got = gospa(X, Y, c, p)
        for k in KEYS:
            np.testing.assert_allclose(got[k], ref.value[k], rtol=1e-9, atol=0, err_msg=k)
            if ref.value[k]:
                worst = max(worst, abs(got[k] / ref.value[k] - 1))
        # the same optimal assignment, as seen through gospa_series
        s = gospa_series([0.0], np.zeros(len(X)), np.arange(len(X)), X, np.zeros(len(Y)), np.arange(len(Y)), Y, c, p)
        np.testing.assert_array_equal(s["truth_est_id"], np.asarray(ref_assign, int) if len(Y) else UNASSIGNED)
        n_cut += 0 < s["n_assigned"][0] < min(len(X), len(Y))
        n_cases += 1
    assert n_cases >= 60
    assert n_cut >= 5  # the cut-off mattered in several cases
    assert worst < 1e-12, worst


def test_gospa_series_matches_stonesoup_over_time(stonesoup):
    """40 steps with births, deaths, clutter, a step with no truth and a step with nothing at all;
    rows shuffled. Stone Soup scores only the steps that have some state."""
    GOSPAMetric, _, State = stonesoup
    rng = np.random.default_rng(7)
    steps = np.arange(40) * 2.0
    tt, ti, tp, et, ei, ep = [], [], [], [], [], []
    for k, t in enumerate(steps):
        alive = [] if k in (5, 6) else [i for i in range(8) if (k + 3 * i) % 17 < 13]
        for i in alive:
            tt.append(t), ti.append(i), tp.append(ECEF + 500.0 * i + 30.0 * k + rng.normal(0, 1, 3))
        detected = [] if k == 6 else [i for i in alive if rng.random() < 0.85]
        for i in detected:
            et.append(t), ei.append(100 + i), ep.append(tp[-len(alive) + alive.index(i)] + rng.normal(0, 80.0, 3))
        for j in range(rng.integers(0, 3) if k != 6 else 0):
            et.append(t), ei.append(1000 + 10 * k + j), ep.append(ECEF + rng.uniform(-2e3, 6e3, 3))
    tt, ti, tp, et, ei, ep = map(np.asarray, (tt, ti, tp, et, ei, ep))
    pt, pe = rng.permutation(len(tt)), rng.permutation(len(et))
    c, p = 250.0, 2
    got = gospa_series(steps, tt[pt], ti[pt], tp[pt], et[pe], ei[pe], ep[pe], c, p)

    when = [T0 + datetime.timedelta(seconds=float(t)) for t in steps]
    truths = [State(x.reshape(-1, 1), timestamp=when[int(t / 2)]) for t, x in zip(tt, tp, strict=True)]
    ests = [State(x.reshape(-1, 1), timestamp=when[int(t / 2)]) for t, x in zip(et, ep, strict=True)]
    metric = GOSPAMetric(c=c, p=p)
    ref = metric.compute_over_time(ests, list(ei), truths, list(ti))
    ref_by_time = {m.timestamp: m.value for m in ref.value}
    assert len(ref_by_time) == len(steps) - 1  # step 6 has no state at all
    for k, w in enumerate(when):
        if w not in ref_by_time:
            assert got["distance"][k] == 0.0
            continue
        for key in KEYS:
            np.testing.assert_allclose(got[key][k], ref_by_time[w][key], rtol=1e-9, atol=0, err_msg=(k, key))
        # per-step assignment, mapped to ids, against Stone Soup's truth-to-estimate assignment
        rows_t, rows_e = np.flatnonzero(tt == steps[k]), np.flatnonzero(et == steps[k])
        if len(rows_t) and len(rows_e):
            _, a = metric.compute_gospa_metric(_states(State, ep[rows_e], w), _states(State, tp[rows_t], w))
            a = np.asarray(a)
            expect = np.where(a >= 0, ei[rows_e][a], UNASSIGNED)
            inv = np.empty(len(pt), int)
            inv[pt] = np.arange(len(pt))
            np.testing.assert_array_equal(got["truth_est_id"][inv[rows_t]], expect)
    assert got["missed"][5] == 0 and got["false"][5] > 0  # no truths at step 5, clutter only


def test_gospa_series_equals_per_step_gospa_and_ignores_row_and_time_order():
    rng = np.random.default_rng(3)
    times = np.array([30.0, 10.0, 20.0, 0.0])  # unsorted grid: results follow its order
    tt = np.repeat(times, [3, 0, 5, 2])
    et = np.repeat(times, [4, 2, 0, 2])
    tp, ep = rng.normal(0, 100.0, (len(tt), 3)), rng.normal(0, 100.0, (len(et), 3))
    s = gospa_series(times, tt, np.arange(len(tt)), tp, et, np.arange(len(et)), ep, c=120.0, p=1)
    for k, t in enumerate(times):
        ref = gospa(tp[tt == t], ep[et == t], 120.0, p=1)
        for key in KEYS:
            assert s[key][k] == pytest.approx(ref[key], rel=1e-12, abs=0)
    assert list(s["n_truth"]) == [3, 0, 5, 2] and list(s["n_est"]) == [4, 2, 0, 2]
    # est_truth_id is the inverse of truth_est_id
    hit = s["truth_est_id"] != UNASSIGNED
    np.testing.assert_array_equal(s["est_truth_id"][s["truth_est_id"][hit]], np.flatnonzero(hit))


def test_gospa_hand_cases():
    e = np.eye(3)
    g = gospa([[0, 0, 0]], [[3, 0, 0]], c=5.0)
    assert g == {"distance": 3.0, "localisation": 9.0, "missed": 0.0, "false": 0.0}
    # beyond the cut-off: one missed and one false, each c^p / 2
    g = gospa([[0, 0, 0]], [[6, 0, 0]], c=5.0)
    assert g == {"distance": 5.0, "localisation": 0.0, "missed": 12.5, "false": 12.5}
    # exactly at the cut-off counts as missed + false (Stone Soup's convention, d < c to assign)
    assert gospa([[0, 0, 0]], [[5, 0, 0]], c=5.0)["missed"] == 12.5
    assert gospa(np.zeros((0, 3)), np.zeros((0, 3)), c=1.0)["distance"] == 0.0
    g = gospa([e[0], e[1]], [], c=4.0, p=1)
    assert g == {"distance": 4.0, "localisation": 0.0, "missed": 4.0, "false": 0.0}
    # optimal, not greedy: greedy pairs 2 with 1.9 (0.01 + 16), optimal is 0-1.9 and 2-4 (3.61 + 4)
    g = gospa([[0, 0, 0], [2, 0, 0]], [[1.9, 0, 0], [4, 0, 0]], c=10.0)
    assert g["localisation"] == pytest.approx(7.61) and g["distance"] == pytest.approx(np.sqrt(7.61))
    # paper's trade-off: a cardinality error costs c^p / 2 per object, not c^p as in OSPA
    g = gospa([[0, 0, 0]], [[0, 0, 0], [1, 1, 1]], c=2.0, p=2)
    assert g["false"] == 2.0 and g["distance"] == pytest.approx(np.sqrt(2.0))
    with pytest.raises(ValueError, match="alpha"):
        gospa([[0, 0, 0]], [[0, 0, 0]], c=1.0, alpha=1)
    with pytest.raises(ValueError, match="not in `times`"):
        gospa_series([0.0], [0.0, 1.0], [0, 1], np.zeros((2, 3)), [], [], np.zeros((0, 3)), c=1.0)


def test_ospa_matches_stonesoup_for_p1_and_brute_force_for_all_p(stonesoup):
    """Stone Soup's OSPA assigns on min(d, c) rather than min(d, c)^p, which is optimal only for
    p = 1; for p > 1 it can only be larger. Ours is checked against brute force on small sets."""
    _, OSPAMetric, State = stonesoup
    rng = np.random.default_rng(11)
    for X, Y, c, p in _random_cases(rng, 60):
        ref = OSPAMetric(c=c, p=p).compute_OSPA_distance(_states(State, Y), _states(State, X)).value
        if p == 1:
            assert ospa(X, Y, c, p) == pytest.approx(ref, rel=1e-9, abs=0)
        else:
            assert ospa(X, Y, c, p) <= ref * (1 + 1e-12)
    for _ in range(100):
        m, n = rng.integers(1, 6, 2)
        X, Y, c, p = rng.uniform(0, 10, (m, 3)), rng.uniform(0, 10, (n, 3)), rng.uniform(1, 8), rng.integers(1, 4)
        A, B = (X, Y) if m <= n else (Y, X)
        best = min(
            sum(min(np.linalg.norm(A[i] - B[j]), c) ** p for i, j in enumerate(perm))
            for perm in itertools.permutations(range(len(B)), len(A))
        )
        expect = ((best + c**p * abs(n - m)) / max(m, n)) ** (1 / p)
        assert ospa(X, Y, c, p) == pytest.approx(expect, rel=1e-12)
    assert ospa([[0, 0, 0]], [[1, 0, 0], [10, 0, 0]], c=5.0, p=1) == pytest.approx(3.0)
    assert ospa([], [], c=5.0) == 0.0 and ospa([[0, 0, 0]], [], c=5.0) == 5.0


def test_rmse():
    assert rmse([[3.0, 4.0], [0.0, 0.0]]) == pytest.approx(np.sqrt(12.5))
    e = np.zeros((4, 2, 3))
    e[:, 1] = [1.0, 2.0, 2.0]  # |e| = 3 at the second time
    np.testing.assert_allclose(rmse(e, axis=0), [0.0, 3.0])


def test_nees_closed_form():
    err = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]])
    sig2 = np.array([[1.0, 4.0, 9.0], [2.0, 2.0, 0.5]])
    cov = np.stack([np.diag(s) for s in sig2])
    np.testing.assert_allclose(nees(err, cov), [3.0, 2.0], rtol=1e-14)


def test_chi2_band_against_tables():
    # chi-square table: 1 dof 0.000982 / 5.024; 100 dof 74.222 / 129.561
    assert chi2_band(1, 1) == pytest.approx((0.000982069, 5.023886), rel=1e-5)
    assert chi2_band(2, 50) == pytest.approx((74.2219 / 50, 129.5612 / 50), rel=1e-5)


def test_average_nees_of_consistent_sample_lies_in_band_and_scaled_covariance_does_not():
    """Errors drawn from N(0, P) with random SPD P: the average NEES over 50 runs falls inside the
    95% band at ~95% of 2000 steps (binomial sd 0.5%); with P misstated by a factor 2 either way
    (average NEES 1.5 or 6 against a band of about 2.4 to 3.7) it never does."""
    rng = np.random.default_rng(5)
    steps, runs, d = 2000, 50, 3
    A = rng.normal(size=(steps, runs, d, d))
    P = A @ np.swapaxes(A, -1, -2) + 0.1 * np.eye(d)
    err = np.einsum("...ij,...j->...i", np.linalg.cholesky(P), rng.standard_normal((steps, runs, d)))
    lo, hi = chi2_band(d, runs)
    inside = lambda cov: np.mean((lo <= (m := nees(err, cov).mean(axis=1))) & (m <= hi))  # noqa: E731
    assert 0.93 <= inside(P) <= 0.97
    assert inside(2 * P) == 0  # conservative filter: NEES too small
    assert inside(P / 2) == 0  # optimistic filter: NEES too large


def test_mc_nees_groups_points_over_runs_and_uses_the_band_of_their_run_count():
    """mc_nees on the same draws as above laid out as (run, step) rows in shuffled order, with some
    runs missing at some steps: the per-step averages equal the direct ones, each is judged against the
    band of its own run count (8-16 runs here), and the verdicts hold: inside at ~95% of the steps for the
    true covariance, at none with it misstated by a factor 3 either way (average NEES 2 or 18 against a band of
    about 4.3-8.0 at 13 runs)."""
    rng = np.random.default_rng(9)
    steps, runs, d = 1500, 16, 6
    A = rng.normal(size=(steps, runs, d, d))
    P = A @ np.swapaxes(A, -1, -2) + 0.1 * np.eye(d)
    err = np.einsum("...ij,...j->...i", np.linalg.cholesky(P), rng.standard_normal((steps, runs, d)))
    present = rng.random((steps, runs)) > 0.2  # about 20% of (step, run) values absent
    present[0] = False  # step 0: no run at all; step 1: one run, below min_runs = 2
    present[1] = False
    present[1, 3] = True
    step, run = np.nonzero(present)
    order = rng.permutation(len(step))
    step, run = step[order], run[order]
    keys = np.stack([step.astype(float), np.full(len(step), 7.0)], axis=1)  # (time, object) keys
    for scale, lo_frac, hi_frac in ((1.0, 0.93, 0.97), (3.0, 0.0, 0.0), (1.0 / 3.0, 0.0, 0.0)):
        vals = nees(err[step, run], scale * P[step, run])
        out = mc_nees(keys, vals, d=d)
        assert out["keys"][:, 0].tolist() == list(range(2, steps))
        k = out["keys"][:, 0].astype(int)
        direct = np.array([nees(err[s, present[s]], scale * P[s, present[s]]).mean() for s in k])
        np.testing.assert_allclose(out["mean"], direct, rtol=1e-12)
        assert (out["n_runs"] == present[k].sum(axis=1)).all()
        for n_r in (10, 13, 16):
            sel = out["n_runs"] == n_r
            if sel.any():
                assert (out["lo"][sel] == chi2_band(d, n_r)[0]).all() and (out["hi"][sel] == chi2_band(d, n_r)[1]).all()
        assert lo_frac <= out["inside"].mean() <= hi_frac
        if scale > 1.0:
            assert out["below"].all()  # conservative: NEES too small
        if scale < 1.0:
            assert not out["below"].any() and not out["inside"].any()  # optimistic: NEES too large


def test_mc_nees_rejects_mismatched_input_and_accepts_empty():
    with pytest.raises(ValueError, match="point_keys"):
        mc_nees(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="min_runs"):
        mc_nees(np.zeros((3, 2)), np.zeros(3), min_runs=0)
    out = mc_nees(np.zeros((0, 2)), np.zeros(0))
    assert len(out["mean"]) == 0 and out["inside"].dtype == bool


def _pairing(table):
    """{truth: [track per step, -1 = missed, None = truth absent]} -> flat (times, truths, tracks)."""
    rows = [(k, tr, tk) for tr, seq in table.items() for k, tk in enumerate(seq) if tk is not None]
    return tuple(np.array(col) for col in zip(*rows, strict=True))


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({0: [10, 10, 10], 1: [11, 11, 11]}, (0, 0, 0, 0)),
        ({0: [10, 10, -1, -1, 12, 12]}, (1, 1, 1, 0)),  # lost, re-acquired by a new track: a break
        ({0: [10, -1, 10]}, (0, 0, 0, 0)),  # re-acquired by the same track: no break
        ({0: [10, None, 12]}, (0, 1, 1, 0)),  # absent (not missed) in between: a hand-over, not a break
        ({0: [10, 10, 12, 12]}, (0, 1, 1, 0)),  # direct hand-over
        ({0: [10, 12, 10]}, (0, 2, 1, 0)),  # A, B, A: two changes, one extra track
        ({0: [10, 10, 11, 11], 1: [11, 11, 10, 10]}, (0, 2, 2, 2)),  # crossing objects swap tracks
        ({0: [10, 10, -1, -1], 1: [-1, -1, -1, 10]}, (0, 0, 0, 1)),  # track leaves 0, later takes 1
        ({0: [-1, -1], 1: [None, -1]}, (0, 0, 0, 0)),  # never tracked
    ],
)
def test_breaks_and_swaps_on_constructed_pairings(table, expected):
    t, tr, tk = _pairing(table)
    names = ("breaks", "id_changes", "excess_tracks", "swaps")
    assert tuple(track_breaks_and_swaps(t, tr, tk)[n] for n in names) == expected
    perm = np.random.default_rng(0).permutation(len(t))
    assert tuple(track_breaks_and_swaps(t[perm], tr[perm], tk[perm])[n] for n in names) == expected


def test_breaks_and_swaps_reject_duplicate_rows_and_accept_empty_input():
    with pytest.raises(ValueError, match="twice"):
        track_breaks_and_swaps([0.0, 0.0], [1, 1], [10, -1])
    assert track_breaks_and_swaps([], [], []) == {"breaks": 0, "id_changes": 0, "excess_tracks": 0, "swaps": 0}


def test_gospa_pairing_reveals_label_swap_of_crossing_objects():
    """Two objects cross along x; the tracker swaps their labels at the crossing. GOSPA's pairing
    follows the positions, so the swap shows up as two swaps and two id changes."""
    t = np.arange(21.0)
    x = np.stack([np.stack([-100 + 10 * t, np.zeros_like(t), 0 * t], 1), np.stack([100 - 10 * t, 5 + 0 * t, 0 * t], 1)])
    est = x.copy()
    est[:, 11:] = est[::-1, 11:]  # after t = 10 track 100 follows object 1 and track 101 object 0
    times = np.tile(t, 2)
    ids = np.repeat([0, 1], len(t))
    s = gospa_series(t, times, ids, x.reshape(-1, 3), times, ids + 100, est.reshape(-1, 3), c=50.0)
    np.testing.assert_allclose(s["distance"], 0.0, atol=1e-12)
    cont = track_breaks_and_swaps(times, ids, s["truth_est_id"])
    assert cont == {"breaks": 0, "id_changes": 2, "excess_tracks": 2, "swaps": 2}
