"""Plumbing shared by the radar and infrared models: argument handling, truth sampling, batches."""

from __future__ import annotations

import numbers

import numpy as np

from warnlink.sensors.reports import ReportBatch


def resolve_offset_and_rng(t_offset_s, rng) -> tuple[float, np.random.Generator]:
    """Accept ``(..., t_offset_s, rng)`` and the short form ``(..., rng)`` (offsets in the triples).

    ``rng`` may be a ``numpy.random.Generator`` or anything ``numpy.random.default_rng`` accepts as
    a seed (an int, a ``SeedSequence``); None is refused so that runs are always reproducible.
    """
    if isinstance(t_offset_s, np.random.Generator | np.random.SeedSequence):
        if rng is not None:
            raise TypeError("pass the random generator once (as `rng`), not also as `t_offset_s`")
        t_offset_s, rng = 0.0, t_offset_s
    if rng is None:
        raise TypeError("a random generator `rng` is required (numpy.random.default_rng(seed))")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    if not isinstance(t_offset_s, numbers.Real) or not np.isfinite(t_offset_s):
        raise TypeError(f"t_offset_s must be a finite number of seconds, got {t_offset_s!r}")
    return float(t_offset_s), rng


def resolve_objects(objects, t_offset_s: float, n_objects_total: int | None):
    """Normalise ``objects`` to parallel lists (trajectories, offsets [s], global indices).

    Each item is a ``Trajectory`` (offset ``t_offset_s``, global index = its position in the list)
    or a tuple ``(trajectory, offset_s, global_index)``.
    """
    trajs, offsets, index = [], [], []
    for pos, item in enumerate(objects):
        if isinstance(item, tuple):
            if len(item) != 3:
                raise ValueError(f"object {pos}: expected (trajectory, offset_s, global_index), "
                                 f"got {len(item)} items")
            traj, off, idx = item
        else:
            traj, off, idx = item, t_offset_s, pos
        if not hasattr(traj, "sample"):
            raise TypeError(f"object {pos}: expected a Trajectory, got {type(traj).__name__}")
        idx = int(idx)
        if idx < 0 or (n_objects_total is not None and idx >= n_objects_total):
            raise ValueError(f"object {pos}: global index {idx} outside [0, {n_objects_total})")
        trajs.append(traj)
        offsets.append(float(off))
        index.append(idx)
    return trajs, np.array(offsets, float), np.array(index, np.int32)


def as_times(times_s) -> np.ndarray:
    """Scan times [s after the scenario epoch] as a finite 1-D float array."""
    times = np.atleast_1d(np.asarray(times_s, float)).ravel()
    if not np.all(np.isfinite(times)):
        raise ValueError("times_s must be finite")
    return times


def sample_objects(trajs, offsets: np.ndarray, times: np.ndarray):
    """ECEF positions [m] and velocities [m/s] (K, T, 3), in-flight mask (K, T) and trajectory
    times (K, T) [s after each object's lift-off] of K objects at T scenario times."""
    K, T = len(trajs), len(times)
    pos = np.zeros((K, T, 3))
    vel = np.zeros((K, T, 3))
    valid = np.zeros((K, T), bool)
    local = times[None, :] - offsets[:, None]
    for k, traj in enumerate(trajs):  # one call per object, vectorised over time
        if T:
            pos[k], vel[k], valid[k] = traj.sample(local[k])
    return pos, vel, valid, local


def build_batch(t_s, arrival_s, sensor_index: int, kind: int, z, cov, sensor_pos_ecef_m, truth,
                sensor_names, object_names) -> ReportBatch:
    """A ``ReportBatch`` of one sensor's reports, ordered by measurement time (then truth index)."""
    n = len(t_s)
    order = np.lexsort((truth, t_s))
    return ReportBatch(
        t_s=np.asarray(t_s, float)[order],
        arrival_s=np.asarray(arrival_s, float)[order],
        sensor=np.full(n, sensor_index, np.int32),
        kind=np.full(n, kind, np.int8),
        z=np.asarray(z, float).reshape(n, 4)[order],
        cov=np.asarray(cov, float).reshape(n, 4, 4)[order],
        sensor_pos_ecef_m=np.broadcast_to(np.asarray(sensor_pos_ecef_m, float), (n, 3)).copy(),
        truth=np.asarray(truth, np.int32)[order],
        sensors=list(sensor_names or []),
        objects=list(object_names or []),
    )


def diagonal_cov(n: int, variances) -> np.ndarray:
    """(n, 4, 4) diagonal covariance; a NaN variance makes its whole row and column NaN (unused)."""
    var = np.asarray(variances, float)
    cov = np.zeros((4, 4))
    cov[np.diag_indices(4)] = var
    unused = np.isnan(var)
    cov[unused, :] = np.nan
    cov[:, unused] = np.nan
    return np.broadcast_to(cov, (n, 4, 4)).copy()
