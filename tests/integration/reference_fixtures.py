"""The reference drops the reference job's tests merge, and how they read back what it wrote."""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from smartspaces.config import Settings
from smartspaces.connectors.cassandra import read_cassandra
from smartspaces.connectors.delta import read_delta
from smartspaces.stages.simulator.campus import DEVICE_COLUMNS, DEVICES_FILE, SPACE_COLUMNS, SPACES_FILE

T1, T2 = datetime(2026, 11, 1), datetime(2026, 11, 10)
RETIRED = datetime(2026, 11, 9, 12)
INSTALLED = datetime(2026, 1, 1)
SPACE_ROWS = [
    ("s1", "c1", "b1", 1, "Office 1.01", "office", 30.0, 4, "Acme"),
    ("s2", "c1", "b1", 0, "Lobby", "lobby", 120.0, 50, None),
]
DEVICE_ROWS = [
    ("d1", "s1", "co2", "AirQ C400", INSTALLED, None),
    ("d2", "s1", "temperature", "ThermaSense T2", INSTALLED, None),
    ("d3", "s2", "door", "Axis Door A100", INSTALLED, None),
]
# The later drop: s1 gets a new tenant; d1 moves to s2, d2 is retired, d3 is gone, d4 is new.
LATER_SPACE_ROWS = [(*SPACE_ROWS[0][:8], "Globex"), SPACE_ROWS[1]]
LATER_DEVICE_ROWS = [
    ("d1", "s2", "co2", "AirQ C400", INSTALLED, None),
    ("d2", "s1", "temperature", "ThermaSense T2", INSTALLED, RETIRED),
    ("d4", "s1", "occupancy", "Lidar PC-2", T2, None),
]


def iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat()


def write_drop(folder: Path, spaces: Sequence[tuple[object, ...]], devices: Sequence[tuple[object, ...]]) -> str:
    """A CSV drop as the building systems deliver it (times in ISO 8601 with their offset)."""
    folder.mkdir(parents=True)
    with (folder / SPACES_FILE).open("w", newline="") as out:
        csv.writer(out).writerows([SPACE_COLUMNS, *spaces])
    with (folder / DEVICES_FILE).open("w", newline="") as out:
        rows = [[iso(value) if isinstance(value, datetime) else value for value in row] for row in devices]
        csv.writer(out).writerows([DEVICE_COLUMNS, *rows])
    return str(folder)


@pytest.fixture
def registry_settings(spark: SparkSession, ingest_settings: Settings) -> Settings:
    """A fresh keyspace and lake, once the Spark connector sees the registry columns migration 0005 added."""
    deadline = time.monotonic() + 60
    wanted = {"spaces": "tenant", "devices": "retired_at"}
    while any(
        column not in read_cassandra(spark, ingest_settings.cassandra.keyspace, table).columns
        for table, column in wanted.items()
    ):
        assert time.monotonic() < deadline, "the connector never saw the new registry columns"
        time.sleep(1)
    return ingest_settings


def history(spark: SparkSession, path: str) -> list[tuple[object, ...]]:
    return sorted((tuple(row) for row in read_delta(spark, path).collect()), key=repr)
