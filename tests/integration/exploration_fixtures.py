"""Stores of a notebook test's own, holding hand-made rows whose counts are known: a migrated PostgreSQL database
(reporting_fixtures' `store`), a flushed Redis database, a lake folder; the notebook's kernel is pointed at them
through the environment it inherits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from psycopg import sql
from pyspark.sql import SparkSession

from smartspaces import lake
from smartspaces.config import LakeSettings, PostgresSettings, Settings
from smartspaces.connectors.delta import write_delta
from smartspaces.connectors.postgres import connect
from smartspaces.connectors.redis import redis_client
from smartspaces.exploration.figures import FIGURES_FOLDER_VARIABLE
from tests.integration.reporting_fixtures import local_midnight
from transformations.ingest import quarantine_records
from transformations.redis_keys import SPACE_CRITICAL_COMPLETE, SPACE_CRITICAL_EVENTS, SPACE_CRITICAL_INDEX
from transformations.reporting_schemas import CRITICAL_EVENT, SPACE_DIMENSION, SPACE_METRIC_HOURLY, ReportingTable
from transformations.validation import ValidationLimits, from_kafka_rows, validate_events

# A Redis database of the notebook tests' own (the serving tests use 3, the change-feed tests 6).
NOTEBOOK_REDIS_DB = 7
_IDS = uuid.UUID("5f7d1c2a-0b7e-4e8f-9a51-3c6f0f2d4e90")
CAMPUS = "campus-nb"
NORTH, SOUTH = "b-north", "b-south"


@pytest.fixture
def notebook_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Figures to a folder of the test's own and a small Spark, for the kernels the test starts; the folder."""
    figures = tmp_path / "figures"
    monkeypatch.setenv(FIGURES_FOLDER_VARIABLE, str(figures))
    monkeypatch.setenv("SMARTSPACES__SPARK__SHUFFLE_PARTITIONS", "2")
    monkeypatch.setenv("SMARTSPACES__SPARK__UI_ENABLED", "false")
    return figures


@pytest.fixture
def notebook_pg(store: PostgresSettings, notebook_env: Path, monkeypatch: pytest.MonkeyPatch) -> PostgresSettings:
    """The module's migrated database with empty reporting tables, and the kernels pointed at it."""
    monkeypatch.setenv("SMARTSPACES__POSTGRES__DATABASE", store.database)
    return store


@pytest.fixture
def notebook_redis(running_stack: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    """A client of the stack's Redis on the notebook tests' database, flushed, and the kernels pointed at it."""
    monkeypatch.setenv("SMARTSPACES__REDIS__DB", str(NOTEBOOK_REDIS_DB))
    client = redis_client(running_stack.redis.model_copy(update={"db": NOTEBOOK_REDIS_DB}))
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def notebook_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LakeSettings:
    """A lake folder of the test's own, and the kernels pointed at it."""
    root = tmp_path / "lake"
    monkeypatch.setenv("SMARTSPACES__LAKE__ROOT", str(root))
    return LakeSettings(root=str(root))


def insert_rows(pg: PostgresSettings, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Inserts rows (tuples in the order of `columns`) into reporting.<table>."""
    statement = sql.SQL("INSERT INTO {table} ({columns}) VALUES ({values})").format(
        table=sql.Identifier("reporting", table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    with connect(pg) as connection, connection.cursor() as cursor:
        cursor.executemany(statement, rows)


def insert_table(pg: PostgresSettings, table: ReportingTable, rows: Sequence[tuple[Any, ...]]) -> None:
    """Inserts rows in the contract's column order (transformations.reporting_schemas) into a star-schema table."""
    insert_rows(pg, table.name, table.schema.fieldNames(), rows)


def space(space_id: str, building_id: str, name: str) -> tuple[Any, ...]:
    """The current version of a space (dim_space)."""
    return (
        space_id,
        datetime(2026, 1, 1, tzinfo=UTC),
        None,
        True,
        CAMPUS,
        building_id,
        1,
        name,
        "office",
        20.0,
        4,
        None,
    )


def hourly(space_id: str, building_id: str, metric: str, day: date, hour: int, average: float) -> tuple[Any, ...]:
    """An hour of a metric in a space (fact_space_metric_hourly), read 6 times around `average`."""
    unit = {"temperature": "celsius", "co2": "ppm", "humidity": "percent"}[metric]
    start = local_midnight(day) + timedelta(hours=hour)
    return (space_id, building_id, metric, unit, start, day, hour, 6, average - 1, average + 1, average, average + 1)


def critical(space_id: str, building_id: str | None, at: datetime, severity: str, rule_id: str) -> tuple[Any, ...]:
    """A critical event (fact_critical_event) of a space at a UTC instant on the 2026-11 local days."""
    event_id = str(uuid.uuid5(_IDS, f"{space_id}/{at.isoformat()}"))
    return (
        event_id,
        space_id,
        building_id,
        f"{space_id}-device",
        rule_id,
        1,
        severity,
        None,
        None,
        None,
        None,
        f"{rule_id} fired",
        at,
        at.date(),
        str(uuid.uuid5(_IDS, event_id)),
        at + timedelta(seconds=1),
    )


# --- notebook 02: comfort ---------------------------------------------------------------------------------

COMFORT_DAY = date(2026, 11, 24)


@pytest.fixture
def comfort_rows(notebook_pg: PostgresSettings) -> PostgresSettings:
    """The notebook database holding write_comfort_rows."""
    write_comfort_rows(notebook_pg)
    return notebook_pg


def write_comfort_rows(pg: PostgresSettings) -> None:
    """b-north on COMFORT_DAY: 3 spaces; temperature in 4 space-hours (2 outside 20..24 °C), CO2 in 3 (1 above
    1000 ppm), humidity beside. Fewer space-hours on the day before and in b-south, so neither is picked."""
    insert_table(
        pg,
        SPACE_DIMENSION,
        [space("n-101", NORTH, "Office N1.01"), space("n-102", NORTH, "Office N1.02"), space("s-201", SOUTH, "Lab")],
    )
    before = COMFORT_DAY - timedelta(days=1)
    insert_table(
        pg,
        SPACE_METRIC_HOURLY,
        [
            hourly("n-101", NORTH, "temperature", COMFORT_DAY, 8, 21.0),
            hourly("n-101", NORTH, "temperature", COMFORT_DAY, 9, 19.5),
            hourly("n-101", NORTH, "temperature", COMFORT_DAY, 10, 22.0),
            hourly("n-101", NORTH, "co2", COMFORT_DAY, 8, 800.0),
            hourly("n-101", NORTH, "co2", COMFORT_DAY, 9, 1200.0),
            hourly("n-101", NORTH, "humidity", COMFORT_DAY, 9, 45.0),
            hourly("n-102", NORTH, "temperature", COMFORT_DAY, 9, 25.0),
            # A space of no current version in dim_space: on the map by its id.
            hourly("n-103", NORTH, "co2", COMFORT_DAY, 10, 950.0),
            hourly("n-101", NORTH, "temperature", before, 9, 21.0),
            hourly("s-201", SOUTH, "temperature", COMFORT_DAY, 9, 21.0),
            hourly("s-201", SOUTH, "co2", COMFORT_DAY, 9, 700.0),
        ],
    )


# --- notebook 03: critical events -------------------------------------------------------------------------


@pytest.fixture
def critical_rows(notebook_pg: PostgresSettings) -> PostgresSettings:
    """The notebook database holding write_critical_rows."""
    write_critical_rows(notebook_pg)
    return notebook_pg


@pytest.fixture
def cached_events(notebook_redis: redis.Redis) -> redis.Redis:
    """The notebook Redis database holding write_cached_events."""
    write_cached_events(notebook_redis)
    return notebook_redis


def write_critical_rows(pg: PostgresSettings) -> None:
    """Five reported events: b-north 2 on 11-23 and 1 on 11-25, b-south 1 on 11-24, one of no building."""
    insert_table(pg, SPACE_DIMENSION, [space("n-101", NORTH, "Office N1.01"), space("s-201", SOUTH, "Lab")])
    insert_table(
        pg,
        CRITICAL_EVENT,
        [
            critical("n-101", NORTH, datetime(2026, 11, 23, 9, 0, tzinfo=UTC), "critical", "co2_critical"),
            critical("n-101", NORTH, datetime(2026, 11, 23, 10, 0, tzinfo=UTC), "warning", "co2_high"),
            critical("n-101", NORTH, datetime(2026, 11, 25, 9, 0, tzinfo=UTC), "info", "device_alarm"),
            critical("s-201", SOUTH, datetime(2026, 11, 24, 12, 0, tzinfo=UTC), "critical", "door_forced"),
            critical("x-999", None, datetime(2026, 11, 24, 13, 0, tzinfo=UTC), "warning", "device_alarm"),
        ],
    )


def cache_critical_events(client: redis.Redis, space_id: str, *times: datetime) -> None:
    """Caches critical events of a space as the change feed does (docs/redis-keys.md): the index, scored by epoch
    milliseconds, and the events hash of canonical JSON."""
    events = {
        str(uuid.uuid5(_IDS, f"cached/{space_id}/{at.isoformat()}")): {
            "code": None,
            "device_id": f"{space_id}-device",
            "event_time": at.isoformat(timespec="microseconds"),
            "message": "CO2 above the limit",
            "metric": "co2",
            "rule_id": "co2_high",
            "rule_version": 1,
            "severity": "warning",
            "source_event_id": str(uuid.uuid5(_IDS, at.isoformat())),
            "space_id": space_id,
            "unit": "ppm",
            "value": 1200.0,
        }
        for at in times
    }
    for event_id, event in events.items():
        event["critical_event_id"] = event_id
    client.zadd(
        SPACE_CRITICAL_INDEX.format(space_id=space_id),
        {
            event_id: int(datetime.fromisoformat(str(event["event_time"])).timestamp() * 1000)
            for event_id, event in events.items()
        },
    )
    canonical = {
        event_id: json.dumps(event, sort_keys=True, separators=(",", ":")) for event_id, event in events.items()
    }
    client.hset(SPACE_CRITICAL_EVENTS.format(space_id=space_id), mapping=canonical)  # type: ignore[arg-type]


def write_cached_events(client: redis.Redis) -> None:
    """Four cached events in three spaces: n-101 two, s-201 one, x-999 (a space of no known building) one; a
    complete marker and another key beside them, which are not events."""
    cache_critical_events(
        client, "n-101", datetime(2026, 11, 25, 9, 0, tzinfo=UTC), datetime(2026, 11, 25, 11, 30, tzinfo=UTC)
    )
    cache_critical_events(client, "s-201", datetime(2026, 11, 25, 10, 15, tzinfo=UTC))
    cache_critical_events(client, "x-999", datetime(2026, 11, 25, 11, 0, tzinfo=UTC))
    client.set(SPACE_CRITICAL_COMPLETE.format(space_id="s-201"), "1")
    client.hset("smartspaces:v1:space:n-101:latest", mapping={"co2": "{}"})


# --- notebook 04: data quality ----------------------------------------------------------------------------

ARRIVED = (datetime(2026, 11, 24, 8, 10, tzinfo=UTC), datetime(2026, 11, 24, 9, 20, tzinfo=UTC))


def kafka_message(offset: int, arrived: datetime, payload: str, key: str = "d-1") -> tuple[Any, ...]:
    return (key.encode(), payload.encode(), "events", 0, offset, arrived)


@pytest.fixture
def quarantined(spark: SparkSession, notebook_lake: LakeSettings) -> LakeSettings:
    """The notebook lake holding write_quarantine's table."""
    write_quarantine(spark, notebook_lake)
    return notebook_lake


def write_quarantine(spark: SparkSession, lake_settings: LakeSettings) -> None:
    """Quarantines messages through the ingest's own validation: at 08:10 two not JSON and one not an object, at
    09:20 one not JSON and one missing a field; a valid message at 09:20 is not quarantined."""
    valid = {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(_IDS, "valid")),
        "device_id": "d-1",
        "event_type": "telemetry",
        "event_time": "2026-11-24T09:19:00Z",
        "metric": "temperature",
        "value": 21.5,
        "unit": "celsius",
    }
    first, second = ARRIVED
    messages = [
        kafka_message(0, first, "{oops"),
        kafka_message(1, first, "not json either"),
        kafka_message(2, first, "[1, 2]"),
        kafka_message(3, second, "{"),
        kafka_message(4, second, json.dumps({"schema_version": 1})),
        kafka_message(5, second, json.dumps(valid)),
    ]
    schema = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    records = (
        spark.createDataFrame(messages, schema)
        .transform(from_kafka_rows)
        .transform(validate_events(ValidationLimits()))
        .transform(quarantine_records)
    )
    write_delta(records, lake.quarantined_events(lake_settings), partition_by=("ingest_date",))


def window(day: date) -> tuple[datetime, datetime]:
    """The UTC instants of a local day's window."""
    return local_midnight(day), local_midnight(day + timedelta(days=1))


# An expectation's result: expectation, table, column, severity, success (None: not applicable).
Result = tuple[str, str, str, str, bool | None]


@dataclass(frozen=True)
class Run:
    """An enrichment run of a local day's window, and its expectations' results."""

    name: str
    day: date
    verdict: str
    started_at: datetime
    results: tuple[Result, ...]

    @property
    def run_id(self) -> uuid.UUID:
        return uuid.uuid5(_IDS, self.name)


# 11-23 passed (2 met, 1 not applicable); 11-24 failed, then warned (1 met, 1 missed). v_data_quality keeps the
# latest run of each window: 5 expectations, 3 met, 1 missed, 1 not applicable.
QUALITY_RUNS = (
    Run(
        "run-1",
        date(2026, 11, 23),
        "passed",
        datetime(2026, 11, 24, 2, 30, tzinfo=UTC),
        (
            ("not_null_keys", "fact_space_daily", "space_id", "fail", True),
            ("unique_key", "fact_space_daily", "space_id,local_date", "fail", True),
            ("row_count_vs_previous_window", "fact_space_daily", "", "warn", None),
        ),
    ),
    Run(
        "run-2",
        date(2026, 11, 24),
        "failed",
        datetime(2026, 11, 25, 2, 30, tzinfo=UTC),
        (
            ("not_null_keys", "fact_space_daily", "space_id", "fail", False),
            ("unique_key", "fact_space_daily", "space_id,local_date", "fail", True),
        ),
    ),
    Run(
        "run-3",
        date(2026, 11, 24),
        "warned",
        datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
        (
            ("not_null_keys", "fact_space_daily", "space_id", "fail", True),
            ("row_count_vs_previous_window", "fact_space_daily", "", "warn", False),
        ),
    ),
)
RUN_COLUMNS = ("run_id", "window_start", "window_end", "time_zone", "started_at", "finished_at", "verdict")
RESULT_COLUMNS = (
    "run_id",
    "expectation",
    "table_name",
    "column_name",
    "severity",
    "success",
    "observed",
    "window_start",
    "window_end",
    "checked_at",
)


@pytest.fixture
def quality_rows(notebook_pg: PostgresSettings) -> PostgresSettings:
    """The notebook database holding write_quality_rows."""
    write_quality_rows(notebook_pg)
    return notebook_pg


def write_quality_rows(pg: PostgresSettings) -> None:
    """The runs of QUALITY_RUNS and their expectations' results (enrichment_runs, dq_results)."""
    runs = [
        (
            run.run_id,
            *window(run.day),
            "Europe/Amsterdam",
            run.started_at,
            run.started_at + timedelta(minutes=2),
            run.verdict,
        )
        for run in QUALITY_RUNS
    ]
    insert_rows(pg, "enrichment_runs", RUN_COLUMNS, runs)
    results = [
        (run.run_id, *result, "as seen", *window(run.day), run.started_at + timedelta(minutes=1))
        for run in QUALITY_RUNS
        for result in run.results
    ]
    insert_rows(pg, "dq_results", RESULT_COLUMNS, results)
