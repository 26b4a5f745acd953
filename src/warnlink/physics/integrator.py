"""Equations of motion in the rotating Earth-fixed (ECEF) frame and their adaptive integrator.

State ``y = [x, y, z, vx, vy, vz]`` in ECEF [m, m/s]. The acceleration is

    a = g_J2(r) - 2 w x v - w x (w x r) + (T/m) u_thrust - (D/m) v/|v| + (L/m) u_lift

with gravity including J2 (``warnlink.geo.gravity``), Coriolis and centrifugal terms for the
Earth's rotation w, thrust along the pitch programme's direction, drag from the US Standard
Atmosphere 1976 (``warnlink.physics.atmosphere``) against the air, which co-rotates with the Earth
so that the air-relative velocity is the ECEF velocity, and an optional aerodynamic lift.

The integrator is Dormand-Prince 5(4) with local error control; each accepted node stores the
state and its derivative so a trajectory can be resampled with cubic Hermite interpolation.
Stopping at the ground is found to 1e-6 m in altitude by regula falsi on the last step's size.
Everything here is compiled with Numba: one flight costs a few milliseconds.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from warnlink.geo.frames import ecef2geodetic_kernel
from warnlink.geo.gravity import gravity_kernel
from warnlink.geo.wgs84 import OMEGA_RAD_S
from warnlink.physics.atmosphere import density_kernel

# Layout of the per-segment parameter vector ``p`` (float64).
P_MODE = 0  # 0 coast, 1 vertical rise, 2 pitch-over, 3 attitude hold at the kick, then gravity turn
P_THRUST = 1  # thrust [N]
P_MDOT = 2  # mass flow [kg/s]
P_MASS0 = 3  # mass at the segment start [kg]
P_T0 = 4  # segment start time [s]
P_CDA = 5  # drag coefficient times reference area [m^2]
P_KICK = 6  # pitch-over angle from the vertical reached at the end of the pitch-over [rad]
P_KICK_T0 = 7  # pitch-over start [s]
P_KICK_DT = 8  # pitch-over duration [s]
P_NX, P_NY, P_NZ = 9, 10, 11  # unit normal of the launch plane (ECEF); forward = n x up
P_ROT = 12  # 1: rotating Earth (Coriolis, centrifugal); 0: non-rotating
P_J2 = 13  # 1: J2 gravity; 0: point mass
P_DRAG = 14  # 1: drag on
P_LIFT_LD = 15  # lift-to-drag ratio (0: no lift)
P_LIFT_ALT = 16  # lift acts only below this altitude [m]
P_LIFT_MODE = 17  # 1: pull-up (lift only descending, fading in over 5 deg); 2: glide (whenever below P_LIFT_ALT)
P_LIFT_T1 = 18  # lift acts only before this time [s]
P_GROUND = 19  # 1: stop when the object descends through the ellipsoid (h = 0)
P_SIZE = 20

PULLUP_REF_SIN = np.sin(np.radians(5.0))
LIFT_MIN_SPEED = 600.0
"""Lift acts only above this speed [m/s]: the variants model hypersonic manoeuvres (notional)."""
LIFT_MIN_ALT = 10_000.0
"""Below this height [m] the vehicle dives without lift (terminal phase, notional)."""
LIFT_MAX_ACC = 10.0 * 9.80665
"""Lift acceleration limit [m/s^2] (10 g structural load, notional)."""

STATUS_END = 0  # reached the requested end time
STATUS_GROUND = 1  # stopped at the ground
STATUS_FULL = 2  # output buffer full; call again from the last node

# Dormand-Prince 5(4) tableau
_C2, _C3, _C4, _C5 = 1 / 5, 3 / 10, 4 / 5, 8 / 9
_A21 = 1 / 5
_A31, _A32 = 3 / 40, 9 / 40
_A41, _A42, _A43 = 44 / 45, -56 / 15, 32 / 9
_A51, _A52, _A53, _A54 = 19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729
_A61, _A62, _A63, _A64, _A65 = 9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656
_B1, _B3, _B4, _B5, _B6 = 35 / 384, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84
_E1, _E3, _E4, _E5, _E6, _E7 = (
    71 / 57600,
    -71 / 16695,
    71 / 1920,
    -17253 / 339200,
    22 / 525,
    -1 / 40,
)


@njit(cache=True, nogil=True)
def derivative(t, y, p, out):
    """Write dy/dt at time ``t`` [s] for state ``y`` under segment parameters ``p`` into ``out``."""
    x, yy, z, vx, vy, vz = y[0], y[1], y[2], y[3], y[4], y[5]
    lat, lon, h = ecef2geodetic_kernel(x, yy, z)
    ax, ay, az = gravity_kernel(x, yy, z, p[P_J2])
    if p[P_ROT] != 0.0:
        w = OMEGA_RAD_S
        ax += 2.0 * w * vy + w * w * x
        ay += -2.0 * w * vx + w * w * yy
    mass = p[P_MASS0] - p[P_MDOT] * (t - p[P_T0])
    speed = np.sqrt(vx * vx + vy * vy + vz * vz)
    cl, sl = np.cos(lat), np.sin(lat)
    ux, uy, uz = cl * np.cos(lon), cl * np.sin(lon), sl  # geodetic up
    drag_acc = 0.0
    if p[P_CDA] > 0.0 and h < 1.0e6 and speed > 0.0:
        drag_acc = 0.5 * density_kernel(h) * speed * speed * p[P_CDA] / mass
    if p[P_DRAG] != 0.0 and drag_acc > 0.0:
        ax -= drag_acc * vx / speed
        ay -= drag_acc * vy / speed
        az -= drag_acc * vz / speed
    mode = p[P_MODE]
    if mode != 0.0 and p[P_THRUST] > 0.0:
        f = p[P_THRUST] / mass
        cos_v = (vx * ux + vy * uy + vz * uz) / speed if speed > 0.0 else 1.0
        hold = mode == 3.0 and cos_v > np.cos(p[P_KICK])
        if mode == 1.0 or (mode == 3.0 and speed < 1.0):
            dx, dy, dz = ux, uy, uz
        elif mode == 2.0 or hold:
            # pitch-over ramp, then attitude hold at the kick angle until the velocity has turned
            # as far (gravity turn after that)
            s = (t - p[P_KICK_T0]) / p[P_KICK_DT]
            s = min(max(s, 0.0), 1.0)
            theta = p[P_KICK] * s
            fx = p[P_NY] * uz - p[P_NZ] * uy
            fy = p[P_NZ] * ux - p[P_NX] * uz
            fz = p[P_NX] * uy - p[P_NY] * ux
            fn = np.sqrt(fx * fx + fy * fy + fz * fz)
            ct, st = np.cos(theta), np.sin(theta)
            dx = ct * ux + st * fx / fn
            dy = ct * uy + st * fy / fn
            dz = ct * uz + st * fz / fn
        else:
            dx, dy, dz = vx / speed, vy / speed, vz / speed
        ax += f * dx
        ay += f * dy
        az += f * dz
    if p[P_LIFT_LD] > 0.0 and LIFT_MIN_ALT < h < p[P_LIFT_ALT] and t < p[P_LIFT_T1] and speed > LIFT_MIN_SPEED:
        vr = vx * ux + vy * uy + vz * uz
        # pull-up: lift fades in smoothly as the descent steepens (full at PULLUP_REF_RAD below the
        # horizontal), which avoids the chattering of an on/off switch at level flight
        fade = 1.0 if p[P_LIFT_MODE] == 2.0 else min(max(-vr / (speed * PULLUP_REF_SIN), 0.0), 1.0)
        if fade > 0.0:
            # lift in the vertical plane, perpendicular to the velocity, upwards
            lx, ly, lz = ux - vr * vx / (speed * speed), uy - vr * vy / (speed * speed), uz - vr * vz / (speed * speed)
            ln = np.sqrt(lx * lx + ly * ly + lz * lz)
            if ln > 1e-9:
                lift = min(fade * p[P_LIFT_LD] * drag_acc, LIFT_MAX_ACC)
                ax += lift * lx / ln
                ay += lift * ly / ln
                az += lift * lz / ln
    out[0], out[1], out[2] = vx, vy, vz
    out[3], out[4], out[5] = ax, ay, az


@njit(cache=True, nogil=True)
def _step(t, y, k1, h, p, ynew, k7, err):
    """One Dormand-Prince step of size ``h``; ``k1`` is dy/dt at (t, y). Fills ynew, k7, err."""
    k2 = np.empty(6)
    k3 = np.empty(6)
    k4 = np.empty(6)
    k5 = np.empty(6)
    k6 = np.empty(6)
    tmp = np.empty(6)
    for i in range(6):
        tmp[i] = y[i] + h * _A21 * k1[i]
    derivative(t + _C2 * h, tmp, p, k2)
    for i in range(6):
        tmp[i] = y[i] + h * (_A31 * k1[i] + _A32 * k2[i])
    derivative(t + _C3 * h, tmp, p, k3)
    for i in range(6):
        tmp[i] = y[i] + h * (_A41 * k1[i] + _A42 * k2[i] + _A43 * k3[i])
    derivative(t + _C4 * h, tmp, p, k4)
    for i in range(6):
        tmp[i] = y[i] + h * (_A51 * k1[i] + _A52 * k2[i] + _A53 * k3[i] + _A54 * k4[i])
    derivative(t + _C5 * h, tmp, p, k5)
    for i in range(6):
        tmp[i] = y[i] + h * (_A61 * k1[i] + _A62 * k2[i] + _A63 * k3[i] + _A64 * k4[i] + _A65 * k5[i])
    derivative(t + h, tmp, p, k6)
    for i in range(6):
        ynew[i] = y[i] + h * (_B1 * k1[i] + _B3 * k3[i] + _B4 * k4[i] + _B5 * k5[i] + _B6 * k6[i])
    derivative(t + h, ynew, p, k7)
    for i in range(6):
        err[i] = h * (_E1 * k1[i] + _E3 * k3[i] + _E4 * k4[i] + _E5 * k5[i] + _E6 * k6[i] + _E7 * k7[i])


@njit(cache=True, nogil=True)
def _altitude(y):
    return ecef2geodetic_kernel(y[0], y[1], y[2])[2]


@njit(cache=True, nogil=True)
def _radial_speed(y):
    lat, lon, _ = ecef2geodetic_kernel(y[0], y[1], y[2])
    cl = np.cos(lat)
    return y[3] * cl * np.cos(lon) + y[4] * cl * np.sin(lon) + y[5] * np.sin(lat)


@njit(cache=True, nogil=True)
def integrate(y0, t0, t1, p, rtol, atol_m, h0, hmax, capacity):
    """Integrate from (t0, y0) towards t1 under parameters ``p``.

    Error control per component: |err| <= atol + rtol * |y|, with ``atol_m`` [m] for positions and
    ``atol_m * 1e-3`` [m/s] for velocities. Returns ``(t, y, dydt, n, status)``: the first ``n``
    accepted nodes (including the start) and a ``STATUS_*`` code.
    """
    ts = np.empty(capacity)
    ys = np.empty((capacity, 6))
    ds = np.empty((capacity, 6))
    y = y0.copy()
    k1 = np.empty(6)
    derivative(t0, y, p, k1)
    ts[0] = t0
    ys[0, :] = y
    ds[0, :] = k1
    n = 1
    t = t0
    h = min(h0, hmax, t1 - t0)
    ynew = np.empty(6)
    k7 = np.empty(6)
    err = np.empty(6)
    ground = p[P_GROUND] != 0.0
    while t < t1:
        if n >= capacity:
            return ts, ys, ds, n, STATUS_FULL
        last = False
        if t + h >= t1:
            h = t1 - t
            last = True
        _step(t, y, k1, h, p, ynew, k7, err)
        e2 = 0.0
        for i in range(6):
            a = atol_m if i < 3 else atol_m * 1e-3
            sc = a + rtol * max(abs(y[i]), abs(ynew[i]))
            e2 += (err[i] / sc) ** 2
        e = np.sqrt(e2 / 6.0)
        if e > 1.0:
            h = h * max(0.2, 0.9 * e ** -0.2)
            continue
        if ground and _altitude(ynew) < 0.0 and _radial_speed(ynew) < 0.0:
            # Regula falsi (Illinois) on the step size for altitude = 0.
            ha, fa = 0.0, _altitude(y)
            hb, fb = h, _altitude(ynew)
            side = 0
            for _ in range(100):
                hc = (ha * fb - hb * fa) / (fb - fa)
                _step(t, y, k1, hc, p, ynew, k7, err)
                fc = _altitude(ynew)
                if abs(fc) < 1e-6 or hb - ha < 1e-9:
                    break
                if fc * fb > 0.0:
                    hb, fb = hc, fc
                    if side == -1:
                        fa *= 0.5
                    side = -1
                else:
                    ha, fa = hc, fc
                    if side == 1:
                        fb *= 0.5
                    side = 1
            ts[n] = t + hc
            ys[n, :] = ynew
            ds[n, :] = k7
            return ts, ys, ds, n + 1, STATUS_GROUND
        t = t1 if last else t + h
        y[:] = ynew
        k1[:] = k7
        ts[n] = t
        ys[n, :] = y
        ds[n, :] = k1
        n += 1
        factor = 5.0 if e == 0.0 else min(5.0, 0.9 * e ** -0.2)
        h = min(h * factor, hmax)
    return ts, ys, ds, n, STATUS_END
