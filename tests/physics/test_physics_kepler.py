"""Closed-form checks of the flight integrator.

1. Two-body (rotation, J2, drag and thrust off; the ECEF frame is then inertial): the coast from a
   burnout state must follow the Kepler conic. Apogee radius, geodetic apogee height, range to the
   point where the conic meets the WGS-84 ellipsoid and time of flight (Kepler's equation) are each
   required to 1e-6 relative; energy and angular momentum to 1e-9 relative over a 70-minute flight.
2. Rotating Earth with J2 (no drag, no thrust): the Jacobi integral in the rotating frame and the
   inertial z angular momentum are conserved (the J2 field is axisymmetric and steady in ECEF), 1e-9.

The integrator runs at its defaults (flight.py: rtol 1e-10, atol 1e-4 m, 1e-7 m/s, hmax 20 s), which meet
these bounds without tightening: measured, the Kepler figures agree to <= 1.4e-9 relative (apogee height
of the short flight; the rest ~1e-11) and the invariants drift by <= 2.2e-11 over 70 minutes.
The reference solution is computed here independently of the integrator and of warnlink's frames:
the impact is a root of the ellipsoid's implicit equation along the conic, heights come from pymap3d.
"""

from __future__ import annotations

import numpy as np
import pymap3d as pm
import pytest
from scipy.optimize import brentq, minimize_scalar

from warnlink.geo import distance_m, gravity_potential
from warnlink.geo.wgs84 import A_M, B_M, GM_M3_S2, OMEGA_RAD_S
from warnlink.physics.flight import DEFAULT_ATOL_M, DEFAULT_RTOL, PhysicsOptions, Trajectory, coast

MU = GM_M3_S2
TWO_BODY = PhysicsOptions(rotation=False, j2=False, drag=False, thrust=False)
ROT_J2 = PhysicsOptions(rotation=True, j2=True, drag=False, thrust=False)
KEPLER_REL = 1e-6  # the requirement for apogee, range and time of flight
INVARIANT_REL = 1e-9  # the requirement for conserved quantities

LAUNCH = (39.0, 125.7)  # a notional launch area; the burnout state is 300 km up above it
CASES = {
    # name: (altitude [m], speed [m/s], flight-path angle [deg], azimuth [deg])
    "mrbm_like": (300e3, 5000.0, 30.0, 90.0),  # ~16 min, apogee ~830 km
    "icbm_60deg": (300e3, 7000.0, 60.0, 45.0),  # ~50 min, apogee ~4200 km
    "icbm_lofted_70min": (300e3, 7600.0, 80.0, 100.0),  # ~70 min, apogee ~6400 km (Hwasong-17-like loft)
}


class Conic:
    """The two-body conic through an initial state, parameterised by the true anomaly."""

    def __init__(self, y0):
        r0, v0 = np.asarray(y0[:3], float), np.asarray(y0[3:], float)
        r = np.linalg.norm(r0)
        hv = np.cross(r0, v0)
        self.h = np.linalg.norm(hv)
        ev = np.cross(v0, hv) / MU - r0 / r
        self.e = np.linalg.norm(ev)
        self.a = 1.0 / (2.0 / r - v0 @ v0 / MU)
        self.p = self.h**2 / MU
        self.P = ev / self.e
        self.Q = np.cross(hv, self.P) / self.h
        self.nu0 = float(np.arctan2(r0 @ self.Q, r0 @ self.P))
        self.energy = 0.5 * (v0 @ v0) - MU / r

    def pos(self, nu):
        nu = np.asarray(nu, float)
        r = self.p / (1.0 + self.e * np.cos(nu))
        return (r * np.cos(nu))[..., None] * self.P + (r * np.sin(nu))[..., None] * self.Q

    def mean_anomaly(self, nu):
        big_e = np.arctan2(np.sqrt(1.0 - self.e**2) * np.sin(nu), self.e + np.cos(nu)) % (2.0 * np.pi)
        return big_e - self.e * np.sin(big_e)

    @property
    def r_apo(self):
        return self.a * (1.0 + self.e)

    def impact_nu(self):
        """True anomaly where the descending branch (nu in (pi, 2pi)) meets the ellipsoid."""

        def f(nu):
            x, y, z = self.pos(nu)
            return (x * x + y * y) / A_M**2 + z * z / B_M**2 - 1.0

        grid = np.linspace(np.pi, 2.0 * np.pi, 4001)
        vals = np.array([f(v) for v in grid])
        assert vals[0] > 0.0 > vals[-1]
        assert np.count_nonzero(np.diff(np.sign(vals))) == 1  # a single crossing on the way down
        return brentq(f, np.pi, 2.0 * np.pi, xtol=1e-15, rtol=1e-15, maxiter=200)

    def time_of_flight(self, nu1):
        """Kepler's equation from nu0 (ascending) to nu1 (descending), within one revolution."""
        n = np.sqrt(MU / self.a**3)
        dm = (self.mean_anomaly(nu1) - self.mean_anomaly(self.nu0)) % (2.0 * np.pi)
        return dm / n

    def max_geodetic_height(self):
        def neg_h(nu):
            x, y, z = self.pos(nu)
            return -pm.ecef2geodetic(x, y, z)[2]

        res = minimize_scalar(neg_h, bounds=(np.pi - 0.5, np.pi + 0.5), method="bounded",
                              options={"xatol": 1e-12})
        return -float(res.fun)


def _geodetic_deg(p):
    lat, lon, _ = pm.ecef2geodetic(p[0], p[1], p[2])
    return float(lat), float(lon)


@pytest.fixture(scope="module", params=list(CASES))
def two_body(request, make_state):
    alt, speed, gamma, az = CASES[request.param]
    y0 = make_state(*LAUNCH, alt, speed, gamma, az)
    t, y, d, impacted = coast(y0, 0.0, 1000.0, 0.0, TWO_BODY)
    return request.param, y0, Trajectory("test", "warhead", t, y, d), impacted, Conic(y0)


def test_defaults_are_the_documented_ones():
    assert DEFAULT_RTOL == 1e-10 and DEFAULT_ATOL_M == 1e-4
    assert TWO_BODY.rtol == DEFAULT_RTOL and TWO_BODY.atol_m == DEFAULT_ATOL_M


def test_two_body_time_of_flight(two_body):
    name, _, traj, impacted, k = two_body
    assert impacted
    tof = k.time_of_flight(k.impact_nu())
    rel = abs(traj.t_end - tof) / tof
    print(f"{name}: time of flight {tof:.6f} s, integrated {traj.t_end:.6f} s, rel err {rel:.2e}")
    assert rel < KEPLER_REL
    if name == "icbm_lofted_70min":
        assert 65 * 60 < tof < 75 * 60


def test_two_body_range(two_body):
    name, y0, traj, _, k = two_body
    p_kep = k.pos(k.impact_nu())
    launch = _geodetic_deg(y0[:3])
    rng_kep = float(distance_m(*launch, *_geodetic_deg(p_kep)))
    rng_int = float(distance_m(*launch, *traj.impact_point()))
    rel = abs(rng_int - rng_kep) / rng_kep
    miss = float(distance_m(*_geodetic_deg(p_kep), *traj.impact_point()))
    print(f"{name}: range {rng_kep:.3f} m, rel err {rel:.2e}, impact points {miss:.2e} m apart")
    assert rel < KEPLER_REL
    assert miss / rng_kep < KEPLER_REL  # also across track
    # the integrator stops on the ellipsoid
    assert abs(pm.ecef2geodetic(*traj.y[-1, :3])[2]) < 1e-3


def test_two_body_apogee(two_body):
    name, _, traj, _, k = two_body
    # maximum |r| along the integrated path, refined between the nodes by Hermite interpolation
    r_nodes = np.linalg.norm(traj.y[:, :3], axis=1)
    i = int(np.argmax(r_nodes))
    lo, hi = traj.t[max(i - 1, 0)], traj.t[min(i + 1, len(traj.t) - 1)]
    res = minimize_scalar(lambda t: -np.linalg.norm(traj.sample(t)[0][0]), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-9})
    r_max = -float(res.fun)
    rel_r = abs(r_max - k.r_apo) / k.r_apo
    h_kep = k.max_geodetic_height()
    h_int, _ = traj.apogee()
    rel_h = abs(h_int - h_kep) / h_kep
    print(f"{name}: apogee radius rel err {rel_r:.2e}; geodetic apogee {h_kep:.3f} m, rel err {rel_h:.2e}")
    assert rel_r < KEPLER_REL
    assert rel_h < KEPLER_REL


def test_two_body_energy_and_angular_momentum_over_70_minutes(make_state):
    alt, speed, gamma, az = CASES["icbm_lofted_70min"]
    y0 = make_state(*LAUNCH, alt, speed, gamma, az)
    t, y, _, impacted = coast(y0, 0.0, 1000.0, 0.0, TWO_BODY)
    assert impacted and t[-1] > 65 * 60
    r, v = y[:, :3], y[:, 3:]
    energy = 0.5 * np.sum(v * v, axis=1) - MU / np.linalg.norm(r, axis=1)
    h = np.linalg.norm(np.cross(r, v), axis=1)
    de = np.max(np.abs(energy / energy[0] - 1.0))
    dh = np.max(np.abs(h / h[0] - 1.0))
    print(f"two-body over {t[-1] / 60:.1f} min: energy drift {de:.2e}, angular momentum drift {dh:.2e}")
    assert de < INVARIANT_REL
    assert dh < INVARIANT_REL
    # the direction of the angular momentum (the orbital plane) is fixed too
    hv = np.cross(r, v)
    assert np.max(np.linalg.norm(hv / h[:, None] - hv[0] / h[0], axis=1)) < INVARIANT_REL


@pytest.mark.parametrize("name", ["icbm_60deg", "icbm_lofted_70min"])
def test_rotating_j2_jacobi_integral_and_polar_angular_momentum(name, make_state):
    alt, speed, gamma, az = CASES[name]
    y0 = make_state(*LAUNCH, alt, speed, gamma, az)
    t, y, _, impacted = coast(y0, 0.0, 1000.0, 0.0, ROT_J2)
    assert impacted
    r, v = y[:, :3], y[:, 3:]
    w = np.array([0.0, 0.0, OMEGA_RAD_S])
    wxr = np.cross(w, r)
    jacobi = 0.5 * np.sum(v * v, axis=1) + gravity_potential(r, j2=True) - 0.5 * np.sum(wxr * wxr, axis=1)
    hz = np.cross(r, v + wxr)[:, 2]
    dc = np.max(np.abs(jacobi / jacobi[0] - 1.0))
    dhz = np.max(np.abs(hz / hz[0] - 1.0))
    print(f"{name} rotating+J2 over {t[-1] / 60:.1f} min: Jacobi drift {dc:.2e}, h_z drift {dhz:.2e}")
    assert dc < INVARIANT_REL
    assert dhz < INVARIANT_REL
    # sanity: these are not trivially conserved (the ECEF energy and the full |h| do change)
    e_ecef = 0.5 * np.sum(v * v, axis=1) + gravity_potential(r, j2=True)
    assert np.ptp(e_ecef) / abs(e_ecef[0]) > 1e3 * INVARIANT_REL
    hx_inertial = np.cross(r, v + wxr)[:, 0]
    assert np.ptp(hx_inertial) / abs(hz[0]) > 1e3 * INVARIANT_REL
