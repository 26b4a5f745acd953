"""Shared helpers for the physics tests."""

from __future__ import annotations

import numpy as np
import pytest

from warnlink.geo import enu_basis, geodetic2ecef


def burnout_state(lat_deg, lon_deg, alt_m, speed_m_s, gamma_deg, azimuth_deg) -> np.ndarray:
    """ECEF state [m, m/s] at a geodetic point moving at ``speed`` with flight-path angle ``gamma``
    above the local horizontal, heading ``azimuth`` (from north, clockwise)."""
    r = np.array(geodetic2ecef(lat_deg, lon_deg, alt_m, deg=True), float)
    e, n, u = enu_basis(lat_deg, lon_deg, deg=True)
    g, az = np.radians(gamma_deg), np.radians(azimuth_deg)
    v = speed_m_s * (np.cos(g) * (np.sin(az) * e + np.cos(az) * n) + np.sin(g) * u)
    return np.concatenate([r, v])


@pytest.fixture(scope="session")
def make_state():
    """The ``burnout_state`` helper, as a fixture."""
    return burnout_state
