"""The reference job against the real stack: drops become versions in the lake, the newest in Cassandra."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs import reference
from smartspaces import lake
from smartspaces.config import Settings
from smartspaces.connectors.delta import read_delta
from smartspaces.connectors.postgres import connect
from smartspaces.stages.ingest.pipeline import EventIngest
from tests.integration.ingest_fixtures import cassandra_table_rows
from tests.integration.reference_fixtures import (
    DEVICE_ROWS,
    INSTALLED,
    LATER_DEVICE_ROWS,
    LATER_SPACE_ROWS,
    RETIRED,
    SPACE_ROWS,
    T1,
    T2,
    history,
    iso,
    write_drop,
)
from transformations.reference import DEVICES, SPACES


def test_a_later_drop_closes_and_opens_versions_and_rerunning_it_changes_nothing(
    spark: SparkSession, registry_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = registry_settings
    first = write_drop(tmp_path / "first", SPACE_ROWS, DEVICE_ROWS)
    later = write_drop(tmp_path / "later", LATER_SPACE_ROWS, LATER_DEVICE_ROWS)
    assert reference.main(["--drop", first, "--effective-at", iso(T1)]) == 0
    assert reference.main(["--drop", later, "--effective-at", iso(T2)]) == 0

    devices = history(spark, lake.device_registry(settings.lake))
    assert devices == sorted(
        [
            ("d1", T1, T2, False, "s1", "co2", "AirQ C400", INSTALLED, None),
            ("d1", T2, None, True, "s2", "co2", "AirQ C400", INSTALLED, None),
            ("d2", T1, RETIRED, False, "s1", "temperature", "ThermaSense T2", INSTALLED, RETIRED),
            ("d3", T1, T2, False, "s2", "door", "Axis Door A100", INSTALLED, None),
            ("d4", T2, None, True, "s1", "occupancy", "Lidar PC-2", T2, None),
        ],
        key=repr,
    )
    spaces = history(spark, lake.space_registry(settings.lake))
    assert spaces == sorted(
        [
            ("s1", T1, T2, False, *SPACE_ROWS[0][1:]),
            ("s1", T2, None, True, *LATER_SPACE_ROWS[0][1:]),
            ("s2", T1, None, True, *SPACE_ROWS[1][1:]),
        ],
        key=repr,
    )
    # The read side: each device's newest version, retired ones with when they left.
    assert cassandra_table_rows(settings, "devices", "device_id, space_id, retired_at") == [
        ("d1", "s2", None),
        ("d2", "s1", RETIRED),
        ("d3", "s2", T2),
        ("d4", "s1", None),
    ]
    assert cassandra_table_rows(settings, "spaces", "space_id, campus_id, tenant") == [
        ("s1", "c1", "Globex"),
        ("s2", "c1", None),
    ]
    assert "devices: 2 versions opened, 3 closed, 0 unchanged, 0 rejected" in capsys.readouterr().out

    assert reference.main(["--drop", later, "--effective-at", iso(T2)]) == 0
    assert history(spark, lake.device_registry(settings.lake)) == devices
    assert history(spark, lake.space_registry(settings.lake)) == spaces
    printed = capsys.readouterr().out
    assert "spaces: 0 versions opened, 0 closed, 2 unchanged, 0 rejected" in printed
    assert "devices: 0 versions opened, 0 closed, 3 unchanged, 0 rejected" in printed

    # An older drop would rewrite the history: refused as a usage error, naming the rule.
    assert reference.main(["--drop", first, "--effective-at", iso(T1)]) == 2
    assert "merge drops in order" in capsys.readouterr().err
    assert history(spark, lake.device_registry(settings.lake)) == devices


def test_the_ingest_still_accepts_late_events_of_retired_devices(
    spark: SparkSession, registry_settings: Settings, tmp_path: Path
) -> None:
    assert (
        reference.main(["--drop", write_drop(tmp_path / "first", SPACE_ROWS, DEVICE_ROWS), "--effective-at", iso(T1)])
        == 0
    )
    later = write_drop(tmp_path / "later", LATER_SPACE_ROWS, LATER_DEVICE_ROWS)
    assert reference.main(["--drop", later, "--effective-at", iso(T2)]) == 0
    now = datetime.now(UTC).replace(microsecond=0)
    messages = [
        (
            device.encode(),
            json.dumps(
                {
                    "schema_version": 1,
                    "event_id": str(uuid.uuid4()),
                    "device_id": device,
                    "event_type": "telemetry",
                    "metric": "temperature",
                    "value": 21.5,
                    "unit": "celsius",
                    "event_time": now.isoformat(),
                }
            ).encode(),
            "events",
            0,
            offset,
            now.replace(tzinfo=None),
            0,
        )
        for offset, device in enumerate(["d2", "d3", "d9"])
    ]
    kafka_rows = spark.createDataFrame(
        messages,
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp, timestampType int",
    )
    verdicts = EventIngest(spark, registry_settings).verdicts(kafka_rows).select("device_id", "reason").collect()
    assert sorted(tuple(row) for row in verdicts) == [("d2", None), ("d3", None), ("d9", "unknown_device")]


def test_rejected_rows_are_kept_with_their_reason_and_not_merged(
    spark: SparkSession, registry_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = registry_settings
    drop = tmp_path / "bad"
    spaces = [SPACE_ROWS[0], (None, *SPACE_ROWS[1][1:]), ("s3", "c1", None, 2, "Office 2.01", "office", 20.0, 2, None)]
    devices = [
        DEVICE_ROWS[0],
        ("d5", "s1", "co2", "AirQ C400", INSTALLED, None),
        ("d5", "s1", "door", "Axis Door A100", INSTALLED, None),
        ("d6", "s3", "co2", "AirQ C400", INSTALLED, None),
        ("d7", None, "co2", "AirQ C400", INSTALLED, None),
    ]
    spark.createDataFrame(spaces, SPACES.drop_schema).write.parquet(str(drop / "spaces.parquet"))
    spark.createDataFrame(devices, DEVICES.drop_schema).write.parquet(str(drop / "devices.parquet"))
    for _ in range(2):  # the same drop twice: its rejects are recorded once
        assert reference.main(["--drop", str(drop), "--format", "parquet", "--effective-at", iso(T1)]) == 0

    rejects = read_delta(spark, lake.reference_rejects(settings.lake))
    recorded = rejects.select("reference_table", "key", "reason", "effective_at").collect()
    assert sorted((tuple(row) for row in recorded), key=repr) == [
        ("devices", "d5", "duplicate_key", T1),
        ("devices", "d5", "duplicate_key", T1),
        ("devices", "d6", "unknown_space", T1),
        ("devices", "d7", "missing_space_id", T1),
        ("spaces", "s3", "missing_building_id", T1),
        ("spaces", None, "missing_key", T1),
    ]
    assert [json.loads(row.row_json)["device_id"] for row in rejects.where("reason = 'unknown_space'").collect()] == [
        "d6"
    ]
    assert [row.device_id for row in read_delta(spark, lake.device_registry(settings.lake)).collect()] == ["d1"]
    assert [row.space_id for row in read_delta(spark, lake.space_registry(settings.lake)).collect()] == ["s1"]
    printed = capsys.readouterr().out
    assert "devices: 1 versions opened, 0 closed, 0 unchanged, 4 rejected" in printed
    assert "  rejected 'd6': unknown_space " in printed


# The reference tables as a building system's database holds them.
SPACES_TABLE = (
    "space_id text PRIMARY KEY, campus_id text, building_id text, floor integer, name text, space_type text, "
    "area_m2 double precision, capacity integer, tenant text"
)
DEVICES_TABLE = (
    "device_id text PRIMARY KEY, space_id text, device_type text, model text, installed_at timestamptz, "
    "retired_at timestamptz"
)


@pytest.fixture
def reference_schema(settings: Settings) -> Iterator[str]:
    """A PostgreSQL schema of this test's own holding the tables spaces and devices, dropped afterwards."""
    schema = f"test_ref_{uuid.uuid4().hex[:8]}"
    with connect(settings.postgres, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}".encode())
        connection.execute(f"CREATE TABLE {schema}.spaces ({SPACES_TABLE})".encode())
        connection.execute(f"CREATE TABLE {schema}.devices ({DEVICES_TABLE})".encode())
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {schema}.spaces VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)".encode(), SPACE_ROWS
            )
            cursor.executemany(
                f"INSERT INTO {schema}.devices VALUES (%s, %s, %s, %s, %s, %s)".encode(),
                [(*row[:4], row[4].replace(tzinfo=UTC), None) for row in DEVICE_ROWS],
            )
    try:
        yield schema
    finally:
        with connect(settings.postgres, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


def test_a_drop_is_read_from_database_tables_through_jdbc(
    spark: SparkSession, registry_settings: Settings, reference_schema: str
) -> None:
    settings = registry_settings
    assert reference.main(["--source", "jdbc", "--jdbc-schema", reference_schema, "--effective-at", iso(T1)]) == 0

    assert history(spark, lake.device_registry(settings.lake)) == [
        (*row[:1], T1, None, True, *row[1:]) for row in DEVICE_ROWS
    ]
    assert history(spark, lake.space_registry(settings.lake)) == [
        (*row[:1], T1, None, True, *row[1:]) for row in SPACE_ROWS
    ]
    assert cassandra_table_rows(settings, "devices", "device_id, space_id") == [
        ("d1", "s1"),
        ("d2", "s1"),
        ("d3", "s2"),
    ]
