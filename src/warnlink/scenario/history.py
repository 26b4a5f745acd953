"""Scenarios that reproduce catalogue events (``warnlink scenario from-history``)."""

from __future__ import annotations

from warnlink.physics.shaper import class_for
from warnlink.scenario.catalog import Event, bearing_source, shaping_figures
from warnlink.scenario.model import Launch, Point, Scenario

SALVO_SPACING_S = 20.0
"""Spacing [s] between missiles of a catalogue salvo (NOTIONAL where times were not published)."""
MAX_SALVO = 10


def scenario_from_event(ev: Event, seed: int = 0) -> Scenario:
    """An exercise scenario reproducing ``ev``: its site, time, direction and published figures.

    Salvos fly ``n_missiles`` (at most ``MAX_SALVO``) identical profiles ``SALVO_SPACING_S`` apart.
    """
    apogee, rng, ft = shaping_figures(ev)
    direction, basis = bearing_source(ev)
    notes = [f"Reproduces catalogue event {ev.event_id} ({ev.missile_type}).",
             f"Direction: {basis}.", f"Launch point: {ev.launch_point_basis}."]
    if ev.apogee is None or ev.range is None:
        notes.append("Unpublished apogee or range assumed from a minimum-energy shape (NOTIONAL).")
    if not ev.launch_time_known:
        notes.append("Launch time not published: 00:00Z on the event date (NOTIONAL).")
    count = min(max(ev.n_missiles, 1), MAX_SALVO)
    launch = Launch(
        id=ev.event_id,
        site=Point(ev.launch_lat, ev.launch_lon),
        time=ev.launch_time,
        missile=class_for(ev.missile_type),
        impact=Point(*direction["impact"]) if "impact" in direction else None,
        azimuth_deg=direction.get("azimuth_deg"),
        apogee_km=apogee.value,
        apogee_qualifier=apogee.qualifier,
        range_km=rng.value,
        range_qualifier=rng.qualifier,
        flight_time_min=ft.value / 60.0 if ft else None,
        flight_time_qualifier=ft.qualifier if ft else "approx",
        count=count,
        spacing_s=SALVO_SPACING_S if count > 1 else 0.0,
    )
    return Scenario(name=f"history-{ev.event_id}", launches=[launch], exercise=True, seed=seed,
                    description=" ".join(notes))
