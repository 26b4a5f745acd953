"""Cross-nation fusion: covariance intersection and track-to-track association against known cases.

No servers: these are the pure functions of ``warnlink.sharing.fusion``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from warnlink.sharing.fusion import (
    align,
    associate,
    ci_omega,
    covariance_intersection,
    fuse_many,
    mahalanobis2,
    naive_fusion,
)


def random_spd(rng, n, d=6, scale=1.0):
    A = rng.normal(size=(n, d, d))
    return scale * (A @ np.swapaxes(A, 1, 2) + 0.5 * np.eye(d))


# ---------------------------------------------------------------------------------------------- CI
@pytest.mark.parametrize("criterion", ["trace", "det"])
def test_ci_of_identical_estimates_returns_the_estimate(criterion):
    rng = np.random.default_rng(0)
    P = random_spd(rng, 4)
    x = rng.normal(size=(4, 6)) * 1e3
    xf, Pf, w = covariance_intersection(x, P, x, P, criterion=criterion)
    np.testing.assert_allclose(xf, x, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(Pf, P, rtol=1e-9, atol=1e-9)
    assert np.all((w >= 0) & (w <= 1))


@pytest.mark.parametrize("criterion", ["trace", "det"])
def test_omega_minimises_the_criterion(criterion):
    rng = np.random.default_rng(1)
    Pa, Pb = random_spd(rng, 6), random_spd(rng, 6)
    w = ci_omega(Pa, Pb, criterion)
    grid = np.linspace(0, 1, 1001)
    for i in range(6):
        Ia, Ib = np.linalg.inv(Pa[i]), np.linalg.inv(Pb[i])
        f = [np.trace(np.linalg.inv(g * Ia + (1 - g) * Ib)) if criterion == "trace" else
             np.linalg.det(np.linalg.inv(g * Ia + (1 - g) * Ib)) for g in grid]
        fw = (np.trace if criterion == "trace" else np.linalg.det)(np.linalg.inv(w[i] * Ia + (1 - w[i]) * Ib))
        assert fw <= min(f) * (1 + 1e-6)
        assert abs(w[i] - grid[int(np.argmin(f))]) < 2e-3


def test_ci_keeps_the_better_estimate_when_the_other_adds_nothing():
    # b is much worse in every direction: the optimum is omega = 1 (a alone)
    Pa = np.diag([1.0, 2.0, 3.0])
    Pb = 100.0 * np.eye(3)
    x, P, w = covariance_intersection(np.zeros(3), Pa, np.ones(3), Pb)
    assert w == pytest.approx(1.0)
    np.testing.assert_allclose(P, Pa, atol=1e-9)
    np.testing.assert_allclose(x, 0.0, atol=1e-9)


def test_ci_is_consistent_when_the_estimates_share_common_information():
    """Two nations' estimates that share a common part (the hub's track already contains this nation's
    information): CI's covariance bounds the true error; the independent-errors fusion is overconfident."""
    rng = np.random.default_rng(2)
    d, n = 6, 20000
    S_common = np.diag([400.0, 400.0, 400.0, 4.0, 4.0, 4.0])
    S_a = np.diag([100.0, 900.0, 100.0, 1.0, 9.0, 1.0])
    S_b = np.diag([900.0, 100.0, 100.0, 9.0, 1.0, 1.0])
    common = rng.multivariate_normal(np.zeros(d), S_common, n)
    ea = common + rng.multivariate_normal(np.zeros(d), S_a, n)
    eb = common + rng.multivariate_normal(np.zeros(d), S_b, n)
    Pa, Pb = S_common + S_a, S_common + S_b  # each estimate's own (correct) covariance
    Pa_n = np.broadcast_to(Pa, (n, d, d))
    Pb_n = np.broadcast_to(Pb, (n, d, d))
    xf, Pf, w = covariance_intersection(ea, Pa_n, eb, Pb_n)
    assert np.allclose(w, w[0])  # same covariances: same omega
    err_cov = np.cov(xf.T)
    # consistency: P_CI - actual error covariance is positive semi-definite (up to sampling noise)
    assert np.linalg.eigvalsh(Pf[0] - err_cov).min() > -0.05 * np.trace(err_cov) / d
    nees = np.einsum("ni,ij,nj->n", xf, np.linalg.inv(Pf[0]), xf)
    assert nees.mean() <= d * 1.02
    # the naive fusion counts the common part twice: its NEES is far above the chi-square bound
    xn, Pn = naive_fusion(ea, Pa_n, eb, Pb_n)
    nees_naive = np.einsum("ni,ij,nj->n", xn, np.linalg.inv(Pn[0]), xn)
    assert nees_naive.mean() > chi2.ppf(0.999, d * 1000) / 1000 * 1.3
    # and CI is still informative: no worse than the better input in trace
    assert np.trace(Pf[0]) <= min(np.trace(Pa), np.trace(Pb)) + 1e-9


def test_fuse_many_of_identical_estimates_and_single():
    rng = np.random.default_rng(3)
    P = random_spd(rng, 1)[0]
    x = rng.normal(size=6)
    xf, Pf = fuse_many([x, x, x], [P, P, P])
    np.testing.assert_allclose(xf, x, atol=1e-9)
    np.testing.assert_allclose(Pf, P, rtol=1e-9)
    xs, _ = fuse_many([x], [P])
    np.testing.assert_allclose(xs, x)


# ---------------------------------------------------------------------------------------------- association
def test_mahalanobis_matrix_matches_the_loop():
    rng = np.random.default_rng(4)
    xa, xb = rng.normal(size=(3, 6)), rng.normal(size=(5, 6))
    Pa, Pb = random_spd(rng, 3), random_spd(rng, 5)
    d2 = mahalanobis2(xa, Pa, xb, Pb)
    for i in range(3):
        for j in range(5):
            dx = xa[i] - xb[j]
            assert d2[i, j] == pytest.approx(dx @ np.linalg.solve(Pa[i] + Pb[j], dx), rel=1e-9)


def test_association_of_crossing_tracks():
    """Two objects whose positions cross: at the crossing their positions nearly coincide, and only the
    velocities tell them apart. Nation B lists its tracks in the other order; the assignment must pair them
    by identity, not by list position or by position alone, at every time around the crossing."""
    rng = np.random.default_rng(5)
    P = np.diag([300.0**2] * 3 + [30.0**2] * 3)
    base = np.array([-3.1e6, 4.1e6, 3.6e6])
    v1, v2 = np.array([2000.0, 1000.0, 0.0]), np.array([2000.0, -1000.0, 0.0])
    for t in np.linspace(-5.0, 5.0, 11):  # crossing at t = 0 (positions equal)
        truth = np.array([np.r_[base + v1 * t, v1], np.r_[base + v2 * t, v2]])
        xa = truth + rng.multivariate_normal(np.zeros(6), P, 2)
        xb = truth[::-1] + rng.multivariate_normal(np.zeros(6), P, 2)
        Pa = np.broadcast_to(P, (2, 6, 6))
        a = associate(xa, Pa, xb, Pa)
        pairs = dict(zip(a.rows.tolist(), a.cols.tolist(), strict=True))
        assert pairs == {0: 1, 1: 0}, f"t={t}: {pairs}"
    # position-only association is ambiguous at the crossing: both pairings are within the gate
    t = 0.0
    truth = np.array([np.r_[base, v1], np.r_[base, v2]])
    d2_pos = mahalanobis2(truth[:, :3], Pa[:, :3, :3], truth[::-1, :3], Pa[:, :3, :3])
    assert np.all(d2_pos < chi2.ppf(0.9999, 3))


def test_association_gates_out_unrelated_tracks_and_respects_allowed():
    P = np.broadcast_to(np.eye(6), (2, 6, 6))
    xa = np.zeros((2, 6))
    xa[1, 0] = 1000.0
    xb = np.zeros((1, 6))
    xb[0, 0] = 999.5
    a = associate(xa, P, xb, P[:1])
    assert a.rows.tolist() == [1] and a.cols.tolist() == [0]
    assert a.unassigned_a(2).tolist() == [0]
    none = associate(xa, P, xb, P[:1], allowed=np.array([[True], [False]]))
    assert len(none) == 0  # the only gated pair is not allowed; track 0 is far outside the gate
    far = associate(xa, P, xb + 1e6, P[:1])
    assert len(far) == 0
    empty = associate(np.zeros((0, 6)), np.zeros((0, 6, 6)), xb, P[:1])
    assert len(empty) == 0 and empty.matrix.shape == (0, 1)


def test_align_is_invertible_and_grows_the_covariance():
    # a midcourse state over the Sea of Japan: ~600 km up, ~5 km/s
    x = np.array([[-3.3e6, 3.9e6, 4.2e6, 3000.0, 3000.0, 1000.0]])
    P = np.diag([1e4] * 3 + [1e2] * 3)[None]
    x1, P1 = align(x, P, 0.0, 10.0, q=0.0)
    x0, _ = align(x1, P1, 10.0, 0.0, q=0.0)
    np.testing.assert_allclose(x0, x, rtol=0, atol=1e-3)
    assert np.trace(P1[0, :3, :3]) > np.trace(P[0, :3, :3])
    _, P2 = align(x, P, 0.0, 10.0, q=1.0)
    assert np.trace(P2[0]) > np.trace(P1[0])


@pytest.mark.parametrize("criterion", ["trace", "det"])
def test_compiled_ci_matches_the_numpy_pencil_path(criterion):
    # the compiled pair loop against the vectorised NumPy path (its weight given), on 6-D and 3-D pairs
    from warnlink.sharing.fusion import _pencil_omega, _sym

    rng = np.random.default_rng(7)
    for d in (6, 3):
        Pa, Pb = random_spd(rng, 40, d, 1e3), random_spd(rng, 40, d, 1e2)
        xa, xb = rng.normal(size=(40, d)) * 1e3, rng.normal(size=(40, d)) * 1e3
        x, P, w = covariance_intersection(xa, Pa, xb, Pb, criterion=criterion)
        w_np = _pencil_omega(_sym(np.linalg.inv(Pa)), _sym(np.linalg.inv(Pb)), criterion, 1e-4)
        np.testing.assert_allclose(w, w_np, rtol=0, atol=1e-12)
        x_np, P_np, _ = covariance_intersection(xa, Pa, xb, Pb, criterion=criterion, omega=w_np)
        np.testing.assert_allclose(x, x_np, rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(P, P_np, rtol=1e-10, atol=1e-9 * np.abs(P_np).max())


def test_ci_of_a_pair_whose_second_information_is_not_positive_definite_takes_the_search():
    # Pb indefinite (not a covariance a node would hold, but a fused pass must not fail on it): the pair
    # goes to the golden-section search, the others keep the compiled result
    rng = np.random.default_rng(8)
    Pa, Pb = random_spd(rng, 3), random_spd(rng, 3)
    Pb[1] = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, -1.0])
    xa, xb = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    x, P, w = covariance_intersection(xa, Pa, xb, Pb)
    for i in (0, 2):
        xi, Pi, wi = covariance_intersection(xa[i], Pa[i], xb[i], Pb[i])
        np.testing.assert_allclose(x[i], xi, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(P[i], Pi, rtol=1e-12, atol=1e-12)
        assert w[i] == pytest.approx(wi, abs=1e-12)
    w1 = ci_omega(Pa[1], Pb[1])[0]
    x1, P1, _ = covariance_intersection(xa[1], Pa[1], xb[1], Pb[1], omega=w1)
    assert w[1] == pytest.approx(w1, abs=1e-12)
    np.testing.assert_allclose(x[1], x1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(P[1], P1, rtol=1e-12, atol=1e-12)


def test_align_agrees_with_the_numpy_ballistic_reference():
    # align runs the tracker's compiled propagation: the same force model as warnlink.tracking.motion's
    # NumPy propagate (J2, rotating Earth), to a millimetre over 30 s
    from warnlink.tracking.motion import propagate

    x = np.array([[-3.3e6, 3.9e6, 4.2e6, 3000.0, 3000.0, 1000.0],
                  [-3.1e6, 4.0e6, 3.95e6, -2000.0, 1500.0, 2500.0]])
    P = np.broadcast_to(np.diag([1e4] * 3 + [1e2] * 3), (2, 6, 6)).copy()
    dt = np.array([30.0, -12.5])
    x1, P1 = align(x, P, 0.0, dt, q=0.0)
    ref, phi = propagate(x, dt, with_stm=True)
    np.testing.assert_allclose(x1[:, :3], ref[:, :3], rtol=0, atol=1e-3)
    np.testing.assert_allclose(x1[:, 3:], ref[:, 3:], rtol=0, atol=1e-6)
    P_ref = phi @ P @ np.swapaxes(phi, 1, 2)
    np.testing.assert_allclose(P1, 0.5 * (P_ref + np.swapaxes(P_ref, 1, 2)), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="ECEF states"):
        align(np.zeros((1, 3)), np.eye(3)[None], 0.0, 1.0)
