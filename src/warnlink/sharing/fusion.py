"""Cross-nation track fusion: track-to-track association and covariance intersection, vectorised.

A national node holds its own tracks (from its own sensors) and the tracks partners release to it (the US
hub's, which may already include this nation's information: the hub fuses what the allies send it). The
cross-covariance between two such estimates is unknown, so the classical fusion that assumes independence
would count shared information twice and become overconfident. Covariance intersection (Julier and Uhlmann
1997) fuses two estimates ``(xa, Pa)`` and ``(xb, Pb)`` as::

    P^-1 = w Pa^-1 + (1 - w) Pb^-1,    P^-1 x = w Pa^-1 xa + (1 - w) Pb^-1 xb,    w in [0, 1]

which is consistent (``P`` bounds the true error covariance) for **any** cross-correlation, with ``w``
chosen to minimise ``trace(P)`` or ``det(P)``. Here ``w`` is found for N pairs at once by a vectorised
golden-section search on [0, 1] (both criteria are unimodal in ``w``: ``ln det P^-1`` is concave, and the
trace of the inverse of a matrix pencil is convex), to ``OMEGA_TOL``.

Association: the (n x m) matrix of squared Mahalanobis distances of the differences ``xa_i - xb_j`` with the
covariance ``Pa_i + Pb_j`` (the difference's covariance when the errors are independent; with positively
correlated errors the true one is smaller, so the gate is conservative), gated at the chi-square quantile of
``gate_probability`` in the state's dimension, and the optimal 2-D assignment
(``scipy.optimize.linear_sum_assignment``) of the gated pairs on ``d^2 + ln det(Pa + Pb)``.

Before comparing, tracks valid at different times are brought to one time with ``align`` (the ballistic
motion model of ``warnlink.tracking.motion`` with its state-transition matrix and white-acceleration process
noise). States are ECEF ``[x, y, z, vx, vy, vz]`` [m, m/s]; any dimension works for the pure functions.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

OMEGA_TOL = 1e-4
"""Width of the final bracket of the golden-section search for omega."""
CRITERIA = ("trace", "det")
_GOLD = (np.sqrt(5.0) - 1.0) / 2.0
_BIG = 1e18
_GRID = np.linspace(0.0, 1.0, 33)
"""The weights each round of the pencil-form grid refinement evaluates (NumPy and compiled paths alike)."""


def _sym(P: np.ndarray) -> np.ndarray:
    return 0.5 * (P + np.swapaxes(P, -1, -2))


def _as_batch(x, P) -> tuple[np.ndarray, np.ndarray, bool]:
    x = np.asarray(x, float)
    P = np.asarray(P, float)
    single = x.ndim == 1
    if single:
        x, P = x[None], P[None]
    if x.ndim != 2 or P.shape != (*x.shape, x.shape[-1]):
        raise ValueError(f"expected states (n, d) and covariances (n, d, d), got {x.shape} and {P.shape}")
    return x, P, single


# ---------------------------------------------------------------------------------------------- association
def mahalanobis2(xa, Pa, xb, Pb) -> np.ndarray:
    """Squared Mahalanobis distances (n, m) of every difference ``xa[i] - xb[j]`` with covariance
    ``Pa[i] + Pb[j]`` (states (n, d), (m, d); covariances (n, d, d), (m, d, d))."""
    xa, Pa, _ = _as_batch(xa, Pa)
    xb, Pb, _ = _as_batch(xb, Pb)
    if xa.shape[1] != xb.shape[1]:
        raise ValueError(f"state dimensions differ: {xa.shape[1]} and {xb.shape[1]}")
    n, m = len(xa), len(xb)
    if n == 0 or m == 0:
        return np.zeros((n, m))
    d = xa[:, None, :] - xb[None, :, :]
    S = Pa[:, None] + Pb[None, :]
    sol = np.linalg.solve(S, d[..., None])[..., 0]
    return np.einsum("nmi,nmi->nm", d, sol)


@dataclass(frozen=True)
class Association:
    """Result of ``associate``: pairs ``(rows[k], cols[k])`` (indices into the first and the second set),
    their squared distances ``d2``, the whole distance matrix ``matrix`` and the ``gate`` used."""

    rows: np.ndarray
    cols: np.ndarray
    d2: np.ndarray
    matrix: np.ndarray
    gate: float

    def __len__(self) -> int:
        return len(self.rows)

    def unassigned_a(self, n: int) -> np.ndarray:
        """Indices of the first set (of size ``n``) left without a partner."""
        return np.setdiff1d(np.arange(n), self.rows)

    def unassigned_b(self, m: int) -> np.ndarray:
        """Indices of the second set (of size ``m``) left without a partner."""
        return np.setdiff1d(np.arange(m), self.cols)


def associate(xa, Pa, xb, Pb, *, gate_probability: float = 0.9999, allowed=None) -> Association:
    """Track-to-track association: gated optimal assignment on the Mahalanobis distance of the differences.

    ``allowed`` (n, m) bool, optional: pairs that may be associated at all (e.g. same flight phase or
    exercise marking). Returns an ``Association`` (each track of either set in at most one pair).
    """
    if not 0.0 < gate_probability < 1.0:
        raise ValueError(f"gate_probability must be in (0, 1), got {gate_probability}")
    xa, Pa, _ = _as_batch(xa, Pa)
    xb, Pb, _ = _as_batch(xb, Pb)
    d2 = mahalanobis2(xa, Pa, xb, Pb)
    gate = float(chi2.ppf(gate_probability, xa.shape[1]))
    empty = np.zeros(0, int)
    if d2.size == 0:
        return Association(empty, empty, np.zeros(0), d2, gate)
    ok = np.isfinite(d2) & (d2 <= gate)
    if allowed is not None:
        ok &= np.asarray(allowed, bool)
    if not ok.any():
        return Association(empty, empty, np.zeros(0), d2, gate)
    S = xa.shape[1]
    logdet = np.linalg.slogdet(Pa[:, None] + Pb[None, :])[1] if S else np.zeros_like(d2)
    cost = np.where(ok, d2 + logdet, _BIG)
    rows, cols = linear_sum_assignment(cost)
    keep = ok[rows, cols]
    rows, cols = rows[keep], cols[keep]
    return Association(rows, cols, d2[rows, cols], d2, gate)


# ---------------------------------------------------------------------------------------------- CI
def _ci_objective(Ia, Ib, w, criterion):
    info = w[:, None, None] * Ia + (1.0 - w)[:, None, None] * Ib
    if criterion == "det":
        # minimise det P = maximise ln det(P^-1)
        sign, logdet = np.linalg.slogdet(info)
        return np.where(sign > 0, -logdet, np.inf)
    try:
        return np.trace(np.linalg.inv(info), axis1=1, axis2=2)
    except np.linalg.LinAlgError:
        return np.array([np.trace(np.linalg.pinv(m)) for m in info])


def _pencil_omega(Ia, Ib, criterion, tol):
    """The CI weight by grid refinement on the pencil form of the criterion (no matrix work per step): with
    ``Ib = L L^T`` and ``L^-1 Ia L^-T = U diag(lam) U^T``, ``w Ia + (1 - w) Ib = L U diag(1 + w (lam - 1)) U^T
    L^T``, so ``trace(P) = sum_i m_i / (1 + w (lam_i - 1))`` (``m_i``: squared column norms of ``L^-T U``)
    and ``-ln det P^-1 = -ln det Ib - sum_i ln(1 + w (lam_i - 1))``: one decomposition per pair, then each
    round evaluates 33 weights at once and keeps the bracket around the best (both criteria are unimodal);
    rounds until the grid step is below ``tol``. ``LinAlgError`` when ``Ib`` is not positive definite."""
    L = np.linalg.cholesky(Ib)
    Li = np.linalg.inv(L)
    lam, U = np.linalg.eigh(_sym(Li @ Ia @ np.swapaxes(Li, -1, -2)))
    lam = np.maximum(lam, 0.0)[:, None, :] - 1.0  # Ia is positive semi-definite
    m = ((np.swapaxes(Li, -1, -2) @ U) ** 2).sum(axis=1)[:, None, :]
    n = len(Ia)
    rows = np.arange(n)
    lo, width = np.zeros(n), 1.0
    steps = _GRID
    while True:
        grid = np.clip(lo[:, None] + width * steps[None, :], 0.0, 1.0)  # (n, 33)
        den = 1.0 + grid[:, :, None] * lam
        ok = (den > 0).all(axis=2)
        den = np.where(den > 0, den, 1.0)
        val = -np.log(den).sum(axis=2) if criterion == "det" else (m / den).sum(axis=2)
        best = grid[rows, np.argmin(np.where(ok, val, np.inf), axis=1)]
        h = width / (len(steps) - 1)
        if h <= tol:
            return best
        lo, width = best - h, 2 * h


def ci_omega(Pa, Pb, criterion: str = "trace", tol: float = OMEGA_TOL) -> np.ndarray:
    """The CI weights ``w`` (n,) in [0, 1] minimising ``trace(P)`` or ``det(P)`` of each fused pair
    (covariances (n, d, d), or one (d, d) pair giving shape (1,))."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    Pa = np.asarray(Pa, float)
    Pb = np.asarray(Pb, float)
    if Pa.ndim == 2:
        Pa, Pb = Pa[None], Pb[None]
    Ia = _sym(np.linalg.inv(Pa))
    Ib = _sym(np.linalg.inv(Pb))
    n = len(Pa)
    with contextlib.suppress(np.linalg.LinAlgError):  # (else Ib is not positive definite: golden section)
        return _pencil_omega(Ia, Ib, criterion, tol)

    def f(w):
        return _ci_objective(Ia, Ib, w, criterion)

    lo, hi = np.zeros(n), np.ones(n)
    c = hi - _GOLD * (hi - lo)
    d = lo + _GOLD * (hi - lo)
    fc = f(c)
    fd = f(d)
    iters = int(np.ceil(np.log(tol) / np.log(_GOLD)))
    for _ in range(iters):
        left = fc < fd  # the minimum lies in [lo, d]: d becomes hi, c becomes d; else the mirror image
        hi = np.where(left, d, hi)
        lo = np.where(left, lo, c)
        new_c = np.where(left, hi - _GOLD * (hi - lo), d)
        new_d = np.where(left, c, lo + _GOLD * (hi - lo))
        fp = f(np.where(left, new_c, new_d))
        fc, fd = np.where(left, fp, fd), np.where(left, fc, fp)
        c, d = new_c, new_d
    w = 0.5 * (lo + hi)
    # the end points can be optimal (one estimate dominates): compare with them
    f_w, f0, f1 = f(w), f(np.zeros(n)), f(np.ones(n))
    best = np.stack([f_w, f0, f1], axis=1).argmin(axis=1)
    return np.choose(best, [w, np.zeros(n), np.ones(n)])


@njit(cache=True, nogil=True)
def _cholesky_lower(A, L) -> bool:
    """Lower Cholesky factor of the symmetric ``A`` into ``L``; False when ``A`` is not positive definite."""
    d = A.shape[0]
    for j in range(d):
        s = A[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not s > 0.0:
            return False
        L[j, j] = np.sqrt(s)
        for i in range(j + 1, d):
            t = A[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / L[j, j]
        for i in range(j):
            L[i, j] = 0.0
    return True


@njit(cache=True, nogil=True)
def _ci_kernel(xa, Pa, xb, Pb, use_det, tol, grid, x_out, P_out, w_out, ok):
    """``covariance_intersection`` of each pair, compiled: the same pencil-form grid refinement as
    ``_pencil_omega`` (one Cholesky factor and one symmetric eigendecomposition per pair, then rounds of 33
    weights), then the fused estimate. ``ok[i]`` False where ``Ib`` is not positive definite (the caller
    takes the golden-section path for those pairs). ``LinAlgError`` (a singular ``Pa`` or ``Pb``) as NumPy."""
    n, d = xa.shape
    L = np.zeros((d, d))
    g_n = grid.shape[0]
    for i in range(n):
        Ia = np.linalg.inv(Pa[i])
        Ia = 0.5 * (Ia + Ia.T)
        Ib = np.linalg.inv(Pb[i])
        Ib = 0.5 * (Ib + Ib.T)
        if not _cholesky_lower(Ib, L):
            ok[i] = False
            continue
        ok[i] = True
        Li = np.linalg.inv(L)
        M = Li @ Ia @ Li.T
        M = 0.5 * (M + M.T)
        lam, U = np.linalg.eigh(M)
        V = Li.T @ U
        m = np.zeros(d)
        for c in range(d):
            lam[c] = max(lam[c], 0.0) - 1.0
            acc = 0.0
            for r in range(d):
                acc += V[r, c] * V[r, c]
            m[c] = acc
        lo, width = 0.0, 1.0
        while True:
            best_val, best = np.inf, -1.0
            for k in range(g_n):
                g = min(max(lo + width * grid[k], 0.0), 1.0)
                val = 0.0
                good = True
                for c in range(d):
                    den = 1.0 + g * lam[c]
                    if not den > 0.0:
                        good = False
                        break
                    val += -np.log(den) if use_det else m[c] / den
                if good and val < best_val:
                    best_val, best = val, g
            if best < 0.0:  # (no admissible weight on the grid: as np.argmin over all-inf, the first)
                best = min(max(lo, 0.0), 1.0)
            h = width / (g_n - 1)
            if h <= tol:
                break
            lo, width = best - h, 2 * h
        w = best
        info = w * Ia + (1.0 - w) * Ib
        P = np.linalg.inv(info)
        P = 0.5 * (P + P.T)
        rhs = w * (Ia @ xa[i]) + (1.0 - w) * (Ib @ xb[i])
        x_out[i] = P @ rhs
        P_out[i] = P
        w_out[i] = w


def covariance_intersection(xa, Pa, xb, Pb, *, criterion: str = "trace", omega=None):
    """Fuse pairs of estimates with unknown cross-correlation by covariance intersection.

    ``xa``, ``xb`` (n, d) or (d,); ``Pa``, ``Pb`` (n, d, d) or (d, d). ``omega`` (scalar or (n,)) fixes the
    weight of the first estimate; default: optimal for ``criterion`` (``trace`` or ``det``, see
    ``ci_omega``). Returns ``(x, P, omega)`` in the shape given (a single pair gives (d,), (d, d), float).
    """
    xa, Pa, single = _as_batch(xa, Pa)
    xb, Pb, _ = _as_batch(xb, Pb)
    if xa.shape != xb.shape:
        raise ValueError(f"the two sets of estimates differ in shape: {xa.shape} and {xb.shape}")
    n = len(xa)
    if n == 0:
        return xa.copy(), Pa.copy(), np.zeros(0)
    if omega is None and criterion in CRITERIA:
        # compiled: about 20 us a pair, where the NumPy path below costs 0.4-1.1 ms a call of 3-30 pairs
        x, P, w = np.empty_like(xa), np.empty_like(Pa), np.empty(n)
        ok = np.zeros(n, np.bool_)
        _ci_kernel(np.ascontiguousarray(xa), np.ascontiguousarray(Pa), np.ascontiguousarray(xb),
                   np.ascontiguousarray(Pb), criterion == "det", OMEGA_TOL, _GRID, x, P, w, ok)
        if not ok.all():  # (some Ib not positive definite: the golden-section search for those pairs)
            bad = np.flatnonzero(~ok)
            x[bad], P[bad], w[bad] = covariance_intersection(xa[bad], Pa[bad], xb[bad], Pb[bad], criterion=criterion,
                                                             omega=ci_omega(Pa[bad], Pb[bad], criterion))
        if single:
            return x[0], P[0], float(w[0])
        return x, P, w
    w = ci_omega(Pa, Pb, criterion) if omega is None else np.broadcast_to(np.asarray(omega, float), (n,)).copy()
    if np.any((w < 0) | (w > 1)):
        raise ValueError("omega must lie in [0, 1]")
    Ia = _sym(np.linalg.inv(Pa))
    Ib = _sym(np.linalg.inv(Pb))
    info = w[:, None, None] * Ia + (1.0 - w)[:, None, None] * Ib
    P = _sym(np.linalg.inv(info))
    rhs = w[:, None] * np.einsum("nij,nj->ni", Ia, xa) + (1.0 - w)[:, None] * np.einsum("nij,nj->ni", Ib, xb)
    x = np.einsum("nij,nj->ni", P, rhs)
    if single:
        return x[0], P[0], float(w[0])
    return x, P, w


def fuse_many(xs, Ps, *, criterion: str = "trace"):
    """CI of k estimates of one object (``xs`` (k, d), ``Ps`` (k, d, d)), folded pairwise in the order
    given (each step consistent, so the result is). Returns ``(x, P)``."""
    xs = np.asarray(xs, float)
    Ps = np.asarray(Ps, float)
    if len(xs) == 0:
        raise ValueError("fuse_many needs at least one estimate")
    x, P = xs[0], Ps[0]
    for k in range(1, len(xs)):
        x, P, _ = covariance_intersection(x, P, xs[k], Ps[k], criterion=criterion)
    return x, P


def naive_fusion(xa, Pa, xb, Pb):
    """The independent-errors (information filter) fusion, for comparison only: it double counts shared
    information. Same shapes as ``covariance_intersection``; returns ``(x, P)``."""
    xa, Pa, single = _as_batch(xa, Pa)
    xb, Pb, _ = _as_batch(xb, Pb)
    Ia, Ib = np.linalg.inv(Pa), np.linalg.inv(Pb)
    P = _sym(np.linalg.inv(Ia + Ib))
    x = np.einsum("nij,nj->ni", P, np.einsum("nij,nj->ni", Ia, xa) + np.einsum("nij,nj->ni", Ib, xb))
    return (x[0], P[0]) if single else (x, P)


# ---------------------------------------------------------------------------------------------- time alignment
def align(x, P, t_s, t_target, *, q: float = 1.0):
    """Bring ECEF track estimates ``x`` (n, 6), ``P`` (n, 6, 6) valid at ``t_s`` (n,) to ``t_target``
    (scalar or (n,)) with the ballistic model (J2, rotating Earth, no drag) and its state-transition
    matrix, adding white-acceleration process noise of density ``q`` [m^2/s^3]. Returns ``(x, P)``."""
    from warnlink.tracking.models import N_STATE
    from warnlink.tracking.models import propagate as propagate_compiled
    from warnlink.tracking.motion import white_acceleration_q

    x, P, single = _as_batch(x, P)
    n = len(x)
    if n == 0:
        return x.copy(), P.copy()
    if x.shape[1] != 6:
        raise ValueError(f"align takes ECEF states (n, 6), got {x.shape}")
    dt = np.broadcast_to(np.asarray(t_target, float), (n,)) - np.broadcast_to(np.asarray(t_s, float), (n,))
    if not np.any(dt != 0):
        return (x[0].copy(), P[0].copy()) if single else (x.copy(), P.copy())
    # the tracker's compiled ballistic propagation (thrust and drag states zero: J2, rotating Earth, the
    # same force model as warnlink.tracking.motion.propagate, a few microseconds per track and step)
    xe = np.zeros((n, N_STATE))
    xe[:, :6] = x
    xe, phi = propagate_compiled(xe, dt, with_stm=True)
    xn, phi = xe[:, :6], phi[:, :6, :6]
    Pn = _sym(phi @ P @ np.swapaxes(phi, -1, -2) + white_acceleration_q(dt, q))
    return (xn[0], Pn[0]) if single else (xn, Pn)


__all__ = ["CRITERIA", "Association", "align", "associate", "ci_omega", "covariance_intersection", "fuse_many",
           "mahalanobis2", "naive_fusion"]
