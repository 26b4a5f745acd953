"""Ground- and ship-based radar model: coverage, Earth masking, detection probability, noise, false alarms.

All performance here is NOTIONAL (a plausible textbook model, not any real radar's figures):

* **Coverage**: slant range <= ``max_range_m``, elevation >= ``min_elevation_rad``, azimuth inside
  the sector (if any), and the straight line of sight clear of the WGS-84 ellipsoid (no refraction).
* **Detection**: Swerling I target, square-law detector, single scan: ``Pd = pfa ** (1 / (1 + SNR))``
  with ``SNR(R) = SNR_ref * (R_max / R) ** 4`` and ``SNR_ref`` set so that
  ``Pd(max_range_m) = pd_at_max_range``. Scans are independent (scan-to-scan fluctuation).
* **Measurement**: range [m], azimuth [rad, from north clockwise, in [0, 2pi)], elevation [rad,
  above the local ellipsoid-normal horizontal], range-rate [m/s, d(range)/dt, positive receding;
  only ``measures_range_rate`` radars], each with independent zero-mean Gaussian noise of the spec's
  sigma (the same angle sigma on azimuth and elevation).
* **False alarms**: Poisson(``false_alarms_per_scan``) per scan, uniform in range over
  ``[0.1, 1] * max_range_m``, in azimuth over the sector, in elevation over
  ``[min_el, min_el + 60 deg]`` and (where measured) in range-rate over +-``FA_MAX_RANGE_RATE_M_S``;
  their ``truth`` is -1.
* **Timing**: a report is valid at the scan time ``t_s`` and arrives ``radar_latency_s`` later.
"""

from __future__ import annotations

import numpy as np

from warnlink.geo import ecef2aer, ray_hits_ellipsoid
from warnlink.sensors import _common
from warnlink.sensors.laydown import SensorSpec
from warnlink.sensors.reports import KIND_RADAR, ReportBatch

MASK_SHRINK_M = 5.0
"""The ellipsoid is shrunk by this much [m] for the Earth-masking test so that a site on (or just
above) the surface does not mask itself."""
FA_MIN_RANGE_FRACTION = 0.1
"""False alarms are uniform in range over [FA_MIN_RANGE_FRACTION, 1] * max_range_m (NOTIONAL)."""
FA_ELEVATION_SPAN_RAD = np.radians(60.0)
"""False alarms are uniform in elevation over [min_el, min_el + FA_ELEVATION_SPAN_RAD] (NOTIONAL)."""
FA_MAX_RANGE_RATE_M_S = 5_000.0
"""False alarms' range-rate is uniform over +- this [m/s] (NOTIONAL)."""


def swerling1_snr_ref(pd_at_max_range: float, pfa: float) -> float:
    """Linear SNR at maximum range that gives ``Pd = pd_at_max_range`` for a Swerling I target at
    false-alarm probability ``pfa``: ``ln(pfa) / ln(pd) - 1``."""
    return float(np.log(pfa) / np.log(pd_at_max_range) - 1.0)


def detection_probability(range_m, max_range_m: float, pd_at_max_range: float = 0.5, pfa: float = 1e-6):
    """Single-scan Swerling I detection probability at slant range ``range_m`` [m] (any shape).

    ``Pd = pfa ** (1 / (1 + SNR))``, ``SNR = SNR_ref * (max_range_m / range_m) ** 4``; equals
    ``pd_at_max_range`` at ``max_range_m``, tends to 1 at short range and to ``pfa`` far beyond
    (the coverage test, not this curve, cuts reports off at ``max_range_m``). NOTIONAL.
    """
    r = np.asarray(range_m, float)
    snr_ref = swerling1_snr_ref(pd_at_max_range, pfa)
    with np.errstate(divide="ignore", over="ignore"):
        snr = snr_ref * (max_range_m / r) ** 4
    return pfa ** (1.0 / (1.0 + snr))


def radar_measurement(spec: SensorSpec, pos_ecef_m, vel_ecef_m_s) -> np.ndarray:
    """Noise-free radar measurement of targets at ECEF ``pos_ecef_m`` [m] moving at ``vel_ecef_m_s``
    [m/s] (both (..., 3)), seen from the site of ``spec``.

    Returns (..., 4): range [m], azimuth [rad, from north clockwise, [0, 2pi)], elevation [rad],
    range-rate [m/s] (always computed here, whatever ``spec.measures_range_rate``). The site is fixed
    in ECEF, so range-rate is the target's ECEF velocity projected on the line of sight.
    """
    pos = np.asarray(pos_ecef_m, float)
    vel = np.asarray(vel_ecef_m_s, float)
    az, el, rng = ecef2aer(pos[..., 0], pos[..., 1], pos[..., 2],
                           np.radians(spec.lat_deg), np.radians(spec.lon_deg), spec.alt_m)
    los = pos - spec.position_ecef_m
    with np.errstate(invalid="ignore", divide="ignore"):
        rr = np.einsum("...i,...i->...", los, vel) / rng
    return np.stack([rng, az, el, np.where(rng > 0, rr, 0.0)], axis=-1)


def wrap_2pi(angle_rad):
    """Angle [rad] wrapped to [0, 2pi) (``np.mod`` alone can return 2pi for tiny negative angles)."""
    a = np.mod(np.asarray(angle_rad, float), 2.0 * np.pi)
    return np.where(a >= 2.0 * np.pi, 0.0, a)


def in_azimuth_sector(az_rad, sector_deg: tuple[float, float] | None) -> np.ndarray:
    """True where azimuth ``az_rad`` [rad, from north clockwise] lies in the clockwise sector
    ``(start, end)`` [deg] (may wrap through north); all True for ``None`` (360 degrees)."""
    az = np.asarray(az_rad, float)
    if sector_deg is None:
        return np.ones(az.shape, bool)
    start, end = np.radians(sector_deg[0]), np.radians(sector_deg[1])
    width = np.mod(end - start, 2.0 * np.pi)
    return np.mod(az - start, 2.0 * np.pi) <= width


def radar_visible(spec: SensorSpec, pos_ecef_m, measurement=None) -> np.ndarray:
    """True where a target at ECEF ``pos_ecef_m`` [m] ((..., 3)) is inside the radar's coverage:
    range <= ``max_range_m``, elevation >= ``min_elevation_rad``, inside the azimuth sector and not
    masked by the Earth (``ray_hits_ellipsoid`` with the ellipsoid shrunk by ``MASK_SHRINK_M``).

    ``measurement`` is the matching output of ``radar_measurement`` if already computed.
    """
    pos = np.asarray(pos_ecef_m, float)
    if measurement is None:
        measurement = radar_measurement(spec, pos, np.zeros_like(pos))
    rng, az, el = measurement[..., 0], measurement[..., 1], measurement[..., 2]
    ok = (rng <= spec.max_range_m) & (el >= spec.min_elevation_rad)
    ok &= in_azimuth_sector(az, spec.azimuth_sector_deg)
    site = np.broadcast_to(spec.position_ecef_m, pos.shape)
    return ok & ~ray_hits_ellipsoid(site, pos, shrink_m=MASK_SHRINK_M)


def radar_sigmas(spec: SensorSpec) -> np.ndarray:
    """1-sigma noise (4,): range [m], azimuth [rad], elevation [rad], range-rate [m/s] (NaN if the
    radar does not measure range-rate)."""
    srr = spec.sigma_range_rate_m_s if spec.measures_range_rate else np.nan
    return np.array([spec.sigma_range_m, spec.sigma_angle_rad, spec.sigma_angle_rad, srr], float)


def observe_radar(spec: SensorSpec, sensor_index: int, objects, times_s, t_offset_s=0.0, rng=None,
                  n_objects_total: int | None = None, *, sensor_names=(), object_names=()) -> ReportBatch:
    """Simulate one radar's reports of ``objects`` at the scan times ``times_s``. NOTIONAL performance.

    Args:
        spec: the radar (a ``RADAR_KINDS`` sensor).
        sensor_index: value of the ``sensor`` column (index into the run's sensor table).
        objects: list whose items are either a ``Trajectory`` — its trajectory time is
            ``scenario time - t_offset_s`` and its ``truth`` index its position in the list — or a
            tuple ``(trajectory, offset_s, global_index)`` carrying its own launch time [s after the
            scenario epoch] and global object index (what ``warnlink.scenario`` passes).
        times_s: scan times [s after the scenario epoch], 1-D.
        t_offset_s: launch time [s after the scenario epoch] of plain ``Trajectory`` items. The short
            form ``observe_radar(spec, i, triples, times_s, rng)`` (generator in this slot) is accepted.
        rng: ``numpy.random.Generator`` (or a seed for ``default_rng``); required.
        n_objects_total: if given, global indices must be below it (ValueError otherwise).
        sensor_names, object_names: name tables stored in the batch (``ReportBatch.sensors`` /
            ``.objects``); empty by default so batches of different sensors concatenate.

    Returns:
        A ``ReportBatch`` (``kind == KIND_RADAR``) ordered by time: ``z`` = range [m], azimuth [rad],
        elevation [rad], range-rate [m/s] (NaN unless measured); ``cov`` diagonal (range-rate row and
        column NaN unless measured); ``arrival_s = t_s + radar_latency_s``; ``sensor_pos_ecef_m`` the
        site; ``truth`` the global object index, -1 for false alarms.
    """
    if not spec.is_radar:
        raise ValueError(f"observe_radar: sensor {spec.sensor_id} is a {spec.kind}, not a radar")
    t_offset_s, rng = _common.resolve_offset_and_rng(t_offset_s, rng)
    times = _common.as_times(times_s)
    trajs, offsets, gidx = _common.resolve_objects(objects, t_offset_s, n_objects_total)
    site = spec.position_ecef_m
    sig = radar_sigmas(spec)

    # Targets: coverage and Swerling I draw for every (object, scan), then noise on the detections.
    pos, vel, in_flight, _ = _common.sample_objects(trajs, offsets, times)
    meas = radar_measurement(spec, pos, vel)  # (K, T, 4)
    visible = in_flight & radar_visible(spec, pos, meas)
    pd = detection_probability(meas[..., 0], spec.max_range_m, spec.pd_at_max_range, spec.pfa)
    draw = rng.random(visible.shape)
    k_idx, t_idx = np.nonzero(visible & (draw < pd))
    z_det = meas[k_idx, t_idx] + rng.standard_normal((len(k_idx), 4)) * np.nan_to_num(sig)
    t_det, truth_det = times[t_idx], gidx[k_idx]

    # False alarms: Poisson count per scan, uniform over the coverage volume described above.
    counts = rng.poisson(spec.false_alarms_per_scan, len(times))
    n_fa = int(counts.sum())
    t_fa = np.repeat(times, counts)
    u = rng.random((n_fa, 4))
    if spec.azimuth_sector_deg is None:
        az0, width = 0.0, 2.0 * np.pi
    else:
        az0 = np.radians(spec.azimuth_sector_deg[0])
        width = np.mod(np.radians(spec.azimuth_sector_deg[1]) - az0, 2.0 * np.pi)
    z_fa = np.stack([
        spec.max_range_m * (FA_MIN_RANGE_FRACTION + (1.0 - FA_MIN_RANGE_FRACTION) * u[:, 0]),
        az0 + width * u[:, 1],
        spec.min_elevation_rad + FA_ELEVATION_SPAN_RAD * u[:, 2],
        FA_MAX_RANGE_RATE_M_S * (2.0 * u[:, 3] - 1.0),
    ], axis=-1)

    z = np.concatenate([z_det, z_fa])
    z[:, 1] = wrap_2pi(z[:, 1])
    if not spec.measures_range_rate:
        z[:, 3] = np.nan
    t_s = np.concatenate([t_det, t_fa])
    truth = np.concatenate([truth_det, np.full(n_fa, -1, np.int32)])
    cov = _common.diagonal_cov(len(t_s), sig**2)
    return _common.build_batch(t_s, t_s + spec.radar_latency_s, sensor_index, KIND_RADAR, z, cov, site, truth,
                               sensor_names, object_names)
