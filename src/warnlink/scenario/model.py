"""Scenario files (YAML or TOML): nations, sensors, launches, exercise flag, random seed.

Decoded into typed ``msgspec`` structs, so a wrong type or an unknown field is reported with its
path (``$.launches[0].apogee_km``); cross-field rules are checked after decoding with the same
kind of path. Every scenario states ``exercise: true`` or ``false``; the marking rides on every output.

Example (YAML)::

    name: salvo-test
    exercise: true
    seed: 7
    sensors: {nations: [KOR, USA]}
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

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from warnlink.physics.flight import VARIANTS
from warnlink.physics.missiles import CLASSES
from warnlink.physics.shaper import QUALIFIERS

Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, Meta(ge=-180.0, le=360.0)]
PosKm = Annotated[float, Meta(gt=0.0)]
NATIONS = ("KOR", "JPN", "USA")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field's path."""


class Point(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A geodetic point [deg, m]."""

    lat: Lat
    lon: Lon
    alt_m: float = 0.0


class Launch(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One launch (or a salvo of ``count`` missiles ``spacing_s`` apart).

    Direction: ``impact`` or ``azimuth_deg`` (bearing of the impact from the site). Shape: either the
    published figures (``apogee_km`` and/or ``range_km``, optional ``flight_time_min``, each with a
    ``*_qualifier``), which the shaper reproduces, or explicit controls ``kick_deg`` (and ``cutoff``).
    """

    id: str
    site: Point
    time: datetime
    missile: str | None = None
    impact: Point | None = None
    azimuth_deg: float | None = None
    apogee_km: PosKm | None = None
    apogee_qualifier: str = "approx"
    range_km: PosKm | None = None
    range_qualifier: str = "approx"
    flight_time_min: PosKm | None = None
    flight_time_qualifier: str = "approx"
    kick_deg: Annotated[float, Meta(gt=0.0, lt=90.0)] | None = None
    cutoff: Annotated[float, Meta(gt=0.0, le=1.0)] | None = None
    variant: str = "ballistic"
    count: Annotated[int, Meta(ge=1, le=100)] = 1
    spacing_s: Annotated[float, Meta(ge=0.0)] = 0.0
    azimuth_spread_deg: Annotated[float, Meta(ge=0.0, le=45.0)] = 0.0
    separate_stages: bool = True


class Sensors(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Which sensors: the packaged notional laydown (or ``laydown`` file), filtered by nation or id."""

    laydown: str | None = None
    nations: list[str] | None = None
    include: list[str] | None = None
    exclude: list[str] | None = None
    false_alarms: bool = True


class Scenario(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A scenario: what flies, what sees it, and how the run is marked and seeded."""

    name: str
    launches: list[Launch]
    exercise: bool
    """True for exercise data; required, so every scenario file states its marking."""
    seed: int = 0
    sensors: Sensors = msgspec.field(default_factory=Sensors)
    epoch: datetime | None = None
    duration_s: Annotated[float, Meta(gt=0.0)] | None = None
    description: str = ""

    @property
    def start(self) -> datetime:
        """Scenario epoch (UTC): ``epoch`` or 30 s before the first launch."""
        return self.epoch or (min(launch.time for launch in self.launches) - timedelta(seconds=30))


def _check(sc: Scenario, where: str) -> None:
    def fail(path: str, msg: str):
        raise ScenarioError(f"{where}: {msg} - at `{path}`")

    if not sc.launches:
        fail("$.launches", "a scenario needs at least one launch")
    ids = set()
    for i, launch in enumerate(sc.launches):
        p = f"$.launches[{i}]"
        if launch.id in ids:
            fail(f"{p}.id", f"duplicate launch id {launch.id!r}")
        ids.add(launch.id)
        if launch.time.tzinfo is None:
            fail(f"{p}.time", "time must carry a UTC offset (e.g. 2022-11-18T01:14:00Z)")
        if (launch.impact is None) == (launch.azimuth_deg is None):
            fail(p, "give exactly one of `impact` or `azimuth_deg`")
        if launch.missile is not None and launch.missile not in CLASSES:
            fail(f"{p}.missile", f"unknown missile class {launch.missile!r}; known: {', '.join(CLASSES)}")
        if launch.variant not in VARIANTS:
            fail(f"{p}.variant", f"unknown variant {launch.variant!r}; known: {', '.join(VARIANTS)}")
        for q in ("apogee_qualifier", "range_qualifier", "flight_time_qualifier"):
            if getattr(launch, q) not in QUALIFIERS:
                fail(f"{p}.{q}", f"unknown qualifier {getattr(launch, q)!r}; known: {', '.join(QUALIFIERS)}")
        shaped = launch.apogee_km is not None or launch.range_km is not None
        if shaped == (launch.kick_deg is not None):
            fail(p, "give the published figures (`apogee_km`/`range_km`) or the controls (`kick_deg`), "
                    "not both or neither")
        if launch.kick_deg is not None and launch.missile is None:
            fail(f"{p}.missile", "explicit controls (`kick_deg`) need a `missile` class")
    if sc.epoch is not None and sc.epoch.tzinfo is None:
        fail("$.epoch", "epoch must carry a UTC offset")
    for n in sc.sensors.nations or []:
        if n not in NATIONS:
            fail("$.sensors.nations", f"unknown nation {n!r}; known: {', '.join(NATIONS)}")


def decode_scenario(text: str | bytes, fmt: str = "yaml", where: str = "<scenario>") -> Scenario:
    """Decode and check a scenario from YAML or TOML text; ``ScenarioError`` names what is wrong."""
    decoder = {"yaml": msgspec.yaml.decode, "toml": msgspec.toml.decode}.get(fmt)
    if decoder is None:
        raise ScenarioError(f"{where}: unknown scenario format {fmt!r} (yaml or toml)")
    try:
        sc = decoder(text, type=Scenario)
    except msgspec.ValidationError as exc:
        msg = str(exc) if " - at `" in str(exc) else f"{exc} - at `$`"
        raise ScenarioError(f"{where}: {msg}") from None
    except msgspec.DecodeError as exc:
        raise ScenarioError(f"{where}: not valid {fmt.upper()}: {exc}") from None
    _check(sc, where)
    return sc


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file (``.yaml``/``.yml`` or ``.toml``)."""
    path = Path(path)
    fmt = "toml" if path.suffix.lower() == ".toml" else "yaml"
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc.strerror}") from None
    return decode_scenario(text, fmt, str(path))


def dump_scenario(sc: Scenario, path: str | Path | None = None) -> str:
    """Encode a scenario as YAML (written to ``path`` when given) and return the text."""
    text = msgspec.yaml.encode(sc).decode()
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
