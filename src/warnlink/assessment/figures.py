"""Event figures from estimates: missile class by burnout energy, trajectory shape, ballistic coefficient.

Pure functions over arrays (SI inside; km only where the name says so).

* ``max_range_km``: the minimum-energy (maximum) ground range of a coasting state, from its orbital
  energy (spherical Earth, Kepler): the energy gives the speed ``v_R`` the object would have at the
  surface radius ``R``; with ``nu = v_R^2 R / mu`` the largest range angle ``Psi`` satisfies
  ``sin(Psi / 2) = nu / (2 - nu)`` (e.g. Bate, Mueller and White 1971, ch. 6); ``nu >= 1`` is an
  orbital or escaping state. The speed is the Earth-relative one, so that the class does not depend
  on the launch azimuth (the Earth's rotation adds up to ~0.4 km/s to an eastward shot); along one
  coast the figure is then constant to a few per cent (drag aside). The class follows the usual range bands: SRBM below
  1000 km, MRBM 1000-3000 km, IRBM 3000-5500 km, ICBM beyond. Because it uses the energy, not the
  range flown, a lofted ICBM that flies 1000 km is still an ICBM.
* ``flight_max_range_km``: the same figure from a whole flight's apogee and ground range (spherical Earth, Kepler,
  launch and impact at the surface, apogee midway): the ellipse through both surface points with that apogee has
  ``e = h / (R + h - R cos(Psi / 2))`` and ``a = (R + h)(1 - e) / (1 - e^2)``, so ``nu = 2 - R / a``. It needs no
  state, so it is free of the drag that slows a re-entering object's state (the class read from the last,
  drag-slowed state of a lofted ICBM was IRBM: 2017-11-29, 2023-03-16) and of a single state's noise, but it
  holds only for a flight that coasted above the air (apogee above ``KEPLER_MIN_APOGEE_KM``) without lift: a
  depressed or gliding flight goes further than its apogee allows (2023-06-15's glide: 1 716 km against the
  394 km of its burnout energy). ``flight_class`` chooses between the two.
* ``min_energy_apogee_km``: the apogee of the minimum-energy trajectory for a ground range; the
  shape is ``lofted`` when the apogee is above ``LOFT_RATIO`` times it, ``depressed`` when below
  ``DEPRESSED_RATIO`` times it, ``minimum-energy`` otherwise (NOTIONAL bands).
* ``continuation_d2``: whole-flight figures need every track of one object. When a track is lost (out of
  coverage, a manoeuvre the filter could not follow) and the object is re-acquired as a new track, the
  earlier track's last state is flown forward to the new track's time (ballistic, J2, rotating Earth,
  drag at the earlier track's ballistic coefficient: ``warnlink.tracking.motion.propagate``) with its
  covariance (state-transition matrix), plus white acceleration ``LINK_Q_M2_S3`` for unmodelled forces
  and the spread that the ballistic coefficient's uncertainty gives (flights at ``beta * exp(+-2 sigma)``,
  half their difference as a 1-sigma); the new state is gated against it with the 6-D Mahalanobis
  distance (``LINK_CHI2``: the 99.9% point of chi-square with 6 degrees of freedom).
* ``object_tracks`` and ``whole_flight_apogee_m``: the tracks of one object (``TrackLink`` records) and its
  highest apogee. A tracker gives one object's flight in several shapes: a lost track re-acquired by a new
  one (``same_as``), two tracks on one object at once (``duplicate_of``), a track parting from another
  (``parent`` at ``split_s``: a separation, or a second terminal track born beside the re-acquired one).
  The object's tracks are its re-acquisitions and duplicates, either way round; a parted track shares the
  flight of the track it parted from *up to the split* (the stage and the missile flew as one), so that
  flight's apogee counts only as far as it had been flown by then: the predicted apogee of a track that had
  ended before the split, else the highest altitude it had reached (``alt_t_s``, ``alt_m``), through every
  link of that object in turn. The figure therefore does not depend on which of its tracks the object's
  estimate is read from, nor on the order in which the links were found.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import chi2

from warnlink.geo.wgs84 import GM_M3_S2, OMEGA_RAD_S
from warnlink.tracking.motion import propagate, white_acceleration_q

R_EARTH_M = 6_371_000.0
"""Mean Earth radius [m] for the spherical Kepler figures."""
CLASS_BANDS_KM = ((1000.0, "SRBM"), (3000.0, "MRBM"), (5500.0, "IRBM"))
"""Upper range limits of the classes; beyond the last: ICBM."""
KEPLER_MIN_APOGEE_KM = 100.0
"""``flight_max_range_km`` stands for a flight whose apogee is above this [km] (drag and lift vanish above ~90 km)."""
LOFT_RATIO = 1.5
DEPRESSED_RATIO = 0.67
LINK_Q_M2_S3 = 0.01
"""Spectral density [m^2/s^3] of the white acceleration added over a track gap (unmodelled forces of a
coasting object; ~2.4 km and 3.5 m/s 1-sigma per axis over 20 minutes, below the ~60 km by which two
missiles of a salvo fired 20 s apart differ; NOTIONAL)."""
LINK_CHI2 = float(chi2.ppf(0.999, 6))
"""Gate of ``continuation_d2`` (22.5)."""
LINK_BETA_LOG_SIGMA = 0.5
"""1-sigma of ln(beta) over a gap when the earlier track had not measured its ballistic coefficient."""


def inertial_speed(x) -> np.ndarray:
    """Inertial speed [m/s] (N,) of ECEF states ``x`` (N, 6): |v + omega x r|."""
    x = np.atleast_2d(np.asarray(x, float))
    w = np.array([0.0, 0.0, OMEGA_RAD_S])
    return np.linalg.norm(x[:, 3:6] + np.cross(w, x[:, :3]), axis=1)


def max_range_km(x) -> np.ndarray:
    """Minimum-energy ground range [km] (N,) reachable by coasting ECEF states ``x`` (N, 6); inf when
    the state is orbital or escaping."""
    x = np.atleast_2d(np.asarray(x, float))
    r = np.linalg.norm(x[:, :3], axis=1)
    # the energy is conserved in coast: the speed it gives at the surface radius, nu for burnout there
    nu = np.einsum("ni,ni->n", x[:, 3:6], x[:, 3:6]) * R_EARTH_M / GM_M3_S2 - 2.0 * R_EARTH_M / r + 2.0
    s = np.where(nu < 1.0, nu / np.maximum(2.0 - nu, 1e-12), np.nan)
    psi = 2.0 * np.arcsin(np.clip(s, 0.0, 1.0))
    return np.where(nu < 1.0, R_EARTH_M * psi / 1e3, np.inf)


def missile_category(max_range_km_) -> np.ndarray:
    """SRBM/MRBM/IRBM/ICBM per minimum-energy range [km]."""
    v = np.atleast_1d(np.asarray(max_range_km_, float))
    out = np.full(v.shape, "ICBM", dtype="<U4")
    for limit, name in reversed(CLASS_BANDS_KM):
        out[v < limit] = name
    return out


def flight_max_range_km(apogee_km, range_km) -> np.ndarray:
    """Minimum-energy ground range [km] (N,) of the energy of a drag-free ballistic flight with apogee
    ``apogee_km`` and ground range ``range_km`` (see the module docstring); inf for an orbital energy, NaN
    where either figure is not positive and finite."""
    h = np.atleast_1d(np.asarray(apogee_km, float)) * 1e3
    psi = np.minimum(np.atleast_1d(np.asarray(range_km, float)) * 1e3 / R_EARTH_M, np.pi)
    good = np.isfinite(h) & np.isfinite(psi) & (h > 0.0) & (psi > 0.0)
    h, psi = np.where(good, h, 1.0), np.where(good, psi, 1.0)
    ra = R_EARTH_M + h
    e = h / (ra - R_EARTH_M * np.cos(psi / 2.0))
    a = ra * (1.0 - e) / (1.0 - e * e)
    nu = 2.0 - R_EARTH_M / a
    s = np.clip(nu / np.maximum(2.0 - nu, 1e-12), 0.0, 1.0)
    out = np.where(nu < 1.0, R_EARTH_M * 2.0 * np.arcsin(s) / 1e3, np.inf)
    return np.where(good, out, np.nan)


def flight_class(apogee_km: float, range_km: float | None, coast_max_range_km: float,
                 lifting: bool = False) -> tuple[str, float, str]:
    """Class of one flight from its whole-flight figures: ``(category, energy range [km], basis)``. The energy
    is ``flight_max_range_km(apogee_km, range_km)`` for a flight that coasted above the air
    (``KEPLER_MIN_APOGEE_KM``) and did not manoeuvre (``lifting`` False) with a known range; otherwise
    ``coast_max_range_km``, the highest ``max_range_km`` of its coasting states over the whole flight (drag
    only takes energy away, so the highest is the nearest burnout)."""
    if range_km is not None and not lifting and apogee_km > KEPLER_MIN_APOGEE_KM:
        v = float(flight_max_range_km(apogee_km, range_km)[0])
        if not math.isnan(v):
            return str(missile_category(v)[0]), v, "apogee and range"
    v = float(coast_max_range_km)
    return str(missile_category(v)[0]), v, "highest coasting energy"


def min_energy_apogee_km(range_km) -> np.ndarray:
    """Apogee height [km] of the minimum-energy trajectory with ground range ``range_km`` (spherical
    Earth, launch and impact at the surface)."""
    psi = np.asarray(range_km, float) * 1e3 / R_EARTH_M
    s = np.sin(psi / 2.0)
    nu = 2.0 * s / (1.0 + s)
    gamma = (np.pi - psi) / 4.0
    a = R_EARTH_M / (2.0 - nu)
    e = np.sqrt(np.clip(1.0 - nu * (2.0 - nu) * np.cos(gamma) ** 2, 0.0, None))
    return (a * (1.0 + e) - R_EARTH_M) / 1e3


def trajectory_shape(apogee_km, range_km) -> np.ndarray:
    """``lofted``, ``minimum-energy`` or ``depressed`` per (apogee, range) [km] pair."""
    apo = np.atleast_1d(np.asarray(apogee_km, float))
    ratio = apo / min_energy_apogee_km(np.atleast_1d(np.asarray(range_km, float)))
    out = np.full(apo.shape, "minimum-energy", dtype="<U14")
    out[ratio > LOFT_RATIO] = "lofted"
    out[ratio < DEPRESSED_RATIO] = "depressed"
    return out


def continuation_d2(x_old, P_old, t_old_s, x_new, P_new, t_new_s, beta_kg_m2=None,
                    beta_log_sigma=LINK_BETA_LOG_SIGMA, q_m2_s3: float = LINK_Q_M2_S3) -> np.ndarray:
    """Squared Mahalanobis distance (N,) of new track states ``x_new`` (N, 6) [m, m/s] at ``t_new_s`` (N,)
    from earlier track states ``x_old`` at ``t_old_s`` flown forward to that time (see the module
    docstring); ``P_old``, ``P_new`` (N, 6, 6) their covariances, ``beta_kg_m2`` (N,) the earlier tracks'
    ballistic coefficients (None or inf: no drag) with log 1-sigma ``beta_log_sigma``. Below ``LINK_CHI2``
    the new track continues the earlier one's object."""
    xo = np.atleast_2d(np.asarray(x_old, float))[:, :6]
    xn = np.atleast_2d(np.asarray(x_new, float))[:, :6]
    n = len(xo)
    Po = np.asarray(P_old, float).reshape(n, 6, 6)
    Pn = np.asarray(P_new, float).reshape(n, 6, 6)
    dt = np.broadcast_to(np.asarray(t_new_s, float) - np.asarray(t_old_s, float), (n,))
    if xn.shape != (n, 6) or not (np.all(np.isfinite(xo)) and np.all(np.isfinite(xn)) and np.all(np.isfinite(dt))):
        raise ValueError(f"continuation_d2: need finite (N, 6) states and times, got {xo.shape} and {xn.shape}")
    beta = None if beta_kg_m2 is None else np.broadcast_to(np.asarray(beta_kg_m2, float), (n,)).copy()
    xp, phi = propagate(xo, dt, beta)
    S = phi @ Po @ np.swapaxes(phi, 1, 2) + white_acceleration_q(dt, q_m2_s3) + Pn
    if beta is not None and np.any(np.isfinite(beta)):
        k = np.exp(2.0 * np.broadcast_to(np.asarray(beta_log_sigma, float), (n,)))
        hi, _ = propagate(xo, dt, beta * k, with_stm=False)
        lo, _ = propagate(xo, dt, beta / k, with_stm=False)
        half = 0.25 * (hi - lo)  # +-2 sigma apart: a quarter of the difference is 1 sigma
        S = S + half[:, :, None] * half[:, None, :]
    d = xn - xp
    w, v = np.linalg.eigh(0.5 * (S + np.swapaxes(S, 1, 2)))
    u = np.einsum("nji,nj->ni", v, d)
    return np.sum(u * u / np.maximum(w, 1e-9 * np.max(np.abs(w), axis=1, keepdims=True) + 1e-12), axis=1)


@dataclass
class TrackLink:
    """What ``whole_flight_apogee_m`` needs of one track: its links to other tracks (their keys) and its
    altitudes. ``apogee_m``: its own figure (predicted apogee of its latest prediction, else its highest
    altitude); ``alt_t_s``, ``alt_m``: the times [s] at which its highest altitude so far rose and that
    altitude [m] (ascending); ``end_s``: its last update [s]. Any other running-highest figure of a track can
    stand in these three fields (``whole_flight_highest``)."""

    same_as: int | None = None
    duplicate_of: int | None = None
    parent: int | None = None
    split_s: float | None = None
    end_s: float = math.inf
    apogee_m: float = 0.0
    alt_t_s: list = field(default_factory=list)
    alt_m: list = field(default_factory=list)

    def highest_until(self, t_s: float) -> float:
        """Highest altitude [m] the track had reached by ``t_s``; its own figure if it had ended by then."""
        if self.end_s <= t_s:
            return max(self.apogee_m, self.alt_m[-1] if self.alt_m else 0.0)
        k = int(np.searchsorted(np.asarray(self.alt_t_s, float), t_s, side="right"))
        return float(self.alt_m[k - 1]) if k else 0.0


def object_tracks(tracks: Mapping[int, TrackLink], key: int) -> list[int]:
    """Keys (sorted) of every track of ``key``'s object: those linked to it by re-acquisition (``same_as``) or
    duplication (``duplicate_of``), either way round, transitively."""
    if key not in tracks:
        raise KeyError(f"object_tracks: no track {key!r}")
    nbrs: dict[int, set] = {k: set() for k in tracks}
    for k, q in tracks.items():
        for other in (q.same_as, q.duplicate_of):
            if other is not None and other in tracks and other != k:
                nbrs[k].add(other)
                nbrs[other].add(k)
    seen, todo = {key}, [key]
    while todo:
        for x in nbrs[todo.pop()]:
            if x not in seen:
                seen.add(x)
                todo.append(x)
    return sorted(seen)


def whole_flight_apogee_m(tracks: Mapping[int, TrackLink], key: int, until_s: float = math.inf) -> float:
    """Highest apogee [m] of ``key``'s object over its flight up to ``until_s`` (default: all of it): the
    highest of its tracks' figures (``object_tracks``) and, for each of them that parted from another track,
    of that track's object up to the split (see the module docstring)."""
    return _apogee(tracks, key, until_s, set())


def whole_flight_highest(tracks: Mapping[int, TrackLink], key: int, until_s: float = math.inf) -> float:
    """``whole_flight_apogee_m`` for any figure that a track records as its running highest in ``TrackLink``
    (``apogee_m``, ``alt_t_s``, ``alt_m``): e.g. the highest coasting energy (``max_range_km``) for the class."""
    return _apogee(tracks, key, until_s, set())


def _apogee(tracks, key, until_s, visiting) -> float:
    best = 0.0
    group = object_tracks(tracks, key)
    visiting = visiting | set(group)
    for k in group:
        q = tracks[k]
        best = max(best, q.apogee_m if until_s == math.inf else q.highest_until(until_s))
        if q.parent is None or q.parent not in tracks or q.parent in visiting:
            continue
        split = min(until_s, math.inf if q.split_s is None else q.split_s)
        best = max(best, _apogee(tracks, q.parent, split, visiting))
    return best
