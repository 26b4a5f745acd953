"""Unscented Kalman filter steps, vectorised over N tracks: sigma points, the unscented transform, predict
and update (Julier and Uhlmann 2004; the scaled form of Julier 2002; Wan and van der Merwe 2000).

Sigma points of ``N(x, P)`` (state dimension n): ``x`` and ``x +- sqrt(n + lambda) * L[:, i]`` with
``L L^T = P`` and ``lambda = alpha^2 (n + kappa) - n``. Weights: mean ``lambda / (n + lambda)`` for the
centre and ``1 / (2 (n + lambda))`` for the others; covariance the same plus ``1 - alpha^2 + beta`` on the
centre. The defaults ``alpha = 1, beta = 0, kappa = 0`` give ``lambda = 0``: the centre weight vanishes and
the rule is the third-degree spherical-radial **cubature** rule (Arasaratnam and Haykin 2009), whose
weights are all positive, so every covariance it forms is positive semi-definite - the numerically robust
choice for the 6- and 8-state tracks here (the classic ``kappa = 3 - n`` gives a negative centre weight
for n > 3). Other values can be passed.

Numerical robustness:

* the square root ``L`` is a Cholesky factor; where ``P`` is not numerically positive definite it is the
  symmetric square root with negative eigenvalues clipped to zero (``psd_sqrt``);
* the update is written in the **statistical linear regression** form (Lefebvre, Bruyninckx and De
  Schutter 2002): from the sigma points, ``H = P_xz^T P^-1`` and the linearisation error covariance
  ``Omega = P_zz - H P H^T``; then the Kalman gain ``P H^T (H P H^T + R + Omega)^-1 = P_xz (P_zz + R)^-1``
  is the UKF gain exactly, and the covariance is updated in the Joseph form with ``R + Omega``
  (``warnlink.tracking.kalman.update``), which stays symmetric positive semi-definite where the short form
  ``P - K S K^T`` may not. On a linear model ``Omega = 0`` and the step is the Kalman filter's.

Residuals (angles) go through a caller's ``residual(a, b)`` (e.g. ``measurement.innovation`` with the
report kind), so sigma-point spreads across the azimuth wrap are handled.
"""

from __future__ import annotations

import numpy as np

from warnlink.tracking.kalman import symmetrise, update

__all__ = ["psd_sqrt", "sigma_points", "statistical_linearisation", "ukf_predict", "ukf_update", "weights"]


def weights(n: int, alpha: float = 1.0, beta: float = 0.0, kappa: float = 0.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean and covariance weights (2n + 1,) and the scale ``sqrt(n + lambda)`` of the scaled unscented
    transform for state dimension ``n`` (module docstring)."""
    if n < 1:
        raise ValueError(f"state dimension must be >= 1, got {n}")
    lam = alpha**2 * (n + kappa) - n
    if not n + lam > 0:
        raise ValueError(f"n + lambda must be > 0 (alpha={alpha}, kappa={kappa}, n={n})")
    wm = np.full(2 * n + 1, 0.5 / (n + lam))
    wc = wm.copy()
    wm[0] = lam / (n + lam)
    wc[0] = wm[0] + 1.0 - alpha**2 + beta
    return wm, wc, float(np.sqrt(n + lam))


def psd_sqrt(P: np.ndarray) -> np.ndarray:
    """Square roots ``L`` (N, n, n) with ``L L^T = P`` of covariances ``P`` (N, n, n): Cholesky factors
    when the whole batch is numerically positive definite, else the symmetric roots ``V sqrt(max(w, 0)) V^T``
    (eigenvalues ``w`` clipped at zero) of the whole batch."""
    P = symmetrise(np.asarray(P, float))
    try:
        return np.linalg.cholesky(P)
    except np.linalg.LinAlgError:
        pass
    w, V = np.linalg.eigh(P)  # the whole batch: a symmetric root is a valid root for the others too
    return (V * np.sqrt(np.maximum(w, 0.0))[..., None, :]) @ np.swapaxes(V, -1, -2)


def sigma_points(x, P, alpha: float = 1.0, beta: float = 0.0, kappa: float = 0.0):
    """Sigma points (N, 2n + 1, n) of ``N(x, P)`` for states ``x`` (N, n) and covariances ``P`` (N, n, n),
    with the weights ``(wm, wc)`` of ``weights``."""
    x = np.atleast_2d(np.asarray(x, float))
    P = np.asarray(P, float).reshape(len(x), x.shape[1], x.shape[1])
    n = x.shape[1]
    wm, wc, scale = weights(n, alpha, beta, kappa)
    L = scale * psd_sqrt(P)  # columns are the offsets
    offs = np.swapaxes(L, 1, 2)  # (N, n, n): row i = column i of L
    X = np.concatenate([x[:, None, :], x[:, None, :] + offs, x[:, None, :] - offs], axis=1)
    return X, wm, wc


def _apply(fun, X):
    """``fun`` over all sigma points (N, K, n) at once: (N * K, n) in, (N * K, d) out -> (N, K, d)."""
    N, K, n = X.shape
    Y = np.asarray(fun(X.reshape(N * K, n)), float)
    return Y.reshape(N, K, -1)


def ukf_predict(x, P, f, Q, alpha: float = 1.0, beta: float = 0.0, kappa: float = 0.0):
    """Unscented prediction of N tracks: ``f`` maps states (K, n) to predicted states (K, n) (all sigma
    points of all tracks in one call, e.g. ``models.propagate(X, dt_per_point, with_stm=False)[0]``);
    ``Q`` (N, n, n) the process noise. Returns predicted states (N, n) and covariances (N, n, n)."""
    X, wm, wc = sigma_points(x, P, alpha, beta, kappa)
    Y = _apply(f, X)
    xm = np.einsum("k,nki->ni", wm, Y)
    D = Y - xm[:, None, :]
    Pn = np.einsum("k,nki,nkj->nij", wc, D, D) + np.asarray(Q, float)
    return xm, symmetrise(Pn)


def statistical_linearisation(x, P, h, residual=None, alpha: float = 1.0, beta: float = 0.0, kappa: float = 0.0):
    """Statistical linear regression of the measurement function ``h`` about ``N(x, P)`` (module docstring).

    ``h`` maps states (K, n) to measurements (K, m) (all sigma points in one call); ``residual(a, b)``
    (default ``a - b``) takes and returns (K, m) arrays (angle wrapping). Returns the predicted
    measurement ``zhat`` (N, m) (the weighted mean, taken as ``Z[0] + mean(residual(Z, Z[0]))`` so that
    angles average across a wrap), the regression matrices ``H`` (N, m, n) and the linearisation error
    covariances ``Omega`` (N, m, m) (symmetric positive semi-definite up to rounding)."""
    res = residual or (lambda a, b: a - b)
    X, wm, wc = sigma_points(x, P, alpha, beta, kappa)
    N, K, n = X.shape
    Z = _apply(h, X)
    m = Z.shape[2]
    ref = np.repeat(Z[:, :1], K, axis=1).reshape(N * K, m)
    dz = np.asarray(res(Z.reshape(N * K, m), ref), float).reshape(N, K, m)
    mean_off = np.einsum("k,nki->ni", wm, dz)
    zhat = Z[:, 0] + mean_off
    Dz = dz - mean_off[:, None, :]
    Dx = X - np.einsum("k,nki->ni", wm, X)[:, None, :]
    Pxz = np.einsum("k,nki,nkj->nij", wc, Dx, Dz)
    Pzz = np.einsum("k,nki,nkj->nij", wc, Dz, Dz)
    P = np.asarray(P, float).reshape(N, n, n)
    # H = Pxz^T P^-1 (P symmetric): solve P H^T = Pxz; pinv-free least squares where P is singular
    try:
        Ht = np.linalg.solve(P, Pxz)
    except np.linalg.LinAlgError:
        Ht = np.stack([np.linalg.lstsq(P[i], Pxz[i], rcond=None)[0] for i in range(N)])
    H = np.swapaxes(Ht, 1, 2)
    Omega = symmetrise(Pzz - H @ P @ Ht)
    return zhat, H, Omega


def ukf_update(x, P, z, h, R, residual=None, alpha: float = 1.0, beta: float = 0.0, kappa: float = 0.0):
    """Unscented update of N tracks with measurements ``z`` (N, m) and noise ``R`` (N, m, m) through the
    measurement function ``h`` (states (K, n) -> (K, m)); ``residual`` as ``statistical_linearisation``.

    Returns the updated states (N, n), covariances (N, n, n) (Joseph form with ``R + Omega``), the
    innovation covariances ``S`` (N, m, m) = ``P_zz + R`` and the normalised innovation squared (N,)."""
    res = residual or (lambda a, b: a - b)
    zhat, H, Omega = statistical_linearisation(x, P, h, residual, alpha, beta, kappa)
    nu = np.asarray(res(np.atleast_2d(np.asarray(z, float)), zhat), float)
    return update(np.atleast_2d(np.asarray(x, float)), P, nu, H, np.asarray(R, float) + Omega)
