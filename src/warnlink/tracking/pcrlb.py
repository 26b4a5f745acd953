"""The posterior Cramér-Rao lower bound (PCRLB) of ballistic tracking for a scenario's sensor geometry.

The bound is the Tichavsky-Muravchik-Nehorai (1998) recursion in information form, for additive
Gaussian process and measurement noise:

    J_{k+1} = (Q_k + F_k J_k^-1 F_k^T)^-1 + irf * sum_{reports at t_{k+1}} H^T R^-1 H

evaluated along each truth object's trajectory: ``F_k`` is the state-transition matrix of the
tracker's ballistic motion model (``warnlink.tracking.motion.propagate``, no drag) started at the
true state, ``Q_k`` its white-acceleration process noise (``white_acceleration_q``) with the spectral
density of the truth's flight phase at ``t_k``, ``H`` the measurement Jacobian
(``warnlink.tracking.measurement.measurement_jacobian``) at the true state with the report's sensor
position and kind, and ``R`` the report's noise covariance (its used rows). ``J^-1`` bounds the
mean-square error of any unbiased estimator of the state; position bound ``sqrt(trace(J^-1[:3, :3]))``
[m] is directly comparable with a position RMSE.

The prediction is computed as ``A^T (I + J M)^-1 J A`` with ``A = F^-1`` and ``M = A Q A^T``, an exact
rewriting that also holds when ``J`` is singular (no information yet, or position-only information)
or ``Q`` is zero, so the recursion can start from no information at all.

Choices (each matters; all are parameters):

* **Which measurements** (``truth`` column): the bound uses the reports that were actually realised
  for the object, i.e. the reports whose ``truth`` is the object. This is the *conditional* or
  "enumeration" bound (Hernandez, Ristic, Farina, Timmoneri 2004): it conditions on the realised
  detection sequence instead of averaging over missed detections. False alarms (``truth == -1``) are
  not used; clutter can be accounted for by the information reduction factor ``irf`` (``q_d`` of
  Niu, Willett and Bar-Shalom 2001; 1 = no clutter), which scales every report's information. The
  Pd-weighted (unconditional) version would need every sensor's scan times and coverage, which a
  ``ReportBatch`` does not carry: not implemented.
* **Flight phase and process noise**: the truth's phase, by the same rules as
  ``warnlink.tracking.score`` (boost while a motor burns, terminal when descending below 80 km,
  midcourse otherwise), selects ``q = (q_boost, q_midcourse, q_terminal)`` [m^2/s^3] over the interval
  that starts at each event (``DEFAULT_Q_M2_S3`` unless given). The tracker picks its own process noise
  from its *estimated* phase; the bound uses the truth's.
* **Initial information** (``init``); it matters early in each track, most for objects such as
  separating stages whose whole midcourse is short:

  - ``"diffuse"`` (default): a prior of ``prior_sigma = (position [m], velocity [m/s])`` per ECEF axis
    (default 10 km and 1 km/s: weak against any radar fix), centred on the truth, at the object's first
    report (any kind); every report contributes fully. An infinite sigma means no prior information on
    that part; the bound is then reported once the information is of full rank.
  - ``"two_point"``, like the tracker's two-point initiator: no information before the object's first
    radar report; the radar reports at the object's first two distinct radar report times (any radar)
    contribute their converted-position information only (range and angle rows, to first order
    ``radar_cov_to_ecef(...)^-1``; range-rate unused, as the initiator does not use it); every report
    after the second time contributes fully; infrared reports before it are not used (the tracker
    cannot start a track from them). The bound is reported from the second radar report time on;
    between the two points the process noise applies as usual. No extra velocity uncertainty is added
    (the tracker's initiator adds some).

  ``"diffuse"`` is the default because it assumes less about what an estimator knows when an object
  appears: on the ``salvo-20-korea`` example the two-point bound's midcourse figure came out *above*
  the tracker's own midcourse RMSE (a tracker keeps the parent missile's track across a stage
  separation and uses range-rate as soon as it has a track), which a lower bound should not do.
* **Model**: the bound is that of the stochastic model above (ballistic motion without drag plus white
  acceleration of density ``q``). The simulated truth is deterministic, and a tracker whose model is
  closer to it (explicit thrust or drag states) can come in under the bound where ``q`` stands in for
  large unmodelled forces (boost, terminal). In midcourse, where ``q`` only covers gravity-model
  error, the bound is the meaningful yardstick.

* **Time grid**: every object advances through the merged set of its report times and the regular
  grid of ``warnlink.tracking.score.score`` (``arange(ceil(min start), max end, step_s)`` over all
  objects); the bound is reported at the grid times where the object is in flight, after the reports
  at that very time (the score predicts each track's latest estimate at or before the grid time).
  All objects advance together, one vectorised step per event index.
"""

from __future__ import annotations

import time

import numpy as np

from warnlink.geo import ecef2geodetic
from warnlink.sensors.reports import KIND_IR, KIND_RADAR, ReportBatch
from warnlink.tracking.kalman import symmetrise
from warnlink.tracking.measurement import measurement_dims, measurement_jacobian
from warnlink.tracking.motion import propagate, white_acceleration_q

PHASES = ("boost", "midcourse", "terminal")
"""Flight phases, in the order of ``warnlink.tracking.tracker.PHASES`` (phase arrays index into it)."""
TERMINAL_ALT_M = 80_000.0
"""Terminal phase: descending below this geodetic height [m] (as ``warnlink.tracking.score``)."""
DEFAULT_Q_M2_S3 = (2.0e3, 1.0e-2, 2.0e2)
"""Default white-acceleration spectral densities [m^2/s^3] for (boost, midcourse, terminal): midcourse and
terminal as the tracker's coast and terminal densities; boost 2e3 covers unknown thrust (tens of m/s^2
changing over seconds) in this six-state model, which has no thrust state. Pass the tracker's own values
to bound a given tracker configuration."""
INITS = ("diffuse", "two_point")
"""Ways to start the information recursion (module docstring)."""
FULL_RANK_RTOL = 1e-12
"""The information matrix counts as invertible when the smallest eigenvalue of its unit-diagonal
(Jacobi-scaled) form exceeds this."""

__all__ = [
    "DEFAULT_Q_M2_S3",
    "INITS",
    "PHASES",
    "information_predict",
    "pcrlb",
    "pcrlb_phase_rms",
    "pcrlb_recursion",
    "truth_phase",
]


# ------------------------------------------------------------------------------ the recursion


def _predict_am(J, A, M):
    """``A^T (I + J M)^-1 J A`` over the leading axes (the information prediction, module docstring)."""
    n = J.shape[-1]
    X = np.linalg.solve(np.eye(n) + J @ M, J)
    return symmetrise(np.swapaxes(A, -1, -2) @ X @ A)


def information_predict(J, F, Q):
    """Predicted information ``(Q + F J^-1 F^T)^-1`` of information matrices ``J`` (..., n, n) through
    transitions ``F`` (..., n, n) with process noise ``Q`` (..., n, n).

    Computed as ``A^T (I + J M)^-1 J A`` with ``A = F^-1`` and ``M = A Q A^T``: exact, and valid for a
    singular ``J`` (``J = 0`` predicts to 0) or a zero ``Q`` (then ``F^-T J F^-1``). ``F`` must be
    invertible (a state-transition matrix always is).
    """
    J, F, Q = (np.asarray(a, float) for a in (J, F, Q))
    A = np.linalg.inv(F)
    return _predict_am(J, A, A @ Q @ np.swapaxes(A, -1, -2))


def pcrlb_recursion(J0, F, Q, info):
    """The information recursion over ``K`` steps, for any state dimension ``n``.

    ``J0`` (..., n, n) is the information at step 0 (including step 0's measurements); ``F``, ``Q``
    and ``info`` are (K, ..., n, n): transition and process noise from step k to k + 1, and the
    measurement information ``sum H^T R^-1 H`` at step k + 1. Returns ``J`` (K + 1, ..., n, n) with
    ``J[0] = J0`` and ``J[k + 1] = (Q[k] + F[k] J[k]^-1 F[k]^T)^-1 + info[k]``; ``inv(J[k])`` is the
    bound on the error covariance at step k (for a linear-Gaussian model, the Kalman filter's).
    """
    J0 = np.asarray(J0, float)
    F, Q, info = (np.asarray(a, float) for a in (F, Q, info))
    if not (F.shape == Q.shape == info.shape) or F.shape[1:] != J0.shape:
        raise ValueError(f"pcrlb_recursion: F {F.shape}, Q {Q.shape} and info {info.shape} must all be "
                         f"(K, *{J0.shape}) for J0 {J0.shape}")
    out = np.empty((len(F) + 1, *J0.shape))
    out[0] = J0
    for k in range(len(F)):
        out[k + 1] = information_predict(out[k], F[k], Q[k]) + info[k]
    return out


def _bound(J) -> tuple[np.ndarray, np.ndarray]:
    """``(J^-1, ok)`` for information matrices (N, 6, 6): NaN where not of full rank (``FULL_RANK_RTOL``)."""
    n = len(J)
    out = np.full((n, 6, 6), np.nan)
    d = np.diagonal(J, axis1=1, axis2=2)
    ok = np.all(d > 0, axis=1) & np.all(np.isfinite(J), axis=(1, 2))
    if ok.any():
        s = 1.0 / np.sqrt(d[ok])
        Js = J[ok] * s[:, :, None] * s[:, None, :]
        ok[ok] = np.linalg.eigvalsh(Js)[:, 0] > FULL_RANK_RTOL
    if ok.any():
        out[ok] = symmetrise(np.linalg.inv(J[ok]))
    return out, ok


# ------------------------------------------------------------------------------ truth helpers


def truth_phase(pos, vel, burning) -> np.ndarray:
    """Truth flight phase index into ``PHASES`` (N,) of ECEF states ``pos``, ``vel`` (N, 3) with motor
    flags ``burning`` (N,): boost while burning, terminal when descending (geocentric radial velocity
    < 0) below ``TERMINAL_ALT_M``, midcourse otherwise; the rules of ``warnlink.tracking.score``."""
    pos = np.asarray(pos, float).reshape(-1, 3)
    vel = np.asarray(vel, float).reshape(-1, 3)
    alt = ecef2geodetic(pos[:, 0], pos[:, 1], pos[:, 2])[2]
    up = pos / np.linalg.norm(pos, axis=1, keepdims=True)
    descending = np.einsum("ij,ij->i", vel, up) < 0
    return np.where(np.asarray(burning, bool), 0, np.where(descending & (alt < TERMINAL_ALT_M), 2, 1))


def _usable(r: ReportBatch) -> np.ndarray:
    """Reports of an object (``truth >= 0``) that a tracker could use: finite time, sensor position, used
    measurement rows and noise (positive variances), known kind."""
    dims = measurement_dims(r.kind, r.z)
    zok = np.all(np.isfinite(np.where(dims, r.z, 0.0)), axis=1)
    var = np.diagonal(r.cov, axis1=1, axis2=2)
    rok = np.all(np.where(dims, np.isfinite(var) & (var > 0), True), axis=1) & dims.any(axis=1)
    used_cov = np.where(dims[:, :, None] & dims[:, None, :], r.cov, 0.0)
    rok &= np.all(np.isfinite(used_cov), axis=(1, 2))
    pos_ok = np.all(np.isfinite(r.sensor_pos_ecef_m), axis=1)
    kind_ok = (r.kind == KIND_RADAR) | (r.kind == KIND_IR)
    return np.isfinite(r.t_s) & zok & rok & pos_ok & kind_ok & (r.truth >= 0)


def _check_args(objects, reports, q, step_s, init, prior_sigma, irf):
    if not objects:
        raise ValueError("pcrlb: no truth objects given (need at least one scenario.simulate.TruthObject)")
    for o in objects:
        for attr in ("index", "trajectory", "offset_s"):
            if not hasattr(o, attr):
                raise TypeError(f"pcrlb: objects must be TruthObject-like (index, trajectory, offset_s); "
                                f"got {type(o).__name__} without {attr!r}")
    if not isinstance(reports, ReportBatch):
        raise TypeError(f"pcrlb: reports must be a ReportBatch, got {type(reports).__name__}")
    q = np.asarray(DEFAULT_Q_M2_S3 if q is None else q, float)
    if q.shape != (3,) or not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError(f"pcrlb: q must be three finite spectral densities >= 0 [m^2/s^3] "
                         f"(boost, midcourse, terminal), got {q.tolist()}")
    if not (np.isfinite(step_s) and step_s > 0):
        raise ValueError(f"pcrlb: step_s must be a positive number of seconds, got {step_s}")
    if init not in INITS:
        raise ValueError(f"pcrlb: unknown init {init!r}; known: {', '.join(INITS)}")
    ps = np.asarray(prior_sigma, float)
    if ps.shape != (2,) or np.any(np.isnan(ps)) or np.any(ps <= 0):
        raise ValueError(f"pcrlb: prior_sigma must be (position [m], velocity [m/s]) > 0 (inf allowed), got "
                         f"{prior_sigma}")
    if not (0.0 < irf <= 1.0):
        raise ValueError(f"pcrlb: the information reduction factor irf must be in (0, 1], got {irf}")
    idx = [int(o.index) for o in objects]
    if len(set(idx)) != len(idx):
        raise ValueError("pcrlb: truth objects have duplicate indices")
    return q, ps


# ------------------------------------------------------------------------------ the bound


def pcrlb(objects, reports: ReportBatch, q=None, step_s: float = 1.0, init: str = "diffuse",
          prior_sigma=(1.0e4, 1.0e3), irf: float = 1.0) -> dict:
    """Posterior Cramér-Rao bound of every truth object's ECEF state, given the realised reports.

    Args:
        objects: truth objects (``warnlink.scenario.simulate.TruthObject``: ``index``, ``object_id``,
            ``trajectory``, ``offset_s``), at least one.
        reports: the scenario's reports; those whose ``truth`` is an object's ``index`` are its
            measurements (false alarms, ``truth == -1``, are ignored; reports with unusable time,
            sensor position or noise are dropped and counted).
        q: ``(q_boost, q_midcourse, q_terminal)`` white-acceleration spectral densities [m^2/s^3] by
            truth phase; ``None``: ``DEFAULT_Q_M2_S3``.
        step_s: grid step [s] of the reported bound (the grid of ``warnlink.tracking.score.score``).
        init: ``"diffuse"`` or ``"two_point"`` (module docstring).
        prior_sigma: ``(position [m], velocity [m/s])`` 1-sigma per axis of the ``"diffuse"`` prior.
        irf: information reduction factor in (0, 1] applied to every report (1: no clutter).

    Returns:
        ``t_s`` the grid (G,), ``objects`` a list (one per object, in the given order) of dicts with
        ``index``, ``object_id``, ``t_s`` (grid times in flight), ``pos_rms_m`` and ``vel_rms_m_s``
        (``sqrt(trace)`` of the position and velocity blocks of ``J^-1``; NaN before the bound starts
        or while the information is not of full rank), ``cov`` (n, 6, 6) the bound ``J^-1``, ``phase``
        (index into ``PHASES``), ``age_s`` (time since the latest used report, inf before any),
        ``n_reports`` (used), ``t_init_s`` (first bound time, NaN if never);
        and ``q_m2_s3``, ``init``, ``prior_sigma``, ``irf``, ``step_s``, ``n_reports_used``,
        ``n_reports_dropped``, ``wall_s``.

    Raises:
        ValueError: no objects, a report naming an unknown object, or bad parameters.
    """
    wall0 = time.perf_counter()
    objects = list(objects)
    q, ps = _check_args(objects, reports, q, step_s, init, prior_sigma, irf)
    pos_of = {int(o.index): i for i, o in enumerate(objects)}
    truth = np.asarray(reports.truth)
    unknown = np.setdiff1d(truth[truth >= 0], list(pos_of))
    if len(unknown):
        raise ValueError(f"pcrlb: {int(np.isin(truth, unknown).sum())} report(s) name object index(es) "
                         f"{unknown[:5].tolist()} not among the {len(objects)} truth objects")
    t0 = min(o.t_start_s for o in objects)
    t1 = max(o.t_end_s for o in objects)
    grid = np.arange(np.ceil(t0), t1, step_s)
    usable = _usable(reports) if len(reports) else np.zeros(0, bool)
    n_dropped = int((~usable & (truth >= 0)).sum()) if len(reports) else 0

    # ---- per object: events (merged report and grid times), used reports, output rows
    rep_sorted = np.flatnonzero(usable)
    rep_sorted = rep_sorted[np.argsort(truth[rep_sorted], kind="stable")]
    bounds = np.searchsorted(truth[rep_sorted], [int(o.index) for o in objects], side="left")
    ends = np.searchsorted(truth[rep_sorted], [int(o.index) for o in objects], side="right")
    per = []
    for i, o in enumerate(objects):
        sel = rep_sorted[bounds[i]:ends[i]]
        rt = reports.t_s[sel]
        inside = (rt >= o.t_start_s) & (rt <= o.t_end_s)
        n_dropped += int((~inside).sum())
        sel, rt = sel[inside], rt[inside]
        gp, gv, gok = o.trajectory.sample(grid - o.offset_s)
        burning = o.trajectory.burning(grid - o.offset_s)
        g_t = grid[gok]
        entry = {"index": int(o.index), "object_id": getattr(o, "object_id", str(o.index)), "t_s": g_t,
                 "phase": truth_phase(gp[gok], gv[gok], burning[gok]).astype(np.int8),
                 "pos_rms_m": np.full(len(g_t), np.nan), "vel_rms_m_s": np.full(len(g_t), np.nan),
                 "cov": np.full((len(g_t), 6, 6), np.nan), "age_s": np.full(len(g_t), np.inf), "n_reports": 0,
                 "t_init_s": float("nan")}
        per.append(entry)
        if init == "two_point":
            radar_t = np.unique(rt[reports.kind[sel] == KIND_RADAR])
            if len(radar_t) < 2:
                continue
            ta, tb = radar_t[0], radar_t[1]
            keep = ((reports.kind[sel] == KIND_RADAR) & ((rt == ta) | (rt == tb))) | (rt > tb)
            t_first, t_out = ta, tb
        else:
            if not len(rt):
                continue
            keep = np.ones(len(sel), bool)
            t_first = t_out = rt.min()
        sel, rt = sel[keep], rt[keep]
        ev_t = np.unique(np.concatenate([rt, g_t[g_t >= t_first]]))
        entry["n_reports"] = len(sel)
        entry["_ev_t"], entry["_sel"], entry["_t_out"] = ev_t, sel, t_out
        entry["_pos_only"] = rt <= t_out if init == "two_point" else np.zeros(len(sel), bool)

    active = [i for i, e in enumerate(per) if "_ev_t" in e]
    n_used = sum(per[i]["n_reports"] for i in active)
    if active:
        _run(objects, per, active, reports, q, init, ps, irf)
    for e in per:
        for k in [k for k in e if k.startswith("_")]:
            del e[k]
    return {"t_s": grid, "objects": per, "q_m2_s3": tuple(float(v) for v in q), "init": init,
            "prior_sigma": tuple(float(v) for v in ps), "irf": float(irf), "step_s": float(step_s),
            "n_reports_used": int(n_used), "n_reports_dropped": int(n_dropped),
            "wall_s": time.perf_counter() - wall0}


def _run(objects, per, active, reports: ReportBatch, q, init, ps, irf) -> None:
    """Fill ``per[i]`` bounds of the objects ``active`` (all advance together, one step per event index)."""
    # Longest event list first, so the objects still running at step k are a prefix.
    active = sorted(active, key=lambda i: -len(per[i]["_ev_t"]))
    counts = np.array([len(per[i]["_ev_t"]) for i in active])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    E = int(counts.sum())
    ev_t = np.concatenate([per[i]["_ev_t"] for i in active])
    # truth at every event
    x = np.empty((E, 6))
    burning = np.empty(E, bool)
    for s, c, i in zip(starts, counts, active, strict=True):
        o = objects[i]
        p, v, _ = o.trajectory.sample(ev_t[s:s + c] - o.offset_s)
        x[s:s + c, :3], x[s:s + c, 3:] = p, v
        burning[s:s + c] = o.trajectory.burning(ev_t[s:s + c] - o.offset_s)
    phase = truth_phase(x[:, :3], x[:, 3:], burning)

    # measurement information, summed per event
    sel = np.concatenate([per[i]["_sel"] for i in active])
    pos_only = np.concatenate([per[i]["_pos_only"] for i in active])
    row = np.concatenate([s + np.searchsorted(per[i]["_ev_t"], reports.t_s[per[i]["_sel"]])
                          for s, i in zip(starts, active, strict=True)])
    dims = measurement_dims(reports.kind[sel], reports.z[sel])
    dims[pos_only, 3] = False
    H = measurement_jacobian(x[row], reports.sensor_pos_ecef_m[sel], reports.kind[sel], mask=dims)
    used2 = dims[:, :, None] & dims[:, None, :]
    Rm = np.where(used2, np.nan_to_num(reports.cov[sel]), np.eye(4)[None])
    Rinv = np.where(used2, np.linalg.inv(Rm), 0.0)
    info = irf * (np.swapaxes(H, 1, 2) @ Rinv @ H)
    bad = ~np.all(np.isfinite(info), axis=(1, 2))  # e.g. a radar exactly at the zenith of the truth
    info[bad] = 0.0
    I_ev = np.zeros((E, 6, 6))
    np.add.at(I_ev, row, info)

    # transitions between consecutive events of one object, at the truth
    last = np.zeros(E, bool)
    last[starts + counts - 1] = True
    k_int = np.flatnonzero(~last)
    A = np.zeros((E, 6, 6))
    M = np.zeros((E, 6, 6))
    if len(k_int):
        dt = ev_t[k_int + 1] - ev_t[k_int]
        _, F = propagate(x[k_int], dt)
        Ainv = np.linalg.inv(F)
        A[k_int] = Ainv
        M[k_int] = Ainv @ white_acceleration_q(dt, q[phase[k_int]]) @ np.swapaxes(Ainv, 1, 2)

    # the recursion
    J0 = np.zeros((6, 6))
    if init == "diffuse":
        J0 = np.diag(np.r_[np.full(3, 1.0 / ps[0] ** 2), np.full(3, 1.0 / ps[1] ** 2)])
    J = np.empty((E, 6, 6))
    cur = J0[None] + I_ev[starts]
    J[starts] = cur
    for k in range(1, int(counts.max())):
        m = int(np.searchsorted(-counts, -k, side="left"))  # objects 0..m-1 have more than k events
        rows = starts[:m] + k
        cur = _predict_am(cur[:m], A[rows - 1], M[rows - 1]) + I_ev[rows]
        J[rows] = cur

    # the bound at the output grid times
    for s, c, i in zip(starts, counts, active, strict=True):
        e = per[i]
        g = e["t_s"] >= e["_t_out"]
        rows = s + np.searchsorted(ev_t[s:s + c], e["t_s"][g])
        cov, ok = _bound(J[rows])
        e["cov"][g] = cov
        e["pos_rms_m"][g] = np.sqrt(np.trace(cov[:, :3, :3], axis1=1, axis2=2))
        e["vel_rms_m_s"][g] = np.sqrt(np.trace(cov[:, 3:, 3:], axis1=1, axis2=2))
        if ok.any():
            e["t_init_s"] = float(e["t_s"][g][ok][0])
        # time since the latest used report at each grid time
        rt = np.sort(reports.t_s[e["_sel"]])
        j = np.searchsorted(rt, e["t_s"], side="right") - 1
        e["age_s"] = np.where(j >= 0, e["t_s"] - rt[np.maximum(j, 0)], np.inf)


def pcrlb_phase_rms(result: dict, kind: str = "pos", max_age_s: float | None = 5.0, points=None) -> dict:
    """RMS bound per truth phase, ``sqrt(mean(trace(J^-1 block)))`` over the (object, grid time)
    points where the bound is finite: the counterpart of ``score``'s ``rmse_m`` (``kind="pos"``, [m])
    or ``rmse_vel_m_s`` (``kind="vel"``, [m/s]). A phase with no such point gives ``None``.

    ``score`` only counts an object at a grid time when a confirmed track has an estimate at most
    ``max_age_s`` (default 5 s) old; to compare like with like the bound is likewise only counted where
    the object's latest used report is at most ``max_age_s`` old (``None``: every finite point, which
    includes stretches out of every sensor's coverage, where the bound grows with the process noise).

    ``points = (t_s, object_index)`` (two (n,) arrays) restricts the RMS to those (grid time, object)
    pairs, e.g. exactly the truth-track pairs a score counted; ``max_age_s`` still applies.
    """
    key = {"pos": "pos_rms_m", "vel": "vel_rms_m_s"}.get(kind)
    if key is None:
        raise ValueError(f"pcrlb_phase_rms: kind must be 'pos' or 'vel', got {kind!r}")
    objs = result["objects"]
    b = np.concatenate([o[key] for o in objs]) if objs else np.zeros(0)
    ph = np.concatenate([o["phase"] for o in objs]) if objs else np.zeros(0, int)
    age = np.concatenate([o["age_s"] for o in objs]) if objs else np.zeros(0)
    fresh = np.ones(len(b), bool) if max_age_s is None else age <= max_age_s
    if points is not None:
        pt, pi = (np.asarray(a).ravel() for a in points)
        if len(pt) != len(pi):
            raise ValueError(f"pcrlb_phase_rms: points need as many times as object indices, got {len(pt)} "
                             f"and {len(pi)}")
        t_all = np.concatenate([o["t_s"] for o in objs]) if objs else np.zeros(0)
        i_all = np.concatenate([np.full(len(o["t_s"]), o["index"]) for o in objs]) if objs else np.zeros(0, int)
        fresh &= np.isin(t_all + 1j * i_all, pt.astype(float) + 1j * pi.astype(float))
    out = {}
    for i, name in enumerate(PHASES):
        m = (ph == i) & np.isfinite(b) & fresh
        out[name] = float(np.sqrt(np.mean(b[m] ** 2))) if m.any() else None
    return out
