"""Scenario files: valid ones decode and round-trip; bad ones name the field and where it is."""

import pytest

from warnlink.scenario.model import ScenarioError, decode_scenario, dump_scenario, load_scenario

GOOD = """
name: salvo
exercise: true
seed: 3
sensors: {nations: [KOR]}
launches:
  - id: L1
    site: {lat: 39.2, lon: 125.67}
    time: 2026-01-01T00:00:00Z
    missile: SRBM-solid
    azimuth_deg: 80
    apogee_km: 50
    range_km: 400
    count: 4
    spacing_s: 5
"""


def test_good_scenario_round_trips():
    sc = decode_scenario(GOOD)
    assert sc.exercise is True and sc.launches[0].count == 4
    assert decode_scenario(dump_scenario(sc)) == sc


def test_toml_scenario(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("""
name = "t"
exercise = false
[[launches]]
id = "A"
time = 2026-01-01T00:00:00Z
azimuth_deg = 90.0
range_km = 300.0
[launches.site]
lat = 39.0
lon = 125.0
""")
    sc = load_scenario(p)
    assert sc.exercise is False and sc.launches[0].range_km == 300.0


@pytest.mark.parametrize(
    ("edit", "path", "words"),
    [
        (("apogee_km: 50", "apogee_km: fifty"), "$.launches[0].apogee_km", "Expected `float"),
        (("lat: 39.2", "lat: 139.2"), "$.launches[0].site.lat", "<= 90"),
        (("count: 4", "count: 0"), "$.launches[0].count", ">= 1"),
        (("missile: SRBM-solid", "missile: SCUD-X"), "$.launches[0].missile", "unknown missile class"),
        (("azimuth_deg: 80", "azimuth_deg: 80\n    impact: {lat: 40, lon: 130}"), "$.launches[0]", "exactly one"),
        (("range_km: 400", "range_km: 400\n    colour: red"), "$.launches[0]", "unknown field `colour`"),
        (("exercise: true\n", ""), "$", "missing required field `exercise`"),
        (("nations: [KOR]", "nations: [PRK]"), "$.sensors.nations", "unknown nation"),
        (("time: 2026-01-01T00:00:00Z", "time: 2026-01-01T00:00:00"), "$.launches[0].time", "UTC"),
        (("range_km: 400", "range_km: 400\n    kick_deg: 20"), "$.launches[0]", "not both"),
    ],
)
def test_bad_scenario_names_field_and_place(tmp_path, edit, path, words):
    p = tmp_path / "bad.yaml"
    p.write_text(GOOD.replace(*edit))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    msg = str(exc.value)
    assert str(p) in msg
    assert f"`{path}" in msg
    if words:
        assert words in msg


def test_not_yaml_and_missing_file(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("name: [unclosed")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(p)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
