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

# The ingest tests' keyspaces (KeyspacePool): test_ingest_<id>.
INGEST_KEYSPACES = "test_ingest"
# The migrations' record of what they applied, kept when a pooled keyspace is emptied.
MIGRATIONS_TABLE = "schema_migrations"


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


class KeyspacePool:
    """Migrated keyspaces of this test process, emptied for the next test instead of dropped and created again.

    Measured on the stack's Cassandra: applying the migrations to a new keyspace took 1.0 s and 1.2 s of its CPU,
    dropping it 1.0 s and 1.3 s; emptying its tables takes 0.6 s. A keyspace goes back to the pool only with the
    schema it was given (a test that changed it has its keyspace dropped); the migrations' own record stays.
    One driver session, on no keyspace, serves the whole run.
    """

    def __init__(self, settings: Settings) -> None:
        self.cassandra = settings.cassandra
        self.cluster = cassandra_cluster(settings.cassandra)
        self.session = self.cluster.connect()
        self.free: dict[str, list[str]] = {}
        self.schemas: dict[str, list[tuple[str, str, str]]] = {}

    def take(self, prefix: str) -> tuple[str, bool]:
        """A migrated, empty keyspace named prefix_<id>, and whether it was created for this test."""
        reused = self.free.get(prefix, [])
        keyspace = reused.pop() if reused else f"{prefix}_{uuid.uuid4().hex[:8]}"
        if keyspace in self.schemas:
            return keyspace, False
        apply_cassandra(self.cassandra.model_copy(update={"keyspace": keyspace}))
        self.schemas[keyspace] = self.schema_of(keyspace)
        return keyspace, True

    def give_back(self, prefix: str, keyspace: str) -> None:
        """Empties the keyspace's tables for the next test, or drops it if the test changed its schema."""
        schema = self.schema_of(keyspace)
        if schema == self.schemas[keyspace]:
            for table in sorted({table for table, _, _ in schema} - {MIGRATIONS_TABLE}):
                self.session.execute(f"TRUNCATE {keyspace}.{table}", timeout=60)
            self.free.setdefault(prefix, []).append(keyspace)
            return
        del self.schemas[keyspace]
        self.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)

    def close(self) -> None:
        """Drops every keyspace of the pool."""
        for keyspace in self.schemas:
            self.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)
        self.cluster.shutdown()

    def schema_of(self, keyspace: str) -> list[tuple[str, str, str]]:
        """The keyspace's tables and columns with their types."""
        rows = self.session.execute(
            "SELECT table_name, column_name, type FROM system_schema.columns WHERE keyspace_name = %s", (keyspace,)
        )
        return sorted((row.table_name, row.column_name, row.type) for row in rows)


@pytest.fixture(scope="session")
def keyspace_pool(running_stack: Settings) -> Iterator[KeyspacePool]:
    """The process's pool, its keyspaces dropped at the end (before the stack stops, if the run started it)."""
    pool = KeyspacePool(running_stack)
    yield pool
    pool.close()


@pytest.fixture
def ingest_settings(
    spark: SparkSession, keyspace_pool: KeyspacePool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings whose topic, keyspace and lake are this test's own (set in the environment, so jobs see them)."""
    suffix = uuid.uuid4().hex[:8]
    keyspace, created = keyspace_pool.take(INGEST_KEYSPACES)
    overrides = {
        "SMARTSPACES__CASSANDRA__KEYSPACE": keyspace,
        "SMARTSPACES__INGEST__TOPIC": f"test.events_{suffix}",
        "SMARTSPACES__LAKE__ROOT": str(tmp_path / "lake"),
        "SMARTSPACES__SPARK__SHUFFLE_PARTITIONS": "2",
    }
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    settings = load_settings("local")
    if created:
        wait_until_spark_sees(spark, settings.cassandra.keyspace, *migrated_tables(settings.cassandra.keyspace))
    yield settings
    keyspace_pool.give_back(INGEST_KEYSPACES, keyspace)


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
