"""Impact prediction with calibrated uncertainty, vectorised over N tracks.

Every track estimate ``(x, P)`` (ECEF state [m, m/s] and its covariance) is turned into a cloud of
points, each point flown ballistically to the WGS-84 ellipsoid, and the cloud summarised as the mean
impact point and time, the impact-time sigma, the 2x2 covariance in the local east/north plane at
the mean impact point [m^2] and the 95% ellipse (semi-axes [m], orientation [deg from north,
clockwise]); also the predicted apogee, the ground range from a launch point and the flight time.

**Points.** ``method="unscented"`` (default): a symmetric unscented set (Julier and Uhlmann 2004)
of the augmented state ``[x (6), ln beta]``, 15 points per track: the mean, the state at
``+-UT_STATE_SPREAD`` (3) sigma along each column of the square root of its covariance, and
``ln beta`` at ``+-sqrt(3)`` sigma (the three-point Gauss-Hermite rule, exact to the fourth moment
in that dimension, where the impact is most nonlinear: drag goes as ``1 / beta``); the weights match
the mean and covariance, and the centre's weight is then 0. ``method="sampled"``: ``n_samples`` random draws
per track from the same Gaussian (a Monte Carlo reference, slower).

**Flight.** Each point coasts under the simulator's own equations of motion
(``warnlink.physics.integrator``: J2 gravity, Coriolis and centrifugal terms of the rotating Earth,
drag from the US Standard Atmosphere 1976; the same force model as ``warnlink.tracking.motion``)
with the adaptive Dormand-Prince 5(4) step of that module, compiled with Numba and looped over all
points of all tracks in one call. The crossing of the ellipsoid (height 0, descending) is found by
regula falsi on the last step to 1e-6 m in height. A point that has not come down ``horizon_s``
after the track time is an orbital (or escaping) object: its track is flagged (``impacted`` False)
and its figures are NaN; nothing loops for ever. A point that starts at or below the ellipsoid
impacts where it is.

**Drag.** Re-entry drag uses a ballistic coefficient ``beta = m / (Cd A)`` [kg/m^2] with log-normal
uncertainty: ``ln beta ~ N(ln beta_0, beta_log_sigma^2)`` is the seventh dimension of the cloud.
Without a ``beta`` from the caller (e.g. from classification) the prior is ``DEFAULT_BETA_KG_M2`` =
5000 kg/m^2 with ``DEFAULT_BETA_LOG_SIGMA`` = 0.5 (1-sigma range 3000-8200 kg/m^2, 2-sigma
1800-13600 kg/m^2), spanning public figures of the order of 2000-5000 kg/m^2 for older short-range
re-entry vehicles and 7000-12000 kg/m^2 for modern long-range ones; NOTIONAL. ``beta = inf`` means
no drag.

**Model error (inflation).** The track covariance knows only what its filter modelled, and the
flight model here knows no lift. Documented terms are added (all NOTIONAL magnitudes):

1. ``p_scale`` (default 1) multiplies the track covariance before the points are drawn: a margin for
   a filter known to be overconfident (its NEES above its dimension). A consistent filter needs none.
2. ``drag_free_filter`` (default True): a filter without a drag model, tracking inside the
   atmosphere, lags the drag deceleration ``a_d`` it did not model over its memory ``tau``
   (``FILTER_MEMORY_S`` = 10 s): ``(a_d tau)^2`` is added to each velocity variance and
   ``(a_d tau^2 / 2)^2`` to each position variance (``a_d`` for the nominal ``beta``; zero above
   ~100 km).
3. Unmodelled lift in re-entry (trim asymmetry of a nominally ballistic vehicle): lift of
   ``lift_to_drag`` (default ``DEFAULT_LIFT_TO_DRAG`` = 0.02) times the drag in any direction moves
   the impact by about that fraction of the drag's own displacement of it; the drag displacement
   ``D`` is measured by flying the mean state once more without drag, and ``(lift_to_drag |D|)^2``
   is added to each east/north variance.
4. A floor ``floor_m`` (default 50 m, 1-sigma per axis) for what does not depend on the flight: the
   impact is computed on the ellipsoid, while the sea surface (geoid) lies some tens of metres off it
   and land higher still; ``floor_time_s`` (0.2 s) for the impact time.

**Manoeuvring tracks** (``manoeuvre`` True: a pull-up or glide has been seen, so the ballistic model no
longer holds): the footprint is bounded physically instead. The mean state is flown once more with lift
at ``MAX_LIFT_TO_DRAG`` times the drag, both as a pull-up into an equilibrium glide and as a skipping
glide (``fly_to_ground(lift_to_drag=...)``), and the farther of the two impacts is the far end of what
the vehicle can reach; its ballistic impact is the near end (a lifting vehicle falls no shorter). The
impact is then taken as uniform along that segment: the mean moves to its middle, ``L^2 / 12`` is added
to the covariance along it (``L`` its length) and likewise ``dT^2 / 12`` to the impact-time variance
(``dT`` the difference of the two impact times), so the 95% ellipse spans the segment and a region
that only part of it reaches gets an honest intermediate probability. Cross-range manoeuvres (banking)
are not bounded here.

The defaults were set from runs of a standalone EKF on simulated radar tracks of notional MRBM and
SRBM flights, with seeds different from those of the calibration test, which checks them on its own
seeds (``tests/assessment/test_impact.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.stats import chi2

from warnlink.geo import direct, ecef2geodetic, enu_basis, geodetic2ecef, inverse
from warnlink.geo.frames import ecef2geodetic_kernel
from warnlink.physics import integrator as ig
from warnlink.physics.atmosphere import density_array

DEFAULT_BETA_KG_M2 = 5000.0
"""Median ballistic coefficient [kg/m^2] of the prior used when the caller gives none (NOTIONAL)."""
DEFAULT_BETA_LOG_SIGMA = 0.5
"""1-sigma of ln(beta) of that prior."""
DEFAULT_HORIZON_S = 10_800.0
"""A point not down this long [s] after the track time is taken as orbital."""
DEFAULT_LIFT_TO_DRAG = 0.02
"""Unmodelled lift-to-drag ratio of a nominally ballistic re-entry vehicle (NOTIONAL)."""
FILTER_MEMORY_S = 10.0
"""Memory [s] of a drag-free filter over which it lags an unmodelled drag deceleration (NOTIONAL)."""
DEFAULT_FLOOR_M = 50.0
"""1-sigma floor per horizontal axis [m] (geoid and terrain height, which do not grow with time)."""
DEFAULT_FLOOR_TIME_S = 0.2
"""1-sigma floor of the impact time [s]."""
MAX_LIFT_TO_DRAG = 3.0
"""Largest lift-to-drag ratio a manoeuvring (pull-up or glide) vehicle is assumed capable of: public
figures for hypersonic glide bodies and manoeuvring re-entry vehicles are of the order of 1.5-3
(NOTIONAL bound)."""
LIFT_ALT_M = 100_000.0
"""Lift is allowed wherever there is air to make it (drag, and so lift, vanish above ~90 km)."""
UT_STATE_SPREAD = 3.0
"""Unscented points of the 6-D state at +-3 sigma along each column of its square root (weight 1/18)."""
UT_BETA_SPREAD = float(np.sqrt(3.0))
"""Unscented points of ln(beta) at +-sqrt(3) sigma (weight 1/6: the three-point Gauss-Hermite rule,
exact to the fourth moment); with the state's spread of 3 the centre weight is 1 - 12/18 - 2/6 = 0."""
CONFIDENCE = 0.95
"""Confidence level of the ellipse."""
K95_2DOF = float(np.sqrt(chi2.ppf(CONFIDENCE, 2)))
"""Scale from 1-sigma semi-axes to the 95% ellipse (2 degrees of freedom): sqrt(5.991) = 2.448."""
_G0 = 9.80665

# integrator tolerances for the impact flights: 1e-9 relative and 1e-3 m are far below the spread of
# any real track cloud (metres), and keep a 1000 s coast to ~100 steps
_RTOL = 1e-8
_ATOL_M = 1e-2
_ATOL_M_S = 1e-3
_HMAX_S = 300.0
_APOGEE_SAMPLES = 64


@dataclass(frozen=True)
class ImpactPrediction:
    """Predicted impacts of N tracks (columns; one row per track). SI units inside, degrees for lat/lon.

    Attributes:
        t_s: time of the track states [s].
        impacted: True where every point of the track's cloud came down within the horizon
            (False: orbital or escaping; the impact figures are NaN).
        lat_deg, lon_deg: geodetic mean impact point [deg].
        impact_ecef_m: mean impact point on the ellipsoid, ECEF (N, 3) [m].
        impact_time_s: mean impact time [s, same clock as ``t_s``].
        impact_time_sigma_s: 1-sigma of the impact time [s] (with the floor).
        cov_en_m2: (N, 2, 2) covariance of the impact point in the local east/north plane at the
            mean impact point [m^2] (with the model-error terms).
        semi_major_m, semi_minor_m: semi-axes of the ``confidence`` ellipse [m].
        orientation_deg: direction of the major axis [deg from north, clockwise, in [0, 180)].
        confidence: level of the ellipse (0.95).
        apogee_alt_m, apogee_time_s: predicted apogee height [m] and time [s] of the mean
            trajectory (NaN when the track is already descending).
        ground_range_m: geodesic distance from the given launch point to the mean impact [m] (NaN
            without a launch point).
        flight_time_s: mean impact time minus the given launch time [s] (NaN without one).
        time_to_impact_s: mean impact time minus ``t_s`` [s].
    """

    t_s: np.ndarray
    impacted: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    impact_ecef_m: np.ndarray
    impact_time_s: np.ndarray
    impact_time_sigma_s: np.ndarray
    cov_en_m2: np.ndarray
    semi_major_m: np.ndarray
    semi_minor_m: np.ndarray
    orientation_deg: np.ndarray
    confidence: float
    apogee_alt_m: np.ndarray
    apogee_time_s: np.ndarray
    ground_range_m: np.ndarray
    flight_time_s: np.ndarray
    time_to_impact_s: np.ndarray

    def __len__(self) -> int:
        return len(self.t_s)

    def offsets_en_m(self, lat_deg, lon_deg) -> np.ndarray:
        """East/north offsets (N, 2) [m] of points (lat, lon) [deg] ((N,) or scalars) from the mean
        impact points, in each track's local plane (projection of the ECEF difference)."""
        lat, lon = np.broadcast_arrays(np.asarray(lat_deg, float), np.asarray(lon_deg, float))
        lat, lon = np.broadcast_to(lat, (len(self),)), np.broadcast_to(lon, (len(self),))
        p = np.stack(geodetic2ecef(lat, lon, np.zeros_like(lat), deg=True), axis=-1)
        east, north, _ = enu_basis(self.lat_deg, self.lon_deg, deg=True)
        d = p - self.impact_ecef_m
        return np.stack([np.einsum("ni,ni->n", d, east), np.einsum("ni,ni->n", d, north)], axis=-1)

    def mahalanobis2(self, lat_deg, lon_deg) -> np.ndarray:
        """Squared Mahalanobis distance (N,) of points (lat, lon) [deg] from the predicted impacts."""
        d = self.offsets_en_m(lat_deg, lon_deg)
        return np.einsum("ni,ni->n", d, np.linalg.solve(self.cov_en_m2, d[..., None])[..., 0])

    def contains(self, lat_deg, lon_deg) -> np.ndarray:
        """True (N,) where the point (lat, lon) [deg] lies inside the track's ``confidence`` ellipse
        (False for tracks that do not impact)."""
        with np.errstate(invalid="ignore"):
            return self.impacted & (self.mahalanobis2(lat_deg, lon_deg) <= chi2.ppf(self.confidence, 2))


# ------------------------------------------------------------------------------ compiled flights


# Dormand-Prince 5(4) tableau (Dormand and Prince 1980), as in warnlink.physics.integrator
_C2, _C3, _C4, _C5 = 1 / 5, 3 / 10, 4 / 5, 8 / 9
_A21 = 1 / 5
_A31, _A32 = 3 / 40, 9 / 40
_A41, _A42, _A43 = 44 / 45, -56 / 15, 32 / 9
_A51, _A52, _A53, _A54 = 19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729
_A61, _A62, _A63, _A64, _A65 = 9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656
_B1, _B3, _B4, _B5, _B6 = 35 / 384, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84
_E1, _E3, _E4, _E5, _E6, _E7 = 71 / 57600, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40


@njit(cache=True, nogil=True)
def _dp5_step(t, y, k1, h, p, ynew, k7, ks, tmp):
    """One Dormand-Prince step; returns the RMS of the scaled error estimate's raw components in
    ``tmp`` (the caller scales it). ``ks`` (5, 6) is scratch for k2..k6."""
    for i in range(6):
        tmp[i] = y[i] + h * _A21 * k1[i]
    ig.derivative(t + _C2 * h, tmp, p, ks[0])
    for i in range(6):
        tmp[i] = y[i] + h * (_A31 * k1[i] + _A32 * ks[0, i])
    ig.derivative(t + _C3 * h, tmp, p, ks[1])
    for i in range(6):
        tmp[i] = y[i] + h * (_A41 * k1[i] + _A42 * ks[0, i] + _A43 * ks[1, i])
    ig.derivative(t + _C4 * h, tmp, p, ks[2])
    for i in range(6):
        tmp[i] = y[i] + h * (_A51 * k1[i] + _A52 * ks[0, i] + _A53 * ks[1, i] + _A54 * ks[2, i])
    ig.derivative(t + _C5 * h, tmp, p, ks[3])
    for i in range(6):
        tmp[i] = y[i] + h * (_A61 * k1[i] + _A62 * ks[0, i] + _A63 * ks[1, i] + _A64 * ks[2, i]
                             + _A65 * ks[3, i])
    ig.derivative(t + h, tmp, p, ks[4])
    for i in range(6):
        ynew[i] = y[i] + h * (_B1 * k1[i] + _B3 * ks[1, i] + _B4 * ks[2, i] + _B5 * ks[3, i] + _B6 * ks[4, i])
    ig.derivative(t + h, ynew, p, k7)
    for i in range(6):
        tmp[i] = h * (_E1 * k1[i] + _E3 * ks[1, i] + _E4 * ks[2, i] + _E5 * ks[3, i] + _E6 * ks[4, i]
                      + _E7 * k7[i])


@njit(cache=True, nogil=True)
def _hermite(y0, d0, y1, d1, h, s, out):
    """Quintic Hermite state at fraction ``s`` of a step of length ``h`` (positions, velocities and
    accelerations matched at both ends), written to ``out`` (6,)."""
    s2 = s * s
    s3 = s2 * s
    s4 = s3 * s
    s5 = s4 * s
    for i in range(3):
        p0, v0, a0 = y0[i], y0[i + 3], d0[i + 3]
        p1, v1, a1 = y1[i], y1[i + 3], d1[i + 3]
        out[i] = ((1 - 10 * s3 + 15 * s4 - 6 * s5) * p0 + (s - 6 * s3 + 8 * s4 - 3 * s5) * h * v0
                  + (0.5 * s2 - 1.5 * s3 + 1.5 * s4 - 0.5 * s5) * h * h * a0
                  + (10 * s3 - 15 * s4 + 6 * s5) * p1 + (-4 * s3 + 7 * s4 - 3 * s5) * h * v1
                  + (0.5 * s3 - s4 + 0.5 * s5) * h * h * a1)
        out[i + 3] = ((-30 * s2 + 60 * s3 - 30 * s4) * (p0 - p1) / h + (1 - 18 * s2 + 32 * s3 - 15 * s4) * v0
                      + (s - 4.5 * s2 + 6 * s3 - 2.5 * s4) * h * a0
                      + (-12 * s2 + 28 * s3 - 15 * s4) * v1 + (1.5 * s2 - 4 * s3 + 2.5 * s4) * h * a1)


@njit(cache=True, nogil=True)
def _height_rate(y):
    lat, lon, h = ecef2geodetic_kernel(y[0], y[1], y[2])
    c = np.cos(lat)
    return h, y[3] * c * np.cos(lon) + y[4] * c * np.sin(lon) + y[5] * np.sin(lat)


@njit(cache=True, nogil=True)
def _fly_points(y0, t0, beta, horizon, want_apogee, rtol, atol, atol_v, hmax, lift_ld, lift_mode, lift_alt):
    """Fly M points to the ellipsoid. Returns impact states (M, 6), impact times (M,), status (M,)
    (1 ground, 0 not down within the horizon, 2 started at or below the ellipsoid), apogee height
    and time (M,) (NaN unless ``want_apogee[i]`` and the point is ascending).

    Adaptive Dormand-Prince 5(4) with the simulator's derivative (coast: no thrust; lift at ``lift_ld``
    times the drag in ``lift_mode`` (1 pull-up, 2 glide) below ``lift_alt`` [m], none at 0); the
    ground crossing is located on the quintic Hermite interpolant of the last step (secant on the
    fraction of the step, to 1e-4 m in height), which costs no extra force evaluations."""
    m = y0.shape[0]
    y_imp = np.empty((m, 6))
    t_imp = np.empty(m)
    status = np.zeros(m, np.int64)
    apo_h = np.full(m, np.nan)
    apo_t = np.full(m, np.nan)
    p = np.zeros(ig.P_SIZE)
    p[ig.P_ROT] = 1.0
    p[ig.P_J2] = 1.0
    p[ig.P_DRAG] = 1.0
    p[ig.P_LIFT_T1] = np.inf
    p[ig.P_KICK_DT] = 1.0
    p[ig.P_LIFT_LD] = lift_ld
    p[ig.P_LIFT_MODE] = lift_mode
    p[ig.P_LIFT_ALT] = lift_alt
    y = np.empty(6)
    ynew = np.empty(6)
    k1 = np.empty(6)
    k7 = np.empty(6)
    ks = np.empty((5, 6))
    tmp = np.empty(6)
    yc = np.empty(6)
    for i in range(m):
        y[:] = y0[i]
        h_alt, hdot = _height_rate(y)
        if h_alt <= 0.0:
            y_imp[i] = y
            t_imp[i] = t0[i]
            status[i] = 2
            continue
        if np.isfinite(beta[i]):
            p[ig.P_MASS0] = beta[i]
            p[ig.P_CDA] = 1.0
        else:
            p[ig.P_MASS0] = 1.0
            p[ig.P_CDA] = 0.0
        p[ig.P_T0] = t0[i]
        track_apo = want_apogee[i] and hdot > 0.0
        t = t0[i]
        t_end = t0[i] + horizon
        ig.derivative(t, y, p, k1)
        # first step: a fraction of the time to fall (or rise) through the local scale of the motion
        h = min(hmax, max(1.0, 0.02 * (h_alt + 1e4) / (abs(hdot) + 1.0) * 10.0))
        st = 0
        while t < t_end:
            if t + h > t_end:
                h = t_end - t
            _dp5_step(t, y, k1, h, p, ynew, k7, ks, tmp)
            e2 = 0.0
            for j in range(6):
                a = atol if j < 3 else atol_v
                sc = a + rtol * max(abs(y[j]), abs(ynew[j]))
                e2 += (tmp[j] / sc) ** 2
            e = np.sqrt(e2 / 6.0)
            if e > 1.0:
                h = h * max(0.2, 0.9 * e ** -0.2)
                continue
            h1, hd1 = _height_rate(ynew)
            if track_apo and hd1 <= 0.0:
                # apogee inside this step: maximise the height of the Hermite interpolant
                best, best_s = h_alt, 0.0
                for j in range(1, _APOGEE_SAMPLES + 1):
                    s = j / _APOGEE_SAMPLES
                    _hermite(y, k1, ynew, k7, h, s, yc)
                    hs = _height_rate(yc)[0]
                    if hs > best:
                        best, best_s = hs, s
                apo_h[i] = best
                apo_t[i] = t + best_s * h
                track_apo = False
            if h1 < 0.0 and hd1 < 0.0:
                # crossing inside this step: Illinois secant on the fraction s of the step
                sa, fa = 0.0, h_alt
                sb, fb = 1.0, h1
                sc_ = 1.0
                side = 0
                for _ in range(60):
                    sc_ = (sa * fb - sb * fa) / (fb - fa)
                    _hermite(y, k1, ynew, k7, h, sc_, yc)
                    fc = _height_rate(yc)[0]
                    if abs(fc) < 1e-4:
                        break
                    if fc * fb > 0.0:
                        sb, fb = sc_, fc
                        if side == -1:
                            fa *= 0.5
                        side = -1
                    else:
                        sa, fa = sc_, fc
                        if side == 1:
                            fb *= 0.5
                        side = 1
                y_imp[i] = yc
                t_imp[i] = t + sc_ * h
                st = 1
                break
            t = t + h
            y[:] = ynew
            k1[:] = k7
            h_alt = h1
            factor = 5.0 if e == 0.0 else min(5.0, 0.9 * e ** -0.2)
            h = min(h * factor, hmax)
        if st == 0:
            y_imp[i] = y
            t_imp[i] = t
        status[i] = st
    return y_imp, t_imp, status, apo_h, apo_t


def fly_to_ground(x, t_s, beta=None, horizon_s: float = DEFAULT_HORIZON_S, apogee: bool = False,
                  rtol: float = _RTOL, atol_m: float = _ATOL_M, atol_m_s: float = _ATOL_M_S,
                  hmax_s: float = _HMAX_S, lift_to_drag: float = 0.0, lift_mode: int = 1,
                  lift_alt_m: float = LIFT_ALT_M):
    """Fly M ECEF states ``x`` (M, 6) at times ``t_s`` (M,) ballistically to the WGS-84 ellipsoid.

    ``beta`` (M,) ballistic coefficients [kg/m^2] (None or inf: no drag). ``lift_to_drag`` > 0 adds
    aerodynamic lift of that many times the drag below ``lift_alt_m``, in the vertical plane, upwards
    (``lift_mode`` 1: only while descending, a pull-up into an equilibrium glide; 2: always, which
    skips), with the simulator's lift law (``warnlink.physics.integrator``). Returns a dict of arrays:
    ``ecef`` (M, 6) state at impact, ``t_s`` impact time, ``down`` (True where it came down within
    ``horizon_s``), ``apogee_alt_m``, ``apogee_time_s`` (NaN unless ``apogee`` and ascending).
    """
    x = np.ascontiguousarray(np.asarray(x, float).reshape(-1, 6))
    m = len(x)
    t = np.ascontiguousarray(np.broadcast_to(np.asarray(t_s, float), (m,)), dtype=float)
    b = np.full(m, np.inf) if beta is None else np.ascontiguousarray(np.broadcast_to(np.asarray(beta, float), (m,)))
    want = np.broadcast_to(np.asarray(apogee, bool), (m,)).copy()
    if not (lift_to_drag >= 0 and lift_mode in (1, 2)):
        raise ValueError(f"fly_to_ground: need lift_to_drag >= 0 and lift_mode 1 or 2, got {lift_to_drag}, {lift_mode}")
    y, ti, st, ah, at = _fly_points(x, t, b, float(horizon_s), want, float(rtol), float(atol_m), float(atol_m_s),
                                    float(hmax_s), float(lift_to_drag), float(lift_mode), float(lift_alt_m))
    return {"ecef": y, "t_s": ti, "down": st > 0, "apogee_alt_m": ah, "apogee_time_s": at}


# ------------------------------------------------------------------------------------- the cloud


def _sqrt_psd(P):
    """Lower-triangular-like square roots (N, n, n) with L L^T = P; eigen-decomposition where the
    Cholesky factorisation fails (semi-definite covariances)."""
    try:
        return np.linalg.cholesky(P)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(P)
        return v * np.sqrt(np.clip(w, 0.0, None))[:, None, :]


def _check_inputs(x, P, t_s):
    x = np.asarray(x, float)
    P = np.asarray(P, float)
    if x.ndim == 1:
        x = x[None]
    if P.ndim == 2:
        P = P[None]
    if x.ndim != 2 or x.shape[1] < 6:
        raise ValueError(f"x must be (N, 6) ECEF states [m, m/s], got shape {x.shape}")
    n = len(x)
    if P.shape != (n, 6, 6) and P.shape[1:] != (x.shape[1], x.shape[1]):
        raise ValueError(f"P must be (N, 6, 6) covariances matching x (N={n}), got shape {P.shape}")
    if len(P) != n:
        raise ValueError(f"P has {len(P)} covariances for {n} states")
    t = np.broadcast_to(np.asarray(t_s, float), (n,)) if np.ndim(t_s) == 0 else np.asarray(t_s, float)
    if t.shape != (n,):
        raise ValueError(f"t_s must be a scalar or (N,) = ({n},) times [s], got shape {t.shape}")
    if not (np.all(np.isfinite(x[:, :6])) and np.all(np.isfinite(P[:, :6, :6])) and np.all(np.isfinite(t))):
        raise ValueError("x, P and t_s must be finite")
    return x[:, :6], P[:, :6, :6], t


def _per_track(v, n, name, default):
    if v is None:
        return np.full(n, default, float)
    a = np.asarray(v, float)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{name} must be a scalar or (N,) = ({n},), got shape {a.shape}")
    return a.copy()


def drag_to_gravity(x, beta) -> np.ndarray:
    """Ratio (N,) of drag to gravity acceleration for states ``x`` (N, 6) with ballistic coefficient
    ``beta`` (N,) [kg/m^2] (US Standard Atmosphere 1976; 0 where beta is inf)."""
    x = np.asarray(x, float)
    alt = ecef2geodetic(x[:, 0], x[:, 1], x[:, 2])[2]
    rho = density_array(alt)
    v2 = np.einsum("ni,ni->n", x[:, 3:6], x[:, 3:6])
    with np.errstate(divide="ignore", invalid="ignore"):
        r = 0.5 * rho * v2 / beta / _G0
    return np.where(np.isfinite(beta), r, 0.0)


def _lift_footprint(x, t, beta, lat, lon, t_ball, ld_max, horizon_s):
    """Far end of the reach of M manoeuvring states (lift up to ``ld_max``, pull-up or skipping glide) and
    the uniform-segment terms: new mean lat/lon [deg], added east/north covariance (M, 2, 2) [m^2], added
    impact-time variance [s^2] and the shift of the mean impact time [s]."""
    m = len(x)
    best_d = np.zeros(m)
    best_az = np.zeros(m)
    best_dt = np.zeros(m)
    for mode in (1, 2):
        fl = fly_to_ground(x, t, beta, horizon_s, lift_to_drag=ld_max, lift_mode=mode)
        flat, flon, _ = ecef2geodetic(*fl["ecef"][:, :3].T, deg=True)
        az, _, d = inverse(lat, lon, flat, flon)
        d = np.where(fl["down"], np.asarray(d, float).reshape(m), 0.0)
        better = d > best_d
        best_d = np.where(better, d, best_d)
        best_az = np.where(better, np.asarray(az, float).reshape(m), best_az)
        best_dt = np.where(better, fl["t_s"] - t_ball, best_dt)
    mlat, mlon = direct(lat, lon, best_az, best_d / 2.0)
    u = np.stack([np.sin(np.radians(best_az)), np.cos(np.radians(best_az))], axis=-1)
    add = (best_d**2 / 12.0)[:, None, None] * u[:, :, None] * u[:, None, :]
    return (np.asarray(mlat, float).reshape(m), np.asarray(mlon, float).reshape(m), add, best_dt**2 / 12.0,
            best_dt / 2.0)


def predict_impact(
    x,
    P,
    t_s,
    beta=None,
    *,
    beta_log_sigma=DEFAULT_BETA_LOG_SIGMA,
    method: str = "unscented",
    n_samples: int = 200,
    rng=None,
    p_scale: float = 1.0,
    drag_free_filter: bool = True,
    lift_to_drag: float = DEFAULT_LIFT_TO_DRAG,
    floor_m: float = DEFAULT_FLOOR_M,
    floor_time_s: float = DEFAULT_FLOOR_TIME_S,
    launch_lat_deg=None,
    launch_lon_deg=None,
    launch_time_s=None,
    horizon_s: float = DEFAULT_HORIZON_S,
    manoeuvre=None,
    max_lift_to_drag: float = MAX_LIFT_TO_DRAG,
) -> ImpactPrediction:
    """Predict the impact of N tracks with its 95% ellipse (see the module docstring for the model).

    Args:
        x: ECEF states (N, 6) [m, m/s] (one state (6,) is taken as N = 1).
        P: their covariances (N, 6, 6).
        t_s: times of the states [s], scalar or (N,).
        beta: ballistic coefficient [kg/m^2], scalar or (N,); None: the prior ``DEFAULT_BETA_KG_M2``;
            inf: no drag.
        beta_log_sigma: 1-sigma of ln(beta), scalar or (N,) (0: beta known exactly).
        method: ``"unscented"`` (15 points per track) or ``"sampled"`` (``n_samples`` draws, ``rng``).
        p_scale, drag_free_filter, lift_to_drag, floor_m, floor_time_s: model-error terms (module
            docstring); ``drag_free_filter=False, lift_to_drag=0, floor_m=0, floor_time_s=0`` gives the
            bare propagation of the track's own uncertainty.
        launch_lat_deg, launch_lon_deg: launch point (scalars or (N,)) for the ground range.
        launch_time_s: launch time [s] (scalar or (N,)) for the flight time.
        horizon_s: a point not down after this long [s] flags its track as not impacting.
        manoeuvre: (N,) bool or None: tracks flagged as manoeuvring get the physically bounded footprint
            (module docstring) of a vehicle with lift-to-drag up to ``max_lift_to_drag``.

    Returns:
        An ``ImpactPrediction`` with one row per track.
    """
    x, P, t = _check_inputs(x, P, t_s)
    n = len(x)
    if method not in ("unscented", "sampled"):
        raise ValueError(f"method must be 'unscented' or 'sampled', got {method!r}")
    if not (p_scale > 0 and horizon_s > 0 and lift_to_drag >= 0 and floor_m >= 0 and floor_time_s >= 0):
        raise ValueError("p_scale and horizon_s must be positive; lift_to_drag, floor_m and floor_time_s "
                         "non-negative")
    b0 = _per_track(beta, n, "beta", DEFAULT_BETA_KG_M2)
    if np.any(~(b0 > 0)):
        raise ValueError("beta must be positive (inf for no drag)")
    bs = _per_track(beta_log_sigma, n, "beta_log_sigma", DEFAULT_BETA_LOG_SIGMA)
    if np.any(bs < 0) or not np.all(np.isfinite(bs)):
        raise ValueError("beta_log_sigma must be finite and non-negative")
    bs = np.where(np.isfinite(b0), bs, 0.0)

    Ps = P * p_scale
    if drag_free_filter:
        # a drag-free filter inside the atmosphere lags the drag it did not model (item 2)
        a_d = drag_to_gravity(x, b0) * _G0
        Ps = Ps.copy()
        Ps[:, :3, :3] += ((a_d * FILTER_MEMORY_S**2 / 2.0) ** 2)[:, None, None] * np.eye(3)
        Ps[:, 3:, 3:] += ((a_d * FILTER_MEMORY_S) ** 2)[:, None, None] * np.eye(3)
    L = _sqrt_psd(Ps)  # (n, 6, 6)
    if method == "unscented":
        k = 15
        dx = np.zeros((n, k, 7))
        dx[:, 1:7, :6] = UT_STATE_SPREAD * np.swapaxes(L, 1, 2)
        dx[:, 7:13, :6] = -UT_STATE_SPREAD * np.swapaxes(L, 1, 2)
        dx[:, 13, 6] = UT_BETA_SPREAD * bs
        dx[:, 14, 6] = -UT_BETA_SPREAD * bs
        w = np.empty(k)
        w[1:13] = 0.5 / UT_STATE_SPREAD**2
        w[13:15] = 0.5 / UT_BETA_SPREAD**2
        w[0] = 1.0 - w[1:].sum()
    else:
        if n_samples < 10:
            raise ValueError(f"n_samples must be at least 10, got {n_samples}")
        rng = np.random.default_rng(rng)
        k = n_samples + 1
        z = rng.standard_normal((n, k, 7))
        z[:, 0] = 0.0  # the first point is the mean (for the apogee), not counted in the statistics
        dx = np.empty((n, k, 7))
        dx[..., :6] = np.einsum("nij,nkj->nki", L, z[..., :6])
        dx[..., 6] = bs[:, None] * z[..., 6]
        w = np.full(k, 1.0 / n_samples)
        w[0] = 0.0
    # one more point: the mean without drag, for the drag displacement (item 3); weight 0
    dx = np.concatenate([dx, np.zeros((n, 1, 7))], axis=1)
    w = np.append(w, 0.0)
    k += 1
    pts = x[:, None, :] + dx[..., :6]
    with np.errstate(over="ignore"):
        bpts = b0[:, None] * np.exp(dx[..., 6])
    bpts[:, -1] = np.inf
    apo = np.zeros((n, k), bool)
    apo[:, 0] = True
    fl = fly_to_ground(pts.reshape(-1, 6), np.repeat(t, k), bpts.reshape(-1), horizon_s, apo.reshape(-1))
    imp = fl["ecef"][:, :3].reshape(n, k, 3)
    ti = fl["t_s"].reshape(n, k)
    down = fl["down"].reshape(n, k)[:, :-1].all(axis=1)

    mean = np.einsum("k,nki->ni", w, imp)
    lat, lon, _ = ecef2geodetic(mean[:, 0], mean[:, 1], mean[:, 2], deg=True)
    mean_g = np.stack(geodetic2ecef(lat, lon, np.zeros_like(lat), deg=True), axis=-1)
    east, north, _ = enu_basis(lat, lon, deg=True)
    d = imp - mean_g[:, None, :]
    en = np.stack([np.einsum("nki,ni->nk", d, east), np.einsum("nki,ni->nk", d, north)], axis=-1)
    en_mean = np.einsum("k,nki->ni", w, en)
    den = en - en_mean[:, None, :]
    cov = np.einsum("k,nki,nkj->nij", w, den, den)
    t_mean = ti @ w
    t_var = ((ti - t_mean[:, None]) ** 2) @ w

    tgo = np.maximum(t_mean - t, 0.0)
    drag_disp = np.linalg.norm(en[:, 0] - en[:, -1], axis=1)  # the mean with and without drag
    cov = cov + (floor_m**2 + (lift_to_drag * drag_disp) ** 2)[:, None, None] * np.eye(2)[None]
    t_sig = np.sqrt(t_var + floor_time_s**2)
    lat, lon = lat.copy(), lon.copy()
    if manoeuvre is not None:
        man = np.broadcast_to(np.asarray(manoeuvre, bool), (n,)) & down
        if man.any():
            i = np.flatnonzero(man)
            lat[i], lon[i], add_en, add_t, dt_mid = _lift_footprint(x[i], t[i], b0[i], lat[i], lon[i], t_mean[i],
                                                                    max_lift_to_drag, horizon_s)
            cov[i] += add_en
            t_sig[i] = np.sqrt(t_sig[i] ** 2 + add_t)
            t_mean[i] += dt_mid
            mean_g[i] = np.stack(geodetic2ecef(lat[i], lon[i], np.zeros(len(i)), deg=True), axis=-1)
            tgo = np.maximum(t_mean - t, 0.0)

    evals, evecs = np.linalg.eigh(cov)
    semi_major = K95_2DOF * np.sqrt(np.clip(evals[:, 1], 0.0, None))
    semi_minor = K95_2DOF * np.sqrt(np.clip(evals[:, 0], 0.0, None))
    major = evecs[:, :, 1]
    orient = np.mod(np.degrees(np.arctan2(major[:, 0], major[:, 1])), 180.0)

    apo_h = fl["apogee_alt_m"].reshape(n, k)[:, 0]
    apo_t = fl["apogee_time_s"].reshape(n, k)[:, 0]
    if launch_lat_deg is not None and launch_lon_deg is not None:
        la = _per_track(launch_lat_deg, n, "launch_lat_deg", np.nan)
        lo = _per_track(launch_lon_deg, n, "launch_lon_deg", np.nan)
        rng_m = np.asarray(inverse(la, lo, lat, lon)[2], float).reshape(n)
    else:
        rng_m = np.full(n, np.nan)
    ft = t_mean - _per_track(launch_time_s, n, "launch_time_s", np.nan)

    nan = np.where(down, 1.0, np.nan)
    return ImpactPrediction(
        t_s=t.copy(),
        impacted=down,
        lat_deg=lat * nan,
        lon_deg=lon * nan,
        impact_ecef_m=mean_g * nan[:, None],
        impact_time_s=t_mean * nan,
        impact_time_sigma_s=t_sig * nan,
        cov_en_m2=cov * nan[:, None, None],
        semi_major_m=semi_major * nan,
        semi_minor_m=semi_minor * nan,
        orientation_deg=orient * nan,
        confidence=CONFIDENCE,
        apogee_alt_m=apo_h,
        apogee_time_s=apo_t,
        ground_range_m=rng_m * nan,
        flight_time_s=ft * nan,
        time_to_impact_s=tgo * nan,
    )
