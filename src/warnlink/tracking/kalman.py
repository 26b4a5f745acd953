"""Extended Kalman filter steps, vectorised over N tracks, with the Joseph-form covariance update.

``predict`` advances states and covariances with the ballistic motion model
(``warnlink.tracking.motion``); ``update`` folds in one measurement per track given its predicted
value, Jacobian and noise. All measurement vectors in a call share one dimension ``m``; callers
group reports by kind (radar 3 or 4 rows, infrared 2). The Joseph form
``P = (I - K H) P (I - K H)^T + K R K^T`` keeps P symmetric and positive semi-definite in floating
point where the short form ``(I - K H) P`` does not (Bucy and Joseph 1968).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from warnlink.tracking.motion import propagate, white_acceleration_q


def symmetrise(P: np.ndarray) -> np.ndarray:
    """(P + P^T) / 2 over the last two axes."""
    return 0.5 * (P + np.swapaxes(P, -1, -2))


def predict(x, P, dt, q, beta=None):
    """Predict N states (N, 6) and covariances (N, 6, 6) ``dt`` seconds ahead (scalar or (N,)).

    ``q`` [m^2/s^3] is the white-acceleration spectral density (scalar or (N,)); ``beta`` the
    ballistic coefficients [kg/m^2] (``None``: no drag). Backward prediction (dt < 0) is allowed, for
    out-of-sequence reports; its process noise is added as for forward time.
    """
    xn, phi = propagate(x, dt, beta)
    Pn = phi @ P @ np.swapaxes(phi, -1, -2) + white_acceleration_q(np.broadcast_to(dt, (len(x),)), q)
    return xn, symmetrise(Pn)


def update(x, P, nu, H, R):
    """Kalman update of N tracks with innovations ``nu`` (N, m), Jacobians ``H`` (N, m, d) and
    measurement noise ``R`` (N, m, m) (states (N, d), covariances (N, d, d); a single ``P``, ``H`` or ``R``
    is used for every track). Compiled with Numba, track by track.

    Returns the updated states, covariances (Joseph form), the innovation covariances ``S`` (N, m, m)
    and the normalised innovation squared ``nis`` (N,) = nu^T S^-1 nu.
    """
    x, nu = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(nu, float))
    n, d = x.shape
    m = nu.shape[1]
    try:  # one P, H or R for all tracks is broadcast, as the matrix products would
        P, H, R = (np.ascontiguousarray(np.broadcast_to(np.asarray(a, float), shape)) for a, shape in
                   ((P, (n, d, d)), (H, (n, m, d)), (R, (n, m, m))))
    except ValueError:
        raise ValueError(f"update: x {x.shape}, P {np.shape(P)}, nu {nu.shape}, H {np.shape(H)} and R "
                         f"{np.shape(R)} do not fit (N, d), (N, d, d), (N, m), (N, m, d), (N, m, m)") from None
    if nu.shape[0] != n:
        raise ValueError(f"update: {nu.shape[0]} innovations for {n} tracks")
    return _update_kernel(np.ascontiguousarray(x), P, np.ascontiguousarray(nu), H, R)


@njit(cache=True, nogil=True)
def _update_kernel(x, P, nu, H, R):
    """Compiled Joseph-form update, track by track (the same algebra as the docstring of ``update``)."""
    n, d = x.shape
    m = nu.shape[1]
    xn = np.empty_like(x)
    Pn = np.empty_like(P)
    S_all = np.empty((n, m, m))
    nis = np.empty(n)
    eye = np.eye(d)
    for k in range(n):
        PHt = P[k] @ H[k].T
        S = H[k] @ PHt + R[k]
        S = 0.5 * (S + S.T)
        Kt = np.linalg.solve(S, PHt.T)  # (m, d) = S^-1 H P
        K = Kt.T.copy()
        xn[k] = x[k] + K @ nu[k]
        ikh = eye - K @ H[k]
        M = ikh @ P[k] @ ikh.T + K @ R[k] @ K.T
        Pn[k] = 0.5 * (M + M.T)
        S_all[k] = S
        nis[k] = nu[k] @ np.linalg.solve(S, nu[k])
    return xn, Pn, S_all, nis
