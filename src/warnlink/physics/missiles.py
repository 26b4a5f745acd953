"""Generic missile classes from public round figures. ALL PERFORMANCE HERE IS NOTIONAL.

The figures are round numbers of the order found in open reporting (launch mass, number of stages,
solid or liquid propulsion, maximum range), sized so that each class can fly the published
profiles of its kind. They do not describe any real missile and must not be read as such.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

G0_M_S2 = 9.80665


@dataclass(frozen=True)
class Stage:
    """One rocket stage: propellant and dry mass [kg], burn time [s], effective Isp [s], diameter [m]."""

    propellant_kg: float
    dry_kg: float
    burn_s: float
    isp_s: float
    diameter_m: float
    length_m: float

    @property
    def mass_flow_kg_s(self) -> float:
        """Propellant mass flow [kg/s]."""
        return self.propellant_kg / self.burn_s

    @property
    def thrust_n(self) -> float:
        """Thrust [N] (constant over the burn)."""
        return self.mass_flow_kg_s * self.isp_s * G0_M_S2

    @property
    def tumbling_cda_m2(self) -> float:
        """Drag area of the spent, tumbling stage [m^2]: Cd 1.0 on its side area (notional)."""
        return 1.0 * self.diameter_m * self.length_m


@dataclass(frozen=True)
class MissileClass:
    """A generic missile: stages, payload (re-entry vehicle) and pitch-programme timing."""

    name: str
    category: str
    """SRBM, MRBM, IRBM or ICBM."""
    propulsion: str
    """solid or liquid."""
    stages: tuple[Stage, ...]
    payload_kg: float
    rv_cda_m2: float
    """Drag coefficient times reference area of the re-entry vehicle [m^2]."""
    vertical_rise_s: float
    pitchover_s: float
    staging_coast_s: float
    max_range_km: float
    """Public round figure for the class's maximum range [km]."""
    boost_cd: float = 0.3

    @property
    def launch_mass_kg(self) -> float:
        """Total mass at lift-off [kg]."""
        return self.payload_kg + sum(s.propellant_kg + s.dry_kg for s in self.stages)

    @property
    def boost_cda_m2(self) -> float:
        """Drag area of the stack in powered flight [m^2]."""
        d = max(s.diameter_m for s in self.stages)
        return self.boost_cd * math.pi * d * d / 4.0

    @property
    def ideal_delta_v_m_s(self) -> float:
        """Tsiolkovsky velocity increment of all stages [m/s], without gravity or drag losses."""
        dv, mass = 0.0, self.launch_mass_kg
        for s in self.stages:
            dv += s.isp_s * G0_M_S2 * math.log(mass / (mass - s.propellant_kg))
            mass -= s.propellant_kg + s.dry_kg
        return dv

    @property
    def burn_time_s(self) -> float:
        """Time from lift-off to burnout of the last stage at full burn [s]."""
        return sum(s.burn_s for s in self.stages) + self.staging_coast_s * (len(self.stages) - 1)


CLASSES: dict[str, MissileClass] = {
    m.name: m
    for m in (
        MissileClass(
            name="SRBM-solid",
            category="SRBM",
            propulsion="solid",
            stages=(Stage(3000, 500, 45, 260, 0.95, 6.0),),
            payload_kg=450,
            rv_cda_m2=0.12,
            vertical_rise_s=3,
            pitchover_s=4,
            staging_coast_s=0,
            max_range_km=900,
        ),
        MissileClass(
            name="MRBM-liquid",
            category="MRBM",
            propulsion="liquid",
            stages=(Stage(12900, 2100, 110, 250, 1.36, 12.0),),
            payload_kg=1000,
            rv_cda_m2=0.20,
            vertical_rise_s=6,
            pitchover_s=8,
            staging_coast_s=0,
            max_range_km=1500,
        ),
        MissileClass(
            name="IRBM-liquid",
            category="IRBM",
            propulsion="liquid",
            stages=(Stage(20000, 2200, 120, 290, 1.65, 14.0), Stage(1500, 300, 60, 300, 1.2, 2.5)),
            payload_kg=650,
            rv_cda_m2=0.10,
            vertical_rise_s=8,
            pitchover_s=10,
            staging_coast_s=2,
            max_range_km=5000,
        ),
        MissileClass(
            name="ICBM-liquid",
            category="ICBM",
            propulsion="liquid",
            stages=(Stage(60000, 5000, 150, 280, 2.4, 16.0), Stage(13000, 1000, 150, 320, 2.4, 6.0)),
            payload_kg=1000,
            rv_cda_m2=0.12,
            vertical_rise_s=10,
            pitchover_s=12,
            staging_coast_s=3,
            max_range_km=15000,
        ),
        MissileClass(
            name="ICBM-solid",
            category="ICBM",
            propulsion="solid",
            stages=(
                Stage(40000, 4000, 80, 265, 2.0, 12.0),
                Stage(12000, 1500, 70, 290, 1.8, 5.0),
                Stage(4000, 400, 60, 300, 1.5, 2.5),
            ),
            payload_kg=800,
            rv_cda_m2=0.12,
            vertical_rise_s=8,
            pitchover_s=10,
            staging_coast_s=2,
            max_range_km=15000,
        ),
    )
}
"""The notional classes by name, smallest first."""


def get_class(name: str) -> MissileClass:
    """The missile class called ``name``; raises ``KeyError`` naming the known classes otherwise."""
    try:
        return CLASSES[name]
    except KeyError:
        raise KeyError(f"unknown missile class {name!r}; known: {', '.join(CLASSES)}") from None
