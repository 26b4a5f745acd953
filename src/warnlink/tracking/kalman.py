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
    """Kalman update of N tracks with innovations ``nu`` (N, m), Jacobians ``H`` (N, m, 6) and
    measurement noise ``R`` (N, m, m).

    Returns the updated states, covariances (Joseph form), the innovation covariances ``S`` (N, m, m)
    and the normalised innovation squared ``nis`` (N,) = nu^T S^-1 nu.
    """
    Ht = np.swapaxes(H, -1, -2)
    PHt = P @ Ht
    S = symmetrise(H @ PHt + R)
    K = np.linalg.solve(S, np.swapaxes(PHt, -1, -2))  # (N, m, 6) = S^-1 H P
    K = np.swapaxes(K, -1, -2)
    xn = x + np.einsum("nij,nj->ni", K, nu)
    ikh = np.eye(P.shape[-1])[None] - K @ H
    Pn = ikh @ P @ np.swapaxes(ikh, -1, -2) + K @ R @ np.swapaxes(K, -1, -2)
    nis = np.einsum("ni,ni->n", nu, np.linalg.solve(S, nu[..., None])[..., 0])
    return xn, symmetrise(Pn), S, nis
