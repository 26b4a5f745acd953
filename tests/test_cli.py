"""The ``warnlink`` command as users and later checks call it (a real subprocess)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from warnlink.cli import app


def run(*args, check=True, env_columns=None):
    env = None if env_columns is None else {**os.environ, "COLUMNS": str(env_columns)}
    p = subprocess.run([sys.executable, "-m", "warnlink.cli", *args], capture_output=True, text=True, timeout=600,
                       env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def test_every_command_has_help():
    import typer.main

    click_app = typer.main.get_command(app)
    names = []

    def walk(cmd, prefix):
        for name, sub in getattr(cmd, "commands", {}).items():
            names.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(click_app, [])
    assert {"trajectory", "simulate", "demo"} <= {n[0] for n in names}
    for n in names:
        p = run(*n, "--help", env_columns=250)
        assert "Usage" in p.stdout, n
        doc = click_app.commands[n[0]] if len(n) == 1 else click_app.commands[n[0]].commands[n[1]]
        assert doc.help, f"{n} has no help text"
        # what the help says reaches the reader: bracketed units ([km]), extras ('warnlink[bench]') and the
        # command's first paragraph are not eaten as markup
        texts = [doc.help] + [q.help for q in doc.params if getattr(q, "help", None)]
        for token in {t for text in texts for t in re.findall(r"\[[^\]\s]+\]|<[^>\s]+>", text)}:
            assert token in p.stdout, f"{n}: {token!r} of the help text is missing from --help"
        first = " ".join(doc.help.split("\n\n")[0].split())
        assert first[:60] in " ".join(p.stdout.split()), f"{n}: the first paragraph is not shown as written"


def test_trajectory_json_keys():
    p = run("trajectory", "--launch", "40.611,126.426", "--impact", "32.61,177.74", "--apogee-km", "1000",
            "--range-km", "4600", "--flight-time-min", "22", "--json")
    d = json.loads(p.stdout)
    for k in ("apogee_km", "range_km", "flight_time_s", "impact_lat", "impact_lon", "burnout_time_s"):
        assert isinstance(d[k], float)
    assert abs(d["apogee_km"] - 1000) <= 20 and abs(d["range_km"] - 4600) <= 92
    assert abs(d["flight_time_s"] - 22 * 60) <= 132


def test_trajectory_bad_input_is_named():
    p = run("trajectory", "--launch", "39,125", "--apogee-km", "50", "--range-km", "400", "--json", check=False)
    assert p.returncode == 2 and "--impact or --azimuth" in p.stderr
    p = run("trajectory", "--launch", "north", "--azimuth", "80", "--apogee-km", "50", "--range-km", "400",
            check=False)
    assert p.returncode == 2 and "--launch" in p.stderr


def test_catalog_check_json_covers_every_event_with_figures():
    p = run("catalog", "check", "--json")
    rows = json.loads(p.stdout)
    assert len(rows) == 32
    for r in rows:
        assert set(r["published"]) >= {"apogee_km", "range_km", "flight_time_min"}
        assert set(r["reproduced"]) == {"apogee_km", "range_km", "flight_time_min"}
    assert all(r["within_target"] for r in rows), [r for r in rows if not r["within_target"]]


def test_catalog_option_reads_other_file(tmp_path):
    src = Path(__file__).parents[1] / "src/warnlink/data/dprk_launches.csv"
    lines = src.read_text().splitlines()
    other = tmp_path / "c.csv"
    other.write_text("\n".join([lines[0], *[x for x in lines if x.startswith("2022-11-18_1")]]) + "\n")
    rows = json.loads(run("catalog", "check", "--catalog", str(other), "--json", "--jobs", "1").stdout)
    assert [r["event_id"] for r in rows] == ["2022-11-18_1"]
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,date\nx,2020-01-01\n")
    p = run("catalog", "check", "--catalog", str(bad), check=False)
    assert p.returncode == 2 and "missing column" in p.stderr


def test_from_history_then_simulate(tmp_path):
    sc = tmp_path / "s.yaml"
    run("scenario", "from-history", "2019-07-25_1", "-o", str(sc))
    assert "exercise: true" in sc.read_text()
    run("scenario", "check", str(sc))
    out = tmp_path / "out"
    p = run("simulate", str(sc), "-o", str(out))
    for f in ("reports.jsonl", "reports.parquet", "truth.parquet", "meta.json", "scenario.yaml"):
        assert (out / f).stat().st_size > 0, f
    assert "EXERCISE" in p.stderr


@pytest.mark.parametrize("content", ["name: x\n", "{{{"])
def test_simulate_bad_scenario_exits_2(tmp_path, content):
    sc = tmp_path / "bad.yaml"
    sc.write_text(content)
    p = run("simulate", str(sc), "-o", str(tmp_path / "o"), check=False)
    assert p.returncode == 2 and str(sc) in p.stderr


def test_demo_runs():
    p = run("demo")
    assert "EXERCISE" in p.stdout and "KOR" in p.stdout and "JPN" in p.stdout


def test_track_runs_over_a_simulation(tmp_path):
    sc = tmp_path / "s.yaml"
    run("scenario", "from-history", "2022-10-04_1", "-o", str(sc))
    run("simulate", str(sc), "-o", str(tmp_path / "o"), "-q")
    d = json.loads(run("track", str(tmp_path / "o"), "--json").stdout)
    assert d["exercise"] is True and d["reports"] > 0 and d["rejected"] == 0
    assert d["n_tracks_confirmed"] >= 1
    # notional radars: 2 mrad at ~1000 km is ~2 km per report; the filtered midcourse track does much better
    assert d["rmse_m"]["midcourse"] < 1000.0
    p = run("track", str(tmp_path / "missing"), check=False)
    assert p.returncode == 2 and "not a simulation output" in p.stderr
