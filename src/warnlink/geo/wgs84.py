"""WGS-84 constants (NGA.STND.0036 / NIMA TR8350.2), SI units."""

A_M = 6378137.0
"""Equatorial semi-major axis [m]."""
F = 1.0 / 298.257223563
"""Flattening."""
B_M = A_M * (1.0 - F)
"""Polar semi-minor axis [m]."""
E2 = F * (2.0 - F)
"""First eccentricity squared."""
EP2 = E2 / (1.0 - E2)
"""Second eccentricity squared."""
GM_M3_S2 = 3.986004418e14
"""Earth's gravitational parameter, including the atmosphere [m^3/s^2]."""
OMEGA_RAD_S = 7.292115e-5
"""Earth's rotation rate [rad/s]."""
J2 = 1.08262982131e-3
"""Unnormalised second zonal harmonic (EGM96 C20 = -4.84165371736e-4 times -sqrt(5))."""
