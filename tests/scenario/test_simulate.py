"""Scenario -> reports: determinism, ordering, marking and the files written."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from warnlink.scenario.model import decode_scenario
from warnlink.scenario.simulate import simulate, write_outputs

SALVO = """
name: salvo
exercise: {exercise}
seed: {seed}
sensors: {{nations: [KOR, USA]}}
launches:
  - id: L1
    site: {{lat: 39.2, lon: 125.67}}
    time: 2026-01-01T00:00:00Z
    missile: SRBM-solid
    azimuth_deg: 80
    apogee_km: 97
    range_km: 380
    count: 3
    spacing_s: 10
    azimuth_spread_deg: 4
"""


@pytest.fixture(scope="module")
def sim():
    return simulate(decode_scenario(SALVO.format(exercise="true", seed=11)))


def test_same_seed_same_output(sim):
    again = simulate(decode_scenario(SALVO.format(exercise="true", seed=11)))
    for col in ("t_s", "arrival_s", "sensor", "kind", "z", "truth"):
        np.testing.assert_array_equal(getattr(sim.reports, col), getattr(again.reports, col))
    other = simulate(decode_scenario(SALVO.format(exercise="true", seed=12)))
    assert len(other.reports) != len(sim.reports) or not np.array_equal(other.reports.z, sim.reports.z,
                                                                        equal_nan=True)


def test_salvo_objects_and_reports(sim):
    warheads = [o for o in sim.objects if o.kind == "warhead"]
    assert len(warheads) == 3
    starts = sorted(o.t_start_s for o in warheads)
    assert np.allclose(np.diff(starts), 10.0)
    # stages separate and are objects of their own
    assert sum(o.kind == "stage" for o in sim.objects) == 3
    r = sim.reports
    assert np.all(np.diff(r.arrival_s) >= 0)  # ordered as the node receives them
    assert {sim.sensors[i].nation for i in np.unique(r.sensor)} <= {"KOR", "USA"}
    # every warhead was seen
    assert set(np.unique(r.truth[r.truth >= 0])) >= {o.index for o in warheads}
    # azimuth spread gives distinct impact points
    impacts = [o.trajectory.impact_point() for o in warheads]
    assert len({round(lon, 2) for _, lon in impacts}) == 3


def test_outputs_carry_marking(sim, tmp_path):
    paths = write_outputs(sim, tmp_path)
    lines = paths["reports_jsonl"].read_text().splitlines()
    assert len(lines) == len(sim.reports)
    first = json.loads(lines[0])
    assert first["exercise"] is True and first["time_utc"].endswith("Z") and len(first["cov"]) == 16
    assert all(json.loads(x)["exercise"] is True for x in lines[:: max(1, len(lines) // 50)])
    table = pq.read_table(paths["reports_parquet"])
    assert table.num_rows == len(sim.reports)
    np.testing.assert_array_equal(table.column("t_s").to_numpy(), sim.reports.t_s)
    truth = pq.read_table(paths["truth_parquet"])
    assert truth.column("exercise").to_numpy().all()
    assert set(truth.column("object").to_numpy()) == {o.index for o in sim.objects}
    meta = json.loads(paths["meta"].read_text())
    assert meta["marking"] == "EXERCISE" and meta["n_reports"] == len(sim.reports)


def test_actual_marking_only_when_stated(tmp_path):
    sim = simulate(decode_scenario(SALVO.format(exercise="false", seed=1).replace("count: 3", "count: 1")))
    paths = write_outputs(sim, tmp_path)
    assert json.loads(paths["meta"].read_text())["marking"] == "ACTUAL"
    assert not pq.read_table(paths["reports_parquet"]).column("exercise").to_numpy().any()


@pytest.mark.parametrize("name", ["salvo-20-korea.yaml", "manoeuvring.yaml"])
def test_examples_validate_and_fly(name):
    from pathlib import Path

    from warnlink.scenario.model import load_scenario
    from warnlink.scenario.simulate import fly_scenario

    sc = load_scenario(Path(__file__).parents[2] / "examples" / name)
    objects, profiles = fly_scenario(sc)
    assert all(p.converged for p in profiles.values()), profiles
    assert sum(o.kind == "warhead" for o in objects) == sum(launch.count for launch in sc.launches)


def test_reports_read_back_exactly(sim, tmp_path):
    from warnlink.scenario.simulate import read_reports

    write_outputs(sim, tmp_path)
    batch, meta = read_reports(tmp_path)
    for col in ("t_s", "arrival_s", "sensor", "kind", "z", "cov", "sensor_pos_ecef_m", "truth"):
        np.testing.assert_array_equal(getattr(batch, col), getattr(sim.reports, col))
    assert batch.sensors == sim.reports.sensors and meta["exercise"] is True
    with pytest.raises(ValueError, match="not a simulation output"):
        read_reports(tmp_path / "nowhere")
