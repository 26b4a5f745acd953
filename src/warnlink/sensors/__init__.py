"""Sensor models: the laydown, ground/ship radars and geostationary infrared, as columnar reports.

Sites and nominal ranges are public; every PERFORMANCE figure (noise, detection probability,
false alarms, update periods, latencies, infrared thresholds) is NOTIONAL. Units are SI (m, rad,
s); positions are ECEF; radar azimuth is from north, clockwise. See ``laydown``, ``radar``,
``infrared`` and ``reports``.
"""

from warnlink.sensors.infrared import (
    ir_frame,
    ir_los_angles,
    ir_los_to_ecef_direction,
    ir_visible,
    observe_ir,
)
from warnlink.sensors.laydown import (
    IR_FRAME_PERIOD_S,
    IR_KINDS,
    KINDS,
    RADAR_KINDS,
    LaydownError,
    SensorSpec,
    default_laydown,
    load_laydown,
)
from warnlink.sensors.radar import (
    detection_probability,
    in_azimuth_sector,
    observe_radar,
    radar_measurement,
    radar_sigmas,
    radar_visible,
    swerling1_snr_ref,
    wrap_2pi,
)
from warnlink.sensors.reports import KIND_IR, KIND_NAMES, KIND_RADAR, ReportBatch

__all__ = [
    "IR_FRAME_PERIOD_S",
    "IR_KINDS",
    "KINDS",
    "KIND_IR",
    "KIND_NAMES",
    "KIND_RADAR",
    "RADAR_KINDS",
    "LaydownError",
    "ReportBatch",
    "SensorSpec",
    "default_laydown",
    "detection_probability",
    "in_azimuth_sector",
    "ir_frame",
    "ir_los_angles",
    "ir_los_to_ecef_direction",
    "ir_visible",
    "load_laydown",
    "observe_ir",
    "observe_radar",
    "radar_measurement",
    "radar_sigmas",
    "radar_visible",
    "swerling1_snr_ref",
    "wrap_2pi",
]
