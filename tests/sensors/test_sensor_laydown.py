"""Laydown loading: the packaged notional laydown and clear errors for bad files."""

from __future__ import annotations

import csv
import io
import math
from importlib import resources

import numpy as np
import pytest

from warnlink.geo.wgs84 import A_M
from warnlink.sensors import (
    IR_FRAME_PERIOD_S,
    KINDS,
    LaydownError,
    SensorSpec,
    default_laydown,
    load_laydown,
)

PACKAGED = resources.files("warnlink") / "data" / "sensors.csv"


def _rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO(PACKAGED.read_text(encoding="utf-8"), newline="")))


def _write(tmp_path, rows, name="bad_laydown.csv"):
    path = tmp_path / name
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_packaged_laydown_has_13_sensors_of_3_nations(laydown):
    assert len(laydown) == 13
    assert len({s.sensor_id for s in laydown}) == 13
    counts = {n: sum(s.nation == n for s in laydown) for n in {s.nation for s in laydown}}
    assert counts == {"KOR": 3, "USA": 5, "JPN": 5}
    assert {s.kind for s in laydown} == set(KINDS)


def test_units_are_converted_to_si(laydown):
    busan = next(s for s in laydown if s.sensor_id == "KOR-GP-BUSAN")
    assert (busan.lat_deg, busan.lon_deg, busan.alt_m) == (35.10, 129.03, 300.0)
    assert busan.max_range_m == 800_000.0
    assert busan.min_elevation_rad == pytest.approx(math.radians(1.0))
    assert busan.update_s == 1.0
    assert busan.sigma_range_m == 50.0
    assert busan.sigma_angle_rad == pytest.approx(2.0e-3)
    assert busan.azimuth_sector_deg == (267.0, 27.0)  # NOTIONAL sector facing Pyongyang (data/README.md)
    tpy2 = next(s for s in laydown if s.sensor_id == "USA-TPY2-SEONGJU")
    assert tpy2.sigma_angle_rad == pytest.approx(0.5e-3)
    assert tpy2.update_s == 0.5


def test_range_rate_only_for_xband(laydown):
    for s in laydown:
        assert s.measures_range_rate == (s.kind == "radar_xband"), s.sensor_id
    assert sum(s.measures_range_rate for s in laydown) == 3


def test_ir_geo_row(laydown):
    ir = [s for s in laydown if s.kind == "ir_geo"]
    assert len(ir) == 1
    s = ir[0]
    assert s.lat_deg == 0.0 and s.lon_deg == 120.0 and s.alt_m == 35_786_000.0
    assert s.update_s == IR_FRAME_PERIOD_S == 10.0
    assert s.sigma_angle_rad == pytest.approx(0.05e-3)
    assert math.isinf(s.max_range_m) and math.isnan(s.sigma_range_m)
    assert np.linalg.norm(s.position_ecef_m) == pytest.approx(A_M + 35_786_000.0, abs=1e-3)
    assert s.position_ecef_m[2] == pytest.approx(0.0, abs=1e-6)


def test_radar_site_position_is_its_geodetic_site(laydown):
    from warnlink.geo import ecef2geodetic

    for s in laydown:
        if s.is_radar:
            lat, lon, alt = ecef2geodetic(*s.position_ecef_m, deg=True)
            assert (float(lat), float(lon), float(alt)) == pytest.approx((s.lat_deg, s.lon_deg, s.alt_m),
                                                                         abs=1e-6)


def test_default_laydown_equals_explicit_path_and_copy(tmp_path):
    copy = _write(tmp_path, _rows(), "copy.csv")
    assert load_laydown(copy) == default_laydown() == load_laydown(str(copy)) == load_laydown(PACKAGED)


def test_nation_filter():
    jpn = load_laydown(nations=["jpn"])
    assert len(jpn) == 5 and all(s.nation == "JPN" for s in jpn)
    kor_usa = load_laydown(nations=("KOR", "USA"))
    assert [s.nation for s in kor_usa].count("KOR") == 3 and len(kor_usa) == 8
    assert load_laydown(nations="USA") == [s for s in default_laydown() if s.nation == "USA"]
    with pytest.raises(LaydownError, match="CHN"):
        load_laydown(nations=["KOR", "CHN"])


def test_optional_sector_columns(tmp_path):
    rows = _rows()
    rows[0] += ["az_sector_start_deg", "az_sector_end_deg"]
    for r in rows[1:]:
        r += ["", ""]
    rows[5 - 1][-2:] = ["270", "30"]  # line 5: USA-TPY2-SEONGJU
    specs = load_laydown(_write(tmp_path, rows))
    tpy2 = next(s for s in specs if s.sensor_id == "USA-TPY2-SEONGJU")
    assert tpy2.azimuth_sector_deg == (270.0, 30.0)
    assert sum(s.azimuth_sector_deg is not None for s in specs) == 1


def _set(line, column, value):
    def mutate(rows):
        rows[line - 1][rows[0].index(column)] = value
    return mutate


def _drop_column(column):
    def mutate(rows):
        k = rows[0].index(column)
        for r in rows:
            del r[k]
    return mutate


def _duplicate_id(rows):
    rows[6 - 1][0] = rows[2 - 1][0]


BAD = [
    # (mutation, row as a file line number, column, words in the message)
    (_drop_column("lat"), 1, "lat", "missing"),
    (_drop_column("sigma_angle_mrad"), 1, "sigma_angle_mrad", "missing"),
    (_set(3, "lat", "abc"), 3, "lat", "not a number"),
    (_set(2, "lat", "95"), 2, "lat", "out of range"),
    (_set(9, "lon", "-200"), 9, "lon", "out of range"),
    (_set(4, "max_range_km", "-800"), 4, "max_range_km", "out of range"),
    (_set(4, "max_range_km", "0"), 4, "max_range_km", "out of range"),
    (_set(6, "max_range_km", ""), 6, "max_range_km", "empty"),
    (_set(10, "sigma_range_m", "-3"), 10, "sigma_range_m", "out of range"),
    (_set(11, "sigma_angle_mrad", "nan"), 11, "sigma_angle_mrad", "finite"),
    (_set(12, "update_s", "0"), 12, "update_s", "out of range"),
    (_set(13, "min_elevation_deg", "95"), 13, "min_elevation_deg", "out of range"),
    (_set(2, "kind", "radar_cband"), 2, "kind", "unknown kind"),
    (_set(8, "lat", "5"), 8, "lat", "geostationary"),
    (_set(5, "nation", ""), 5, "nation", "empty"),
    (_duplicate_id, 6, "sensor_id", "duplicate"),
]


@pytest.mark.parametrize(("mutate", "line", "column", "words"), BAD,
                         ids=[f"{c}-{w.replace(' ', '_')}-{n}" for _, n, c, w in BAD])
def test_bad_file_names_file_row_and_column(tmp_path, mutate, line, column, words):
    rows = _rows()
    mutate(rows)
    path = _write(tmp_path, rows)
    with pytest.raises(LaydownError) as err:
        load_laydown(path)
    msg = str(err.value)
    assert str(path) in msg
    assert f"row {line}" in msg
    assert f"column {column!r}" in msg
    assert words in msg
    assert isinstance(err.value, ValueError)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(LaydownError, match=r"nope\.csv"):
        load_laydown(tmp_path / "nope.csv")
    header_only = _write(tmp_path, _rows()[:1], "header_only.csv")
    with pytest.raises(LaydownError, match="no sensors"):
        load_laydown(header_only)


def test_spec_validation_and_without_false_alarms(radar_spec):
    s = radar_spec(false_alarms_per_scan=0.3)
    assert s.without_false_alarms().false_alarms_per_scan == 0.0
    assert s.without_false_alarms().sensor_id == s.sensor_id
    with pytest.raises(LaydownError, match="pd_at_max_range"):
        radar_spec(pd_at_max_range=1.0)
    with pytest.raises(LaydownError, match="pfa"):
        radar_spec(pfa=0.7, pd_at_max_range=0.5)
    with pytest.raises(LaydownError, match="sector"):
        radar_spec(azimuth_sector_deg=(10.0, 370.0))
    with pytest.raises(LaydownError, match="kind"):
        radar_spec(kind="sonar")
    assert radar_spec(azimuth_sector_deg=(-60.0, 60.0)).azimuth_sector_deg == (300.0, 60.0)
    assert radar_spec(kind="radar_xband").measures_range_rate is True
    assert radar_spec(kind="radar_xband", measures_range_rate=False).measures_range_rate is False
    assert isinstance(s, SensorSpec)
