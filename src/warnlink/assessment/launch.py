"""Launch point and launch time from an early track state, through a boost model run backwards.

Method (chosen over matching a library of simulated boost trajectories, which needs a grid over
loft, burn cut-off and azimuth): after the pitch-over, the notional flights of
``warnlink.physics.flight`` fly a gravity turn, thrust along the Earth-relative velocity, with the
class's constant thrust and mass flow, stage by stage. Given the state at a time ``tau`` after
lift-off, that motion can be integrated *backwards* to lift-off exactly, with the simulator's own
equations of motion (``warnlink.physics.integrator.derivative``: J2, rotating Earth, drag of the
stack, thrust), and the unknown ``tau`` is fixed by the one condition lift-off imposes: the vehicle
is at rest on the ground. If ``tau`` is guessed too small, the backward flight still moves at the
guessed lift-off (the assumed vehicle is heavier, the thrust weaker); too large, and it comes to rest
early, in the air. ``tau`` minimises the lift-off mismatch (``_cost``: the rest point's height, time
and speed, and any hovering near rest, which a wrong stage's schedule can produce): a scan at ``SCAN_S``
over the class's burn, then golden section around the best, each evaluation one backward flight (fixed
RK4 steps of ``STEP_S`` aligned with the staging events, compiled with Numba). The launch point is where
the backward flight comes to rest; the launch time is ``t_s - tau``.

A state after burnout is first coasted back to the burnout time (``burnout_time_s``; from the plume's
disappearance, or the track's change of acceleration); without it the state is taken as powered (in
boost or at burnout, which for this computation are the same). A burn cut short (energy management)
needs no special case: before the cut the schedule is the full one.

The coast back flies with the drag of the candidate class's re-entry vehicle (``rv_beta``), since an
SRBM burns out low: 5 s of drag-free coast back from a KN-23-like burnout at 44 s put the burnout state
206 m/s off and the launch point 4.6 km off, and 10 s made it unsolvable; with the vehicle's drag the
state is within 2 m and the launch within 0.9-1.4 km (noise-free, 5-40 s of coast, the simulator's
flight). A spent stage's coast back is not modelled (its drag depends on the propellant a cut burn left
in it): a stage first seen in coast fits no class, or a wrong one. The burnout time of a track first
seen in coast is known only roughly (its first sight, or the tracker's change of model); 1 s off costs
about 1 km, 3 s off a wrong class or no solution. With ``burnout_search_s`` it is fitted as well: the
lift-off mismatch of the mean state, minimised over ``tau`` as above, is scanned at ``BURNOUT_SCAN_S``
steps over the burnout times within ``burnout_search_s`` of ``burnout_time_s`` (none after the state)
and refined by golden section to ``BURNOUT_TOL_S``; the unscented points are solved at that burnout
time (its own uncertainty is left to the floors).

Uncertainty: the 13 points of the unscented transform of ``(x, P)`` (at +-sqrt(6) sigma, equal
weights) are each solved; their spread gives the 2x2 east/north covariance [m^2] at the mean launch
point and the launch-time sigma. Model error added (NOTIONAL, from noise-free runs of the notional
classes): ``floor_m`` (1-sigma per axis) for the unmodelled vertical rise and pitch-over (thrust not
along the velocity for the first ~10-20 s) and ``floor_time_s`` for the launch site's height (the
rest point is placed on the ellipsoid; a site 1 km up changes the time by about 1-2 s).

Candidates: with ``missile_class=None`` every notional class is tried; a class whose schedule cannot
produce the state (no root of ``g`` in its burn) is dropped, and among the rest the one whose backward
flight best meets lift-off (smallest cost: rest height, time and speed, and no hovering near rest, see
``_cost``) is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from warnlink.geo import ecef2geodetic, enu_basis, geodetic2ecef
from warnlink.geo.frames import ecef2geodetic_kernel
from warnlink.physics import integrator as ig
from warnlink.physics.missiles import CLASSES, MissileClass, get_class
from warnlink.tracking.motion import propagate

STEP_S = 0.5
"""Runge-Kutta step [s] of the backward boost flights (aligned with the staging events)."""
TAU_MIN_S = 3.0
"""Shortest time since lift-off [s] considered."""
DEFAULT_FLOOR_M = 1500.0
"""1-sigma floor per axis [m] of the launch point (unmodelled pitch programme; NOTIONAL)."""
DEFAULT_FLOOR_TIME_S = 1.5
"""1-sigma floor [s] of the launch time (unknown launch-site height; NOTIONAL)."""
SCAN_S = 0.5
"""Spacing [s] of the scan of the lift-off mismatch over the class's burn."""
MAX_COST = 25.0
"""A class whose best lift-off mismatch (cost, see ``_cost``) exceeds this cannot produce the state."""
BRACKET_S = 2.0
"""Half-width [s] of the bracket around the mean's root for the unscented points."""
TAU_EXTEND_S = 5.0
"""The last burn is extended by this much [s] in the search, so that a state at burnout is bracketed."""
_MAX_ITER = 40
SLOW_M_S = 30.0
"""Speed [m/s] below which the backward flight counts as near rest (``_cost``). A boost leaves the pad at its
first stage's acceleration, so it is this slow for only a few seconds; without that term a wrong tau can fit.
A notional IRBM's state 109 s into its first stage, flown back as if 178.5-180 s into the second, falls to
near rest at ~100 s and then crawls 0.7 km above or below the ground at 3-7 m/s for 100 s, its slowest point
at lift-off (cost 0.6-2.9, against 5.7-8.7 at the true tau's nearest scan points): a launch 70 s early."""
SLOW_MARGIN_S = 2.0
"""Slack [s] on the time near rest (``SLOW_M_S``) that lift-off takes."""
G0_M_S2 = 9.80665
"""Standard gravity [m/s^2] (the first stage's lift-off acceleration is its thrust over mass less this)."""
BURNOUT_SCAN_S = 1.0
"""Step [s] of the scan of burnout times (``burnout_search_s``)."""
BURNOUT_TOL_S = 0.05
"""Width [s] to which the golden-section search of the burnout time narrows it."""


@dataclass(frozen=True)
class LaunchEstimate:
    """Estimated launch point and time of one track.

    Attributes:
        lat_deg, lon_deg: geodetic launch point [deg].
        time_s: launch time [s, the clock of the track's ``t_s``].
        time_sigma_s: 1-sigma of the launch time [s].
        cov_en_m2: (2, 2) covariance of the launch point in the local east/north plane [m^2].
        missile_class: name of the notional class whose boost model was used.
        tau_s: time from launch to the track state [s].
        rest_height_m: height [m] at which the backward flight of the mean came to rest (a
            consistency figure: near 0 for the right class).
        candidates: per class tried, its ``rest_height_m`` (NaN where the class cannot produce the state).
        burnout_time_s: the burnout time [s] the state was coasted back to (fitted with
            ``burnout_search_s``), or None when it was taken as powered.
    """

    lat_deg: float
    lon_deg: float
    time_s: float
    time_sigma_s: float
    cov_en_m2: np.ndarray
    missile_class: str
    tau_s: float
    rest_height_m: float
    candidates: dict
    burnout_time_s: float | None = None

    def semi_axes_m(self, confidence: float = 0.95) -> tuple[float, float]:
        """Semi-major and semi-minor axes [m] of the ``confidence`` ellipse of the launch point."""
        from scipy.stats import chi2

        w = np.linalg.eigvalsh(self.cov_en_m2)
        k = np.sqrt(chi2.ppf(confidence, 2))
        return float(k * np.sqrt(max(w[1], 0.0))), float(k * np.sqrt(max(w[0], 0.0)))


def rv_beta(missile: MissileClass) -> float:
    """Ballistic coefficient ``m / (Cd A)`` [kg/m^2] of ``missile``'s re-entry vehicle after burnout
    (payload mass over ``rv_cda_m2``, as ``warnlink.physics.flight.fly`` flies it)."""
    return missile.payload_kg / missile.rv_cda_m2


def boost_schedule(missile: MissileClass) -> np.ndarray:
    """Segments (S, 5) of the full-burn boost: start [s], end [s], thrust [N], mass flow [kg/s], mass
    at the start [kg]; burns and staging coasts in order (as ``warnlink.physics.flight.fly``)."""
    rows = []
    t = 0.0
    mass = missile.launch_mass_kg
    n = len(missile.stages)
    for k, st in enumerate(missile.stages):
        rows.append((t, t + st.burn_s, st.thrust_n, st.mass_flow_kg_s, mass))
        t += st.burn_s
        mass -= st.propellant_kg + st.dry_kg
        if k < n - 1 and missile.staging_coast_s > 0:
            rows.append((t, t + missile.staging_coast_s, 0.0, 0.0, mass))
            t += missile.staging_coast_s
    return np.array(rows, float)


@njit(cache=True, nogil=True)
def _rk4(t, y, h, p, out, k1, k2, k3, k4, tmp):
    ig.derivative(t, y, p, k1)
    for i in range(6):
        tmp[i] = y[i] + 0.5 * h * k1[i]
    ig.derivative(t + 0.5 * h, tmp, p, k2)
    for i in range(6):
        tmp[i] = y[i] + 0.5 * h * k2[i]
    ig.derivative(t + 0.5 * h, tmp, p, k3)
    for i in range(6):
        tmp[i] = y[i] + h * k3[i]
    ig.derivative(t + h, tmp, p, k4)
    for i in range(6):
        out[i] = y[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])


@njit(cache=True, nogil=True)
def _backward(y0, tau, seg, cda, step, rest):
    """Fly state ``y0`` at time ``tau`` after lift-off backwards to lift-off under the schedule
    ``seg``; writes the rest point (minimum speed) state to ``rest`` and returns (its lift-off time
    [s], the speed at lift-off [m/s], the time [s] the flight spent slower than ``SLOW_M_S``)."""
    p = np.zeros(ig.P_SIZE)
    p[ig.P_ROT] = 1.0
    p[ig.P_J2] = 1.0
    p[ig.P_DRAG] = 1.0
    p[ig.P_LIFT_T1] = np.inf
    p[ig.P_KICK_DT] = 1.0
    p[ig.P_KICK] = 0.0  # no attitude hold: thrust along the velocity (gravity turn)
    p[ig.P_CDA] = cda
    y = y0.copy()
    yn = np.empty(6)
    k1 = np.empty(6)
    k2 = np.empty(6)
    k3 = np.empty(6)
    k4 = np.empty(6)
    tmp = np.empty(6)
    best = np.sqrt(y[3] ** 2 + y[4] ** 2 + y[5] ** 2)
    best_t = tau
    slow = 0.0
    rest[:] = y
    for s in range(seg.shape[0] - 1, -1, -1):
        t_a, t_b = seg[s, 0], seg[s, 1]
        if t_a >= tau:
            continue
        t_hi = min(t_b, tau)
        p[ig.P_MODE] = 3.0 if seg[s, 2] > 0.0 else 0.0
        p[ig.P_THRUST] = seg[s, 2]
        p[ig.P_MDOT] = seg[s, 3]
        p[ig.P_MASS0] = seg[s, 4]
        p[ig.P_T0] = t_a
        n = max(1, int(np.ceil((t_hi - t_a) / step - 1e-9)))
        h = (t_hi - t_a) / n
        t = t_hi
        for _ in range(n):
            _rk4(t, y, -h, p, yn, k1, k2, k3, k4, tmp)
            t -= h
            y[:] = yn
            v = np.sqrt(y[3] ** 2 + y[4] ** 2 + y[5] ** 2)
            if v < best:
                best = v
                best_t = t
                rest[:] = y
            if v < SLOW_M_S:
                slow += h
    return best_t, np.sqrt(y[3] ** 2 + y[4] ** 2 + y[5] ** 2), slow


@njit(cache=True, nogil=True)
def _cost(y0, tau, seg, cda, step, rest):
    """Mismatch of lift-off for a guessed ``tau``: the backward flight must come to rest (speed
    minimum) at lift-off (time 0) on the ground, and leave it at the first stage's acceleration:
    (h_rest / 1 km)^2 + (t_rest / 1 s)^2 + (v / 10 m/s)^2 + (t_hover / 1 s)^2, with t_hover the time it
    spent slower than ``SLOW_M_S`` beyond what lift-off takes (``SLOW_M_S`` over the first stage's thrust
    acceleration less gravity, plus ``SLOW_MARGIN_S``)."""
    t_rest, _, slow = _backward(y0, tau, seg, cda, step, rest)
    h = ecef2geodetic_kernel(rest[0], rest[1], rest[2])[2]
    v = np.sqrt(rest[3] ** 2 + rest[4] ** 2 + rest[5] ** 2)
    a0 = max(seg[0, 2] / seg[0, 4] - G0_M_S2, 1.0)
    hover = max(0.0, slow - SLOW_M_S / a0 - SLOW_MARGIN_S)
    return (h / 1000.0) ** 2 + t_rest**2 + (v / 10.0) ** 2 + hover**2


@njit(cache=True, nogil=True)
def _solve(y0s, seg, cda, step, tau_lo, tau_hi, n_scan, out_tau, out_rest, out_cost):
    """For every state of ``y0s`` (M, 6): scan the cost at ``n_scan`` points of [tau_lo, tau_hi], then
    golden-section search around the best to 1e-3 s."""
    rest = np.empty(6)
    gr = (np.sqrt(5.0) - 1.0) / 2.0
    for i in range(y0s.shape[0]):
        y0 = y0s[i]
        lo, hi = tau_lo[i], tau_hi[i]
        dt = (hi - lo) / (n_scan - 1)
        best, best_t = np.inf, lo
        for j in range(n_scan):
            tj = lo + j * dt
            c = _cost(y0, tj, seg, cda, step, rest)
            if c < best:
                best, best_t = c, tj
        a = max(lo, best_t - dt)
        b = min(hi, best_t + dt)
        c1 = b - gr * (b - a)
        c2 = a + gr * (b - a)
        f1 = _cost(y0, c1, seg, cda, step, rest)
        f2 = _cost(y0, c2, seg, cda, step, rest)
        while b - a > 1e-3:
            if f1 < f2:
                b, c2, f2 = c2, c1, f1
                c1 = b - gr * (b - a)
                f1 = _cost(y0, c1, seg, cda, step, rest)
            else:
                a, c1, f1 = c1, c2, f2
                c2 = a + gr * (b - a)
                f2 = _cost(y0, c2, seg, cda, step, rest)
        t = 0.5 * (a + b)
        fc = _cost(y0, t, seg, cda, step, rest)
        if best < fc:
            t = best_t
            fc = _cost(y0, t, seg, cda, step, rest)
        out_tau[i] = t
        out_rest[i] = rest
        out_cost[i] = fc


def _class_arrays(missile: MissileClass):
    seg = boost_schedule(missile)
    seg[-1, 1] += TAU_EXTEND_S  # let the last burn run on a little, so that a state at burnout is bracketed
    return seg


def _solve_mean(missile: MissileClass, y0: np.ndarray):
    """Best tau for one state over the class's whole burn. Returns (tau, rest state, rest height, cost)."""
    seg = _class_arrays(missile)
    n_scan = int(np.ceil((seg[-1, 1] - TAU_MIN_S) / SCAN_S)) + 1
    tau, rest, cost = np.empty(1), np.empty((1, 6)), np.empty(1)
    _solve(np.ascontiguousarray(y0[None], float), seg, missile.boost_cda_m2, STEP_S, np.array([TAU_MIN_S]),
           np.array([seg[-1, 1]]), n_scan, tau, rest, cost)
    h = float(ecef2geodetic(*rest[0, :3])[2])
    return float(tau[0]), rest[0], h, float(cost[0])


def _coast_back(pts: np.ndarray, t_s: float, t_b, missile: MissileClass) -> np.ndarray:
    """States ``pts`` (M, 6) at ``t_s`` coasted back to ``t_b`` (scalar or (M,)) with the drag of the
    class's re-entry vehicle."""
    dt = np.broadcast_to(np.asarray(t_b, float) - t_s, (len(pts),))
    if not np.any(dt):
        return np.array(pts, float)
    out, _ = propagate(pts, dt, beta=np.full(len(pts), rv_beta(missile)), with_stm=False)
    return out


def _fit_burnout(missile: MissileClass, y: np.ndarray, t_s: float, lo: float, hi: float):
    """Burnout time in [lo, hi] whose coast back of state ``y`` (at ``t_s``) best meets lift-off: a scan at
    ``BURNOUT_SCAN_S`` (the scan's states solved in one compiled call), then golden section. Returns
    (burnout time, tau, rest state, rest height, cost); the cost is infinite when the best lies at the
    window's early edge (``lo`` is an assumed bound, not a burnout: a wrong class fits there, an SRBM's
    schedule for a notional MRBM's coast at 15-18 s before its burnout)."""
    seg = _class_arrays(missile)
    n = max(2, int(np.ceil((hi - lo) / BURNOUT_SCAN_S - 1e-9)) + 1)
    tbs = np.linspace(lo, hi, n)
    ys = _coast_back(np.repeat(y[None], n, axis=0), t_s, tbs, missile)
    n_scan = int(np.ceil((seg[-1, 1] - TAU_MIN_S) / SCAN_S)) + 1
    tau, rest, cost = np.empty(n), np.empty((n, 6)), np.empty(n)
    _solve(np.ascontiguousarray(ys), seg, missile.boost_cda_m2, STEP_S, np.full(n, TAU_MIN_S),
           np.full(n, seg[-1, 1]), n_scan, tau, rest, cost)
    k = int(np.argmin(cost))
    best = (float(tbs[k]), float(tau[k]), rest[k].copy(), float(cost[k]))

    tb_k, tau_k = best[0], best[1]
    one_t, one_rest, one_cost = np.empty(1), np.empty((1, 6)), np.empty(1)
    n_br = int(np.ceil(2 * BRACKET_S / SCAN_S)) + 1

    def f(tb):
        # near the scan's best, tau moves with the burnout time (the launch time stays put): bracketed
        nonlocal best
        guess = tau_k + (tb - tb_k)
        _solve(np.ascontiguousarray(_coast_back(y[None], t_s, tb, missile)), seg, missile.boost_cda_m2, STEP_S,
               np.array([max(TAU_MIN_S, guess - BRACKET_S)]), np.array([min(seg[-1, 1], guess + BRACKET_S)]),
               n_br, one_t, one_rest, one_cost)
        if one_cost[0] < best[3]:
            best = (float(tb), float(one_t[0]), one_rest[0].copy(), float(one_cost[0]))
        return float(one_cost[0])

    gr = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = max(lo, tbs[k] - BURNOUT_SCAN_S), min(hi, tbs[k] + BURNOUT_SCAN_S)
    c1, c2 = b - gr * (b - a), a + gr * (b - a)
    f1, f2 = f(c1), f(c2)
    while b - a > BURNOUT_TOL_S:
        if f1 < f2:
            b, c2, f2 = c2, c1, f1
            c1 = b - gr * (b - a)
            f1 = f(c1)
        else:
            a, c1, f1 = c1, c2, f2
            c2 = a + gr * (b - a)
            f2 = f(c2)
    tb, tau0, rest0, c0 = best
    if tb <= lo + BURNOUT_TOL_S:
        c0 = np.inf  # best at the window's early edge: no burnout time in the window fits this class
    return tb, tau0, rest0, float(ecef2geodetic(*rest0[:3])[2]), c0


def _solve_points(missile: MissileClass, pts: np.ndarray, tau0: float):
    """Best tau for many states, searched within +-``BRACKET_S`` of the mean's."""
    seg = _class_arrays(missile)
    m = len(pts)
    lo = np.full(m, max(TAU_MIN_S, tau0 - BRACKET_S))
    hi = np.full(m, min(seg[-1, 1], tau0 + BRACKET_S))
    tau, rest, cost = np.empty(m), np.empty((m, 6)), np.empty(m)
    n_scan = int(np.ceil(2 * BRACKET_S / SCAN_S)) + 1
    _solve(np.ascontiguousarray(pts, float), seg, missile.boost_cda_m2, STEP_S, lo, hi, n_scan, tau, rest, cost)
    return tau, rest, cost


def estimate_launch(
    x,
    P,
    t_s: float,
    missile_class=None,
    *,
    burnout_time_s: float | None = None,
    burnout_search_s: float = 0.0,
    floor_m: float = DEFAULT_FLOOR_M,
    floor_time_s: float = DEFAULT_FLOOR_TIME_S,
) -> LaunchEstimate:
    """Estimate the launch point and time of one track from its state (see the module docstring).

    Args:
        x: ECEF state (6,) [m, m/s] of the track at ``t_s``, in boost or at burnout (or later, with
            ``burnout_time_s``).
        P: its covariance (6, 6).
        t_s: time of the state [s].
        missile_class: a class name or ``MissileClass``, a list of them (candidates), or None for
            every notional class.
        burnout_time_s: time of burnout [s] if the state is later than it (coasted back first, with the
            drag of each candidate class's re-entry vehicle).
        burnout_search_s: with ``burnout_time_s``, fit the burnout time within this many seconds of it
            (none after ``t_s``; module docstring). 0: take ``burnout_time_s`` as it is.
        floor_m, floor_time_s: model-error floors (module docstring).

    Returns:
        A ``LaunchEstimate``. Raises ``ValueError`` if no candidate class can produce the state.
    """
    x = np.asarray(x, float).reshape(-1)
    P = np.asarray(P, float)
    if x.shape != (6,) or P.shape != (6, 6):
        raise ValueError(f"x must be one ECEF state (6,) and P its (6, 6) covariance, got {x.shape} and {P.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(P)) and np.isfinite(t_s)):
        raise ValueError("x, P and t_s must be finite")
    if missile_class is None:
        cands = list(CLASSES.values())
    elif isinstance(missile_class, (str, MissileClass)):
        cands = [missile_class]
    else:
        cands = list(missile_class)
    cands = [get_class(c) if isinstance(c, str) else c for c in cands]
    if not cands:
        raise ValueError("missile_class: empty list of candidates")

    # unscented points of the state (13, equal weights 1/12 at +-sqrt(6) sigma, centre weight 0)
    w_, v_ = np.linalg.eigh(0.5 * (P + P.T))
    L = v_ * np.sqrt(np.clip(w_, 0.0, None))
    pts = np.vstack([x, x + np.sqrt(6.0) * L.T, x - np.sqrt(6.0) * L.T])
    wts = np.r_[0.0, np.full(12, 1.0 / 12.0)]
    if not (np.isfinite(burnout_search_s) and burnout_search_s >= 0.0):
        raise ValueError(f"burnout_search_s must be a finite number >= 0, got {burnout_search_s}")
    t_s = float(t_s)
    window = None
    if burnout_time_s is not None:
        if not np.isfinite(burnout_time_s):
            raise ValueError(f"burnout_time_s must be finite, got {burnout_time_s}")
        if burnout_time_s > t_s:
            raise ValueError(f"burnout_time_s ({burnout_time_s}) is after the state's time ({t_s})")
        lo, hi = burnout_time_s - burnout_search_s, min(burnout_time_s + burnout_search_s, t_s)
        if burnout_search_s > 0.0 or burnout_time_s < t_s:
            window = (float(lo), float(hi))

    heights = {}
    sols = {}
    for mc in cands:
        try:
            if window is None:
                t_b = t_s
                tau0, rest0, h0, c0 = _solve_mean(mc, pts[0])
            elif window[0] == window[1]:
                t_b = window[0]
                tau0, rest0, h0, c0 = _solve_mean(mc, _coast_back(pts[:1], t_s, t_b, mc)[0])
            else:
                t_b, tau0, rest0, h0, c0 = _fit_burnout(mc, pts[0], t_s, *window)
        except ZeroDivisionError:  # the backward flight passed through zero speed: not this class's state
            heights[mc.name] = np.nan
            continue
        heights[mc.name] = h0 if c0 <= MAX_COST else np.nan
        if c0 <= MAX_COST:
            sols[mc.name] = (mc, tau0, rest0, c0, t_b)
    if not sols:
        raise ValueError(f"no candidate class ({', '.join(c.name for c in cands)}) can produce this state "
                         "by its boost schedule")
    name = min(sols, key=lambda k: sols[k][3])
    mc, tau0, rest0, _, t_ref = sols[name]
    if t_ref < t_s:
        pts = _coast_back(pts, t_s, t_ref, mc)
    try:
        tau, rest, pcost = _solve_points(mc, pts, tau0)
    except ZeroDivisionError:
        raise ValueError(f"the state's uncertainty spans states that {name}'s boost schedule cannot produce "
                         "(a backward flight passed through zero speed)") from None
    if window is not None and np.median(pcost[1:]) > MAX_COST:
        # the mean fits but most of its unscented points do not: a chance fit (a spent stage coasted back with
        # the vehicle's drag gave a 4 700 km ellipse), not this class's flight
        raise ValueError(f"the state's uncertainty spans states that {name}'s boost schedule cannot produce "
                         f"(median lift-off mismatch of the unscented points {np.median(pcost[1:]):.3g})")
    tau[0], rest[0] = tau0, rest0
    lat, lon, _ = ecef2geodetic(rest[:, 0], rest[:, 1], rest[:, 2])
    ground = np.stack(geodetic2ecef(lat, lon, np.zeros_like(lat)), axis=-1)
    mean = wts @ ground if wts.sum() > 0 else ground[0]
    mlat, mlon, _ = ecef2geodetic(*mean)
    mg = np.array(geodetic2ecef(mlat, mlon, 0.0))
    e, n, _ = enu_basis(mlat, mlon)
    d = ground - mg
    en = np.stack([d @ e, d @ n], axis=-1)
    en_c = en - wts @ en
    cov = np.einsum("k,ki,kj->ij", wts, en_c, en_c) + floor_m**2 * np.eye(2)
    tau_mean = float(wts @ tau)
    t_sig = float(np.sqrt(wts @ (tau - tau_mean) ** 2 + floor_time_s**2))
    return LaunchEstimate(
        lat_deg=float(np.degrees(mlat)),
        lon_deg=float(np.degrees(mlon)),
        time_s=t_ref - tau_mean,
        time_sigma_s=t_sig,
        cov_en_m2=cov,
        missile_class=name,
        tau_s=float(t_s) - (t_ref - tau_mean),
        rest_height_m=heights[name],
        candidates=heights,
        burnout_time_s=None if window is None else float(t_ref),
    )
