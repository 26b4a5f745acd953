"""Tracking performance metrics: GOSPA and OSPA, RMSE, NEES with its chi-square band, and track
continuity (breaks and swaps).

Pure functions over arrays. Positions are in metres in any Cartesian frame shared by truth and
estimates (ECEF in warnlink); distances are Euclidean. ``gospa_series`` scores thousands of time
steps from flat columnar tables: distances for all steps are computed in padded blocks and only the
optimal assignment (``scipy.optimize.linear_sum_assignment``) runs once per step.

References
    A. S. Rahmathullah, A. F. Garcia-Fernandez, L. Svensson, "Generalized optimal sub-pattern
    assignment metric", FUSION 2017 (arXiv:1601.05585).
    D. Schuhmacher, B.-T. Vo, B.-N. Vo, "A consistent metric for performance evaluation of
    multi-object filters", IEEE Trans. Signal Processing 56(8), 2008.
    Y. Bar-Shalom, X. R. Li, T. Kirubarajan, "Estimation with Applications to Tracking and
    Navigation", Wiley 2001, section 5.4 (NEES and its chi-square test).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

UNASSIGNED = -1
"""Id used for "no partner" in assignment outputs; object and track ids must be >= 0."""

_BLOCK_ELEMENTS = 2_000_000  # padded distance-matrix entries per block in gospa_series (~16 MB)


def _check_order(c: float, p: float) -> None:
    if not c > 0:
        raise ValueError(f"cut-off c must be > 0, got {c}")
    if not 1 <= p < np.inf:
        raise ValueError(f"order p must satisfy 1 <= p < inf, got {p}")


def _points(a) -> np.ndarray:
    """Points as a float array (m, k); an empty input of any shape becomes (0, 0)."""
    a = np.asarray(a, dtype=float)
    if a.size == 0 and a.ndim != 2:
        return a.reshape(0, 0)
    if a.ndim != 2:
        raise ValueError(f"points must be an (m, k) array, got shape {a.shape}")
    return a


def _pairwise_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (..., m, n) between points a (..., m, k) and b (..., n, k).

    Differences are taken coordinate by coordinate (not |a|^2 + |b|^2 - 2 a.b), which would lose
    all precision for ECEF positions of ~6.4e6 m."""
    d2 = np.zeros(a.shape[:-1] + b.shape[-2:-1])
    for j in range(a.shape[-1]):
        d2 += (a[..., :, None, j] - b[..., None, :, j]) ** 2
    return np.sqrt(d2)


def gospa(truth_pos, est_pos, c: float, p: float = 2, alpha: float = 2) -> dict[str, float]:
    r"""GOSPA metric between truth positions (m, k) and estimated positions (n, k) at one time [m].

    With :math:`\alpha = 2` (Rahmathullah et al. 2017, eq. 2-3)

    .. math::
        d_p^{(c,2)}(X, Y) = \min_{\gamma} \Big( \sum_{(i,j)\in\gamma} d(x_i, y_j)^p
        + \frac{c^p}{2}(|X| - |\gamma|) + \frac{c^p}{2}(|Y| - |\gamma|) \Big)^{1/p}

    over partial assignments :math:`\gamma` whose pairs are closer than ``c``. It is computed as
    the optimal full assignment on :math:`\min(d, c)^p` (``linear_sum_assignment``), after which
    pairs with :math:`d \ge c` are counted as one missed and one false object.

    Returns a dict of floats: ``distance`` [m] and its decomposition
    ``distance**p = localisation + missed + false`` [m^p], where ``localisation`` is the sum of
    :math:`d^p` over assigned pairs, ``missed`` is :math:`c^p/2` times the number of unassigned
    truths and ``false`` is :math:`c^p/2` times the number of unassigned estimates (the same
    convention as Stone Soup's ``GOSPAMetric``). Only ``alpha = 2`` is supported: it is the value
    for which the paper gives this decomposition.
    """
    _check_order(c, p)
    if alpha != 2:
        raise ValueError(f"only alpha = 2 is supported, got {alpha}")
    X, Y = _points(truth_pos), _points(est_pos)
    m, n = len(X), len(Y)
    localisation, k = 0.0, 0
    if m and n:
        d = _pairwise_distance(X, Y)
        rows, cols = linear_sum_assignment(np.minimum(d, c) ** p)
        dk = d[rows, cols]
        near = dk < c
        localisation, k = float(np.sum(dk[near] ** p)), int(np.count_nonzero(near))
    half = c**p / 2
    missed, false = half * (m - k), half * (n - k)
    return {
        "distance": float((localisation + missed + false) ** (1 / p)),
        "localisation": localisation,
        "missed": missed,
        "false": false,
    }


def ospa(truth_pos, est_pos, c: float, p: float = 2) -> float:
    r"""OSPA distance [m] between truth positions (m, k) and estimates (n, k) at one time
    (Schuhmacher et al. 2008, eq. 3):

    .. math::
        \bar d_p^{(c)} = \Big( \frac{1}{N} \big( \min_\pi \sum_{i=1}^{M} \min(d(x_i, y_{\pi(i)}), c)^p
        + c^p (N - M) \big) \Big)^{1/p}, \quad M = \min(m, n),\ N = \max(m, n),

    0 when both sets are empty and ``c`` when exactly one is.
    """
    _check_order(c, p)
    X, Y = _points(truth_pos), _points(est_pos)
    M, N = min(len(X), len(Y)), max(len(X), len(Y))
    if N == 0:
        return 0.0
    if M == 0:
        return float(c)
    cost = np.minimum(_pairwise_distance(X, Y), c) ** p
    rows, cols = linear_sum_assignment(cost)
    return float(((cost[rows, cols].sum() + c**p * (N - M)) / N) ** (1 / p))


def _time_index(grid: np.ndarray, row_times: np.ndarray, what: str) -> np.ndarray:
    """Index into the sorted grid of each row's time; every row time must be on the grid exactly."""
    idx = np.searchsorted(grid, row_times)
    ok = idx < len(grid)
    ok[ok] = grid[idx[ok]] == row_times[ok]
    if not ok.all():
        raise ValueError(f"{np.count_nonzero(~ok)} {what} row time(s) are not in `times`, e.g. {row_times[~ok][0]}")
    return idx


def _pad_by_step(step: np.ndarray, pos: np.ndarray, n_steps: int):
    """Scatter rows into a (n_steps, max_count, k) array; returns it, per-step counts, row order
    (stable sort by step) and each sorted row's slot within its step."""
    order = np.argsort(step, kind="stable")
    s = step[order]
    counts = np.bincount(s, minlength=n_steps)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(s)) - start[s]
    padded = np.zeros((n_steps, max(int(counts.max(initial=0)), 1), pos.shape[1]))
    padded[s, slot] = pos[order]
    return padded, counts, order, slot


def gospa_series(
    times,
    truth_times,
    truth_ids,
    truth_pos,
    est_times,
    est_ids,
    est_pos,
    c: float,
    p: float = 2,
) -> dict[str, np.ndarray]:
    """GOSPA (alpha = 2) at every time in ``times`` (T,) [s, any epoch], from flat columnar tables.

    Truth table: one row per object present at a time, ``truth_times`` (R,), ``truth_ids`` (R,)
    integer ids >= 0, ``truth_pos`` (R, k) [m]; estimate table likewise with track ids. Every row
    time must equal one of ``times`` exactly (same clock, e.g. the scenario's step times); rows
    need not be sorted. A time with no rows scores 0 (nothing to miss, nothing false).

    Returns a dict of arrays:

    * ``distance`` (T,) [m], ``localisation``, ``missed``, ``false`` (T,) [m^p]: as in
      :func:`gospa`, per time step;
    * ``n_truth``, ``n_est``, ``n_assigned`` (T,): cardinalities and number of pairs closer than c;
    * ``truth_est_id`` (R,): for each truth row, the id of the estimate GOSPA assigns to it at that
      time, or ``UNASSIGNED`` (-1) if missed (no partner, or partner at distance >= c);
    * ``est_truth_id`` (E,): for each estimate row, the assigned truth id or ``UNASSIGNED``.

    ``truth_est_id`` together with ``truth_times`` and ``truth_ids`` is the input of
    :func:`track_breaks_and_swaps`.
    """
    _check_order(c, p)
    grid = np.asarray(times, dtype=float)
    order_grid = np.argsort(grid, kind="stable")
    sorted_grid = grid[order_grid]
    if np.any(np.diff(sorted_grid) == 0):
        raise ValueError("`times` must not repeat")
    T = len(grid)
    t_ids = np.asarray(truth_ids).astype(np.int64, copy=False)
    e_ids = np.asarray(est_ids).astype(np.int64, copy=False)
    t_pos, e_pos = _points(truth_pos), _points(est_pos)
    if len(t_pos) != len(t_ids) or len(e_pos) != len(e_ids):
        raise ValueError("ids and positions must have one row each per table row")
    if np.any(t_ids < 0) or np.any(e_ids < 0):
        raise ValueError("ids must be >= 0 (-1 is UNASSIGNED)")
    if len(t_pos) and len(e_pos) and t_pos.shape[1] != e_pos.shape[1]:
        raise ValueError("truth and estimate positions must have the same dimension")
    # steps are numbered in sorted-time order; results are put back in the order of `times`
    t_step = _time_index(sorted_grid, np.asarray(truth_times, dtype=float), "truth")
    e_step = _time_index(sorted_grid, np.asarray(est_times, dtype=float), "estimate")
    Xp, m, t_order, t_slot = _pad_by_step(t_step, t_pos, T)
    Yp, n, e_order, e_slot = _pad_by_step(e_step, e_pos, T)
    # row number (in the sorted tables) of each (step, slot)
    t_row = np.full(Xp.shape[:2], -1)
    t_row[t_step[t_order], t_slot] = np.arange(len(t_order))
    e_row = np.full(Yp.shape[:2], -1)
    e_row[e_step[e_order], e_slot] = np.arange(len(e_order))

    pair_t, pair_e, pair_d = [], [], []
    both = np.flatnonzero((m > 0) & (n > 0))
    block = max(1, _BLOCK_ELEMENTS // (Xp.shape[1] * Yp.shape[1]))
    for b0 in range(0, len(both), block):
        steps = both[b0 : b0 + block]
        d = _pairwise_distance(Xp[steps], Yp[steps])
        cost = np.minimum(d, c) ** p
        for i, s in enumerate(steps):
            r, q = linear_sum_assignment(cost[i, : m[s], : n[s]])
            pair_t.append(t_row[s, r])
            pair_e.append(e_row[s, q])
            pair_d.append(d[i, r, q])
    if pair_t:
        pt, pe, pd = np.concatenate(pair_t), np.concatenate(pair_e), np.concatenate(pair_d)
    else:
        pt = pe = np.zeros(0, dtype=np.int64)
        pd = np.zeros(0)
    near = pd < c
    pt, pe, pd = pt[near], pe[near], pd[near]
    step_of_pair = t_step[t_order][pt]
    loc = np.bincount(step_of_pair, weights=pd**p, minlength=T)
    k = np.bincount(step_of_pair, minlength=T)
    half = c**p / 2
    missed, false = half * (m - k), half * (n - k)

    truth_est_id = np.full(len(t_ids), UNASSIGNED, dtype=np.int64)
    truth_est_id[t_order[pt]] = e_ids[e_order[pe]]
    est_truth_id = np.full(len(e_ids), UNASSIGNED, dtype=np.int64)
    est_truth_id[e_order[pe]] = t_ids[t_order[pt]]

    back = np.empty(T, dtype=np.int64)
    back[order_grid] = np.arange(T)  # position in sorted order of each entry of `times`
    return {
        "distance": ((loc + missed + false) ** (1 / p))[back],
        "localisation": loc[back],
        "missed": missed[back],
        "false": false[back],
        "n_truth": m[back],
        "n_est": n[back],
        "n_assigned": k[back],
        "truth_est_id": truth_est_id,
        "est_truth_id": est_truth_id,
    }


def rmse(errors, axis=0) -> np.ndarray:
    """Root-mean-square error of error vectors ``errors`` (..., d): the square root of the mean,
    over ``axis`` (counted among the leading dimensions), of the squared Euclidean norm of each vector.

    E.g. position errors (runs, T, 3) [m] with ``axis=0`` give the RMSE per time step (T,) [m].
    Scalar errors are passed as (..., 1).
    """
    e = np.asarray(errors, dtype=float)
    if e.ndim < 2:
        raise ValueError("errors must be (..., d): pass scalar errors as shape (k, 1)")
    return np.sqrt(np.mean(np.sum(e**2, axis=-1), axis=axis))


def nees(err, cov) -> np.ndarray:
    """Normalised estimation error squared e^T P^-1 e (...,) of errors ``err`` (..., d) against
    covariances ``cov`` (..., d, d) (Bar-Shalom et al. 2001, eq. 5.4.2-1). Dimensionless; for a
    consistent estimator it is chi-square with d degrees of freedom."""
    e = np.asarray(err, dtype=float)
    return np.einsum("...i,...i->...", e, np.linalg.solve(cov, e[..., None])[..., 0])


def chi2_band(d: int, n_runs: int, conf: float = 0.95) -> tuple[float, float]:
    """Two-sided ``conf`` acceptance band (lo, hi) for the NEES of dimension ``d`` averaged over
    ``n_runs`` independent Monte Carlo runs: n_runs times the average is chi-square with
    d * n_runs degrees of freedom, so the band is chi2.ppf((1 -+ conf) / 2, d n_runs) / n_runs
    (Bar-Shalom et al. 2001, section 5.4.2)."""
    dof = d * n_runs
    lo, hi = chi2.ppf([(1 - conf) / 2, (1 + conf) / 2], dof) / n_runs
    return float(lo), float(hi)


def mc_nees(point_keys, nees_vals, d: int = 6, conf: float = 0.95, min_runs: int = 2) -> dict[str, np.ndarray]:
    """The Monte Carlo NEES test per point (Bar-Shalom et al. 2001, section 5.4.2): the NEES values of one
    point (e.g. one object at one time step) over independent runs are averaged, and the average is judged
    against ``chi2_band(d, n)``, where n is the number of runs that have a value there.

    ``point_keys`` (k, c): one row per (run, point) value, the point's key (e.g. time and object index;
    rows of different runs with equal keys are the same point); ``nees_vals`` (k,): the values, each from
    a different run for a given key. Points with fewer than ``min_runs`` values are left out.

    Returns arrays per point (sorted by key): ``keys`` (p, c), ``n_runs`` (p,), ``mean`` (p,) (average
    NEES), ``lo``, ``hi`` (its band), ``inside`` (bool) and ``below`` (average below ``lo``: covariance
    too large; above ``hi``: too small). For a consistent filter ``inside`` holds at a fraction ``conf``
    of the points."""
    keys = np.asarray(point_keys, dtype=float)
    v = np.asarray(nees_vals, dtype=float)
    if keys.ndim == 1:
        keys = keys[:, None]
    if keys.ndim != 2 or len(keys) != len(v):
        raise ValueError(f"mc_nees: point_keys must be (k, c) with k = len(nees_vals) = {len(v)}, "
                         f"got shape {keys.shape}")
    if min_runs < 1:
        raise ValueError(f"mc_nees: min_runs must be at least 1, got {min_runs}")
    if not len(v):
        empty = np.zeros(0)
        return {"keys": keys, "n_runs": empty.astype(int), "mean": empty, "lo": empty, "hi": empty,
                "inside": empty.astype(bool), "below": empty.astype(bool)}
    uk, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    n = np.bincount(inv, minlength=len(uk))
    mean = np.bincount(inv, weights=v, minlength=len(uk)) / n
    keep = n >= min_runs
    uk, n, mean = uk[keep], n[keep], mean[keep]
    bands = {int(k): chi2_band(d, int(k), conf) for k in np.unique(n)}
    lo = np.array([bands[int(k)][0] for k in n])
    hi = np.array([bands[int(k)][1] for k in n])
    return {"keys": uk, "n_runs": n, "mean": mean, "lo": lo, "hi": hi,
            "inside": (mean >= lo) & (mean <= hi), "below": mean < lo}


def track_breaks_and_swaps(times, truth_ids, track_ids) -> dict[str, int]:
    """Continuity counts from the per-time truth-to-track pairing.

    Input: one row per truth present at a time, ``times`` (R,), ``truth_ids`` (R,), and the track
    id assigned to that truth at that time, ``track_ids`` (R,), ``UNASSIGNED`` (-1) when it is
    missed (e.g. ``truth_est_id`` from :func:`gospa_series`). Rows need not be sorted; each
    (truth, time) must appear once. For each truth, its *history* is its rows in time order, and
    its *assigned history* the subsequence of rows with a track. Times at which a truth has no row
    (it does not exist then) are not gaps.

    Returns integer totals over all truths and tracks:

    * ``breaks``: pairs of consecutive entries (A, B) in a truth's assigned history with B != A
      and at least one missed row between them: the truth was tracked, lost, and re-acquired
      under a new track id. Re-acquisition by the same track after a gap is not a break.
    * ``id_changes``: pairs of consecutive entries with B != A, with or without a gap (breaks
      plus direct hand-overs from one track to another): the "mismatches" (identity switches) of
      CLEAR MOT (Bernardin and Stiefelhagen 2008), counted on the GOSPA pairing.
    * ``excess_tracks``: the number of distinct track ids ever assigned to a truth minus one,
      summed over the truths assigned at least once (0 when every truth keeps one track; an
      A, B, A history counts 1 here and 2 in ``id_changes``). Not the same as Stone Soup's SIAP
      "minimum number of tracks needed", which counts association intervals, not distinct ids.
    * ``swaps``: for each track, the truths it is assigned to in time order; pairs of consecutive
      entries with different truths, with or without a gap: the track moved from one object to
      another.
    """
    t = np.asarray(times, dtype=float)
    tr = np.asarray(truth_ids).astype(np.int64, copy=False)
    tk = np.asarray(track_ids).astype(np.int64, copy=False)

    o = np.lexsort((t, tr))  # by truth, then time
    tr_s, tk_s = tr[o], tk[o]
    if np.any((tr_s[1:] == tr_s[:-1]) & (t[o][1:] == t[o][:-1])):
        raise ValueError("a truth appears twice at one time")
    pos = np.flatnonzero(tk_s != UNASSIGNED)  # assigned rows, positions in truth-major order
    same_truth = tr_s[pos[1:]] == tr_s[pos[:-1]]
    changed = same_truth & (tk_s[pos[1:]] != tk_s[pos[:-1]])
    gap = np.diff(pos) > 1
    pairs = np.unique(np.stack([tr_s[pos], tk_s[pos]]), axis=1)
    n_truths_assigned = len(np.unique(pairs[0]))

    a = tk != UNASSIGNED
    oa = np.lexsort((t[a], tk[a]))  # assigned rows by track, then time
    tk_a, tr_a = tk[a][oa], tr[a][oa]
    swaps = (tk_a[1:] == tk_a[:-1]) & (tr_a[1:] != tr_a[:-1])
    return {
        "breaks": int(np.count_nonzero(changed & gap)),
        "id_changes": int(np.count_nonzero(changed)),
        "excess_tracks": int(pairs.shape[1] - n_truths_assigned),
        "swaps": int(np.count_nonzero(swaps)),
    }
