"""Scoring a tracker's output against the truth: GOSPA, RMSE per flight phase, NEES, breaks, swaps.

Tracks are scored on a regular time grid: at each grid time every confirmed track's latest estimate
(no older than ``max_age_s``) is predicted to the grid time, and compared with every object in flight.
The prediction uses the track's own motion model: for warnlink's 8-state tracks (thrust acceleration
and drag parameter) ``warnlink.tracking.models.predict``, for 6-state tracks (e.g. Stone Soup's) the
ballistic model without drag (``warnlink.tracking.kalman.predict``); white acceleration ``q_m2_s3``.
Truth phases: boost while a motor burns, terminal when descending below
80 km, midcourse otherwise.
"""

from __future__ import annotations

import numpy as np

from warnlink.geo import ecef2geodetic
from warnlink.tracking import models
from warnlink.tracking.kalman import predict
from warnlink.tracking.metrics import gospa_series, nees, track_breaks_and_swaps
from warnlink.tracking.tracker import CONFIRMED, PHASES, TrackHistory

TERMINAL_ALT_M = 80_000.0


def score(history: TrackHistory, objects, step_s: float = 1.0, c_m: float = 1000.0, max_age_s: float = 5.0,
          q_m2_s3: float = 1e-2, t_window: tuple[float, float] | None = None,
          return_pairs: bool = False) -> dict:
    """Metrics of ``history`` against ``objects`` (``scenario.simulate.TruthObject`` list).

    ``t_window = (t0, t1)`` [s after the scenario epoch] keeps only the grid times inside it (e.g. when
    a tracker was run on the reports of that window only); ``None``: the whole flight of every object.

    Returns ``gospa_mean`` [m], ``missed_mean`` and ``false_mean`` (objects missed and false tracks per
    grid step, GOSPA's cardinality terms), ``rmse_m`` per phase [m] (position), ``rmse_vel_m_s`` per phase,
    ``nees_mean`` (6-state, over assigned pairs; expected 6) and ``nees_phase`` per phase, ``breaks``,
    ``swaps``, ``n_tracks_confirmed`` and the grid size; with ``return_pairs`` also ``pairs``
    ``(t_s, object_index, phase, nees)`` (arrays) of the (grid time, object) points counted in the RMSE
    and NEES, e.g. for ``warnlink.tracking.pcrlb.pcrlb_phase_rms(points=...)``, and ``pair_errors``
    ``(err, cov)``: the 6-state error (n, 6) [m, m/s] and covariance (n, 6, 6) of those points (e.g. to
    split the NEES into position and velocity parts), and ``pair_sources`` ``(track_id, p_boost, age_s)``:
    the track scored at each point, the boost-model probability of its estimate (NaN for a tracker without
    one) and how long before the point that estimate was made [s].
    """
    a = history.arrays()
    conf = a["status"] == CONFIRMED
    t0 = min(o.t_start_s for o in objects)
    t1 = max(o.t_end_s for o in objects)
    grid = np.arange(np.ceil(t0), t1, step_s)
    if t_window is not None:
        lo, hi = (float(v) for v in t_window)
        if not lo <= hi:
            raise ValueError(f"score: t_window must be (t0, t1) with t0 <= t1, got {t_window}")
        grid = grid[(grid >= lo) & (grid <= hi)]
    # truth rows
    tt, tid, tpos, tvel, tphase = [], [], [], [], []
    for o in objects:
        p, v, ok = o.trajectory.sample(grid - o.offset_s)
        burning = o.trajectory.burning(grid - o.offset_s)
        alt = ecef2geodetic(p[:, 0], p[:, 1], p[:, 2])[2]
        up = p / np.linalg.norm(p, axis=1, keepdims=True)
        descending = np.einsum("ij,ij->i", v, up) < 0
        phase = np.where(burning, 0, np.where(descending & (alt < TERMINAL_ALT_M), 2, 1))
        tt.append(grid[ok])
        tid.append(np.full(ok.sum(), o.index))
        tpos.append(p[ok])
        tvel.append(v[ok])
        tphase.append(phase[ok])
    tt, tid, tpos, tvel, tphase = map(np.concatenate, (tt, tid, tpos, tvel, tphase))
    # estimate rows: latest confirmed estimate of each track, predicted to each grid time
    et, eid, src = [], [], []
    for k in np.unique(a["track"][conf]):
        rows = np.flatnonzero(conf & (a["track"] == k))
        rows = rows[np.argsort(a["t_s"][rows], kind="stable")]
        ts = a["t_s"][rows]
        j = np.searchsorted(ts, grid, side="right") - 1
        ok = (j >= 0) & (grid - ts[np.maximum(j, 0)] <= max_age_s)
        et.append(grid[ok])
        eid.append(np.full(ok.sum(), k))
        src.append(rows[j[ok]])
    if et:
        et, eid, src = np.concatenate(et), np.concatenate(eid), np.concatenate(src)
        if a["x"].shape[1] == models.N_STATE:  # warnlink's extended state: its own model (thrust, drag)
            ex, eP = models.predict(a["x"][src], a["P"][src], et - a["t_s"][src], q_m2_s3, 0.0, 0.0)
            ex, eP = ex[:, :6], eP[:, :6, :6]
        else:
            ex, eP = predict(a["x"][src, :6], a["P"][src, :6, :6], et - a["t_s"][src], q_m2_s3)
    else:
        et, eid, ex, eP = np.zeros(0), np.zeros(0, int), np.zeros((0, 6)), np.zeros((0, 6, 6))
    g = gospa_series(grid, tt, tid, tpos, et, eid, ex[:, :3], c=c_m, p=2)
    # RMSE and NEES over assigned pairs
    assigned = g["truth_est_id"] >= 0
    key = {(float(t), int(i)): r for r, (t, i) in enumerate(zip(et, eid, strict=True))}
    pairs = [(r, key[(float(tt[r]), int(g["truth_est_id"][r]))]) for r in np.flatnonzero(assigned)]
    rmse_m, rmse_v, nees_phase, nees_vals = {}, {}, {}, np.zeros(0)
    err, err_cov = np.zeros((0, 6)), np.zeros((0, 6, 6))
    if pairs:
        tr, er = np.array(pairs).T
        err = ex[er] - np.hstack([tpos[tr], tvel[tr]])
        err_cov = eP[er]
        nees_vals = nees(err, err_cov)
        for i, name in enumerate(PHASES):
            m = tphase[tr] == i
            rmse_m[name] = float(np.sqrt(np.mean(np.sum(err[m, :3] ** 2, axis=1)))) if m.any() else None
            rmse_v[name] = float(np.sqrt(np.mean(np.sum(err[m, 3:] ** 2, axis=1)))) if m.any() else None
            nees_phase[name] = float(np.mean(nees_vals[m])) if m.any() else None
    bs = track_breaks_and_swaps(tt, tid, g["truth_est_id"])
    out = {
        "gospa_mean": float(np.mean(g["distance"])),
        "gospa_c_m": c_m,
        "missed_mean": float(np.mean(g["n_truth"] - g["n_assigned"])),
        "false_mean": float(np.mean(g["n_est"] - g["n_assigned"])),
        "rmse_m": rmse_m,
        "rmse_vel_m_s": rmse_v,
        "nees_mean": float(np.mean(nees_vals)) if len(nees_vals) else None,
        "nees_phase": nees_phase,
        "breaks": int(bs["breaks"]),
        "swaps": int(bs["swaps"]),
        "n_tracks_confirmed": len(np.unique(a["track"][conf])),
        "n_objects": len(objects),
        "grid_steps": len(grid),
    }
    if return_pairs:
        tr = np.array([r for r, _ in pairs], int)
        out["pairs"] = (tt[tr], tid[tr], tphase[tr], nees_vals)
        out["pair_errors"] = (err, err_cov)
        er = np.array([e for _, e in pairs], int)
        srow = src[er] if len(er) else np.zeros(0, int)
        out["pair_sources"] = (eid[er] if len(er) else np.zeros(0, int), a["p_boost"][srow], et[er] - a["t_s"][srow]
                               if len(er) else np.zeros(0))
    return out
