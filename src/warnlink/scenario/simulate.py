"""Scenario -> ground truth -> time-ordered sensor reports, and their files.

``simulate`` flies every launch (shaping it to the published figures when the scenario gives them),
lets every sensor of the laydown observe every object on its own scan clock, and returns the
reports ordered by arrival at the national node. The same scenario and seed give the same output,
bit for bit: each sensor draws from its own random stream spawned from the scenario seed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from warnlink.geo import ecef2geodetic, inverse
from warnlink.physics.flight import Trajectory, fly
from warnlink.physics.missiles import get_class
from warnlink.physics.shaper import Figure, Profile, complete_figures, shape
from warnlink.scenario.model import Launch, Scenario, dump_scenario
from warnlink.sensors import SensorSpec, load_laydown, observe_ir, observe_radar
from warnlink.sensors.reports import KIND_NAMES, ReportBatch

TRUTH_STEP_S = 1.0
"""Sampling interval [s] of the truth file."""
TAIL_S = 30.0
"""Time [s] simulated after the last impact."""


@dataclass
class TruthObject:
    """One object in flight: its trajectory (times after its own lift-off) and where it comes from."""

    index: int
    object_id: str
    kind: str
    launch_id: str
    missile_number: int
    trajectory: Trajectory
    offset_s: float
    """Lift-off time of its missile [s after the scenario epoch]."""

    @property
    def t_start_s(self) -> float:
        """First time in flight [s after the epoch]."""
        return self.offset_s + self.trajectory.t_start

    @property
    def t_end_s(self) -> float:
        """Impact time [s after the epoch]."""
        return self.offset_s + self.trajectory.t_end


@dataclass
class Simulation:
    """Everything one run produced: the truth, the sensors and their reports."""

    scenario: Scenario
    epoch: datetime
    duration_s: float
    objects: list[TruthObject]
    sensors: list[SensorSpec]
    reports: ReportBatch
    profiles: dict[str, Profile]


def launch_profile(launch: Launch) -> Profile:
    """The controls for one launch: shaped to its figures, or its explicit ``kick_deg``/``cutoff``."""
    if launch.kick_deg is not None:
        missile = get_class(launch.missile)
        az = launch.azimuth_deg
        if az is None:
            az = float(inverse(launch.site.lat, launch.site.lon, launch.impact.lat, launch.impact.lon)[0])
        f = fly(missile, launch.site.lat, launch.site.lon, az, launch.kick_deg, launch.cutoff or 1.0,
                launch_alt_m=launch.site.alt_m, variant=launch.variant, separate_stages=False)
        fg = f.figures()
        return Profile(missile.name, az, launch.kick_deg, launch.cutoff or 1.0, fg["apogee_km"],
                       fg["range_km"], fg["flight_time_s"], True, launch.variant)
    apogee, rng = complete_figures(
        Figure(launch.apogee_km, launch.apogee_qualifier) if launch.apogee_km else None,
        Figure(launch.range_km, launch.range_qualifier) if launch.range_km else None)
    ft = (Figure(launch.flight_time_min * 60.0, launch.flight_time_qualifier)
          if launch.flight_time_min else None)
    direction = ({"impact": (launch.impact.lat, launch.impact.lon)} if launch.impact is not None
                 else {"azimuth_deg": launch.azimuth_deg})
    return shape(launch.site.lat, launch.site.lon, apogee=apogee, range_=rng, flight_time=ft,
                 missile=launch.missile, variant=launch.variant, **direction)


def fly_scenario(sc: Scenario) -> tuple[list[TruthObject], dict[str, Profile]]:
    """Fly every missile of every launch; objects are numbered in launch, missile, object order."""
    epoch = sc.start
    objects: list[TruthObject] = []
    profiles: dict[str, Profile] = {}
    for launch in sc.launches:
        prof = launch_profile(launch)
        profiles[launch.id] = prof
        missile = get_class(prof.missile)
        for k in range(launch.count):
            spread = 0.0
            if launch.count > 1:
                spread = launch.azimuth_spread_deg * (k / (launch.count - 1) - 0.5)
            flight = fly(missile, launch.site.lat, launch.site.lon, prof.azimuth_deg + spread, prof.kick_deg,
                         prof.cutoff, launch_alt_m=launch.site.alt_m, variant=prof.variant,
                         separate_stages=launch.separate_stages, object_prefix=f"{launch.id}/m{k + 1}/")
            offset = (launch.time - epoch).total_seconds() + k * launch.spacing_s
            for traj in flight.objects:
                objects.append(TruthObject(len(objects), traj.object_id, traj.kind, launch.id, k + 1, traj,
                                           offset))
    return objects, profiles


def select_sensors(sc: Scenario) -> list[SensorSpec]:
    """The scenario's sensors: laydown file (default packaged), filtered by nation, include, exclude."""
    specs = load_laydown(sc.sensors.laydown, nations=sc.sensors.nations)
    if sc.sensors.include:
        unknown = set(sc.sensors.include) - {s.sensor_id for s in specs}
        if unknown:
            raise ValueError(f"sensors.include names unknown sensor(s): {', '.join(sorted(unknown))}")
        specs = [s for s in specs if s.sensor_id in sc.sensors.include]
    if sc.sensors.exclude:
        specs = [s for s in specs if s.sensor_id not in sc.sensors.exclude]
    if not sc.sensors.false_alarms:
        specs = [dataclasses.replace(s, false_alarms_per_scan=0.0) for s in specs]
    return specs


def simulate(sc: Scenario, progress: Callable[[str], None] | None = None) -> Simulation:
    """Run the scenario: truth and every sensor's reports (sorted by arrival time)."""
    objects, profiles = fly_scenario(sc)
    sensors = select_sensors(sc)
    duration = sc.duration_s or (max(o.t_end_s for o in objects) + TAIL_S)
    seeds = np.random.SeedSequence(sc.seed).spawn(len(sensors))
    triples = [(o.trajectory, o.offset_s, o.index) for o in objects]
    names = [o.object_id for o in objects]
    sensor_ids = [s.sensor_id for s in sensors]
    batches = []
    for i, spec in enumerate(sensors):
        rng = np.random.default_rng(seeds[i])
        phase = rng.uniform(0.0, spec.update_s)
        times = np.arange(phase, duration, spec.update_s)
        observe = observe_ir if spec.kind == "ir_geo" else observe_radar
        b = observe(spec, i, triples, times, rng=rng)
        b.sensors, b.objects = sensor_ids, names
        batches.append(b)
        if progress:
            progress(spec.sensor_id)
    reports = ReportBatch.concat(batches) if batches else ReportBatch.empty(sensor_ids, names)
    reports.sensors, reports.objects = sensor_ids, names
    return Simulation(sc, sc.start, float(duration), objects, sensors, reports.sorted_by_arrival(), profiles)


def truth_table(sim: Simulation, step_s: float = TRUTH_STEP_S) -> pa.Table:
    """Truth of every object every ``step_s`` seconds: time, ids, ECEF state, geodetic, burning."""
    cols: dict[str, list] = {k: [] for k in ("t_s", "object", "object_id", "kind", "launch_id", "burning")}
    states = []
    for o in sim.objects:
        t_rel = np.arange(np.ceil(o.trajectory.t_start / step_s) * step_s, o.trajectory.t_end, step_s)
        t_rel = np.append(t_rel, o.trajectory.t_end)
        pos, vel, _ = o.trajectory.sample(t_rel)
        states.append(np.hstack([pos, vel]))
        n = len(t_rel)
        cols["t_s"].append(t_rel + o.offset_s)
        cols["object"].append(np.full(n, o.index, np.int32))
        cols["object_id"] += [o.object_id] * n
        cols["kind"] += [o.kind] * n
        cols["launch_id"] += [o.launch_id] * n
        cols["burning"].append(o.trajectory.burning(t_rel))
    st = np.vstack(states)
    lat, lon, alt = ecef2geodetic(st[:, 0], st[:, 1], st[:, 2], deg=True)
    table = {
        "t_s": np.concatenate(cols["t_s"]),
        "object": np.concatenate(cols["object"]),
        "object_id": cols["object_id"],
        "kind": cols["kind"],
        "launch_id": cols["launch_id"],
        **{f"{a}_ecef_m": st[:, i] for i, a in enumerate(("x", "y", "z"))},
        **{f"v{a}_ecef_m_s": st[:, 3 + i] for i, a in enumerate(("x", "y", "z"))},
        "lat_deg": lat,
        "lon_deg": lon,
        "alt_m": alt,
        "burning": np.concatenate(cols["burning"]),
        "exercise": np.full(len(st), sim.scenario.exercise),
    }
    return pa.table(table)


def reports_table(sim: Simulation) -> pa.Table:
    """The reports as an Arrow table (one row per report; z and cov as fixed-size lists)."""
    r = sim.reports
    sensors = np.array([*r.sensors, ""], dtype=object)
    spec_by_id = {s.sensor_id: s for s in sim.sensors}
    nations = np.array([*(spec_by_id[s].nation for s in r.sensors), ""], dtype=object)
    n = len(r)
    return pa.table({
        "t_s": r.t_s,
        "time_utc": pa.array(
            (np.datetime64(sim.epoch.replace(tzinfo=None), "us") + (r.t_s * 1e6).astype("timedelta64[us]")),
            pa.timestamp("us", tz="UTC")),
        "arrival_s": r.arrival_s,
        "sensor_id": sensors[r.sensor].tolist() if n else [],
        "nation": nations[r.sensor].tolist() if n else [],
        "kind": np.array(KIND_NAMES, dtype=object)[r.kind].tolist() if n else [],
        "z": pa.FixedSizeListArray.from_arrays(r.z.ravel(), 4),
        "cov": pa.FixedSizeListArray.from_arrays(r.cov.ravel(), 16),
        "sensor_pos_ecef_m": pa.FixedSizeListArray.from_arrays(r.sensor_pos_ecef_m.ravel(), 3),
        "truth_object": r.truth,
        "exercise": np.full(n, sim.scenario.exercise),
    })


def write_outputs(sim: Simulation, outdir: str | Path) -> dict[str, Path]:
    """Write ``reports.jsonl``, ``reports.parquet``, ``truth.parquet``, ``scenario.yaml``, ``meta.json``."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / v for k, v in (("reports_jsonl", "reports.jsonl"), ("reports_parquet", "reports.parquet"),
                                       ("truth_parquet", "truth.parquet"), ("scenario", "scenario.yaml"),
                                       ("meta", "meta.json"))}
    rt = reports_table(sim)
    pq.write_table(rt, paths["reports_parquet"])
    pq.write_table(truth_table(sim), paths["truth_parquet"])
    enc = msgspec.json.Encoder()
    with open(paths["reports_jsonl"], "wb") as fh:
        for row in rt.to_pylist():
            row["time_utc"] = row["time_utc"].isoformat().replace("+00:00", "Z")
            row["z"] = [None if np.isnan(v) else v for v in row["z"]]
            row["cov"] = [None if np.isnan(v) else v for v in row["cov"]]
            fh.write(enc.encode(row))
            fh.write(b"\n")
    dump_scenario(sim.scenario, paths["scenario"])
    meta = {
        "scenario": sim.scenario.name,
        "exercise": sim.scenario.exercise,
        "marking": "EXERCISE" if sim.scenario.exercise else "ACTUAL",
        "seed": sim.scenario.seed,
        "epoch_utc": sim.epoch.isoformat().replace("+00:00", "Z"),
        "duration_s": sim.duration_s,
        "n_reports": len(sim.reports),
        "sensors": [{"sensor_id": s.sensor_id, "nation": s.nation, "kind": s.kind} for s in sim.sensors],
        "objects": [{"index": o.index, "object_id": o.object_id, "kind": o.kind, "launch_id": o.launch_id,
                     "t_start_s": o.t_start_s, "t_end_s": o.t_end_s} for o in sim.objects],
        "launches": {k: {"missile": p.missile, "variant": p.variant, "azimuth_deg": p.azimuth_deg,
                         "kick_deg": p.kick_deg, "cutoff": p.cutoff, "apogee_km": p.apogee_km,
                         "range_km": p.range_km, "flight_time_s": p.flight_time_s}
                     for k, p in sim.profiles.items()},
        "note": "Sensor performance is NOTIONAL. Truth rides beside each report for scoring only.",
    }
    paths["meta"].write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return paths



def read_reports(outdir: str | Path) -> tuple[ReportBatch, dict]:
    """Read ``reports.parquet`` and ``meta.json`` written by ``write_outputs`` back into a batch.

    Raises ``ValueError`` naming the file when it is missing or lacks a column.
    """
    out = Path(outdir)
    try:
        meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
        table = pq.read_table(out / "reports.parquet")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{out}: not a simulation output directory ({exc})") from None
    need = ("t_s", "arrival_s", "sensor_id", "kind", "z", "cov", "sensor_pos_ecef_m", "truth_object")
    missing = [c for c in need if c not in table.column_names]
    if missing:
        raise ValueError(f"{out / 'reports.parquet'}: missing column(s): {', '.join(missing)}")
    sensors = [s["sensor_id"] for s in meta["sensors"]]
    index = {s: i for i, s in enumerate(sensors)}
    n = table.num_rows

    def fixed(col, width):
        return table.column(col).combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(n, width)

    kinds = np.array([KIND_NAMES.index(k) for k in table.column("kind").to_pylist()], np.int8)
    batch = ReportBatch(
        t_s=table.column("t_s").to_numpy(),
        arrival_s=table.column("arrival_s").to_numpy(),
        sensor=np.array([index[s] for s in table.column("sensor_id").to_pylist()], np.int32),
        kind=kinds,
        z=fixed("z", 4),
        cov=fixed("cov", 16).reshape(n, 4, 4),
        sensor_pos_ecef_m=fixed("sensor_pos_ecef_m", 3),
        truth=table.column("truth_object").to_numpy().astype(np.int32),
        sensors=sensors,
        objects=[o["object_id"] for o in meta["objects"]],
    )
    return batch, meta
