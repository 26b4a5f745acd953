"""Shared helpers for the sensor tests: constructed trajectories, test specs, a real flight."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from warnlink.physics import CLASSES, Trajectory, fly
from warnlink.sensors import SensorSpec, default_laydown


def _static(pos_ecef_m, t0=0.0, t1=1e5, burn=None, object_id="static", kind="warhead") -> Trajectory:
    """An object at rest in ECEF between t0 and t1 [s] (Hermite with zero derivatives is exact)."""
    p = np.asarray(pos_ecef_m, float)
    y = np.array([[*p, 0.0, 0.0, 0.0]] * 2)
    burns = np.zeros((0, 2)) if burn is None else np.asarray(burn, float).reshape(-1, 2)
    return Trajectory(object_id, kind, np.array([t0, t1], float), y, np.zeros((2, 6)), burns)


def _linear(p0_ecef_m, v_ecef_m_s, t0=0.0, t1=1e3, object_id="linear") -> Trajectory:
    """An object moving at constant ECEF velocity (cubic Hermite reproduces straight lines exactly)."""
    p0, v = np.asarray(p0_ecef_m, float), np.asarray(v_ecef_m_s, float)
    p1 = p0 + v * (t1 - t0)
    y = np.array([[*p0, *v], [*p1, *v]])
    dydt = np.array([[*v, 0.0, 0.0, 0.0], [*v, 0.0, 0.0, 0.0]])
    return Trajectory(object_id, "warhead", np.array([t0, t1], float), y, dydt)


@pytest.fixture
def static_trajectory():
    """Factory: ``static_trajectory(pos_ecef_m, t0=0, t1=1e5, burn=None)``."""
    return _static


@pytest.fixture
def linear_trajectory():
    """Factory: ``linear_trajectory(p0_ecef_m, v_ecef_m_s, t0=0, t1=1e3)``."""
    return _linear


def _radar_spec(**overrides) -> SensorSpec:
    base = dict(sensor_id="TEST-RADAR", nation="TST", kind="radar_lband", name="test radar",
                lat_deg=36.0, lon_deg=128.0, alt_m=300.0, max_range_m=1_000_000.0,
                min_elevation_rad=np.radians(1.0), update_s=1.0, sigma_range_m=50.0,
                sigma_angle_rad=2e-3, false_alarms_per_scan=0.0)
    base.update(overrides)
    return SensorSpec(**base)


@pytest.fixture
def radar_spec():
    """Factory of a test radar (no false alarms unless asked); keyword overrides of any field."""
    return _radar_spec


@pytest.fixture(scope="session")
def laydown():
    """The packaged notional laydown."""
    return default_laydown()


@pytest.fixture
def ir_spec(laydown):
    """Factory: the packaged geostationary infrared sensor with keyword overrides."""
    base = next(s for s in laydown if s.kind == "ir_geo")

    def make(**overrides):
        return dataclasses.replace(base, **overrides)

    return make


@pytest.fixture(scope="session")
def mrbm_flight():
    """A real MRBM flight east from near Pyongyang into the Sea of Japan (warhead + spent stage)."""
    return fly(CLASSES["MRBM-liquid"], 39.2, 125.67, 90.0, 20.0)
