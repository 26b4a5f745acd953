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
* ``min_energy_apogee_km``: the apogee of the minimum-energy trajectory for a ground range; the
  shape is ``lofted`` when the apogee is above ``LOFT_RATIO`` times it, ``depressed`` when below
  ``DEPRESSED_RATIO`` times it, ``minimum-energy`` otherwise (NOTIONAL bands).
"""

from __future__ import annotations

import numpy as np

from warnlink.geo.wgs84 import GM_M3_S2, OMEGA_RAD_S

R_EARTH_M = 6_371_000.0
"""Mean Earth radius [m] for the spherical Kepler figures."""
CLASS_BANDS_KM = ((1000.0, "SRBM"), (3000.0, "MRBM"), (5500.0, "IRBM"))
"""Upper range limits of the classes; beyond the last: ICBM."""
LOFT_RATIO = 1.5
DEPRESSED_RATIO = 0.67


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
