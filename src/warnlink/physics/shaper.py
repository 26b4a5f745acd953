"""Trajectory shaper: find the flight that reproduces published apogee, range and flight time.

Unknowns: the pitch-over angle (loft control), the fraction of the last stage's burn (energy) and
the launch azimuth (so the impact lies on the bearing to the given impact point, or on the given
azimuth, despite the Earth's rotation). Residuals: apogee and range relative to the published
figures (for "at least" figures, distance to the interval [v, 1.2 v]; "at most": [0.8 v, v]), the
flight time (weighted lower: published times are rounded to minutes) and the cross-track miss.
A coarse grid over loft and energy picks the start; scipy's trust-region least squares refines it.
If the preferred class cannot fly the figures ballistically, its pull-up and glide variants are tried
(depressed SRBMs and glide vehicles are reported further than a ballistic flight at their apogee
reaches), then the larger classes in turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from warnlink.geo import inverse
from warnlink.physics.flight import PhysicsOptions, fly
from warnlink.physics.missiles import CLASSES, MissileClass

QUALIFIERS = ("approx", "at_least", "well_above", "at_most")
_SHAPER_OPTS = PhysicsOptions(rtol=1e-8, atol_m=1e-2, hmax_s=60.0)
"""Looser tolerances for the search; the figures reported come from a flight at the defaults."""
_FT_WEIGHT = 0.3
# a shaped flight converges only when its impact lies within this of the wanted bearing [deg] (the fit itself
# comes to hundredths of a degree; a flight the wrong way round the launch point is no fit)
BEARING_OK_DEG = 0.5


@dataclass(frozen=True)
class Figure:
    """A published figure and its qualifier (``approx``, ``at_least``, ``well_above``, ``at_most``)."""

    value: float
    qualifier: str = "approx"

    def __post_init__(self):
        if self.qualifier not in QUALIFIERS:
            raise ValueError(f"unknown qualifier {self.qualifier!r}; known: {', '.join(QUALIFIERS)}")
        if not (self.value > 0 and math.isfinite(self.value)):
            raise ValueError(f"published figure must be positive, got {self.value}")

    def interval(self, margin: float = 0.0) -> tuple[float, float]:
        """The accepted interval for a reproduced value; ``margin`` shrinks it to aim inside."""
        v = self.value
        if self.qualifier in ("at_least", "well_above"):
            return v * (1.0 + margin), v * (1.2 - margin)
        if self.qualifier == "at_most":
            return v * (0.8 + margin), v * (1.0 - margin)
        return v, v

    def error(self, x: float, margin: float = 0.0) -> float:
        """Relative distance of ``x`` from the accepted interval (0 inside)."""
        lo, hi = self.interval(margin)
        return (x - min(max(x, lo), hi)) / self.value

    def ok(self, x: float, tol: float) -> bool:
        """True when ``x`` reproduces the figure: within ``tol`` (approx) or inside the interval."""
        if self.qualifier == "approx":
            return abs(x - self.value) <= tol * self.value
        lo, hi = self.interval()
        return lo <= x <= hi


@dataclass(frozen=True)
class Profile:
    """A shaped flight: the class and the controls to pass to ``physics.fly``, and what it gives."""

    missile: str
    azimuth_deg: float
    kick_deg: float
    cutoff: float
    apogee_km: float
    range_km: float
    flight_time_s: float
    converged: bool
    variant: str = "ballistic"


MIN_ENERGY_APOGEE_RATIO = 0.25
"""Apogee/range assumed (minimum-energy shape over a flat Earth) when only one of them is published."""


def complete_figures(apogee: Figure | None, range_: Figure | None) -> tuple[Figure, Figure]:
    """Both figures to shape to: an unpublished apogee or range is assumed from the other with
    ``MIN_ENERGY_APOGEE_RATIO``. Raises ``ValueError`` when neither is given."""
    if apogee is None and range_ is None:
        raise ValueError("give a published apogee or range (or both)")
    if apogee is None:
        apogee = Figure(range_.value * MIN_ENERGY_APOGEE_RATIO)
    if range_ is None:
        range_ = Figure(apogee.value / MIN_ENERGY_APOGEE_RATIO)
    return apogee, range_


def class_for(missile_type: str) -> str:
    """The preferred notional class for a catalogue ``missile_type`` text (keyword match)."""
    t = missile_type.lower()
    if "icbm" in t:
        return "ICBM-solid" if ("solid" in t or "hwasong-18" in t or "hwasong-19" in t) else "ICBM-liquid"
    if "irbm" in t or "intermediate" in t or "hwasong-12" in t:
        return "IRBM-liquid"
    if "mrbm" in t or "rodong" in t or "nodong" in t or "scud" in t:
        return "MRBM-liquid"
    return "SRBM-solid"


def _bearing_error(az_got: float, az_want: float) -> float:
    return math.radians((az_got - az_want + 180.0) % 360.0 - 180.0)


def _shape_with(missile: MissileClass, lat, lon, bearing_deg, apogee: Figure, rng: Figure,
                flight_time: Figure | None, variant: str) -> Profile:
    margin = 0.03

    def run(x, opts=_SHAPER_OPTS):
        f = fly(missile, lat, lon, x[2], x[0], x[1], variant=variant, separate_stages=False, opts=opts)
        w = f.warhead
        h_m, _ = w.apogee()
        ilat, ilon = w.impact_point()
        az, _, dist = inverse(lat, lon, ilat, ilon)
        return h_m / 1e3, float(dist) / 1e3, w.t_end, float(az), w.impacted

    def residuals(x):
        ap, rg, ft, az, _ = run(x)
        # the bearing as a chord, 2 sin(err/2): ~err when small, largest when reversed (sin(err) is zero at
        # 180 deg, so a near-vertical ICBM that the Earth's rotation carries the range the wrong way "fitted")
        r = [apogee.error(ap, margin), rng.error(rg, margin),
             2.0 * math.sin(_bearing_error(az, bearing_deg) / 2.0) * rg / rng.value]
        if flight_time is not None:
            r.append(_FT_WEIGHT * flight_time.error(ft, margin))
        return np.array(r)

    # coarse start: loft over a geometric grid, energy over a few cut-offs; refine the best few
    starts = []
    for cut in (1.0, 0.85, 0.7, 0.55, 0.4, 0.25):
        for kick in np.geomspace(0.1, 70.0, 24):
            x = np.array([kick, cut, bearing_deg])
            starts.append((float(np.sum(residuals(x)[:3] ** 2)), x))
    starts.sort(key=lambda c: c[0])
    first = None
    for _, x0 in starts[:3]:
        sol = least_squares(residuals, x0, bounds=([0.05, 0.1, bearing_deg - 40], [85.0, 1.0, bearing_deg + 40]),
                            x_scale=[1.0, 0.05, 1.0], diff_step=1e-5, xtol=1e-10, ftol=1e-12, max_nfev=100)
        ap, rg, ft, az, _ = run(sol.x, PhysicsOptions())  # the figures at full accuracy
        ok = (apogee.ok(ap, 0.02) and rng.ok(rg, 0.02) and (flight_time is None or flight_time.ok(ft, 0.10))
              and abs(math.degrees(_bearing_error(az, bearing_deg))) <= BEARING_OK_DEG)
        prof = Profile(missile.name, float(sol.x[2]), float(sol.x[0]), float(sol.x[1]), ap, rg, ft, ok, variant)
        if ok:
            return prof
        first = first or prof
    return first


def required_speed_m_s(apogee_km: float, range_km: float) -> float:
    """Rough burnout speed [m/s] a flight needs: the larger of the vertical speed that reaches the
    apogee and the minimum-energy speed for the range (spherical Earth, no losses)."""
    r = 6_371_000.0
    mu = 3.986004418e14
    v_up = math.sqrt(2 * mu * (1 / r - 1 / (r + apogee_km * 1e3)))
    s = math.sin(min(range_km * 1e3 / r, math.pi) / 2)
    v_range = math.sqrt(mu / r * 2 * s / (1 + s))
    return max(v_up, v_range)


def shape(
    launch_lat_deg: float,
    launch_lon_deg: float,
    *,
    apogee: Figure,
    range_: Figure,
    impact: tuple[float, float] | None = None,
    azimuth_deg: float | None = None,
    flight_time: Figure | None = None,
    missile: str | None = None,
    variant: str = "ballistic",
) -> Profile:
    """Shape a flight from the launch point to reproduce the published figures.

    Give ``impact`` (lat, lon [deg]) or ``azimuth_deg`` (bearing of the impact from the launch point).
    ``missile`` names the preferred class (default: the smallest with the energy, see
    ``required_speed_m_s``); larger classes
    are tried in turn when it cannot fly the figures. Figures: apogee and range [km], flight time [s].
    """
    if (impact is None) == (azimuth_deg is None):
        raise ValueError("give exactly one of impact or azimuth_deg")
    bearing = float(inverse(launch_lat_deg, launch_lon_deg, *impact)[0]) if impact else float(azimuth_deg)
    names = list(CLASSES)
    if missile is not None and missile not in CLASSES:
        raise KeyError(f"unknown missile class {missile!r}; known: {', '.join(names)}")
    if missile:
        start = names.index(missile)
    else:  # smallest class whose ideal velocity, less 20% losses, reaches the required speed
        need = required_speed_m_s(apogee.interval()[0], range_.interval()[0])
        start = next((i for i, n in enumerate(names) if 0.8 * CLASSES[n].ideal_delta_v_m_s >= need),
                     len(names) - 1)
    variants = [variant] if variant != "ballistic" else ["ballistic", "pullup", "glide"]
    candidates = [(n, v) for n in names[start:] for v in variants]
    first = None
    for name, var in candidates:
        prof = _shape_with(CLASSES[name], launch_lat_deg, launch_lon_deg, bearing, apogee, range_,
                           flight_time, var)
        if prof.converged:
            return prof
        first = first or prof
    return first
