"""Radar model: coverage (horizon, range, elevation, sector), Swerling I Pd, noise, false alarms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from warnlink.geo import aer2ecef, ecef2geodetic, enu2uvw, geodetic2ecef
from warnlink.geo.wgs84 import A_M
from warnlink.sensors import (
    KIND_RADAR,
    ReportBatch,
    detection_probability,
    observe_radar,
    radar_measurement,
    radar_sigmas,
    radar_visible,
)
from warnlink.sensors.radar import FA_ELEVATION_SPAN_RAD, FA_MIN_RANGE_FRACTION
from warnlink.sensors.reports import COLUMNS

Z4 = 4.5  # two-sided normal quantile for the statistical bounds (fixed seeds; ~7e-6 false-fail rate)


def binomial_ok(k: int, n: int, p: float) -> bool:
    """k successes in n trials is within Z4 standard deviations of n p."""
    return abs(k - n * p) <= Z4 * np.sqrt(n * p * (1.0 - p))


def chi2_std_bounds(n: int, sigma: float, alpha: float = 1e-4) -> tuple[float, float]:
    """Two-sided (1 - alpha) bounds of the sample standard deviation of n N(0, sigma^2) draws."""
    lo, hi = stats.chi2.ppf([alpha / 2, 1 - alpha / 2], n - 1)
    return sigma * np.sqrt(lo / (n - 1)), sigma * np.sqrt(hi / (n - 1))


def aer_target(spec, az_deg, el_deg, range_m):
    return np.array(aer2ecef(az_deg, el_deg, range_m, spec.lat_deg, spec.lon_deg, spec.alt_m, deg=True))


def counts_per_object(batch: ReportBatch, n_objects: int) -> np.ndarray:
    return np.bincount(batch.truth[batch.truth >= 0], minlength=n_objects)


# --- coverage -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("site_alt_m", [30.0, 300.0, 2_000.0])
@pytest.mark.parametrize("target_alt_m", [10_000.0, 100_000.0, 600_000.0])
def test_horizon_matches_analytic_equatorial_geometry(radar_spec, static_trajectory, site_alt_m,
                                                       target_alt_m):
    """Site and targets on the equator: the ellipsoid's cross-section is a circle of radius A, so the
    line of sight clears the Earth iff the central angle is below acos(A/(A+h)) + acos(A/(A+H))."""
    spec = radar_spec(lat_deg=0.0, lon_deg=0.0, alt_m=site_alt_m, max_range_m=6_000_000.0,
                      min_elevation_rad=-np.pi / 2, pd_at_max_range=0.9)
    horizon = np.arccos(A_M / (A_M + site_alt_m)) + np.arccos(A_M / (A_M + target_alt_m))
    margin = 3e-4  # rad of central angle (~1.9 km on the ground)
    lons = np.degrees([horizon - margin, horizon + margin, -(horizon - margin), -(horizon + margin)])
    objs = [static_trajectory(geodetic2ecef(0.0, lon, target_alt_m, deg=True)) for lon in lons]
    b = observe_radar(spec, 0, objs, np.arange(30.0), 0.0, np.random.default_rng(1))
    n = counts_per_object(b, 4)
    assert n[0] >= 28 and n[2] >= 28  # just inside the horizon, east and west: seen (Pd ~ 1)
    assert n[1] == 0 and n[3] == 0  # just beyond: never


def test_target_just_below_geometric_horizon_is_masked(radar_spec, static_trajectory):
    """Rays just above / below the tangent to the Earth, built with aer2ecef; both targets are above
    ground, beyond the tangent point, and at (nearly) the same range."""
    h = 300.0
    spec = radar_spec(lat_deg=0.0, lon_deg=0.0, alt_m=h, max_range_m=3_000_000.0,
                      min_elevation_rad=-np.pi / 2, pd_at_max_range=0.9)
    dip = np.degrees(np.arccos(A_M / (A_M + h)))  # depression of the geometric horizon
    tangent_m = np.sqrt((A_M + h) ** 2 - A_M**2)
    eps = np.degrees(5e-4)  # the ray misses / grazes the Earth by ~30 m
    above = aer_target(spec, 90.0, -dip + eps, 2.0 * tangent_m)
    below = aer_target(spec, 90.0, -dip - eps, 2.0 * tangent_m)
    for p in (above, below):
        assert ecef2geodetic(*p)[2] > 0.0  # the masked target is not underground
    b = observe_radar(spec, 0, [static_trajectory(above), static_trajectory(below)], np.arange(20.0), 0.0,
                      np.random.default_rng(2))
    n = counts_per_object(b, 2)
    assert n[0] >= 19
    assert n[1] == 0
    assert radar_visible(spec, np.stack([above, below])).tolist() == [True, False]


def test_minimum_elevation(radar_spec, static_trajectory):
    spec = radar_spec(min_elevation_rad=np.radians(1.0), pd_at_max_range=0.9)
    objs = [static_trajectory(aer_target(spec, 200.0, el, 300_000.0)) for el in (0.5, 0.99, 1.01, 1.5)]
    n = counts_per_object(observe_radar(spec, 0, objs, np.arange(20.0), 0.0, np.random.default_rng(3)), 4)
    assert n[0] == 0 and n[1] == 0
    assert n[2] >= 19 and n[3] >= 19


def test_never_detected_beyond_max_range(radar_spec, static_trajectory):
    spec = radar_spec(max_range_m=800_000.0, pd_at_max_range=0.999)
    ranges = [0.999 * 800e3, 1.001 * 800e3, 1.5 * 800e3]
    objs = [static_trajectory(aer_target(spec, 60.0, 20.0, r)) for r in ranges]
    b = observe_radar(spec, 0, objs, np.arange(500.0), 0.0, np.random.default_rng(4))
    n = counts_per_object(b, 3)
    assert n[0] >= 490  # Pd(0.999 Rmax) ~ 0.999
    assert n[1] == 0 and n[2] == 0


def test_real_flight_reports_respect_coverage(radar_spec, mrbm_flight):
    spec = radar_spec(lat_deg=38.02, lon_deg=138.36, alt_m=400.0, max_range_m=500_000.0,
                      min_elevation_rad=np.radians(2.0), pd_at_max_range=0.9)
    times = np.arange(0.0, 900.0, 1.0)
    b = observe_radar(spec, 3, mrbm_flight.objects, times + 50.0, 50.0, np.random.default_rng(5))
    assert len(b) > 100 and set(np.unique(b.truth)) == {0, 1}
    for k, traj in enumerate(mrbm_flight.objects):
        sel = b.truth == k
        pos, vel, valid = traj.sample(b.t_s[sel] - 50.0)
        assert valid.all()
        m = radar_measurement(spec, pos, vel)
        assert (m[:, 0] <= spec.max_range_m).all() and (m[:, 2] >= spec.min_elevation_rad).all()
        # and the objects were seen during most scans in which they were covered
        pos_all, _, valid_all = traj.sample(times)
        covered = valid_all & radar_visible(spec, pos_all)
        assert sel.sum() == pytest.approx(covered.sum(), rel=0.15)
        assert covered.sum() > 50


@pytest.mark.parametrize(("sector", "inside"), [
    ((300.0, 60.0), [350.0, 10.0, 59.0, 301.0]),
    ((90.0, 180.0), [91.0, 135.0, 179.0]),
])
def test_azimuth_sector(radar_spec, static_trajectory, sector, inside):
    spec = radar_spec(azimuth_sector_deg=sector, pd_at_max_range=0.9, false_alarms_per_scan=3.0)
    azs = [350.0, 10.0, 59.0, 61.0, 180.5, 299.0, 301.0, 91.0, 135.0, 179.0, 89.0, 270.0]
    objs = [static_trajectory(aer_target(spec, az, 10.0, 300_000.0)) for az in azs]
    b = observe_radar(spec, 0, objs, np.arange(20.0), 0.0, np.random.default_rng(6))
    n = counts_per_object(b, len(azs))
    for az, count in zip(azs, n, strict=True):
        if az in inside:
            assert count >= 19, az
        else:
            assert count == 0, az
    fa_az = np.degrees(b.z[b.truth == -1, 1])
    assert len(fa_az) > 30
    start, end = sector
    assert (np.mod(fa_az - start, 360.0) <= np.mod(end - start, 360.0)).all()


# --- detection probability ------------------------------------------------------------------------------


def test_swerling1_curve():
    r_max = 1_000_000.0
    assert detection_probability(r_max, r_max, 0.5, 1e-6) == pytest.approx(0.5, abs=1e-12)
    assert detection_probability(r_max, r_max, 0.8, 1e-4) == pytest.approx(0.8, abs=1e-12)
    r = np.linspace(0.05, 1.5, 200) * r_max
    pd = detection_probability(r, r_max)
    assert (np.diff(pd) < 0).all()
    # SNR at Rmax/2 is 16 times that at Rmax: Pd = pfa ** (1 / (1 + 16 (ln pfa / ln 0.5 - 1)))
    snr_half = 16.0 * (np.log(1e-6) / np.log(0.5) - 1.0)
    assert detection_probability(r_max / 2, r_max) == pytest.approx(1e-6 ** (1 / (1 + snr_half)), rel=1e-12)
    assert detection_probability(r_max / 2, r_max) > 0.95
    assert detection_probability(0.0, r_max) == 1.0


def test_detection_statistics_follow_the_curve(radar_spec, static_trajectory):
    spec = radar_spec(max_range_m=1_000_000.0, pd_at_max_range=0.5, pfa=1e-6)
    fractions = [1.0 - 1e-9, 0.9, 0.75, 0.5]
    objs = [static_trajectory(aer_target(spec, 45.0 + 30 * i, 15.0, f * spec.max_range_m))
            for i, f in enumerate(fractions)]
    n_scans = 4000
    b = observe_radar(spec, 0, objs, np.arange(float(n_scans)), 0.0, np.random.default_rng(7))
    n = counts_per_object(b, len(objs))
    for f, k in zip(fractions, n, strict=True):
        p = float(detection_probability(f * spec.max_range_m, spec.max_range_m))
        assert binomial_ok(int(k), n_scans, p), (f, k / n_scans, p)
    assert binomial_ok(int(n[0]), n_scans, 0.5)
    assert n[-1] / n_scans > 0.94  # near 1 at half the maximum range


# --- measurement model and noise ------------------------------------------------------------------------


def test_radar_measurement_against_independent_geometry(radar_spec, mrbm_flight, linear_trajectory):
    pymap3d = pytest.importorskip("pymap3d")
    spec = radar_spec(lat_deg=38.02, lon_deg=138.36, alt_m=400.0)
    warhead = mrbm_flight.warhead
    t = np.linspace(5.0, warhead.t_end - 5.0, 100)
    pos, vel, valid = warhead.sample(t)
    assert valid.all()
    m = radar_measurement(spec, pos, vel)
    az, el, rng = pymap3d.ecef2aer(pos[:, 0], pos[:, 1], pos[:, 2], spec.lat_deg, spec.lon_deg, spec.alt_m)
    np.testing.assert_allclose(m[:, 0], rng, rtol=0, atol=1e-3)
    np.testing.assert_allclose(m[:, 1], np.radians(az), rtol=0, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], np.radians(el), rtol=0, atol=1e-9)
    # range-rate is d(range)/dt: central difference of the range. Along the real flight the Hermite
    # velocity and the derivative of the Hermite position differ by a few cm/s between nodes.
    dt = 1e-3
    r_plus = radar_measurement(spec, warhead.sample(t + dt)[0], vel)[:, 0]
    r_minus = radar_measurement(spec, warhead.sample(t - dt)[0], vel)[:, 0]
    np.testing.assert_allclose(m[:, 3], (r_plus - r_minus) / (2 * dt), rtol=0, atol=0.1)
    assert np.abs(m[:, 3]).max() > 1_000.0
    # exact on a straight line: range-rate = los . v / |los|, independent of the ECEF orientation
    line = linear_trajectory(pos[0], [2_000.0, -3_000.0, 1_000.0], 0.0, 100.0)
    tl = np.linspace(1.0, 99.0, 50)
    p, v, _ = line.sample(tl)
    ml = radar_measurement(spec, p, v)
    r_fd = (np.linalg.norm(line.sample(tl + dt)[0] - spec.position_ecef_m, axis=1)
            - np.linalg.norm(line.sample(tl - dt)[0] - spec.position_ecef_m, axis=1)) / (2 * dt)
    np.testing.assert_allclose(ml[:, 3], r_fd, rtol=0, atol=1e-4)


@pytest.mark.parametrize("kind", ["radar_xband", "radar_lband"])
def test_noise_statistics_and_covariance(radar_spec, linear_trajectory, kind):
    spec = radar_spec(kind=kind, lat_deg=36.12, lon_deg=128.12, alt_m=680.0, max_range_m=2_000_000.0,
                      pd_at_max_range=0.9, sigma_range_m=10.0, sigma_angle_rad=0.5e-3,
                      sigma_range_rate_m_s=2.0, update_s=0.05)
    p0 = aer_target(spec, 330.0, 20.0, 400_000.0)
    v = np.array(enu2uvw(-1500.0, 2000.0, 300.0, spec.lat_deg, spec.lon_deg, deg=True))  # receding, climbing
    traj = linear_trajectory(p0, v, 0.0, 200.0)
    times = np.arange(0.0, 150.0, 0.05)
    b = observe_radar(spec, 0, [traj], times, 0.0, np.random.default_rng(8))
    n = len(b)
    assert n > 0.98 * len(times) and (b.truth == 0).all()
    pos, vel, _ = traj.sample(b.t_s)
    err = b.z - radar_measurement(spec, pos, vel)
    err[:, 1] = np.mod(err[:, 1] + np.pi, 2 * np.pi) - np.pi
    sig = radar_sigmas(spec)
    used = 4 if kind == "radar_xband" else 3
    for j in range(used):
        lo, hi = chi2_std_bounds(n, sig[j])
        assert lo <= err[:, j].std(ddof=1) <= hi, (j, err[:, j].std(ddof=1), sig[j])
        assert abs(err[:, j].mean()) <= Z4 * sig[j] / np.sqrt(n), j
    expected_cov = np.diag(sig**2)
    if kind == "radar_xband":
        assert spec.measures_range_rate and np.isfinite(b.z).all()
        np.testing.assert_array_equal(b.cov, np.broadcast_to(expected_cov, (n, 4, 4)))
    else:
        assert np.isnan(b.z[:, 3]).all() and np.isfinite(b.z[:, :3]).all()
        assert np.isnan(b.cov[:, 3, :]).all() and np.isnan(b.cov[:, :, 3]).all()
        np.testing.assert_array_equal(b.cov[:, :3, :3], np.broadcast_to(expected_cov[:3, :3], (n, 3, 3)))
    assert np.diag(b.cov[0])[:3] == pytest.approx([100.0, 0.25e-6, 0.25e-6])
    assert ((b.z[:, 1] >= 0) & (b.z[:, 1] < 2 * np.pi)).all()


def test_azimuth_wraps_near_north(radar_spec, static_trajectory):
    spec = radar_spec(sigma_angle_rad=5e-3, pd_at_max_range=0.9)
    b = observe_radar(spec, 0, [static_trajectory(aer_target(spec, 0.0, 10.0, 200_000.0))], np.arange(400.0),
                      0.0, np.random.default_rng(9))
    az = b.z[:, 1]
    assert ((az >= 0) & (az < 2 * np.pi)).all()
    assert (az > np.pi).any() and (az < np.pi).any()  # noise crossed north both ways


# --- false alarms -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "n_scans"), [(0.5, 4000), (0.02, 40000)])
def test_false_alarm_rate_and_distribution(radar_spec, rate, n_scans):
    spec = radar_spec(kind="radar_xband", false_alarms_per_scan=rate, min_elevation_rad=np.radians(0.5))
    times = np.arange(float(n_scans))
    b = observe_radar(spec, 2, [], times, 0.0, np.random.default_rng(10))
    n = len(b)
    assert abs(n - rate * n_scans) <= Z4 * np.sqrt(rate * n_scans)
    assert (b.truth == -1).all()
    r, az, el, rr = b.z.T
    assert (r >= FA_MIN_RANGE_FRACTION * spec.max_range_m).all() and (r <= spec.max_range_m).all()
    assert (el >= spec.min_elevation_rad).all()
    assert (el <= spec.min_elevation_rad + FA_ELEVATION_SPAN_RAD).all()
    assert ((az >= 0) & (az < 2 * np.pi)).all() and np.isfinite(rr).all()
    assert np.isin(b.t_s, times).all()
    np.testing.assert_array_equal(b.arrival_s, b.t_s + spec.radar_latency_s)
    if n > 1000:  # uniform in range: the mean is the middle of the interval
        mid = 0.5 * (1 + FA_MIN_RANGE_FRACTION) * spec.max_range_m
        half = 0.5 * (1 - FA_MIN_RANGE_FRACTION) * spec.max_range_m
        assert abs(r.mean() - mid) <= Z4 * half / np.sqrt(3 * n)
    assert len(observe_radar(spec.without_false_alarms(), 2, [], times, 0.0, np.random.default_rng(10))) == 0


# --- bookkeeping ----------------------------------------------------------------------------------------


def test_offsets_global_indices_and_columns(radar_spec, static_trajectory):
    spec = radar_spec(pd_at_max_range=0.9, false_alarms_per_scan=0.2)
    a = static_trajectory(aer_target(spec, 10.0, 10.0, 300_000.0), t0=0.0, t1=100.0)
    c = static_trajectory(aer_target(spec, 100.0, 10.0, 300_000.0), t0=20.0, t1=60.0)
    times = np.arange(0.0, 300.0, 1.0)
    b = observe_radar(spec, 4, [(a, 50.0, 7), (c, 0.0, 3)], times, rng=np.random.default_rng(11),
                      n_objects_total=8)
    assert set(np.unique(b.truth)) == {-1, 3, 7}
    t7, t3 = b.t_s[b.truth == 7], b.t_s[b.truth == 3]
    assert t7.min() >= 50.0 and t7.max() <= 150.0 and len(t7) >= 95
    assert t3.min() >= 20.0 and t3.max() <= 60.0 and len(t3) >= 38
    assert (np.diff(b.t_s) >= 0).all()
    assert (b.sensor == 4).all() and (b.kind == KIND_RADAR).all()
    assert b.sensor.dtype == np.int32 and b.kind.dtype == np.int8 and b.truth.dtype == np.int32
    np.testing.assert_array_equal(b.sensor_pos_ecef_m, np.broadcast_to(spec.position_ecef_m, (len(b), 3)))
    np.testing.assert_array_equal(b.arrival_s, b.t_s + 0.5)
    # the short form used by warnlink.scenario: generator in the offset slot
    short = observe_radar(spec, 4, [(a, 50.0, 7), (c, 0.0, 3)], times, np.random.default_rng(11))
    for col in ("t_s", "z", "truth"):
        np.testing.assert_array_equal(getattr(short, col), getattr(b, col))
    # plain trajectories: one offset for all, truth = position in the list
    plain = observe_radar(spec, 4, [a, c], times, 100.0, np.random.default_rng(12))
    assert set(np.unique(plain.truth)) <= {-1, 0, 1}
    assert plain.t_s[plain.truth == 1].min() >= 120.0 and plain.t_s[plain.truth == 0].max() <= 200.0
    with pytest.raises(ValueError, match="global index"):
        observe_radar(spec, 4, [(a, 0.0, 8)], times, 0.0, np.random.default_rng(0), n_objects_total=8)
    with pytest.raises(TypeError, match="rng"):
        observe_radar(spec, 4, [a], times, 0.0)


def test_determinism(radar_spec, mrbm_flight):
    spec = radar_spec(kind="radar_xband", lat_deg=38.02, lon_deg=138.36, false_alarms_per_scan=0.1)
    times = np.arange(0.0, 800.0, 0.5)
    runs = [observe_radar(spec, 1, mrbm_flight.objects, times, 0.0, np.random.default_rng(s))
            for s in (42, 42, 43)]
    assert len(runs[0]) > 100

    for col in COLUMNS:
        np.testing.assert_array_equal(getattr(runs[0], col), getattr(runs[1], col))
    assert len(runs[0]) != len(runs[2]) or not np.array_equal(runs[0].z, runs[2].z, equal_nan=True)


def test_not_a_radar(ir_spec):
    with pytest.raises(ValueError, match="not a radar"):
        observe_radar(ir_spec(), 0, [], [0.0], 0.0, np.random.default_rng(0))
