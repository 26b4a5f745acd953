"""Measurement models of the tracker against the simulator, finite differences and Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from warnlink.geo import aer2ecef, geodetic2ecef
from warnlink.sensors import SensorSpec
from warnlink.sensors.infrared import ir_los_angles, ir_los_to_ecef_direction
from warnlink.sensors.radar import radar_measurement
from warnlink.sensors.reports import KIND_IR, KIND_RADAR
from warnlink.tracking.measurement import (
    innovation,
    ir_h,
    ir_jacobian,
    measurement_dims,
    measurement_h,
    measurement_jacobian,
    radar_cov_to_ecef,
    radar_h,
    radar_h_and_jacobian,
    radar_jacobian,
    radar_to_ecef,
    wrap_pi,
)

SITES = [(36.0, 128.0, 300.0), (35.3, 139.8, 20.0), (-10.0, 60.0, 0.0), (69.5, -20.0, 1500.0), (13.4, 144.7, 80.0)]
GEO_LONS = [127.5, 140.0, 60.0]
GEO_ALT_M = 35_786_000.0


def _radar_spec(lat, lon, alt, rr=True) -> SensorSpec:
    return SensorSpec(sensor_id="T", nation="TST", kind="radar_xband", name="t", lat_deg=lat, lon_deg=lon,
                      alt_m=alt, max_range_m=5e6, min_elevation_rad=0.0, update_s=1.0, sigma_range_m=10.0,
                      sigma_angle_rad=1e-3, measures_range_rate=rr)


def _site_ecef(lat, lon, alt):
    return np.array(geodetic2ecef(lat, lon, alt, deg=True))


def _targets_aer(rng, lat, lon, alt, az, el, r):
    """States (n, 6) of targets at (az, el, r) from the site, with random velocities up to 7 km/s."""
    p = np.stack(aer2ecef(az, el, r, np.radians(lat), np.radians(lon), alt), axis=-1)
    v = rng.uniform(-7000.0, 7000.0, p.shape)
    return np.concatenate([p, v], axis=-1)


def _random_aer(rng, n):
    """A mix of geometries: general, near the azimuth wrap, high elevation (not zenith), far away."""
    k = n // 4
    az = np.concatenate([rng.uniform(0, 2 * np.pi, k), rng.choice([-1, 1], k) * 10 ** rng.uniform(-12, -3, k),
                         rng.uniform(0, 2 * np.pi, k), rng.uniform(0, 2 * np.pi, n - 3 * k)])
    el = np.concatenate([rng.uniform(-0.1, 1.3, k), rng.uniform(0.0, 1.0, k),
                         np.radians(90.0 - 10 ** rng.uniform(-3, 0.7, k)), rng.uniform(-0.2, 0.3, n - 3 * k)])
    r = np.concatenate([rng.uniform(1e4, 2e6, 3 * k), rng.uniform(2e6, 3e7, n - 3 * k)])
    return az, el, r


def _all_radar_targets(rng, n_per_site=400):
    xs, sites = [], []
    for lat, lon, alt in SITES:
        az, el, r = _random_aer(rng, n_per_site)
        xs.append(_targets_aer(rng, lat, lon, alt, az, el, r))
        sites.append(np.broadcast_to(_site_ecef(lat, lon, alt), (n_per_site, 3)))
    return np.concatenate(xs), np.concatenate(sites)


def _ir_targets(rng, n):
    lat = rng.uniform(-60, 60, n)
    lon = rng.uniform(60, 200, n)
    h = rng.uniform(0, 2e6, n)
    p = np.stack(geodetic2ecef(lat, lon, h, deg=True), axis=-1)
    return np.concatenate([p, rng.uniform(-7000, 7000, (n, 3))], axis=-1)


def _fd_jacobian(f, x, steps, wrap_rows=()):
    """Five-point central differences of f (N, m) at x (N, 6) with per-pair, per-state steps (N, 6)
    (rounded to powers of two, so that x +- h and x +- 2h are exact); rows in ``wrap_rows`` are angles
    whose differences are wrapped to (-pi, pi]."""
    steps = 2.0 ** np.round(np.log2(steps))
    n, m = len(x), f(x).shape[1]
    J = np.zeros((n, m, 6))

    def diff(a, b):
        d = a - b
        for row in wrap_rows:
            d[:, row] = wrap_pi(d[:, row])
        return d

    for j in range(6):  # loop over state components only; pairs are vectorised
        shifted = []
        for k in (-2, -1, 1, 2):
            xs = x.copy()
            xs[:, j] += k * steps[:, j]
            shifted.append(f(xs))
        fm2, fm1, fp1, fp2 = shifted
        J[:, :, j] = (8.0 * diff(fp1, fm1) - diff(fp2, fm2)) / (12.0 * steps[:, j, None])
    return J


def _row_rel_err(Ja, Jn):
    """Per-row error norm relative to the row norm, (N, m)."""
    return np.linalg.norm(Ja - Jn, axis=-1) / np.linalg.norm(Jn, axis=-1)


# ---------------------------------------------------------------------------------------------- h


def test_radar_h_matches_simulator():
    rng = np.random.default_rng(1)
    worst = np.zeros(4)
    for lat, lon, alt in SITES:
        az, el, r = _random_aer(rng, 400)
        x = _targets_aer(rng, lat, lon, alt, az, el, r)
        ref = radar_measurement(_radar_spec(lat, lon, alt), x[:, :3], x[:, 3:6])
        got = radar_h(x, _site_ecef(lat, lon, alt), True)
        err = np.stack([np.abs(got[:, 0] - ref[:, 0]) / ref[:, 0],
                        np.abs(wrap_pi(got[:, 1] - ref[:, 1])),
                        np.abs(got[:, 2] - ref[:, 2]),
                        np.abs(got[:, 3] - ref[:, 3]) / np.linalg.norm(x[:, 3:6], axis=1)], axis=-1)
        worst = np.maximum(worst, err.max(axis=0))
        assert np.all((got[:, 1] >= 0) & (got[:, 1] < 2 * np.pi))
    assert np.all(worst < 1e-9), worst


def test_radar_h_range_rate_flag_and_wide_states():
    rng = np.random.default_rng(2)
    x, site = _all_radar_targets(rng, 20)
    flag = rng.random(len(x)) < 0.5
    x9 = np.concatenate([x, rng.normal(size=(len(x), 3))], axis=1)  # extra states are ignored
    z = radar_h(x9, site, flag)
    assert np.array_equal(np.isnan(z[:, 3]), ~flag)
    full = radar_h(x, site, True)
    np.testing.assert_array_equal(z[flag], full[flag])
    np.testing.assert_array_equal(z[:, :3], full[:, :3])
    assert np.all(np.isnan(radar_h(x, site, False)[:, 3]))
    # One site for all pairs, shared Jacobian routine agrees.
    one = radar_h(x[:20], site[0])
    np.testing.assert_array_equal(one, radar_h(x[:20], site[:20]))
    zh, H = radar_h_and_jacobian(x, site, flag)
    np.testing.assert_array_equal(zh, z)
    np.testing.assert_array_equal(H, radar_jacobian(x, site))


def test_ir_h_matches_simulator():
    rng = np.random.default_rng(3)
    x = _ir_targets(rng, 3000)
    for lon in GEO_LONS:
        sat = _site_ecef(0.0, lon, GEO_ALT_M)
        a, b = ir_los_angles(x[:, :3], sat)
        got = ir_h(x, np.broadcast_to(sat, (len(x), 3)))
        assert np.max(np.abs(got[:, 0] - a)) <= 1e-9 * np.max(np.abs(a))
        assert np.max(np.abs(got[:, 1] - b)) <= 1e-9 * np.max(np.abs(b))
        # and the simulator's inverse points back along the line of sight
        u = ir_los_to_ecef_direction(got[:, 0], got[:, 1], sat)
        los = x[:, :3] - sat
        cos = np.einsum("ni,ni->n", u, los) / np.linalg.norm(los, axis=1)
        assert np.all(cos > 1 - 1e-12)


# ---------------------------------------------------------------------------------------- Jacobians


def test_radar_jacobian_matches_finite_differences():
    rng = np.random.default_rng(4)
    x, site = _all_radar_targets(rng, 400)
    z = radar_h(x, site)
    rho = z[:, 0] * np.cos(z[:, 2])
    # Position step: a small fraction of the horizontal distance (the curvature scale of az and, near
    # the zenith, of el);
    # range-rate is linear in velocity, any velocity step is exact.
    steps = np.concatenate([np.repeat(1e-3 * rho[:, None], 3, 1), np.full((len(x), 3), 1.0)], axis=1)
    Ja = radar_jacobian(x, site)
    Jn = _fd_jacobian(lambda s: radar_h(s, site), x, steps, wrap_rows=(1,))
    err = _row_rel_err(Ja, Jn)
    assert np.all(np.isfinite(err))
    assert err.max() < 1e-6, err.max(axis=0)
    # Near-wrap and high-elevation cases are really in the sample.
    assert np.any(np.minimum(z[:, 1], 2 * np.pi - z[:, 1]) < 1e-9)
    assert np.any(z[:, 2] > np.radians(89.99))
    assert np.any(z[:, 0] > 2e7)
    # range, az, el do not depend on velocity; range-rate on velocity through the line of sight
    np.testing.assert_array_equal(Ja[:, :3, 3:], 0.0)


def test_ir_jacobian_matches_finite_differences():
    rng = np.random.default_rng(5)
    x = _ir_targets(rng, 2000)
    for lon in GEO_LONS:
        sat = np.broadcast_to(_site_ecef(0.0, lon, GEO_ALT_M), (len(x), 3))
        r = np.linalg.norm(x[:, :3] - sat, axis=1)
        steps = np.concatenate([np.repeat(1e-3 * r[:, None], 3, 1), np.ones((len(x), 3))], axis=1)
        Ja = ir_jacobian(x, sat)
        Jn = _fd_jacobian(lambda s, sat=sat: ir_h(s, sat), x, steps)
        err = _row_rel_err(Ja, Jn)
        assert err.max() < 1e-6, err.max(axis=0)
        np.testing.assert_array_equal(Ja[:, :, 3:], 0.0)


# ------------------------------------------------------------------------------ conversion, initiation


def test_radar_to_ecef_inverts_radar_h():
    rng = np.random.default_rng(6)
    x, site = _all_radar_targets(rng, 400)
    z = radar_h(x, site, False)
    p = radar_to_ecef(z, site)
    err = np.linalg.norm(p - x[:, :3], axis=1)
    assert err.max() < 1e-6, err.max()


@pytest.mark.parametrize("sig_r, sig_a, r, az, el", [
    (50.0, 2e-4, 800e3, 0.3, 0.2),
    (10.0, 1e-4, 2000e3, 6.28, 0.02),
    (100.0, 5e-4, 150e3, 3.5, 1.2),
])
def test_converted_covariance_matches_monte_carlo(sig_r, sig_a, r, az, el):
    rng = np.random.default_rng(7)
    site = _site_ecef(36.0, 128.0, 300.0)
    n = 20_000
    z0 = np.array([r, az, el])
    R = np.diag([sig_r**2, sig_a**2, sig_a**2])
    samples = z0 + rng.standard_normal((n, 3)) * np.sqrt(np.diag(R))
    p = radar_to_ecef(samples, site)
    C = radar_cov_to_ecef(z0[None], R[None], site)[0]
    # Whitened sample covariance should be I: diagonal sd sqrt(2/n), off-diagonal sd sqrt(1/n).
    L = np.linalg.cholesky(C)
    w = np.linalg.solve(L, (p - p.mean(axis=0)).T).T
    W = w.T @ w / (n - 1)
    assert np.max(np.abs(W - np.eye(3))) < 5.0 * np.sqrt(2.0 / n), W
    # The mean maps to the converted point (bias r * sig_a^2 is far below the spread).
    mean_w = np.linalg.solve(L, p.mean(axis=0) - radar_to_ecef(z0[None], site)[0])
    assert np.all(np.abs(mean_w) < 5.0 / np.sqrt(n))
    # A report's (4, 4) covariance with NaN range-rate rows is accepted.
    R4 = np.full((4, 4), np.nan)
    R4[:3, :3] = R
    np.testing.assert_array_equal(radar_cov_to_ecef(z0[None], R4[None], site)[0], C)


# ------------------------------------------------------------------------------------ innovations


def test_innovation_wraps_radar_azimuth_only():
    z = np.array([[1000.0, 0.01, 0.5, np.nan],
                  [1000.0, 6.27, 0.5, 3.0],
                  [1000.0, np.pi, 0.5, np.nan],
                  [0.01, 3.1, np.nan, np.nan]])
    zhat = np.array([[990.0, 6.27, 0.4, 1.0],
                     [1000.0, 0.01, 0.5, 1.0],
                     [1000.0, 0.0, 0.5, 1.0],
                     [-0.01, -3.1, np.nan, np.nan]])
    kind = np.array([KIND_RADAR, KIND_RADAR, KIND_RADAR, KIND_IR])
    nu = innovation(z, zhat, kind)
    two_pi = 2 * np.pi
    np.testing.assert_allclose(nu[0, :3], [10.0, 0.01 - 6.27 + two_pi, 0.1], rtol=1e-12)
    assert np.isnan(nu[0, 3])
    np.testing.assert_allclose(nu[1], [0.0, 6.27 - 0.01 - two_pi, 0.0, 2.0], rtol=1e-12)
    assert nu[2, 1] == np.pi  # (-pi, pi]
    np.testing.assert_allclose(nu[3, :2], [0.02, 6.2])  # infrared: not wrapped
    # wrap_pi edge cases
    a = np.array([-np.pi, np.pi, 3 * np.pi, -3 * np.pi, 0.0, -1e-300, 2 * np.pi, 7.0])
    w = wrap_pi(a)
    assert np.all((w > -np.pi) & (w <= np.pi))
    np.testing.assert_allclose(np.cos(w), np.cos(a), atol=1e-15)
    np.testing.assert_allclose(np.sin(w), np.sin(a), atol=1e-12)
    # scalar kind for a whole batch
    np.testing.assert_array_equal(innovation(z[:3], zhat[:3], KIND_RADAR), nu[:3])


def test_mixed_batch_dims_h_and_jacobian():
    rng = np.random.default_rng(8)
    xr, site = _all_radar_targets(rng, 10)
    xi = _ir_targets(rng, len(xr))
    sat = np.broadcast_to(_site_ecef(0.0, 127.5, GEO_ALT_M), (len(xi), 3))
    kind = np.where(np.arange(2 * len(xr)) % 2 == 0, KIND_RADAR, KIND_IR)
    x = np.empty((2 * len(xr), 6))
    sensor = np.empty((2 * len(xr), 3))
    x[kind == KIND_RADAR], x[kind == KIND_IR] = xr, xi
    sensor[kind == KIND_RADAR], sensor[kind == KIND_IR] = site, sat
    has_rr = rng.random(len(xr)) < 0.5
    z = np.full((len(x), 4), np.nan)
    z[kind == KIND_RADAR] = radar_h(xr, site, has_rr)
    z[kind == KIND_IR, :2] = ir_h(xi, sat)

    mask = measurement_dims(kind, z)
    assert np.array_equal(mask[kind == KIND_IR], np.tile([True, True, False, False], (len(xi), 1)))
    assert np.all(mask[kind == KIND_RADAR, :3])
    assert np.array_equal(mask[kind == KIND_RADAR, 3], has_rr)
    assert np.array_equal(mask, np.isfinite(z))
    assert not measurement_dims(kind)[:, 3].any()

    zh = measurement_h(x, sensor, kind, mask)
    np.testing.assert_array_equal(np.isnan(zh), ~mask)
    np.testing.assert_array_equal(zh[mask], z[mask])
    H = measurement_jacobian(x, sensor, kind, mask)
    np.testing.assert_array_equal(H[~mask], 0.0)
    Hr = radar_jacobian(xr, site)
    np.testing.assert_array_equal(H[kind == KIND_RADAR][:, :3], Hr[:, :3])
    np.testing.assert_array_equal(H[kind == KIND_IR][:, :2], ir_jacobian(xi, sat))
    # picking the active rows for one report
    i = int(np.flatnonzero(kind == KIND_RADAR)[0])
    assert innovation(z[i][mask[i]][None], zh[i][mask[i]][None], kind[i]).shape == (1, int(mask[i].sum()))
