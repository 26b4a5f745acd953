"""US Standard Atmosphere 1976 by geometric altitude.

Reference values: the USSA-1976 table by *geometric* altitude (NOAA-S/T 76-1562 / NASA TM-X-74335),
five significant figures. The layer bases of the standard (11, 20, 32, 47, 51, 71 km) are geopotential
altitudes, so at the same *geometric* heights the values differ from the layer-base values (e.g. 11 km
geometric is 10.981 km geopotential: 0.36480 kg/m^3, not 0.36392). The values below were recomputed
from the standard's formulae (H = r0 Z / (r0 + Z), r0 = 6356.766 km; hydrostatic layers) and agree with
an independent implementation (the `ambiance` package) to better than 1e-5.
Tolerance 0.1% (the issue's): far above the 5-digit rounding, far below any layer or unit error.
"""

from __future__ import annotations

import numpy as np
import pytest

from warnlink.physics.atmosphere import density, temperature

# geometric altitude [m], density [kg/m^3], kinetic temperature [K]
USSA76_GEOMETRIC = [
    (0.0, 1.2250, 288.150),
    (1_000.0, 1.1117, 281.651),
    (5_000.0, 0.73643, 255.676),
    (11_000.0, 0.36480, 216.774),
    (20_000.0, 0.088910, 216.650),
    (32_000.0, 0.013555, 228.490),
    (47_000.0, 0.0014965, 269.684),
    (51_000.0, 0.00090690, 270.650),
    (71_000.0, 0.000071965, 216.846),
    (80_000.0, 0.000018458, 198.639),
    (86_000.0, 0.000006958, None),  # start of the upper (exponential) model: continuity check
]
REL = 1e-3


@pytest.mark.parametrize(("alt", "rho", "temp"), USSA76_GEOMETRIC)
def test_density_and_temperature_at_tabulated_geometric_altitudes(alt, rho, temp):
    assert density(alt) == pytest.approx(rho, rel=REL)
    if temp is not None:
        assert temperature(alt) == pytest.approx(temp, rel=REL)


def test_density_continuous_at_86_km():
    below, above = density(86_000.0 - 1e-3), density(86_000.0)
    assert below == pytest.approx(above, rel=REL)


def test_vectorised():
    z = np.array([[0.0, 11e3], [20e3, 32e3]])
    d = density(z)
    assert d.shape == (2, 2)
    np.testing.assert_allclose(d, [[1.2250, 0.36480], [0.088910, 0.013555]], rtol=REL)
    assert temperature(z).shape == (2, 2)
    assert isinstance(density(1000.0), float)


def test_density_decreases_monotonically_to_1000_km():
    # every 5 m from the ground to 1000 km. Above 86 km the model is a piecewise exponential whose pieces
    # meet within the 4-digit rounding of the table (jumps of <= 0.008%, i.e. < 1 m of height): invisible
    # at 5 m. A join that jumps upwards by more is a modelling error: drag must not grow with height.
    z = np.arange(0.0, 1_000_000.0, 5.0)
    d = density(z)
    assert np.all(d > 0.0)
    up = np.flatnonzero(np.diff(d) >= 0.0)
    assert up.size == 0, f"density does not decrease at {z[up[:5]] / 1e3} km"


def test_zero_above_1000_km():
    assert density(1_000_000.0) == 0.0
    np.testing.assert_array_equal(density(np.array([1.0e6 + 1.0, 2.0e6, 3.6e7])), 0.0)
    assert density(999_000.0) > 0.0
