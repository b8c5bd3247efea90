"""The reference drops the reference job's tests merge, how they read back what it wrote, and the drops other
tests load once per process."""

from __future__ import annotations

import csv
import hashlib
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs import reference
from smartspaces import lake
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import read_cassandra
from smartspaces.connectors.delta import read_delta
from smartspaces.stages.reference.service import HISTORIES, SERVING_COPIES
from smartspaces.stages.simulator.campus import DEVICE_COLUMNS, DEVICES_FILE, SPACE_COLUMNS, SPACES_FILE
from tests.integration.ingest_fixtures import keyspace_session
from transformations.reference import REFERENCE_TABLES

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


# What the reference job writes, as the job names it: its histories and rejects in the lake, and each
# registry's current versions (and their serving copies) in Cassandra.
REFERENCE_LAKE_TABLES = (*HISTORIES.values(), lake.reference_rejects)
REFERENCE_CASSANDRA_TABLES = tuple(
    name
    for table in REFERENCE_TABLES
    for name in (table.name, *(copy.name for copy in SERVING_COPIES.get(table.name, ())))
)


class MergedDrops:
    """Reference drops merged by the reference job once per test process. A later test that loads the same drop
    into a fresh lake and keyspace gets a copy of what the job wrote (its Delta tables, its Cassandra rows): a
    copy takes well under a second, a merge 6-18 s. The reference job's own tests always merge."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.merged: dict[str, dict[str, list[str]]] = {}  # the drop's digest → Cassandra table → rows as JSON

    def load(self, settings: Settings, drop: Path) -> None:
        """Loads the drop (a folder of files) into settings' lake and keyspace, as `reference --drop` does."""
        digest = drop_digest(drop)
        fresh = not any(Path(table(settings.lake)).exists() for table in REFERENCE_LAKE_TABLES)
        if fresh and digest in self.merged:
            self._copy(digest, settings)
            return
        assert reference.main(["--drop", str(drop)]) == 0
        if fresh:
            self._keep(digest, settings)

    def _keep(self, digest: str, settings: Settings) -> None:
        for table in REFERENCE_LAKE_TABLES:
            if Path(table(settings.lake)).exists():
                shutil.copytree(table(settings.lake), self.folder / digest / table.__name__)
        with keyspace_session(settings) as session:
            self.merged[digest] = {
                name: [row[0] for row in session.execute(f"SELECT JSON * FROM {name}", timeout=60)]
                for name in REFERENCE_CASSANDRA_TABLES
            }

    def _copy(self, digest: str, settings: Settings) -> None:
        for table in REFERENCE_LAKE_TABLES:
            if (self.folder / digest / table.__name__).exists():
                shutil.copytree(self.folder / digest / table.__name__, table(settings.lake))
        with keyspace_session(settings) as session:
            for name, rows in self.merged[digest].items():
                insert = session.prepare(f"INSERT INTO {name} JSON ?")
                for row in rows:
                    session.execute(insert, (row,), timeout=60)


def drop_digest(drop: Path) -> str:
    """The drop's content: its files' names and bytes."""
    digest = hashlib.sha256()
    for file in sorted(path for path in drop.rglob("*") if path.is_file()):
        digest.update(str(file.relative_to(drop)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def merged_drops(tmp_path_factory: pytest.TempPathFactory) -> MergedDrops:
    return MergedDrops(tmp_path_factory.mktemp("merged-drops"))
