"""Geostationary infrared model: nadir frame, line-of-sight angles, burning-only detection, delay."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from warnlink.geo import ecef2geodetic, geodetic2ecef
from warnlink.geo.wgs84 import A_M
from warnlink.sensors import (
    KIND_IR,
    ReportBatch,
    ir_frame,
    ir_los_angles,
    ir_los_to_ecef_direction,
    observe_ir,
    observe_radar,
)

Z4 = 4.5


def counts_per_object(batch: ReportBatch, n_objects: int) -> np.ndarray:
    return np.bincount(batch.truth[batch.truth >= 0], minlength=n_objects)


def test_nadir_frame(ir_spec):
    sat = ir_spec().position_ecef_m
    x, y, z = ir_frame(sat)
    m = np.stack([x, y, z])
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-15)
    np.testing.assert_allclose(np.cross(x, y), z, atol=1e-15)  # right-handed
    np.testing.assert_allclose(z, -sat / np.linalg.norm(sat), atol=1e-15)
    lon = np.radians(120.0)
    np.testing.assert_allclose(x, [-np.sin(lon), np.cos(lon), 0.0], atol=1e-15)  # east
    np.testing.assert_allclose(y, [0.0, 0.0, -1.0], atol=1e-15)  # south
    # vectorised over satellites
    sats = np.stack([sat, geodetic2ecef(0.0, -75.0, 35_786_000.0, deg=True)])
    xs, _, _ = ir_frame(sats)
    assert xs.shape == (2, 3)
    np.testing.assert_allclose(xs[0], x)


def test_angle_signs(ir_spec):
    sat = ir_spec().position_ecef_m
    pts = np.array([geodetic2ecef(lat, lon, 0.0, deg=True) for lat, lon in
                    [(0.0, 120.0), (10.0, 120.0), (-10.0, 120.0), (0.0, 130.0), (0.0, 110.0)]])
    alpha, beta = ir_los_angles(pts, sat)
    assert abs(alpha[0]) < 1e-12 and abs(beta[0]) < 1e-12  # sub-satellite point is nadir
    assert beta[1] < 0 < beta[2] and abs(alpha[1]) < 1e-12  # north: beta < 0 (y points south)
    assert alpha[3] > 0 > alpha[4] and abs(beta[3]) < 1e-12  # east: alpha > 0
    # the Earth's disc from GEO subtends asin(A / r) ~ 8.7 degrees
    assert np.degrees(np.abs(alpha[3])) < np.degrees(np.arcsin(A_M / np.linalg.norm(sat)))


def test_los_round_trip(ir_spec, static_trajectory):
    """Measure known targets without noise, invert to a direction: the ray passes within 1 m."""
    spec = ir_spec(sigma_angle_rad=0.0, ir_pd=1.0)
    geo = [(39.2, 125.67, 50e3), (40.0, 127.0, 300e3), (-20.0, 150.0, 8e3), (60.0, 80.0, 1_000e3),
           (0.0, 120.0, 100e3), (5.0, 170.0, 20e3)]
    pts = np.array([geodetic2ecef(*g, deg=True) for g in geo])
    objs = [static_trajectory(p, burn=[0.0, 1e4]) for p in pts]
    b = observe_ir(spec, 0, objs, [10.0], 0.0, np.random.default_rng(0))
    assert sorted(b.truth.tolist()) == list(range(len(geo)))
    assert np.isnan(b.z[:, 2:]).all()
    sat = spec.position_ecef_m
    d = ir_los_to_ecef_direction(b.z[:, 0], b.z[:, 1], sat)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-14)
    rel = pts[b.truth] - sat
    along = np.einsum("ij,ij->i", rel, d)
    miss = np.linalg.norm(rel - along[:, None] * d, axis=1)
    assert (along > 0).all()
    assert miss.max() < 1.0
    # and the inverse matches the true unit line of sight to 1e-12 rad
    np.testing.assert_allclose(d, rel / np.linalg.norm(rel, axis=1, keepdims=True), atol=1e-12)


def test_reports_only_while_burning_and_delayed(ir_spec, mrbm_flight):
    offset = 30.0
    spec = ir_spec(ir_pd=1.0, ir_delay_s=37.0)
    frames = np.arange(0.0, 1_000.0, 1.0)
    b = observe_ir(spec, 6, mrbm_flight.objects, frames, offset, np.random.default_rng(1))
    assert len(b) > 0 and (b.truth == 0).all()  # the spent stage never burns on its own
    (burn_start, burn_end), = mrbm_flight.warhead.burn_intervals
    assert burn_end == mrbm_flight.burnout_time_s
    assert b.t_s.max() < offset + mrbm_flight.burnout_time_s
    np.testing.assert_array_equal(b.arrival_s, b.t_s + 37.0)
    assert (b.kind == KIND_IR).all() and (b.sensor == 6).all()
    np.testing.assert_array_equal(b.sensor_pos_ecef_m, np.broadcast_to(spec.position_ecef_m, (len(b), 3)))
    # exactly the frames in which the warhead burns above ir_min_alt_m (it stays visible from GEO)
    pos, _, valid = mrbm_flight.warhead.sample(frames - offset)
    h = ecef2geodetic(pos[:, 0], pos[:, 1], pos[:, 2])[2]
    local = frames - offset
    expected = valid & (local >= burn_start) & (local < burn_end) & (h >= spec.ir_min_alt_m)
    np.testing.assert_array_equal(b.t_s, frames[expected])
    assert expected.sum() > 50


def test_minimum_altitude_and_burn_window(ir_spec, static_trajectory):
    spec = ir_spec(ir_pd=1.0)
    objs = [
        static_trajectory(geodetic2ecef(39.0, 126.0, 4_000.0, deg=True), burn=[0.0, 100.0]),
        static_trajectory(geodetic2ecef(39.0, 126.0, 6_000.0, deg=True), burn=[0.0, 100.0]),
        static_trajectory(geodetic2ecef(39.0, 126.0, 60_000.0, deg=True)),  # never burns
        static_trajectory(geodetic2ecef(39.0, 126.0, 60_000.0, deg=True), burn=[[20.0, 40.0], [60.0, 70.0]]),
    ]
    frames = np.arange(0.0, 200.0, 10.0)
    b = observe_ir(spec, 0, objs, frames, 0.0, np.random.default_rng(2))
    n = counts_per_object(b, 4)
    assert n[0] == 0 and n[2] == 0
    assert n[1] == 10  # frames 0..90
    np.testing.assert_array_equal(b.t_s[b.truth == 3], [20.0, 30.0, 60.0])


def test_earth_limb_masking_matches_analytic(ir_spec, static_trajectory):
    """Burning targets on the equator: visible iff the central angle from the sub-satellite point
    is below acos(A / r_sat) + acos(A / (A + H))."""
    spec = ir_spec(ir_pd=1.0)
    r_sat = np.linalg.norm(spec.position_ecef_m)
    objs, expect = [], []
    for alt in (10e3, 200e3, 1_500e3):
        limb = np.degrees(np.arccos(A_M / r_sat) + np.arccos(A_M / (A_M + alt)))
        for dlon, seen in ((limb - 0.02, True), (limb + 0.02, False), (-(limb - 0.02), True),
                           (-(limb + 0.02), False), (180.0, False)):
            pos = geodetic2ecef(0.0, spec.lon_deg + dlon, alt, deg=True)
            objs.append(static_trajectory(pos, burn=[0, 1e4]))
            expect.append(seen)
    b = observe_ir(spec, 0, objs, [0.0, 10.0], 0.0, np.random.default_rng(3))
    n = counts_per_object(b, len(objs))
    np.testing.assert_array_equal(n, np.where(expect, 2, 0))


def test_detection_probability_and_noise(ir_spec, static_trajectory):
    spec = ir_spec()
    assert spec.ir_pd == 0.95
    target = geodetic2ecef(39.2, 125.67, 80e3, deg=True)
    frames = np.arange(0.0, 40_000.0, 10.0)
    b = observe_ir(spec, 0, [static_trajectory(target, burn=[0.0, 1e6], t1=1e6)], frames, 0.0,
                   np.random.default_rng(4))
    n, N = len(b), len(frames)
    assert abs(n - N * 0.95) <= Z4 * np.sqrt(N * 0.95 * 0.05)
    alpha, beta = ir_los_angles(target, spec.position_ecef_m)
    err = b.z[:, :2] - np.array([alpha, beta])
    sigma = spec.sigma_angle_rad
    lo, hi = stats.chi2.ppf([5e-5, 1 - 5e-5], n - 1)
    for j in range(2):
        assert sigma * np.sqrt(lo / (n - 1)) <= err[:, j].std(ddof=1) <= sigma * np.sqrt(hi / (n - 1))
        assert abs(err[:, j].mean()) <= Z4 * sigma / np.sqrt(n)
    np.testing.assert_array_equal(b.cov[:, 0, 0], sigma**2)
    np.testing.assert_array_equal(b.cov[:, 1, 1], sigma**2)
    assert (b.cov[:, 0, 1] == 0).all()
    assert np.isnan(b.cov[:, 2:, :]).all() and np.isnan(b.cov[:, :, 2:]).all()


def test_determinism_and_concat_with_radar(ir_spec, radar_spec, mrbm_flight):
    spec = ir_spec()
    frames = np.arange(3.0, 400.0, 10.0)
    tr = [(o, 0.0, k) for k, o in enumerate(mrbm_flight.objects)]
    b1 = observe_ir(spec, 0, tr, frames, np.random.default_rng(5))
    b2 = observe_ir(spec, 0, tr, frames, np.random.default_rng(5))
    b3 = observe_ir(spec, 0, tr, frames, np.random.default_rng(6))
    assert len(b1) > 5
    np.testing.assert_array_equal(b1.z, b2.z)
    np.testing.assert_array_equal(b1.t_s, b2.t_s)
    assert not np.array_equal(b1.z, b3.z, equal_nan=True)
    r = observe_radar(radar_spec(lat_deg=38.02, lon_deg=138.36), 1, tr, frames, np.random.default_rng(5))
    both = ReportBatch.concat([b1, r]).sorted_by_arrival()
    assert len(both) == len(b1) + len(r)
    assert set(both.kind.tolist()) == {0, 1}


def test_not_an_ir_sensor(radar_spec):
    with pytest.raises(ValueError, match="not a space infrared"):
        observe_ir(radar_spec(), 0, [], [0.0], 0.0, np.random.default_rng(0))
