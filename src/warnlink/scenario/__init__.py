"""Scenario files, the catalogue of real launches, and scenario -> time-ordered sensor reports."""

from warnlink.scenario.catalog import CatalogError, Event, find_event, load_catalog, reproduce
from warnlink.scenario.model import Scenario, ScenarioError, decode_scenario, dump_scenario, load_scenario

__all__ = [
    "CatalogError",
    "Event",
    "Scenario",
    "ScenarioError",
    "decode_scenario",
    "dump_scenario",
    "find_event",
    "load_catalog",
    "load_scenario",
    "reproduce",
]
