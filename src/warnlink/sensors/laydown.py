"""The sensor laydown: which sensors exist, where, and how well they perform.

Sites and nominal ranges come from public sources (see the ``coordinate_basis`` and ``range_basis``
columns of ``warnlink/data/sensors.csv``); every PERFORMANCE figure here (noise, detection
probability, false-alarm rate, update period, latency, infrared delay and thresholds) is NOTIONAL:
chosen to be plausible for a model, not taken from any real system.

The CSV is in edge units (km, degrees, mrad); ``SensorSpec`` holds SI units (m, rad, s).

CSV columns (one row per sensor; extra columns are ignored):

``sensor_id, nation, kind, name, lat, lon, alt_m, max_range_km, min_elevation_deg, update_s,
sigma_range_m, sigma_angle_mrad`` (required), and optionally ``az_sector_start_deg`` and
``az_sector_end_deg`` (degrees from north, clockwise; both empty = 360 degree coverage).

For ``ir_geo`` rows ``lat`` must be 0 (geostationary), ``alt_m`` is the orbit altitude above the
ellipsoid and ``max_range_km``, ``min_elevation_deg``, ``update_s`` and ``sigma_range_m`` may be
empty (no range limit, no elevation limit, the notional frame period ``IR_FRAME_PERIOD_S``, no range
measurement).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from warnlink.geo import geodetic2ecef

RADAR_KINDS = ("radar_lband", "radar_sband_ship", "radar_xband")
"""Kinds of ground- or ship-based radar (reports range, azimuth, elevation, maybe range-rate)."""
IR_KINDS = ("ir_geo",)
"""Kinds of space-based infrared sensor (reports two line-of-sight angles)."""
KINDS = RADAR_KINDS + IR_KINDS

IR_FRAME_PERIOD_S = 10.0
"""Frame (report) period [s] of a space infrared sensor when the laydown leaves it empty (NOTIONAL)."""

REQUIRED_COLUMNS = ("sensor_id", "nation", "kind", "name", "lat", "lon", "alt_m", "max_range_km",
                    "min_elevation_deg", "update_s", "sigma_range_m", "sigma_angle_mrad")
SECTOR_COLUMNS = ("az_sector_start_deg", "az_sector_end_deg")


class LaydownError(ValueError):
    """A laydown file (or a sensor specification) that cannot be used; the message names the file,
    row (line number in the file) and column."""


@dataclass(frozen=True)
class SensorSpec:
    """One sensor, SI units. Every performance parameter is NOTIONAL.

    Attributes:
        sensor_id, nation, kind, name: identity; ``kind`` is one of ``KINDS``.
        lat_deg, lon_deg, alt_m: geodetic site [deg, deg, m above the WGS-84 ellipsoid]; for
            ``ir_geo`` the sub-satellite point (lat 0) and the orbit altitude.
        max_range_m: instrumented range [m] (``inf`` when unlimited, e.g. ``ir_geo``).
        min_elevation_rad: lowest elevation above the local horizontal [rad] (-pi/2: no limit).
        update_s: scan (radar) or frame (infrared) period [s].
        sigma_range_m: 1-sigma range noise [m] (NaN: range not measured).
        sigma_angle_rad: 1-sigma noise of each angle (azimuth and elevation, or alpha and beta) [rad].
        azimuth_sector_deg: ``(start, end)`` [deg from north, clockwise; may wrap through north] of
            the field of regard, or None for 360 degrees.
        measures_range_rate: whether the radar reports range-rate (default: only ``radar_xband``).
        sigma_range_rate_m_s: 1-sigma range-rate noise [m/s].
        pd_at_max_range: single-scan detection probability at ``max_range_m`` (Swerling I).
        pfa: probability of false alarm per resolution cell, sets the Swerling I curve's shape.
        false_alarms_per_scan: mean number of false reports per scan (Poisson).
        radar_latency_s: time from measurement to arrival at the national node [s] (radars).
        ir_delay_s: reporting delay of the infrared sensor [s].
        ir_min_alt_m: geodetic height [m] above which a burning plume is visible from space.
        ir_pd: probability that a visible plume is reported in a frame.
    """

    sensor_id: str
    nation: str
    kind: str
    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    max_range_m: float
    min_elevation_rad: float
    update_s: float
    sigma_range_m: float
    sigma_angle_rad: float
    azimuth_sector_deg: tuple[float, float] | None = None
    measures_range_rate: bool | None = None
    sigma_range_rate_m_s: float = 1.0
    pd_at_max_range: float = 0.5
    pfa: float = 1e-6
    false_alarms_per_scan: float = 0.02
    radar_latency_s: float = 0.5
    ir_delay_s: float = 20.0
    ir_min_alt_m: float = 5_000.0
    ir_pd: float = 0.95

    def __post_init__(self):
        if self.kind not in KINDS:
            raise LaydownError(f"sensor {self.sensor_id}: unknown kind {self.kind!r}; "
                               f"known: {', '.join(KINDS)}")
        if self.measures_range_rate is None:
            object.__setattr__(self, "measures_range_rate", self.kind == "radar_xband")
        if self.azimuth_sector_deg is not None:
            start, end = (float(a) for a in self.azimuth_sector_deg)
            if not (math.isfinite(start) and math.isfinite(end)) or (end - start) % 360.0 == 0.0:
                raise LaydownError(f"sensor {self.sensor_id}: azimuth sector {self.azimuth_sector_deg} "
                                   "must be two finite, different angles (use None for 360 degrees)")
            object.__setattr__(self, "azimuth_sector_deg", (start % 360.0, end % 360.0))
        if not 0.0 < self.pfa < self.pd_at_max_range < 1.0:
            raise LaydownError(f"sensor {self.sensor_id}: need 0 < pfa < pd_at_max_range < 1, "
                               f"got pfa={self.pfa}, pd_at_max_range={self.pd_at_max_range}")
        if not 0.0 <= self.ir_pd <= 1.0:
            raise LaydownError(f"sensor {self.sensor_id}: ir_pd must be in [0, 1], got {self.ir_pd}")
        if not self.false_alarms_per_scan >= 0.0:
            raise LaydownError(f"sensor {self.sensor_id}: false_alarms_per_scan must be >= 0")
        if not self.update_s > 0.0:
            raise LaydownError(f"sensor {self.sensor_id}: update_s must be > 0, got {self.update_s}")

    @property
    def is_radar(self) -> bool:
        """True for the radar kinds (``RADAR_KINDS``)."""
        return self.kind in RADAR_KINDS

    @property
    def position_ecef_m(self) -> np.ndarray:
        """ECEF position [m], shape (3,), of the radar site or of the geostationary satellite
        (above latitude 0, longitude ``lon_deg``, at ``alt_m``); fixed in ECEF."""
        lat = 0.0 if self.kind in IR_KINDS else self.lat_deg
        return np.array(geodetic2ecef(lat, self.lon_deg, self.alt_m, deg=True), float)

    def without_false_alarms(self) -> SensorSpec:
        """The same sensor with ``false_alarms_per_scan = 0``."""
        return dataclasses.replace(self, false_alarms_per_scan=0.0)


def _packaged_path():
    return resources.files("warnlink") / "data" / "sensors.csv"


class _Row:
    """Parses the cells of one CSV row, raising ``LaydownError`` naming file, row and column."""

    def __init__(self, path: str, line: int, cells: dict):
        self.path, self.line, self.cells = path, line, cells

    def fail(self, column: str, why: str):
        sid = (self.cells.get("sensor_id") or "").strip()
        who = f" (sensor {sid})" if sid else ""
        raise LaydownError(f"{self.path}: row {self.line}{who}, column {column!r}: {why}")

    def text(self, column: str) -> str:
        value = (self.cells.get(column) or "").strip()
        if not value:
            self.fail(column, "empty value")
        return value

    def number(self, column: str, *, lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False,
               default: float | None = None) -> float:
        raw = (self.cells.get(column) or "").strip()
        if not raw:
            if default is not None:
                return default
            self.fail(column, "empty value (a number is required)")
        try:
            value = float(raw)
        except ValueError:
            self.fail(column, f"{raw!r} is not a number")
        if not math.isfinite(value):
            self.fail(column, f"{raw!r} is not a finite number")
        if value < lo or value > hi or (lo_open and value == lo):
            left = "(" if lo_open else "["
            self.fail(column, f"{value:g} is out of range {left}{lo:g}, {hi:g}]")
        return value


def _parse_row(row: _Row) -> SensorSpec:
    kind = row.text("kind")
    if kind not in KINDS:
        row.fail("kind", f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    ir = kind in IR_KINDS
    lat = row.number("lat", lo=-90.0, hi=90.0)
    if ir and lat != 0.0:
        row.fail("lat", f"an {kind} sensor is geostationary: latitude must be 0, got {lat:g}")
    lon = row.number("lon", lo=-180.0, hi=360.0)
    if lon > 180.0:
        lon -= 360.0
    alt = row.number("alt_m", lo=-1_000.0, hi=1e9)
    unlimited = math.inf if ir else None
    max_range_km = row.number("max_range_km", lo=0.0, lo_open=True, default=unlimited)
    min_el_deg = row.number("min_elevation_deg", lo=-90.0, hi=90.0, default=-90.0 if ir else None)
    update_s = row.number("update_s", lo=0.0, lo_open=True, default=IR_FRAME_PERIOD_S if ir else None)
    sigma_range = row.number("sigma_range_m", lo=0.0, default=math.nan if ir else None)
    sigma_angle_mrad = row.number("sigma_angle_mrad", lo=0.0)
    start_raw, end_raw = ((row.cells.get(c) or "").strip() for c in SECTOR_COLUMNS)
    sector = None
    if start_raw or end_raw:
        start = row.number(SECTOR_COLUMNS[0], lo=-360.0, hi=360.0)
        end = row.number(SECTOR_COLUMNS[1], lo=-360.0, hi=360.0)
        if (end - start) % 360.0 == 0.0:
            row.fail(SECTOR_COLUMNS[1], "the sector end must differ from its start "
                     "(leave both empty for 360 degrees)")
        sector = (start, end)
    return SensorSpec(
        sensor_id=row.text("sensor_id"),
        nation=row.text("nation"),
        kind=kind,
        name=row.text("name"),
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        max_range_m=max_range_km * 1_000.0,
        min_elevation_rad=math.radians(min_el_deg),
        update_s=update_s,
        sigma_range_m=sigma_range,
        sigma_angle_rad=sigma_angle_mrad * 1e-3,
        azimuth_sector_deg=sector,
    )


def load_laydown(path=None, nations=None) -> list[SensorSpec]:
    """Read a laydown CSV (default: the packaged notional ``warnlink/data/sensors.csv``).

    ``path``: file path (str or Path) or None. ``nations``: iterable of nation codes to keep (e.g.
    ``["KOR", "USA"]``, case-insensitive) or None for all. Returns the sensors in file order, units
    converted to SI (see ``SensorSpec``).

    Raises ``LaydownError`` (a ``ValueError``) naming the file, row (line number) and column for a
    missing file or column, an empty, non-numeric or out-of-range value, an unknown kind, a duplicate
    ``sensor_id``, a file without sensors, or a requested nation without sensors.
    """
    source = _packaged_path() if path is None else Path(path)
    label = str(source)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise LaydownError(f"{label}: cannot read laydown file ({e.strerror or e})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise LaydownError(f"{label}: row 1 (header), column {missing[0]!r}: missing required column(s) "
                           f"{', '.join(missing)}")
    specs: list[SensorSpec] = []
    seen: dict[str, int] = {}
    for cells in reader:
        row = _Row(label, reader.line_num, cells)
        if all(not (v or "").strip() for v in cells.values() if isinstance(v, str)):
            continue  # blank line
        if None in cells:
            row.fail(header[-1], f"row has more cells than the header's {len(header)} columns")
        spec = _parse_row(row)
        if spec.sensor_id in seen:
            row.fail("sensor_id",
                     f"duplicate sensor_id {spec.sensor_id!r} (first on row {seen[spec.sensor_id]})")
        seen[spec.sensor_id] = row.line
        specs.append(spec)
    if not specs:
        raise LaydownError(f"{label}: no sensors in the file")
    if nations is not None:
        if isinstance(nations, str):
            nations = [nations]
        wanted = {n.strip().upper() for n in nations}
        present = {s.nation.upper() for s in specs}
        absent = sorted(wanted - present)
        if absent:
            raise LaydownError(f"{label}: no sensors for nation(s) {', '.join(absent)}; "
                               f"nations in the file: {', '.join(sorted(present))}")
        specs = [s for s in specs if s.nation.upper() in wanted]
    return specs


def default_laydown() -> list[SensorSpec]:
    """The packaged notional laydown of all nations (``load_laydown()``)."""
    return load_laydown()
