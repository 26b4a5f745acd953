"""The catalogue: reading it, rejecting bad files clearly, and reproducing every event's figures."""

import csv
import dataclasses
import shutil

import pytest

from warnlink.physics.shaper import Figure
from warnlink.scenario.catalog import (
    CatalogError,
    check_entry,
    default_catalog_path,
    find_event,
    load_catalog,
    reproduce,
)
from warnlink.scenario.history import scenario_from_event
from warnlink.scenario.model import decode_scenario, dump_scenario


def test_packaged_catalogue():
    events = load_catalog()
    assert len(events) == 32
    ev = find_event(events, "2022-11-18_1")
    assert ev.apogee == Figure(6000.0, "approx") and ev.range.value == 1000.0
    assert ev.flight_time_min.value == 69.0 and ev.impact_japan_eez == "inside"
    assert ev.impact_point == (41.49, 136.97)
    # events without a published launch point get a NOTIONAL proxy that says so
    ev = find_event(events, "2022-01-05_1")
    assert "NOTIONAL" in ev.launch_point_basis
    with pytest.raises(KeyError, match="no event"):
        find_event(events, "1999-01-01_1")


def _rewrite(src, dst, edit):
    rows = list(csv.DictReader(open(src, newline="", encoding="utf-8")))
    fields = list(rows[0])
    fields, rows = edit(fields, rows)
    with open(dst, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda f, r: ([c for c in f if c != "range_km"], r), "missing column(s): range_km"),
        (lambda f, r: (f, [{**r[0], "apogee_km": "high"}, *r[1:]]),
         "row 2: column 'apogee_km': 'high' is not a number"),
        (lambda f, r: (f, [*r, r[0]]), "duplicate event_id"),
        (lambda f, r: (f, [{**r[0], "launch_lat": "95"}, *r[1:]]), "row 2: launch point"),
        (lambda f, r: (f, [{**r[0], "range_qualifier": "maybe"}, *r[1:]]), "unknown qualifier"),
        (lambda f, r: (f, [{**r[0], "launch_time_utc": "noon"}, *r[1:]]), "launch_time_utc"),
    ],
)
def test_bad_catalogue_is_named(tmp_path, edit, words):
    bad = tmp_path / "bad.csv"
    _rewrite(default_catalog_path(), bad, edit)
    with pytest.raises(CatalogError) as exc:
        load_catalog(bad)
    assert str(bad) in str(exc.value) and words in str(exc.value)


def test_other_catalogue_file_is_read(tmp_path):
    other = tmp_path / "other.csv"
    shutil.copy(default_catalog_path(), other)
    _rewrite(default_catalog_path(), other, lambda f, r: (f, [{**r[18], "event_id": "X_1", "apogee_km": "3000"}]))
    (ev,) = load_catalog(other)
    assert ev.event_id == "X_1" and ev.apogee.value == 3000.0


def test_figure_intervals():
    assert Figure(2000, "at_least").ok(2300, 0.02) and not Figure(2000, "at_least").ok(1990, 0.02)
    assert not Figure(2000, "at_least").ok(2500, 0.02)  # above 1.2 v
    assert Figure(700, "at_most").ok(600, 0.02) and not Figure(700, "at_most").ok(710, 0.02)
    assert Figure(1000).ok(1019, 0.02) and not Figure(1000).ok(1021, 0.02)
    with pytest.raises(ValueError, match="qualifier"):
        Figure(1, "roughly")


def test_history_scenario_round_trips_and_is_exercise():
    ev = find_event(load_catalog(), "2017-03-06_1")
    sc = scenario_from_event(ev, seed=5)
    assert sc.exercise is True and sc.seed == 5
    assert sc.launches[0].count == 4  # the four-missile salvo
    assert decode_scenario(dump_scenario(sc)) == sc


@pytest.mark.parametrize("event_id", ["2022-11-18_1", "2017-08-29_1", "2024-10-31_1", "2019-07-25_1"])
def test_reproduce_event(event_id):
    ev = find_event(load_catalog(), event_id)
    row = check_entry(ev, reproduce(ev))
    assert row["within_target"], row
    pub, rep = row["published"], row["reproduced"]
    if ev.range.qualifier == "approx":
        assert abs(rep["range_km"] - pub["range_km"]) <= 0.02 * pub["range_km"]
    if ev.flight_time_min:
        assert abs(rep["flight_time_min"] - pub["flight_time_min"]) <= 0.10 * pub["flight_time_min"]


def test_find_event_by_id_or_by_a_date_naming_one_event():
    events = load_catalog()
    assert find_event(events, "2024-01-14").event_id == "2024-01-14_1"
    assert find_event(events, "2024-01-14_1").event_id == "2024-01-14_1"
    with pytest.raises(KeyError, match="no event '1999-01-01'"):
        find_event(events, "1999-01-01")
    twice = [*events, dataclasses.replace(events[0], event_id=events[0].event_id[:-1] + "2")]
    with pytest.raises(KeyError, match="names 2 events"):
        find_event(twice, events[0].event_id[:-2])
