"""Space-based infrared (geostationary) model: boost-phase plume detection as two line-of-sight angles.

All performance here is NOTIONAL (public descriptions say only that such satellites see the hot
plume of a burning motor; the figures below are assumptions for a model):

* **Satellite**: geostationary, fixed in ECEF at geodetic latitude 0, longitude ``spec.lon_deg``,
  height ``spec.alt_m`` above the ellipsoid (``SensorSpec.position_ecef_m``).
* **Nadir frame** (``ir_frame``), right-handed, axes in ECEF:
  ``z`` from the satellite towards the Earth's centre; ``x = normalise(k x p)`` (``p`` the
  satellite's ECEF position, ``k`` the ECEF z axis), i.e. local east; ``y = z x x``, which for a
  geostationary satellite points south (along -k).
* **Measurement**: with ``u`` the unit line of sight from the satellite to the target,
  ``alpha = atan2(u.x, u.z)`` and ``beta = atan2(u.y, u.z)`` [rad] (so ``alpha > 0`` east of nadir,
  ``beta > 0`` south of nadir); ``z`` columns 3 and 4 are NaN. Independent Gaussian noise of
  ``sigma_angle_rad`` on both.
* **Detection**: only while a motor of the object burns (``Trajectory.burning``), above geodetic
  height ``ir_min_alt_m``, with the line of sight clear of the Earth (not behind the limb), with
  probability ``ir_pd`` per frame. No false alarms are modelled.
* **Timing**: a report is valid at the frame time ``t_s`` and arrives ``ir_delay_s`` later.
"""

from __future__ import annotations

import numpy as np

from warnlink.geo import ecef2geodetic, ray_hits_ellipsoid
from warnlink.sensors import _common
from warnlink.sensors.laydown import IR_KINDS, SensorSpec
from warnlink.sensors.reports import KIND_IR, ReportBatch


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def ir_frame(sat_pos_ecef_m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit axes ``(x, y, z)`` of the satellite's nadir frame, in ECEF, each (..., 3).

    ``sat_pos_ecef_m`` (..., 3) [m]. ``z`` points at the Earth's centre, ``x`` east (perpendicular to
    ``z`` and the ECEF z axis), ``y = z x x`` (south for a satellite over the equator). Undefined for
    a satellite on the ECEF z axis (over a pole).
    """
    p = np.asarray(sat_pos_ecef_m, float)
    z = -_unit(p)
    x = _unit(np.cross(np.array([0.0, 0.0, 1.0]), p))
    y = np.cross(z, x)
    return x, y, z


def ir_los_angles(target_pos_ecef_m, sat_pos_ecef_m) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free ``(alpha, beta)`` [rad] of targets at ECEF ``target_pos_ecef_m`` [m] ((..., 3)) seen
    from the satellite at ``sat_pos_ecef_m`` [m] ((3,) or broadcastable): ``alpha = atan2(u.x, u.z)``,
    ``beta = atan2(u.y, u.z)`` with ``u`` the line of sight and ``x, y, z`` from ``ir_frame``."""
    sat = np.asarray(sat_pos_ecef_m, float)
    los = np.asarray(target_pos_ecef_m, float) - sat
    x, y, z = ir_frame(sat)
    lx = np.einsum("...i,...i->...", los, x)
    ly = np.einsum("...i,...i->...", los, y)
    lz = np.einsum("...i,...i->...", los, z)
    return np.arctan2(lx, lz), np.arctan2(ly, lz)


def ir_los_to_ecef_direction(alpha, beta, sat_pos_ecef_m) -> np.ndarray:
    """Unit ECEF direction (..., 3) of the line of sight with angles ``alpha``, ``beta`` [rad] from the
    satellite at ``sat_pos_ecef_m`` [m] (inverse of ``ir_los_angles`` for lines of sight with a
    positive component along the nadir axis, |alpha|, |beta| < pi/2).

    The direction is ``normalise(tan(alpha) x + tan(beta) y + z)``; a point on the ray is
    ``sat_pos_ecef_m + s * direction`` for ``s >= 0`` [m].
    """
    ta = np.tan(np.asarray(alpha, float))[..., None]
    tb = np.tan(np.asarray(beta, float))[..., None]
    x, y, z = ir_frame(sat_pos_ecef_m)
    return _unit(ta * x + tb * y + z)


def ir_visible(spec: SensorSpec, pos_ecef_m, burning) -> np.ndarray:
    """True where the infrared sensor can see an object at ECEF ``pos_ecef_m`` [m] ((..., 3)) whose
    motor state is ``burning`` (bool, (...)): burning, geodetic height >= ``ir_min_alt_m`` and line of
    sight from the satellite not masked by the WGS-84 ellipsoid."""
    pos = np.asarray(pos_ecef_m, float)
    _, _, h = ecef2geodetic(pos[..., 0], pos[..., 1], pos[..., 2])
    sat = np.broadcast_to(spec.position_ecef_m, pos.shape)
    return np.asarray(burning, bool) & (h >= spec.ir_min_alt_m) & ~ray_hits_ellipsoid(sat, pos)


def observe_ir(spec: SensorSpec, sensor_index: int, objects, times_s, t_offset_s=0.0, rng=None,
               n_objects_total: int | None = None, *, sensor_names=(), object_names=()) -> ReportBatch:
    """Simulate one geostationary infrared sensor's reports at the frame times ``times_s``. NOTIONAL.

    Arguments as ``warnlink.sensors.radar.observe_radar``: ``objects`` holds ``Trajectory`` items
    (offset ``t_offset_s`` [s], truth = list position) or ``(trajectory, offset_s, global_index)``
    tuples; ``times_s`` [s after the scenario epoch]; ``rng`` a ``numpy.random.Generator`` (the short
    form ``observe_ir(spec, i, triples, times_s, rng)`` is accepted).

    Returns a ``ReportBatch`` (``kind == KIND_IR``) ordered by time: ``z`` = alpha, beta [rad] in the
    nadir frame (module docstring), NaN, NaN; ``cov`` = diag(sigma^2, sigma^2) with the unused rows and
    columns NaN; ``arrival_s = t_s + ir_delay_s``; ``sensor_pos_ecef_m`` the satellite.
    """
    if spec.kind not in IR_KINDS:
        raise ValueError(f"observe_ir: sensor {spec.sensor_id} is a {spec.kind}, not a space infrared sensor")
    t_offset_s, rng = _common.resolve_offset_and_rng(t_offset_s, rng)
    times = _common.as_times(times_s)
    trajs, offsets, gidx = _common.resolve_objects(objects, t_offset_s, n_objects_total)
    sat = spec.position_ecef_m

    pos, _, in_flight, local = _common.sample_objects(trajs, offsets, times)
    burning = np.zeros(in_flight.shape, bool)
    for k, traj in enumerate(trajs):  # one call per object, vectorised over time
        burning[k] = traj.burning(local[k])
    visible = in_flight & ir_visible(spec, pos, burning)
    draw = rng.random(visible.shape)
    k_idx, t_idx = np.nonzero(visible & (draw < spec.ir_pd))
    alpha, beta = ir_los_angles(pos[k_idx, t_idx], sat)
    noise = rng.standard_normal((len(k_idx), 2)) * spec.sigma_angle_rad
    n = len(k_idx)
    z = np.full((n, 4), np.nan)
    z[:, 0] = alpha + noise[:, 0]
    z[:, 1] = beta + noise[:, 1]
    var = spec.sigma_angle_rad**2
    cov = _common.diagonal_cov(n, [var, var, np.nan, np.nan])
    t_s = times[t_idx]
    return _common.build_batch(t_s, t_s + spec.ir_delay_s, sensor_index, KIND_IR, z, cov, sat, gidx[k_idx],
                               sensor_names, object_names)
