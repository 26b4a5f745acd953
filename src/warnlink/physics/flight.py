"""Powered and ballistic flight of a missile and its separated stages over the rotating Earth.

``fly`` runs the pitch programme (vertical rise, pitch-over to the loft-control angle, gravity turn)
through every stage, releases each spent stage as an object of its own, and lets every object coast
to impact on the ellipsoid. Times are seconds after lift-off; states are ECEF [m, m/s].

Variants (``variant=``):

* ``ballistic``: re-entry vehicle without lift.
* ``pullup``: depressed quasi-ballistic flight (KN-23-like): below ``PULLUP_ALT_M`` on the way down
  the vehicle generates lift (L/D ``PULLUP_LD``, notional), pulling up into a flatter glide.
* ``glide``: a glide vehicle: after burnout, lift at L/D ``GLIDE_LD`` (notional) whenever below
  ``GLIDE_ALT_M``, so it skips and glides instead of falling ballistically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from warnlink.geo import ecef2geodetic, enu_basis, geodetic2ecef, inverse
from warnlink.physics import integrator as ig
from warnlink.physics.missiles import MissileClass

PULLUP_LD = 2.0
PULLUP_ALT_M = 45_000.0
GLIDE_LD = 2.5
GLIDE_ALT_M = 80_000.0
SEPARATION_DV_M_S = 3.0
"""Speed [m/s] at which a spent stage is pushed back along the velocity at separation (notional)."""
VARIANTS = ("ballistic", "pullup", "glide")

DEFAULT_RTOL = 1e-10
"""Default relative tolerance of the integrator (per component, per step)."""
DEFAULT_ATOL_M = 1e-4
"""Default absolute tolerance [m] for positions (1e-7 m/s for velocities)."""
DEFAULT_HMAX_S = 20.0
"""Largest step [s] of the integrator."""


@dataclass(frozen=True)
class PhysicsOptions:
    """Switches for the force model (all on for real flights; off for closed-form checks)."""

    rotation: bool = True
    j2: bool = True
    drag: bool = True
    thrust: bool = True
    rtol: float = DEFAULT_RTOL
    atol_m: float = DEFAULT_ATOL_M
    hmax_s: float = DEFAULT_HMAX_S


@dataclass
class Trajectory:
    """One object's path: integrator nodes (time [s], ECEF state, derivative) and what it is.

    ``kind`` is ``warhead`` (the missile stack, then its re-entry vehicle) or ``stage``. Positions
    between nodes come from cubic Hermite interpolation (``sample``).
    """

    object_id: str
    kind: str
    t: np.ndarray
    y: np.ndarray
    dydt: np.ndarray
    burn_intervals: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    impacted: bool = True

    @property
    def t_start(self) -> float:
        """First time the object exists [s after lift-off]."""
        return float(self.t[0])

    @property
    def t_end(self) -> float:
        """Impact time (or end of integration) [s after lift-off]."""
        return float(self.t[-1])

    def sample(self, times) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position [m], velocity [m/s] (ECEF, (n, 3)) at ``times`` and a mask of times in flight.

        Quintic Hermite interpolation between nodes: position, velocity and acceleration match at
        both ends (sub-millimetre against direct integration at the default tolerances).
        """
        times = np.atleast_1d(np.asarray(times, float))
        valid = (times >= self.t[0]) & (times <= self.t[-1])
        i = np.clip(np.searchsorted(self.t, times, side="right") - 1, 0, len(self.t) - 2)
        t0, t1 = self.t[i], self.t[i + 1]
        h = (t1 - t0)[:, None]
        s = (np.clip(times, self.t[0], self.t[-1]) - t0)[:, None] / h
        s2, s3 = s * s, s * s * s
        s4, s5 = s3 * s, s3 * s2
        p0, v0, a0 = self.y[i, :3], self.y[i, 3:], self.dydt[i, 3:]
        p1, v1, a1 = self.y[i + 1, :3], self.y[i + 1, 3:], self.dydt[i + 1, 3:]
        pos = ((1 - 10 * s3 + 15 * s4 - 6 * s5) * p0 + (s - 6 * s3 + 8 * s4 - 3 * s5) * h * v0
               + (0.5 * s2 - 1.5 * s3 + 1.5 * s4 - 0.5 * s5) * h * h * a0
               + (10 * s3 - 15 * s4 + 6 * s5) * p1 + (-4 * s3 + 7 * s4 - 3 * s5) * h * v1
               + (0.5 * s3 - s4 + 0.5 * s5) * h * h * a1)
        vel = ((-30 * s2 + 60 * s3 - 30 * s4) * (p0 - p1) / h + (1 - 18 * s2 + 32 * s3 - 15 * s4) * v0
               + (s - 4.5 * s2 + 6 * s3 - 2.5 * s4) * h * a0
               + (-12 * s2 + 28 * s3 - 15 * s4) * v1 + (1.5 * s2 - 4 * s3 + 2.5 * s4) * h * a1)
        return pos, vel, valid

    def burning(self, times) -> np.ndarray:
        """True where a motor of this object is burning at ``times``."""
        times = np.atleast_1d(np.asarray(times, float))
        out = np.zeros(times.shape, bool)
        for a, b in self.burn_intervals:
            out |= (times >= a) & (times < b)
        return out

    def geodetic(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Geodetic latitude, longitude [deg] and height [m] at every node."""
        return ecef2geodetic(self.y[:, 0], self.y[:, 1], self.y[:, 2], deg=True)

    def apogee(self) -> tuple[float, float]:
        """Maximum geodetic height [m] and its time [s], refined between nodes by interpolation."""
        _, _, h = self.geodetic()
        k = int(np.argmax(h))
        lo, hi = self.t[max(k - 1, 0)], self.t[min(k + 1, len(self.t) - 1)]
        ts = np.linspace(lo, hi, 801)
        p, _, _ = self.sample(ts)
        hs = ecef2geodetic(p[:, 0], p[:, 1], p[:, 2])[2]
        j = int(np.argmax(hs))
        return float(hs[j]), float(ts[j])

    def impact_point(self) -> tuple[float, float]:
        """Geodetic latitude and longitude [deg] of the last node (the impact when ``impacted``)."""
        lat, lon, _ = ecef2geodetic(*self.y[-1, :3], deg=True)
        return float(lat), float(lon)


@dataclass
class Flight:
    """A missile's flight: the warhead's trajectory, the spent stages', and the figures that matter."""

    missile: MissileClass
    launch_lat_deg: float
    launch_lon_deg: float
    launch_alt_m: float
    azimuth_deg: float
    objects: list[Trajectory]
    burnout_time_s: float
    """Burnout of the last stage [s after lift-off]."""
    variant: str = "ballistic"

    @property
    def warhead(self) -> Trajectory:
        """The trajectory of the missile stack and then its re-entry vehicle."""
        return self.objects[0]

    def figures(self) -> dict:
        """Apogee [km], ground range [km], flight time [s], impact point [deg], burnout time [s]."""
        w = self.warhead
        apogee_m, apogee_t = w.apogee()
        lat, lon = w.impact_point()
        _, _, dist = inverse(self.launch_lat_deg, self.launch_lon_deg, lat, lon)
        az, _, _ = inverse(self.launch_lat_deg, self.launch_lon_deg, lat, lon)
        return {
            "apogee_km": apogee_m / 1000.0,
            "apogee_time_s": apogee_t,
            "range_km": float(dist) / 1000.0,
            "flight_time_s": w.t_end,
            "impact_lat": lat,
            "impact_lon": lon,
            "impact_azimuth_deg": float(az) % 360.0,
            "burnout_time_s": self.burnout_time_s,
        }


def _params(opts: PhysicsOptions, **kw) -> np.ndarray:
    p = np.zeros(ig.P_SIZE)
    p[ig.P_ROT] = float(opts.rotation)
    p[ig.P_J2] = float(opts.j2)
    p[ig.P_DRAG] = float(opts.drag)
    p[ig.P_LIFT_T1] = np.inf
    p[ig.P_KICK_DT] = 1.0
    for k, v in kw.items():
        p[getattr(ig, "P_" + k.upper())] = v
    return p


def propagate(y0, t0: float, t1: float, p: np.ndarray, opts: PhysicsOptions):
    """Integrate one segment, growing the output as needed. Returns (t, y, dydt, status)."""
    chunks = []
    y, t = np.asarray(y0, float), float(t0)
    h0 = 0.1
    while True:
        ts, ys, ds, n, status = ig.integrate(y, t, t1, p, opts.rtol, opts.atol_m, h0, opts.hmax_s, 4096)
        chunks.append((ts[:n], ys[:n], ds[:n]))
        if status != ig.STATUS_FULL:
            break
        y, t = ys[n - 1].copy(), float(ts[n - 1])
        h0 = float(ts[n - 1] - ts[n - 2])
        chunks[-1] = (ts[: n - 1], ys[: n - 1], ds[: n - 1])
    return (
        np.concatenate([c[0] for c in chunks]),
        np.concatenate([c[1] for c in chunks]),
        np.concatenate([c[2] for c in chunks]),
        status,
    )


def coast(y0, t0: float, mass_kg: float, cda_m2: float, opts: PhysicsOptions, t_max: float = 20_000.0,
          **lift) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Unpowered flight from (t0, y0) to impact on the ellipsoid (or ``t_max``)."""
    p = _params(opts, mode=0, mass0=mass_kg, t0=t0, cda=cda_m2, ground=1, **lift)
    t, y, d, status = propagate(y0, t0, t_max, p, opts)
    return t, y, d, status == ig.STATUS_GROUND


def fly(
    missile: MissileClass,
    launch_lat_deg: float,
    launch_lon_deg: float,
    azimuth_deg: float,
    kick_deg: float,
    cutoff: float = 1.0,
    *,
    launch_alt_m: float = 0.0,
    variant: str = "ballistic",
    separate_stages: bool = True,
    opts: PhysicsOptions | None = None,
    object_prefix: str = "",
) -> Flight:
    """Fly ``missile`` from the launch point along ``azimuth_deg`` (from north, clockwise).

    ``kick_deg`` (the loft control) is the angle from the vertical that the thrust reaches at the end
    of the pitch-over; small kicks loft, large kicks depress. ``cutoff`` in (0, 1] is the fraction
    of the last stage's burn that is used (energy management). Returns the ``Flight`` with the
    warhead first and, with ``separate_stages``, one object per spent stage.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown flight variant {variant!r}; known: {', '.join(VARIANTS)}")
    if not 0.0 < cutoff <= 1.0:
        raise ValueError(f"cutoff must be in (0, 1], got {cutoff}")
    opts = opts or PhysicsOptions()
    east, north, up = enu_basis(launch_lat_deg, launch_lon_deg, deg=True)
    az = np.radians(azimuth_deg)
    forward = np.sin(az) * east + np.cos(az) * north
    normal = np.cross(up, forward)
    y = np.concatenate([np.array(geodetic2ecef(launch_lat_deg, launch_lon_deg, launch_alt_m, deg=True)),
                        np.zeros(3)])
    mass = missile.launch_mass_kg
    t = 0.0
    nodes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    stages: list[Trajectory] = []
    burns = []
    n_st = len(missile.stages)
    crashed = False
    for k, st in enumerate(missile.stages):
        burn = st.burn_s * (cutoff if k == n_st - 1 else 1.0)
        thrust = st.thrust_n if opts.thrust else 0.0
        common = dict(thrust=thrust, mdot=st.mass_flow_kg_s, cda=missile.boost_cda_m2, ground=1,
                      nx=normal[0], ny=normal[1], nz=normal[2])
        t_ign = t
        if k == 0:
            t_v = min(missile.vertical_rise_s, 0.3 * burn)
            t_k = min(missile.pitchover_s, 0.3 * burn)
            plan = [(1, t_v), (2, t_v + t_k), (3, burn)]
        else:
            plan = [(3, burn)]
        for mode, t_end_rel in plan:
            p = _params(opts, mode=mode, mass0=mass - st.mass_flow_kg_s * (t - t_ign), t0=t,
                        kick=np.radians(kick_deg), kick_t0=t_ign + missile.vertical_rise_s,
                        kick_dt=missile.pitchover_s, **common)
            p[ig.P_MASS0] = mass
            p[ig.P_T0] = t_ign
            ts, ys, ds, status = propagate(y, t, t_ign + t_end_rel, p, opts)
            nodes.append((ts, ys, ds))
            y, t = ys[-1].copy(), float(ts[-1])
            if status == ig.STATUS_GROUND:
                crashed = True
                break
        burns.append((t_ign, t))
        mass -= st.propellant_kg * (t - t_ign) / st.burn_s
        if crashed:
            break
        # Release the spent stage; it is pushed back along the velocity.
        vhat = y[3:] / np.linalg.norm(y[3:])
        if separate_stages:
            ys0 = y.copy()
            ys0[3:] -= SEPARATION_DV_M_S * vhat
            st_mass = st.dry_kg + st.propellant_kg * (1.0 - (t - t_ign) / st.burn_s)
            ct, cy, cd, hit = coast(ys0, t, st_mass, st.tumbling_cda_m2, opts)
            stages.append(Trajectory(f"{object_prefix}stage{k + 1}", "stage", ct, cy, cd, impacted=hit))
        mass -= st.dry_kg + st.propellant_kg * (1.0 - (t - t_ign) / st.burn_s)
        if k < n_st - 1 and missile.staging_coast_s > 0:
            p = _params(opts, mode=0, mass0=mass, t0=t, cda=missile.boost_cda_m2, ground=1)
            ts, ys, ds, status = propagate(y, t, t + missile.staging_coast_s, p, opts)
            nodes.append((ts, ys, ds))
            y, t = ys[-1].copy(), float(ts[-1])
    burnout = t
    hit = crashed
    if not crashed:
        lift = {}
        if variant == "pullup":
            lift = dict(lift_ld=PULLUP_LD, lift_alt=PULLUP_ALT_M, lift_mode=1)
        elif variant == "glide":
            lift = dict(lift_ld=GLIDE_LD, lift_alt=GLIDE_ALT_M, lift_mode=2)
        ts, ys, ds, hit = coast(y, t, mass, missile.rv_cda_m2, opts, **lift)
        nodes.append((ts, ys, ds))
    warhead = Trajectory(
        f"{object_prefix}warhead",
        "warhead",
        np.concatenate([n[0] for n in nodes]),
        np.concatenate([n[1] for n in nodes]),
        np.concatenate([n[2] for n in nodes]),
        burn_intervals=np.array(burns, float).reshape(-1, 2),
        impacted=hit,
    )
    return Flight(missile, launch_lat_deg, launch_lon_deg, launch_alt_m, azimuth_deg,
                  [warhead, *stages], burnout, variant)
