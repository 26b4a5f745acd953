"""The ``warnlink`` command. Run ``warnlink --help``; every subcommand has its own ``--help``."""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="warnlink: real-time multi-nation ballistic missile warning data sharing "
    "(open model of the US-Japan-ROK mechanism; public data, NOTIONAL sensor performance).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
catalog_app = typer.Typer(help="The catalogue of real DPRK launches (public figures).", no_args_is_help=True)
scenario_app = typer.Typer(help="Scenario files: make, check.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks, side by side with the reference in one run.", no_args_is_help=True)
audit_app = typer.Typer(help="The per-node hash-chained audit logs.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(scenario_app, name="scenario")
app.add_typer(bench_app, name="bench")
app.add_typer(audit_app, name="audit")

err = Console(stderr=True)
out = Console()

CatalogOpt = Annotated[Path | None, typer.Option("--catalog", help="Catalogue CSV with the packaged file's columns "
                                                  "(default: the packaged catalogue).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _fail(msg: str, code: int = 2):
    err.print(f"[red]error:[/red] {msg}", highlight=False, soft_wrap=True)  # a path or field is never broken
    raise typer.Exit(code)


def _latlon(text: str, name: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        _fail(f"{name} must be LAT,LON in degrees, got {text!r}")
    if not (-90 <= lat <= 90 and -180 <= lon <= 360):
        _fail(f"{name} {text!r} is outside the globe")
    return lat, lon


def _load_catalog(path):
    from warnlink.scenario.catalog import CatalogError, load_catalog

    try:
        return load_catalog(path)
    except CatalogError as exc:
        _fail(str(exc))


def _find_event(catalog, event_id: str):
    from warnlink.scenario.catalog import find_event

    try:
        return find_event(_load_catalog(catalog), event_id)
    except KeyError as exc:
        _fail(str(exc).strip("'\""))


@app.command()
def trajectory(
    launch: Annotated[str, typer.Option(help="Launch point LAT,LON [deg].")],
    apogee_km: Annotated[float, typer.Option("--apogee-km", help="Published apogee [km].")],
    range_km: Annotated[float, typer.Option("--range-km", help="Published ground range [km].")],
    impact: Annotated[str | None, typer.Option(help="Impact point LAT,LON [deg] (sets the direction).")] = None,
    azimuth: Annotated[float | None, typer.Option(help="Bearing of the impact from the launch [deg].")] = None,
    flight_time_min: Annotated[float | None, typer.Option("--flight-time-min", help="Published flight time "
                                                                                       "[min].")] = None,
    missile: Annotated[str | None, typer.Option(help="Preferred notional class (default: smallest that "
                                                     "flies it).")] = None,
    variant: Annotated[str, typer.Option(help="ballistic, pullup or glide.")] = "ballistic",
    as_json: JsonOpt = False,
):
    """Shape a flight to published apogee and range (and flight time) and print what it gives."""
    from warnlink.physics import Figure, fly, get_class, shape

    lat, lon = _latlon(launch, "--launch")
    if (impact is None) == (azimuth is None):
        _fail("give exactly one of --impact or --azimuth")
    try:
        direction = {"impact": _latlon(impact, "--impact")} if impact else {"azimuth_deg": azimuth}
        ft = Figure(flight_time_min * 60.0) if flight_time_min else None
        prof = shape(lat, lon, apogee=Figure(apogee_km), range_=Figure(range_km), flight_time=ft,
                     missile=missile, variant=variant, **direction)
        flight = fly(get_class(prof.missile), lat, lon, prof.azimuth_deg, prof.kick_deg, prof.cutoff,
                     variant=prof.variant)
    except (ValueError, KeyError) as exc:
        _fail(str(exc).strip("'\""))
    fig = flight.figures()
    result = {
        **{k: round(v, 6) for k, v in fig.items()},
        "missile": prof.missile,
        "variant": prof.variant,
        "launch_azimuth_deg": round(prof.azimuth_deg, 6),
        "kick_deg": round(prof.kick_deg, 6),
        "cutoff": round(prof.cutoff, 6),
        "converged": prof.converged,
        "objects": [{"object_id": o.object_id, "kind": o.kind, "impact_time_s": round(o.t_end, 3),
                     "impact_lat": round(lat, 6), "impact_lon": round(lon, 6)}
                    for o in flight.objects for lat, lon in [o.impact_point()]],
    }
    if as_json:
        print(json.dumps(result))
        return
    t = Table(title=f"{prof.missile} ({prof.variant}), NOTIONAL performance")
    t.add_column("figure")
    t.add_column("value", justify="right")
    for k in ("apogee_km", "range_km", "flight_time_s", "burnout_time_s", "impact_lat", "impact_lon",
              "launch_azimuth_deg", "kick_deg", "cutoff"):
        t.add_row(k, f"{result[k]:.3f}")
    out.print(t)
    if not prof.converged:
        err.print("[yellow]warning:[/yellow] no notional class reproduces these figures within target")


def _check_one(args):
    from warnlink.scenario.catalog import check_entry, reproduce

    ev = args
    return check_entry(ev, reproduce(ev))


@catalog_app.command("check")
def catalog_check(
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
    jobs: Annotated[int, typer.Option(help="Worker processes (default: all cores).")] = 0,
):
    """Reproduce every event with a published apogee or range; compare with the published figures.

    Targets: apogee and range within 2% (inside [v, 1.2 v] for "at least" figures), flight time
    within 10%. Exit code 1 when an event misses.
    """
    events = [e for e in _load_catalog(catalog) if e.has_figures]
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            rows = list(pool.map(_check_one, events))
    else:
        rows = [_check_one(e) for e in events]
    if as_json:
        print(json.dumps(rows))
    else:
        print(catalog_table_markdown(rows))
    if not all(r["within_target"] for r in rows):
        raise typer.Exit(1)


def catalog_table_markdown(rows: list[dict]) -> str:
    """The ``catalog check`` rows as a Markdown table (as in the README)."""
    q = {"approx": "", "at_least": ">", "well_above": ">>", "at_most": "<", None: ""}

    def f(v, qual=None):
        return "-" if v is None else f"{q[qual]}{v:g}"

    lines = ["| event | class (variant) | apogee km pub. | repr. | range km pub. | repr. | time min pub. | repr. "
             "| ok |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p, x = r["published"], r["reproduced"]
        lines.append(
            f"| {r['event_id']} | {r['missile']} ({r['variant']}) | {f(p['apogee_km'], p['apogee_qualifier'])} | "
            f"{x['apogee_km']:.0f} | {f(p['range_km'], p['range_qualifier'])} | {x['range_km']:.0f} | "
            f"{f(p['flight_time_min'])} | {x['flight_time_min']:.1f} | {'yes' if r['within_target'] else 'NO'} |")
    return "\n".join(lines)


@catalog_app.command("list")
def catalog_list(catalog: CatalogOpt = None, as_json: JsonOpt = False):
    """List the catalogue's events with their published figures and verdicts."""
    events = _load_catalog(catalog)
    rows = [{"event_id": e.event_id, "launch_time_utc": e.launch_time.isoformat(), "missile_type": e.missile_type,
             "apogee_km": e.apogee.value if e.apogee else None, "range_km": e.range.value if e.range else None,
             "flight_time_min": e.flight_time_min.value if e.flight_time_min else None,
             "japan_eez": e.impact_japan_eez, "overflew_japan": e.overflew_japan} for e in events]
    if as_json:
        print(json.dumps(rows))
        return
    t = Table(title="DPRK launches (public figures)")
    for c in ("event_id", "missile_type", "apogee_km", "range_km", "flight_time_min", "japan_eez"):
        t.add_column(c)
    for r in rows:
        t.add_row(*("-" if r[c] is None else str(r[c])[:40] for c in
                    ("event_id", "missile_type", "apogee_km", "range_km", "flight_time_min", "japan_eez")))
    out.print(t)


@scenario_app.command("from-history")
def scenario_from_history(
    event_id: Annotated[str, typer.Argument(
        help="Catalogue event id, e.g. 2022-11-18_1 (or the date alone when it names one event).")],
    catalog: CatalogOpt = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here (default: stdout).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed written into the scenario.")] = 0,
):
    """Write an exercise scenario that reproduces a catalogue event."""
    from warnlink.scenario.history import scenario_from_event
    from warnlink.scenario.model import dump_scenario

    ev = _find_event(catalog, event_id)
    text = dump_scenario(scenario_from_event(ev, seed=seed), output)
    if output is None:
        sys.stdout.write(text)
    else:
        err.print(f"wrote {output}")


@scenario_app.command("check")
def scenario_check(path: Annotated[Path, typer.Argument(help="Scenario file (.yaml or .toml).")]):
    """Check a scenario file; print what is wrong and where, or a summary."""
    sc = _load_scenario(path)
    out.print(f"{path}: ok - {sc.name}, {len(sc.launches)} launch(es), "
              f"{'EXERCISE' if sc.exercise else 'ACTUAL'}, seed {sc.seed}", highlight=False)


def _load_scenario(path):
    from warnlink.scenario.model import ScenarioError, load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as exc:
        _fail(str(exc))


def _run_simulation(sc, quiet: bool = False):
    from rich.progress import Progress

    from warnlink.scenario.simulate import simulate

    with Progress(console=err, transient=True, disable=quiet) as bar:
        task = bar.add_task("sensors", total=None)

        def tick(name):
            bar.update(task, advance=1, description=name)

        try:
            return simulate(sc, progress=tick)
        except ValueError as exc:
            _fail(str(exc))


@app.command()
def simulate(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.yaml or .toml).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output directory.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
):
    """Simulate a scenario: write sensor reports (JSON Lines, Parquet) and truth (Parquet) to a directory."""
    from warnlink.scenario.simulate import write_outputs

    sc = _load_scenario(scenario)
    sim = _run_simulation(sc, quiet)
    paths = write_outputs(sim, output)
    err.print(f"{len(sim.reports)} reports from {len(sim.sensors)} sensors, {len(sim.objects)} objects, "
              f"{sim.duration_s:.0f} s simulated ({'EXERCISE' if sc.exercise else 'ACTUAL'}) -> {output}",
              highlight=False)
    for p in paths.values():
        err.print(f"  {p}", highlight=False)


@app.command()
def track(
    directory: Annotated[Path, typer.Argument(help="Output directory of `warnlink simulate`.")],
    as_json: JsonOpt = False,
):
    """Run the multi-target tracker over a simulated report stream and print its metrics against the truth
    (GOSPA, position/velocity RMSE per flight phase, NEES, breaks, swaps, throughput)."""
    import time

    from warnlink.scenario.model import decode_scenario
    from warnlink.scenario.simulate import fly_scenario, read_reports
    from warnlink.tracking.score import score
    from warnlink.tracking.tracker import Tracker

    try:
        reports, _ = read_reports(directory)
        sc = decode_scenario((directory / "scenario.yaml").read_bytes(), "yaml", str(directory / "scenario.yaml"))
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    objects, _ = fly_scenario(sc)  # the truth, recomputed exactly from the scenario
    tracker = Tracker()
    t0 = time.perf_counter()
    history = tracker.run(reports)
    wall = time.perf_counter() - t0
    result = {**score(history, objects), "reports": len(reports), "rejected": tracker.rejected,
              "wall_s": round(wall, 4), "reports_per_s": round(len(reports) / wall) if wall > 0 else None,
              "exercise": sc.exercise}
    if as_json:
        print(json.dumps(result))
        return
    t = Table(title=f"warnlink tracker on {directory} ({'EXERCISE' if sc.exercise else 'ACTUAL'})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in result.items():
        t.add_row(k, json.dumps(v) if isinstance(v, dict) else str(v))
    out.print(t)


@app.command()
def demo(
    event: Annotated[str, typer.Option(help="Catalogue event to replay.")] = "2022-10-04_1",
    catalog: CatalogOpt = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Also write the simulation here.")] = None,
    headless: Annotated[bool, typer.Option("--headless", help="The main job without a display: `up`, replay "
                                                               "the event through the fabric and the three "
                                                               "national nodes, print each nation's assessment "
                                                               "and alerts, `down`.")] = False,
    speed: Annotated[float, typer.Option(help="--headless: replay this many times faster than real time.")] = 50.0,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="--headless: keep the fabric's and the "
                                                                        "nodes' files here (default: a temporary "
                                                                        "directory, removed).")] = None,
    as_json: JsonOpt = False,
):
    """Run the main job on the embedded default: reproduce a real launch and sense it with the notional
    three-nation laydown. Without --headless: print the flight and what each nation's sensors reported.
    With --headless: the whole chain through the real fabric (always stopped at the end, also on Ctrl-C)."""
    if headless:
        _demo_headless(event, catalog, speed, state_dir, as_json)
        return
    from warnlink.scenario.history import scenario_from_event
    from warnlink.scenario.simulate import write_outputs

    ev = _find_event(catalog, event)
    sc = scenario_from_event(ev)
    sim = _run_simulation(sc)
    prof = sim.profiles[ev.event_id]
    out.print(f"[bold]EXERCISE[/bold] - {ev.event_id}: {ev.missile_type}", highlight=False)
    out.print(f"  flown as {prof.missile} ({prof.variant}): apogee {prof.apogee_km:.0f} km, range "
              f"{prof.range_km:.0f} km, flight {prof.flight_time_s / 60:.1f} min "
              f"(published: {ev.apogee.value if ev.apogee else '-'} km, {ev.range.value if ev.range else '-'} km, "
              f"{ev.flight_time_min.value if ev.flight_time_min else '-'} min)", highlight=False)
    t = Table(title="Sensor reports by sensor (NOTIONAL performance)")
    for c in ("sensor", "nation", "kind", "reports", "first report s", "false alarms"):
        t.add_column(c, no_wrap=c in ("sensor", "kind"))
    r = sim.reports
    launch_s = (ev.launch_time - sim.epoch).total_seconds()
    for i, s in enumerate(sim.sensors):
        m = r.sensor == i
        if not m.any():
            t.add_row(s.sensor_id, s.nation, s.kind, "0", "-", "0")
            continue
        first = r.t_s[m & (r.truth >= 0)]
        t.add_row(s.sensor_id, s.nation, s.kind, str(int(m.sum())),
                  f"{first.min() - launch_s:.1f}" if len(first) else "-", str(int((m & (r.truth < 0)).sum())))
    out.print(t)
    if output:
        write_outputs(sim, output)
        err.print(f"wrote {output}")


def _demo_headless(event: str, catalog, speed: float, state_dir, as_json: bool) -> None:
    from warnlink.sharing.fabric import FabricError
    from warnlink.sharing.runtime import print_demo, run_demo

    if not speed > 0:
        _fail("--speed must be positive")
    ev = _find_event(catalog, event)
    try:
        summary = run_demo(ev.event_id, speed=speed, state_dir=state_dir, catalog=catalog,
                           say=lambda m: err.print(m, highlight=False))
    except (FabricError, OSError) as exc:
        _fail(str(exc), 1)
    if as_json:
        print(json.dumps(summary, default=str))
    else:
        print_demo(summary, say=print)
    nations = summary.get("nations") or {}
    if not nations or not all(s.get("ready_at_end") for s in nations.values()):
        err.print("[red]error:[/red] a national node did not run to the end", soft_wrap=True)
        raise typer.Exit(1)


StateOpt = Annotated[Path | None, typer.Option("--state-dir", help="State directory (default: $WARNLINK_STATE_DIR "
                                                                    "or ~/.local/state/warnlink).")]


@app.command()
def up(
    config: Annotated[Path | None, typer.Option("--config", help="Fabric configuration YAML (default: the "
                                                                 "embedded three-server fabric on loopback).")] = None,
    state_dir: StateOpt = None,
    mode: Annotated[str, typer.Option(help="Alert mode of the nodes: live, exercise or test (exercise data is "
                                           "exercise in every mode).")] = "live",
    as_json: JsonOpt = False,
):
    """Start the sharing fabric and the national nodes: generate credentials, keys and TLS certificates, start
    the USA hub and the KOR and JPN leaf servers, provision the streams, start one node per nation; return."""
    from warnlink.sharing.fabric import FabricError
    from warnlink.sharing.runtime import Runtime

    if mode not in ("live", "exercise", "test"):
        _fail(f"--mode must be live, exercise or test, got {mode!r}")
    try:
        rt = Runtime(state_dir, config, mode=mode)
        st = rt.up()
    except FabricError as exc:
        _fail(str(exc), 1)
    if as_json:
        print(json.dumps(st, default=str))
        return
    _print_status(st)
    err.print(f"up: state in {rt.state_dir}; `warnlink down` stops everything", highlight=False)


@app.command()
def down(state_dir: StateOpt = None):
    """Stop the national nodes and the fabric's servers (SIGTERM, then SIGKILL after 5 s)."""
    from warnlink.sharing.fabric import FabricError
    from warnlink.sharing.runtime import Runtime

    try:
        rt = Runtime.attach(state_dir)
    except FabricError as exc:
        _fail(str(exc), 1)
    for name, outcome in rt.down().items():
        out.print(f"{name}: {outcome}", highlight=False)


@app.command()
def status(state_dir: StateOpt = None, as_json: JsonOpt = False):
    """Servers, leaf links, streams and node health of the running fabric; exit 1 when unhealthy."""
    from warnlink.sharing.fabric import FabricError
    from warnlink.sharing.runtime import Runtime

    try:
        st = Runtime.attach(state_dir).status()
    except FabricError as exc:
        _fail(str(exc), 1)
    if as_json:
        print(json.dumps(st, default=str))
    else:
        _print_status(st)
    if not st.get("healthy"):
        raise typer.Exit(1)


def _print_status(st: dict) -> None:
    t = Table(title=f"fabric {st.get('name', '')} ({'healthy' if st.get('healthy') else 'NOT healthy'})")
    for c in ("server", "nation", "role", "pid", "healthy", "connections", "url"):
        t.add_column(c)
    for s in st.get("servers", []):
        t.add_row(s["name"], s["nation"], s["role"], str(s.get("pid") or "-"), str(s.get("healthy")),
                  str(s.get("connections", "-")), s.get("client_url") or "-")
    out.print(t)
    for lk in st.get("links", []):
        out.print(f"link {lk['leaf']} -> {lk['hub']}: {'up' if lk['up'] else 'DOWN'} (rtt {lk.get('rtt')})",
                  highlight=False)
    for dom, streams in (st.get("streams") or {}).items():
        for s in streams:
            cons = ", ".join(f"{c['name']} pending {c['num_pending']}" for c in s.get("consumers", []))
            out.print(f"stream {dom}/{s['name']}: {s['messages']} msgs{'; ' + cons if cons else ''}", highlight=False)
    t = Table(title="national nodes")
    for c in ("nation", "pid", "ready", "reports", "sent", "received", "rejected", "launches", "alerts"):
        t.add_column(c)
    for n in st.get("nodes", []):
        t.add_row(n["nation"], str(n["pid"] or "-"), str(n["ready"]), str(n["reports"]),
                  json.dumps(n["sent"]), json.dumps(n["received"]), str(n["rejected"]), str(n["launches"]),
                  str(n["alerts_sent"]))
    out.print(t)


@audit_app.command("verify")
def audit_verify(
    path: Annotated[Path | None, typer.Argument(help="An audit log (.jsonl), a node directory or a state directory "
                                                     "(default: the running state directory).")] = None,
    keys: Annotated[Path | None, typer.Option("--keys", help="Public keys (*.pub.pem) to check the signed "
                                                             "checkpoints (default: the state directory's keys/, "
                                                             "when found).")] = None,
):
    """Verify hash-chained audit logs: any altered, inserted, deleted or reordered record, a truncated tail or
    a forged checkpoint is reported; exit 1 on any alteration."""
    from warnlink.sharing.audit import verify_cli
    from warnlink.sharing.runtime import default_runtime_dir

    root = Path(path) if path is not None else default_runtime_dir()
    if root.is_file():
        logs = [root]
    elif root.is_dir():
        logs = sorted(p for p in root.rglob("*.jsonl") if p.name.startswith("audit"))
    else:
        _fail(f"{root}: no such file or directory")
    if not logs:
        _fail(f"{root}: no audit logs (audit*.jsonl) found")
    if keys is None:
        for cand in [root if root.is_dir() else root.parent, *(root if root.is_dir() else root.parent).parents]:
            if (cand / "keys").is_dir():
                keys = cand / "keys"
                break
    ok_all = True
    for lg in logs:
        ok, text = verify_cli(lg, keys)
        ok_all &= ok
        out.print(text, highlight=False)
    if not ok_all:
        raise typer.Exit(1)


@bench_app.command("fabric")
def bench_fabric(
    rates: Annotated[str, typer.Option(help="Offered loads [KOR reports/s], comma-separated.")] = "100,1000,5000",
    duration: Annotated[float, typer.Option("--duration", help="Seconds of traffic per offered load.")] = 3.0,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="Fabric and node state here (default: a "
                                                                        "temporary directory).")] = None,
    as_json: JsonOpt = False,
):
    """Warning-data latency through the real fabric (KOR sensor report -> JPN fused track, through the hub)
    beside raw NATS KOR->hub->JPN in the same run; launch notice time and assessment age."""
    from warnlink.sharing.benchmark import run_benchmark, table_rows, to_json

    try:
        loads = [int(x) for x in rates.split(",") if x.strip()]
    except ValueError:
        _fail(f"--rates must be comma-separated integers, got {rates!r}")
    if not loads or min(loads) <= 0 or duration <= 0:
        _fail("--rates and --duration must be positive")
    result = run_benchmark(loads, duration, state_dir=state_dir)
    if as_json:
        print(to_json(result))
        return
    head, rows = table_rows(result)
    t = Table(title=f"warnlink fabric benchmark ({duration:g} s per load, {result['cpus']} CPUs; compare columns "
                    "of one run)")
    for h in head:
        t.add_column(h, justify="right")
    for r in rows:
        t.add_row(*r)
    out.print(t)
    ln, age = result["launch_notice_s"], result["assessment_age_p99_s"]
    out.print(f"launch notice (confirmation at the origin -> all three nodes): {'-' if ln is None else f'{ln:.3f}'} s")
    out.print(f"assessment age p99 (track update -> shared impact prediction): "
              f"{'-' if age is None else f'{age:.3f}'} s")
    out.print("targets: " + ", ".join(f"{k}={'-' if v is None else ('ok' if v else 'MISSED')}"
                                      for k, v in result["targets"].items()), highlight=False)


@bench_app.command("tracker")
def bench_tracker(
    scenario: Annotated[list[Path] | None, typer.Option("--scenario", help="Scenario file (repeatable; default: "
                                                         "examples/salvo-20-korea.yaml and "
                                                         "examples/icbm-2022-11-18.yaml).")] = None,
    max_time_s: Annotated[float | None, typer.Option("--max-time-s", help="Run both trackers on the first "
                                                      "this many seconds of every stream only.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Whole streams for Stone Soup too (about ten minutes on "
                                                      "the ICBM).")] = False,
    as_json: JsonOpt = False,
):
    """warnlink's tracker and the Stone Soup reference tracker on the same reports, side by side in one run:
    throughput, GOSPA, midcourse RMSE against the posterior Cramer-Rao bound, NEES (needs Stone Soup:
    pip install 'warnlink[bench]')."""
    from warnlink.tracking.benchmark import run_benchmark, table_rows

    windows = None if full else ("default" if max_time_s is None else max_time_s)
    try:
        result = run_benchmark(scenario or None, max_time_s=windows)
    except (FileNotFoundError, ValueError, ImportError) as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(result, default=float))
        return
    for name, res in result["scenarios"].items():
        t = Table(title=f"tracker benchmark: {name} ({'EXERCISE' if res.get('exercise') else 'ACTUAL'}; "
                        f"{result['machine']['cpus']} CPUs, compare columns of one run)")
        for h in ("measure", "warnlink", "stonesoup"):
            t.add_column(h, justify="right" if h != "measure" else "left")
        for row in table_rows(res):
            t.add_row(*row)
        out.print(t)
        if res["subset"]:
            out.print(f"  {res['subset']['note']}: first {res['subset']['max_time_s']:.0f} s of the stream",
                      highlight=False)


@app.command()
def replay(
    event_id: Annotated[str | None, typer.Argument(
        help="Catalogue event id, e.g. 2022-10-04_1 (or the date alone when it names one event).")] = None,
    all_events: Annotated[bool, typer.Option("--all", help="Replay every catalogue event and print the "
                                                             "comparison table.")] = False,
    catalog: CatalogOpt = None,
    scenario_file: Annotated[Path | None, typer.Option("--scenario", help="Replay a scenario file instead of a "
                                                                         "catalogue event.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated sensors.")] = 0,
    jobs: Annotated[int, typer.Option(help="Worker processes for --all.")] = 2,
    as_json: JsonOpt = False,
):
    """Run a real launch end to end (simulate, sense, track, assess, alert) faster than real time and compare
    the estimates with the published figures and verdicts; --all does the whole catalogue and prints the
    table. Exercise data: every alert is status Exercise."""
    from warnlink.assessment.replay import (
        replay_catalog,
        replay_event,
        replay_scenario,
        table_markdown,
        table_totals,
        timeliness_markdown,
    )

    if all_events:
        if event_id or scenario_file:
            _fail("give an EVENT_ID, --scenario FILE or --all, not several")
        rows = replay_catalog(_load_catalog(catalog), workers=max(1, jobs), seed=seed)
        if as_json:
            print(json.dumps({"rows": rows, "totals": table_totals(rows)}, default=str))
            return
        print(table_markdown(rows))
        print()
        print(timeliness_markdown(rows))
        print()
        print("totals: " + json.dumps(table_totals(rows), default=str))
        return
    if (event_id is None) == (scenario_file is None):
        _fail("give exactly one of EVENT_ID, --scenario FILE or --all")
    try:
        if scenario_file is not None:
            res = replay_scenario(_load_scenario(scenario_file), event_id=None)
        else:
            ev = _find_event(catalog, event_id)
            if not ev.has_figures:
                _fail(f"event {event_id} has no published apogee or range to reproduce")
            res = replay_event(ev, seed=seed)
    except ValueError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(res, default=str))
        return
    t = Table(title=f"replay {res['event_id']} ({'EXERCISE' if res['exercise'] else 'TEST'}; simulated sensors)")
    for c in ("object", "kind", "launch", "impact", "apogee km", "range km", "flight s", "Japan EEZ", "overflew JPN"):
        t.add_column(c)
    for o in res["objects"]:
        e = o["estimate"] or {}

        def f(k, fmt="{:.0f}", e=e):
            return "-" if e.get(k) is None else fmt.format(e[k])

        t.add_row(o["object_id"].rsplit("/", 1)[-1], o["kind"],
                  f"{f('launch_lat', '{:.2f}')},{f('launch_lon', '{:.2f}')}",
                  f"{f('impact_lat', '{:.2f}')},{f('impact_lon', '{:.2f}')}", f("apogee_km"), f("range_km"),
                  f("flight_time_s"), e.get("japan_eez", "-"), str(e.get("overflew_japan", "-")))
    out.print(t)
    if res.get("summary"):
        out.print(res["summary"], highlight=False)
    out.print(f"first report {res['first_detection_s']} s, first verdict {res['first_verdict_s']} s after launch; "
              f"{len(res['alerts'])} alert messages; {res['run']['faster_than_real_time']}x faster than real time",
              highlight=False)
    if res.get("comparison"):
        out.print("targets: " + ", ".join(f"{k}={v}" for k, v in res["comparison"].items() if k.endswith("_ok")),
                  highlight=False)


def main():
    """Entry point of the ``warnlink`` console script."""
    app()


if __name__ == "__main__":
    main()
