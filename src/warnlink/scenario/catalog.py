"""The catalogue of real DPRK launches (public figures; see ``data/dprk_launches.csv``).

``load_catalog`` reads the packaged file or any file with the same columns, and reports a bad file
with the row and column at fault. ``reproduce`` shapes a flight that reproduces an event's published
apogee, range and flight time. Where the catalogue lacks a launch point or an impact point, packaged
NOTIONAL proxies supply them (``data/site_proxies.csv``, ``data/catalog_aim.csv``) and say so.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from warnlink.physics.shaper import Figure, Profile, class_for, complete_figures, shape

REQUIRED_COLUMNS = (
    "event_id", "date", "launch_time_utc", "launch_site", "launch_lat", "launch_lon", "missile_type",
    "n_missiles", "apogee_km", "apogee_qualifier", "range_km", "range_qualifier", "flight_time_min",
    "flight_time_qualifier", "impact_japan_eez", "overflew_japan", "lofted", "impact_lat_derived",
    "impact_lon_derived",
)
DEFAULT_AZIMUTH_DEG = 80.0
"""Bearing used when neither an impact point nor an aim point is known: ENE into the Sea of Japan."""


class CatalogError(ValueError):
    """A catalogue file that cannot be read; the message names the file, row and column."""


@dataclass(frozen=True)
class Event:
    """One catalogue event. Figures in km and minutes as published; ``None`` where unknown."""

    event_id: str
    launch_time: datetime
    launch_time_known: bool
    launch_site: str
    launch_lat: float
    launch_lon: float
    launch_point_basis: str
    """``catalogue`` or the NOTIONAL proxy used."""
    missile_type: str
    n_missiles: int
    apogee: Figure | None
    range: Figure | None
    flight_time_min: Figure | None
    impact_japan_eez: str
    overflew_japan: bool
    lofted: bool
    impact_point: tuple[float, float] | None
    aim_point: tuple[float, float] | None = None
    aim_basis: str = ""
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def has_figures(self) -> bool:
        """True when an apogee or a range was published."""
        return self.apogee is not None or self.range is not None


def _data_path(name: str) -> Path:
    return Path(str(resources.files("warnlink") / "data" / name))


def default_catalog_path() -> Path:
    """The packaged catalogue file."""
    return _data_path("dprk_launches.csv")


def _read_small_table(name: str) -> list[dict]:
    with open(_data_path(name), newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _float(row: dict, col: str, where: str, required: bool = False) -> float | None:
    text = (row.get(col) or "").strip()
    if not text:
        if required:
            raise CatalogError(f"{where}: column {col!r} is empty")
        return None
    try:
        v = float(text)
    except ValueError:
        raise CatalogError(f"{where}: column {col!r}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise CatalogError(f"{where}: column {col!r}: {text!r} is not finite")
    return v


def _figure(row: dict, col: str, where: str) -> Figure | None:
    v = _float(row, col, where)
    if v is None:
        return None
    q = (row.get(col.replace("_km", "").replace("_min", "") + "_qualifier") or "approx").strip() or "approx"
    try:
        return Figure(v, q)
    except ValueError as exc:
        raise CatalogError(f"{where}: column {col!r}: {exc}") from None


def _yes(text: str) -> bool:
    return (text or "").strip().lower() in ("yes", "true", "1")


def _parse_row(row: dict, where: str, proxies: list[dict], aims: dict) -> Event:
    eid = (row.get("event_id") or "").strip()
    if not eid:
        raise CatalogError(f"{where}: column 'event_id' is empty")
    lat = _float(row, "launch_lat", where)
    lon = _float(row, "launch_lon", where)
    basis = "catalogue"
    if lat is None or lon is None:
        site = row.get("launch_site") or ""
        proxy = next(p for p in proxies if p["keyword"].lower() in site.lower())
        lat, lon, basis = float(proxy["lat"]), float(proxy["lon"]), proxy["basis"]
    if not (-90 <= lat <= 90 and -180 <= lon <= 360):
        raise CatalogError(f"{where}: launch point ({lat}, {lon}) is outside the globe")
    ttext = (row.get("launch_time_utc") or "").strip()
    known = bool(ttext)
    try:
        if known:
            t = datetime.strptime(ttext.rstrip("Z"), "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
        else:
            t = datetime.strptime(row["date"].strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except (ValueError, KeyError, AttributeError):
        raise CatalogError(f"{where}: column 'launch_time_utc'/'date': cannot read {ttext or row.get('date')!r} "
                           "(expected YYYY-MM-DDTHH:MMZ / YYYY-MM-DD)") from None
    m = re.search(r"\d+", row.get("n_missiles") or "")
    ilat, ilon = _float(row, "impact_lat_derived", where), _float(row, "impact_lon_derived", where)
    aim = aims.get(eid)
    return Event(
        event_id=eid,
        launch_time=t,
        launch_time_known=known,
        launch_site=(row.get("launch_site") or "").strip(),
        launch_lat=lat,
        launch_lon=lon,
        launch_point_basis=basis,
        missile_type=(row.get("missile_type") or "").strip(),
        n_missiles=int(m.group()) if m else 1,
        apogee=_figure(row, "apogee_km", where),
        range=_figure(row, "range_km", where),
        flight_time_min=_figure(row, "flight_time_min", where),
        impact_japan_eez=(row.get("impact_japan_eez") or "unknown").strip() or "unknown",
        overflew_japan=_yes(row.get("overflew_japan")),
        lofted=_yes(row.get("lofted")),
        impact_point=(ilat, ilon) if ilat is not None and ilon is not None else None,
        aim_point=(float(aim["aim_lat"]), float(aim["aim_lon"])) if aim else None,
        aim_basis=aim["basis"] if aim else "",
        raw=dict(row),
    )


def load_catalog(path: str | Path | None = None) -> list[Event]:
    """Read a catalogue CSV (default: the packaged one); raises ``CatalogError`` naming what is wrong."""
    path = Path(path) if path else default_catalog_path()
    try:
        fh = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot open catalogue: {exc.strerror}") from None
    with fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogError(f"{path}: missing column(s): {', '.join(missing)}")
        proxies = _read_small_table("site_proxies.csv")
        aims = {r["event_id"]: r for r in _read_small_table("catalog_aim.csv")}
        events, seen = [], set()
        try:
            for i, row in enumerate(reader, start=2):
                ev = _parse_row(row, f"{path}: row {i}", proxies, aims)
                if ev.event_id in seen:
                    raise CatalogError(f"{path}: row {i}: duplicate event_id {ev.event_id!r}")
                seen.add(ev.event_id)
                events.append(ev)
        except csv.Error as exc:
            raise CatalogError(f"{path}: line {reader.line_num}: {exc}") from None
    return events


def find_event(events: list[Event], event_id: str) -> Event:
    """The event called ``event_id``, or the one event of a launch date given alone (``2024-01-14`` for
    ``2024-01-14_1`` when that date has no other event); ``KeyError`` listing the known ids otherwise."""
    for ev in events:
        if ev.event_id == event_id:
            return ev
    same_day = [ev for ev in events if ev.event_id.rsplit("_", 1)[0] == event_id]
    if len(same_day) == 1:
        return same_day[0]
    if same_day:
        raise KeyError(f"{event_id!r} names {len(same_day)} events; give one of: "
                       f"{', '.join(e.event_id for e in same_day)}")
    raise KeyError(f"no event {event_id!r} in the catalogue; known: {', '.join(e.event_id for e in events)}")


def bearing_source(ev: Event) -> tuple[dict, str]:
    """Keyword arguments fixing the flight's direction for ``shape`` and where they come from."""
    if ev.impact_point is not None:
        return {"impact": ev.impact_point}, "derived impact point (catalogue)"
    if ev.aim_point is not None:
        return {"impact": ev.aim_point}, ev.aim_basis
    return {"azimuth_deg": DEFAULT_AZIMUTH_DEG}, f"NOTIONAL default bearing {DEFAULT_AZIMUTH_DEG:g} deg"


def shaping_figures(ev: Event) -> tuple[Figure, Figure, Figure | None]:
    """Apogee, range [km] and flight time [s] to shape to; unpublished apogee or range is assumed
    by ``physics.shaper.complete_figures``."""
    if not ev.has_figures:
        raise ValueError(f"event {ev.event_id} has no published apogee or range")
    apogee, rng = complete_figures(ev.apogee, ev.range)
    ft = ev.flight_time_min
    ft_s = Figure(ft.value * 60.0, ft.qualifier) if ft else None
    return apogee, rng, ft_s


def reproduce(ev: Event) -> Profile:
    """Shape the flight that reproduces ``ev``'s published figures (see ``physics.shaper.shape``)."""
    apogee, rng, ft = shaping_figures(ev)
    direction, _ = bearing_source(ev)
    return shape(ev.launch_lat, ev.launch_lon, apogee=apogee, range_=rng, flight_time=ft,
                 missile=class_for(ev.missile_type), **direction)


def check_entry(ev: Event, prof: Profile) -> dict:
    """The ``catalog check`` record for one event: published against reproduced figures."""

    def fig(f):
        return None if f is None else f.value

    ok = (ev.apogee is None or ev.apogee.ok(prof.apogee_km, 0.02)) and (
        ev.range is None or ev.range.ok(prof.range_km, 0.02)) and (
        ev.flight_time_min is None or ev.flight_time_min.ok(prof.flight_time_s / 60.0, 0.10))
    return {
        "event_id": ev.event_id,
        "published": {
            "apogee_km": fig(ev.apogee),
            "range_km": fig(ev.range),
            "flight_time_min": fig(ev.flight_time_min),
            "apogee_qualifier": ev.apogee.qualifier if ev.apogee else None,
            "range_qualifier": ev.range.qualifier if ev.range else None,
        },
        "reproduced": {
            "apogee_km": round(prof.apogee_km, 2),
            "range_km": round(prof.range_km, 2),
            "flight_time_min": round(prof.flight_time_s / 60.0, 2),
        },
        "missile": prof.missile,
        "variant": prof.variant,
        "within_target": bool(ok),
    }
