"""Sensor reports as columns (one NumPy array per field), never one Python object per report.

A ``ReportBatch`` holds ``n`` reports. Measurement vector ``z`` (n, 4):

* radar (``kind == KIND_RADAR``): range [m], azimuth [rad, from north, clockwise, [0, 2pi)],
  elevation [rad], range-rate [m/s] (NaN when the sensor does not measure it);
* space infrared (``kind == KIND_IR``): line-of-sight angles ``alpha``, ``beta`` [rad] in the
  satellite's nadir frame (see ``warnlink.sensors.infrared``), then NaN, NaN.

``cov`` (n, 4, 4) is the measurement-noise covariance in the same units (rows and columns of unused
components are NaN). ``truth`` is the index of the true object in ``objects`` (-1: false alarm);
it rides beside the report for scoring only and is never used by the tracker.
``t_s`` is the time the measurement is valid for and ``arrival_s`` when it reaches the national
node, both in seconds after the scenario epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KIND_RADAR = 0
KIND_IR = 1
KIND_NAMES = ("radar", "ir")
COLUMNS = ("t_s", "arrival_s", "sensor", "kind", "z", "cov", "sensor_pos_ecef_m", "truth")


@dataclass
class ReportBatch:
    """Columns of ``n`` sensor reports; ``sensors`` and ``objects`` name the integer indices."""

    t_s: np.ndarray
    arrival_s: np.ndarray
    sensor: np.ndarray
    kind: np.ndarray
    z: np.ndarray
    cov: np.ndarray
    sensor_pos_ecef_m: np.ndarray
    truth: np.ndarray
    sensors: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.t_s)

    @classmethod
    def empty(cls, sensors=(), objects=()) -> ReportBatch:
        """A batch with no reports."""
        return cls(np.zeros(0), np.zeros(0), np.zeros(0, np.int32), np.zeros(0, np.int8),
                   np.zeros((0, 4)), np.zeros((0, 4, 4)), np.zeros((0, 3)), np.zeros(0, np.int32),
                   list(sensors), list(objects))

    def take(self, idx) -> ReportBatch:
        """The reports at ``idx`` (index array or boolean mask), same name tables."""
        return ReportBatch(*(getattr(self, c)[idx] for c in COLUMNS), self.sensors, self.objects)

    @classmethod
    def concat(cls, batches: list[ReportBatch]) -> ReportBatch:
        """Join batches that share the same ``sensors`` and ``objects`` tables."""
        batches = [b for b in batches if b is not None]
        if not batches:
            return cls.empty()
        first = batches[0]
        for b in batches[1:]:
            if b.sensors != first.sensors or b.objects != first.objects:
                raise ValueError("cannot concatenate report batches with different sensor/object tables")
        return cls(*(np.concatenate([getattr(b, c) for b in batches]) for c in COLUMNS),
                   first.sensors, first.objects)

    def sorted_by_arrival(self) -> ReportBatch:
        """Reports in the order a national node receives them (stable on measurement time)."""
        return self.take(np.lexsort((self.t_s, self.arrival_s)))
