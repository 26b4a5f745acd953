"""Fixtures that start and stop a real three-server fabric (USA hub, KOR and JPN leaves) on free
loopback ports in a per-test directory, so tests can run in parallel (pytest-xdist)."""

from __future__ import annotations

import msgspec
import pytest

from warnlink.sharing.fabric import Fabric, load_config


@pytest.fixture
def fabric_config():
    """The embedded default configuration, with a short ack wait so redeliveries show up quickly."""
    cfg = load_config()
    return msgspec.structs.replace(cfg, streams=msgspec.structs.replace(cfg.streams, ack_wait_s=2.0))


@pytest.fixture
def fabric(tmp_path, fabric_config):
    """A running fabric in ``tmp_path/fabric``; stopped (SIGTERM, then SIGKILL) after the test."""
    fab = Fabric(fabric_config, tmp_path / "fabric")
    try:
        fab.up()
        yield fab
    finally:
        fab.down(timeout=3.0)
