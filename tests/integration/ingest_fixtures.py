"""An isolated ingest environment per test: its own topic, keyspace and lake folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartspaces.bootstrap.cassandra import apply_cassandra
from smartspaces.config import Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster


@pytest.fixture
def ingest_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
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
    yield settings
    drop_keyspace(settings)


def drop_keyspace(settings: Settings) -> None:
    """Drops a test's own keyspace."""
    cluster = cassandra_cluster(settings.cassandra)
    try:
        cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra.keyspace}", timeout=60)
    finally:
        cluster.shutdown()


def cassandra_rows(settings: Settings, columns: str = "event_id") -> list[tuple[object, ...]]:
    cluster = cassandra_cluster(settings.cassandra)
    try:
        rows = cluster.connect().execute(
            f"SELECT {columns} FROM {settings.cassandra.keyspace}.events_by_device_day", timeout=60
        )
        return sorted(tuple(row) for row in rows)
    finally:
        cluster.shutdown()
