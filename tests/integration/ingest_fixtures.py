"""An isolated ingest environment per test: its own topic, keyspace and lake folder."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cassandra.cluster import Session
from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession

from smartspaces.bootstrap.cassandra import apply_cassandra
from smartspaces.bootstrap.migrations import discover
from smartspaces.config import Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster, read_cassandra


def wait_until_spark_sees(spark: SparkSession, keyspace: str, *tables: str, timeout_s: float = 60) -> None:
    """Waits until the session's Cassandra connector knows the tables.

    The connector learns of tables created by another client from schema events, debounced; after many
    schema changes (every test's own keyspace) that can take seconds, and a write meanwhile fails.
    """
    deadline = time.monotonic() + timeout_s
    for table in tables:
        while True:
            try:
                read_cassandra(spark, keyspace, table)  # resolving the table is what fails while it is unknown
                break
            except AnalysisException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


def migrated_tables(keyspace: str) -> list[str]:
    """The tables the CQL migrations create in the keyspace."""
    pattern = re.compile(rf"CREATE TABLE IF NOT EXISTS {keyspace}\.(\w+)")
    return [
        table for migration in discover("cassandra", keyspace=keyspace) for table in pattern.findall(migration.text)
    ]


@pytest.fixture
def ingest_settings(spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings whose topic, keyspace and lake are this test's own (set in the environment, so jobs see them)."""
    suffix = uuid.uuid4().hex[:8]
    overrides = {
        "SMARTSPACES__CASSANDRA__KEYSPACE": f"test_ingest_{suffix}",
        "SMARTSPACES__INGEST__TOPIC": f"test.events_{suffix}",
        "SMARTSPACES__LAKE__ROOT": str(tmp_path / "lake"),
        "SMARTSPACES__SPARK__SHUFFLE_PARTITIONS": "2",
    }
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    settings = load_settings("local")
    apply_cassandra(settings.cassandra)
    wait_until_spark_sees(spark, settings.cassandra.keyspace, *migrated_tables(settings.cassandra.keyspace))
    yield settings
    drop_keyspace(settings)


@contextmanager
def keyspace_session(settings: Settings) -> Iterator[Session]:
    """A driver session on the settings' keyspace, its cluster shut down afterwards."""
    cluster = cassandra_cluster(settings.cassandra)
    try:
        yield cluster.connect(settings.cassandra.keyspace)
    finally:
        cluster.shutdown()


def drop_keyspace(settings: Settings) -> None:
    """Drops a test's own keyspace."""
    cluster = cassandra_cluster(settings.cassandra)
    try:
        cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra.keyspace}", timeout=60)
    finally:
        cluster.shutdown()


def cassandra_rows(settings: Settings, columns: str = "event_id") -> list[tuple[object, ...]]:
    """Columns of every row of the test keyspace's events table, sorted."""
    return cassandra_table_rows(settings, "events_by_device_day", columns)


def cassandra_table_rows(settings: Settings, table: str, columns: str) -> list[tuple[object, ...]]:
    """Columns of every row of a table of the test's keyspace, sorted."""
    cluster = cassandra_cluster(settings.cassandra)
    try:
        rows = cluster.connect().execute(f"SELECT {columns} FROM {settings.cassandra.keyspace}.{table}", timeout=60)
        return sorted(tuple(row) for row in rows)
    finally:
        cluster.shutdown()


def read_report(settings: Settings, query: str) -> list[str]:
    """What Cassandra's trace of a read says it read: live rows and tombstone cells, per replica."""
    cluster = cassandra_cluster(settings.cassandra)
    try:
        trace = cluster.connect(settings.cassandra.keyspace).execute(query, trace=True).get_query_trace()
        return [step.description for step in trace.events if step.description.startswith("Read ")]
    finally:
        cluster.shutdown()
