"""Unscented (cubature) Kalman steps: exactly the Kalman filter on a linear model; the prediction through
the ballistic model against Monte Carlo truth; NEES over Monte Carlo runs with radar measurements."""

import numpy as np
import pytest
from scipy.stats import chi2

from warnlink.geo import aer2ecef, geodetic2ecef
from warnlink.physics import CLASSES, fly
from warnlink.physics.flight import PhysicsOptions
from warnlink.sensors.reports import KIND_RADAR
from warnlink.tracking.kalman import update
from warnlink.tracking.measurement import innovation, radar_h, radar_jacobian
from warnlink.tracking.motion import propagate, white_acceleration_q
from warnlink.tracking.unscented import (
    psd_sqrt,
    sigma_points,
    statistical_linearisation,
    ukf_predict,
    ukf_update,
    weights,
)

SITE = np.array(geodetic2ecef(37.0, 127.0, 100.0, deg=True))


def _spd(rng, n, scale=1.0):
    A = rng.normal(size=(n, n))
    return scale * (A @ A.T + n * np.eye(n))


def test_weights_and_sigma_points_reproduce_mean_and_covariance():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 6))
    P = np.stack([_spd(rng, 6) for _ in range(5)])
    for kw in ({}, {"alpha": 0.5, "beta": 2.0, "kappa": 0.0}, {"alpha": 1.0, "beta": 2.0, "kappa": 1.0}):
        X, wm, wc = sigma_points(x, P, **kw)
        assert X.shape == (5, 13, 6) and wm.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(np.einsum("k,nki->ni", wm, X), x, atol=1e-12)
        D = X - x[:, None]
        np.testing.assert_allclose(np.einsum("k,nki,nkj->nij", wc, D, D), P, rtol=1e-10, atol=1e-10)
    wm, wc, _ = weights(6)
    assert wm[0] == 0.0 and np.all(wm[1:] > 0)  # the default is the cubature rule: no negative weight
    with pytest.raises(ValueError, match="lambda"):
        weights(6, alpha=1.0, kappa=-6.0)


def test_psd_sqrt_of_singular_and_slightly_indefinite_matrices():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(6, 3))
    singular = A @ A.T  # rank 3
    indefinite = singular - 1e-9 * np.eye(6)
    L = psd_sqrt(np.stack([singular, indefinite, np.eye(6)]))
    assert np.all(np.isfinite(L))
    np.testing.assert_allclose(L[0] @ L[0].T, singular, atol=1e-8)
    np.testing.assert_allclose(L[1] @ L[1].T, singular, atol=1e-7)
    np.testing.assert_allclose(L[2], np.eye(6))


def test_linear_model_is_exactly_the_kalman_filter():
    rng = np.random.default_rng(0)
    n, m, N = 6, 3, 4
    F = np.eye(n) + 0.1 * rng.normal(size=(n, n))
    H = rng.normal(size=(m, n))
    x = rng.normal(size=(N, n))
    P = np.stack([_spd(rng, n) for _ in range(N)])
    Q = np.stack([_spd(rng, n, 0.01) for _ in range(N)])
    R = np.stack([_spd(rng, m, 0.5) for _ in range(N)])
    xp, Pp = ukf_predict(x, P, lambda X: X @ F.T, Q)
    np.testing.assert_allclose(xp, x @ F.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Pp, F @ P @ F.T + Q, rtol=1e-10, atol=1e-10)
    z = rng.normal(size=(N, m))
    xu, Pu, S, nis = ukf_update(xp, Pp, z, lambda X: X @ H.T, R)
    xk, Pk, Sk, nisk = update(xp, Pp, z - xp @ H.T, np.broadcast_to(H, (N, m, n)), R)
    np.testing.assert_allclose(xu, xk, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(Pu, Pk, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(S, Sk, rtol=1e-9)
    np.testing.assert_allclose(nis, nisk, rtol=1e-8)


def test_ballistic_prediction_matches_monte_carlo_truth():
    """A midcourse state with 2 km / 50 m/s uncertainty, 120 s ahead: the cubature prediction's mean and
    covariance agree with 20 000 propagated samples within their sampling error; the EKF's differs more."""
    rng = np.random.default_rng(7)
    p = np.array(geodetic2ecef(39.0, 131.0, 400e3, deg=True))
    v = 3000.0 * np.array([0.6, 0.2, 0.3]) / np.linalg.norm([0.6, 0.2, 0.3])
    x = np.hstack([p, v])[None]
    P = np.diag([2000.0**2] * 3 + [50.0**2] * 3)[None]
    dt = 120.0
    xu, Pu = ukf_predict(x, P, lambda X: propagate(X, dt, with_stm=False)[0], np.zeros((1, 6, 6)))
    samples = rng.multivariate_normal(x[0], P[0], size=20_000)
    ys = propagate(samples, dt, with_stm=False)[0]
    mc_mean, mc_cov = ys.mean(axis=0), np.cov(ys.T)
    sd = np.sqrt(np.diag(mc_cov))
    assert np.all(np.abs(xu[0] - mc_mean) < 4 * sd / np.sqrt(len(ys)) + 1e-3 * sd)
    np.testing.assert_allclose(np.sqrt(np.diag(Pu[0])), sd, rtol=0.03)  # 20 000 samples: ~0.5% sampling error
    corr_u = Pu[0] / np.outer(np.sqrt(np.diag(Pu[0])), np.sqrt(np.diag(Pu[0])))
    np.testing.assert_allclose(corr_u, mc_cov / np.outer(sd, sd), atol=0.03)


@pytest.mark.parametrize("r_scale, consistent", [(1.0, True), (0.25, False)])
def test_nees_consistent_over_monte_carlo_with_radar(r_scale, consistent):
    """A ballistic target tracked by one radar (range, azimuth, elevation, range-rate) every 2 s over 160 s
    of midcourse with cubature predict and update: the 6-state NEES averaged over 100 runs lies inside its
    two-sided 95% chi-square band at (almost) every step, and the error falls below one report's. A filter
    told the noise is half what it is (``r_scale`` 0.25) fails the same test."""
    f = fly(CLASSES["IRBM-liquid"], 40.6, 126.4, 85, 25.0, separate_stages=False, opts=PhysicsOptions(drag=False))
    w = f.warhead
    runs, dt, steps = 100, 2.0, 80
    t = 300.0 + dt * np.arange(steps + 1)
    p, v, _ = w.sample(t)
    truth = np.hstack([p, v])
    site = SITE
    R = np.diag([30.0**2, 2e-3**2, 2e-3**2, 5.0**2])
    rng = np.random.default_rng(11)
    P0 = np.diag([2e3**2] * 3 + [100.0**2] * 3)
    x = truth[0] + rng.multivariate_normal(np.zeros(6), P0, size=runs)
    P = np.broadcast_to(P0, (runs, 6, 6)).copy()
    Rr = np.broadcast_to(R, (runs, 4, 4))
    q = 1e-6
    lo, hi = chi2.ppf([0.025, 0.975], 6 * runs) / runs

    def h(X):
        return radar_h(X, site, True)

    def res(a, b):
        return innovation(a, b, KIND_RADAR)

    bad = 0
    for k in range(1, steps + 1):
        Q = white_acceleration_q(np.full(runs, dt), q)
        x, P = ukf_predict(x, P, lambda X: propagate(X, dt, with_stm=False)[0], Q)
        zt = radar_h(truth[k][None], site, True)[0]
        z = zt + rng.multivariate_normal(np.zeros(4), R, size=runs)
        x, P, _, _ = ukf_update(x, P, z, h, Rr * r_scale, residual=res)
        e = x - truth[k]
        nees = np.mean(np.einsum("ni,ni->n", e, np.linalg.solve(P, e[..., None])[..., 0]))
        bad += not (lo <= nees <= hi)
    if not consistent:
        assert bad > 40, bad
        return
    assert bad <= 12, bad
    assert np.all(np.linalg.eigvalsh(P) > 0)
    # cross-range error of one report is ~ range x 2 mrad; the filter does far better
    rng_m = radar_h(truth[-1][None], site, True)[0, 0]
    err = np.sqrt(np.mean(np.sum((x[:, :3] - truth[-1, :3]) ** 2, axis=1)))
    assert err < 0.3 * rng_m * 2e-3


def test_regression_matrix_is_the_jacobian_for_a_small_spread():
    rng = np.random.default_rng(5)
    p = np.array(aer2ecef(np.radians(80.0), np.radians(20.0), 400e3, np.radians(37.0), np.radians(127.0), 100.0))
    x = np.hstack([p, rng.normal(size=3) * 2000.0])[None]
    P = np.diag([1.0] * 3 + [0.01] * 3)[None]
    zhat, H, Omega = statistical_linearisation(x, P, lambda X: radar_h(X, SITE, True),
                                               lambda a, b: innovation(a, b, KIND_RADAR))
    np.testing.assert_allclose(H[0], radar_jacobian(x, SITE)[0], rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(zhat[0], radar_h(x, SITE, True)[0], rtol=1e-9)
    assert np.all(np.abs(Omega) < 1e-9)
