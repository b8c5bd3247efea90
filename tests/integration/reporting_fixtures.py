"""Reporting store tests: a migrated database of their own, rows of the star schema, a PostgreSQL server to kill."""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql
from pyspark.sql import DataFrame, SparkSession

from smartspaces.bootstrap.postgres import apply_postgres
from smartspaces.config import PostgresSettings, Settings
from smartspaces.connectors.postgres import connect
from smartspaces.stack.postgres import PostgresServer
from smartspaces.stages.enrichment.quality.outcomes import Verdict
from smartspaces.stages.enrichment.reporting.runs import EnrichmentRun, ExpectationResult
from tests.integration.serving_fixtures import free_port
from transformations.report_window import ReportWindow
from transformations.reporting_schemas import (
    ALARM,
    BUILDING_DAILY,
    CRITICAL_EVENT,
    DIMENSION_TABLES,
    FACT_TABLES,
    SPACE_DAILY,
    SPACE_METRIC_HOURLY,
    ReportingTable,
)


class PrivatePostgres:
    """A PostgreSQL server in a folder of its own, on a free port, run as the stack runs its own."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        assert settings.stack is not None
        stack = settings.stack.model_copy(update={"data_dir": folder})
        postgres = settings.postgres.model_copy(update={"port": free_port()})
        self.server = PostgresServer(settings.model_copy(update={"postgres": postgres, "stack": stack}), stack)

    @property
    def settings(self) -> PostgresSettings:
        return self.server.settings.postgres

    def start(self, timeout_s: float = 30.0) -> None:
        self.server.prepare()
        self.server.process.start(self.server.command(), cwd=self.server.folder, user=self.server.run_as())
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.server.probe()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.server.after_ready()

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend at once: the server stops as on a power cut."""
        assert self.server.process.kill(), "the private PostgreSQL is not running"

    def stop(self) -> None:
        self.server.process.stop(signal.SIGINT, timeout_s=30)


@contextlib.contextmanager
def running_private_postgres(settings: Settings) -> Iterator[PrivatePostgres]:
    # Under /tmp and traversable: as root the server runs as the postgres user, who must reach its folder.
    folder = Path(tempfile.mkdtemp(prefix="smartspaces-test-pg-"))
    folder.chmod(0o755)
    server = PrivatePostgres(settings, folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def private_postgres(settings: Settings) -> Iterator[PrivatePostgres]:
    with running_private_postgres(settings) as server:
        yield server


ZONE = "Europe/Amsterdam"
BUILDING = "building-1"
SPACES = ("space-a", "space-b")
_IDS = uuid.UUID("3a0f6c4e-8f0e-4d39-b4a8-0f4b6a2d7c11")
# The star schema's tables in the order a full snapshot lists them.
REPORTING_TABLES = (*FACT_TABLES, *DIMENSION_TABLES)
# Rows of star-schema tables, as tuples in the contract's column order.
TableRows = Mapping[ReportingTable, list[tuple[Any, ...]]]


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, clock_time(), ZoneInfo(ZONE)).astimezone(UTC)


def fact_rows(day: date, variant: int) -> TableRows:
    """The facts of one local day; each variant has other values and other critical events."""
    midnight = local_midnight(day)
    hourly = [
        (
            space,
            BUILDING,
            "temperature",
            "celsius",
            midnight + timedelta(hours=hour),
            day,
            hour,
            60 + variant,
            19.5 + hour / 10,
            23.0 + variant,
            21.0 + variant / 10,
            22.5,
        )
        for space in SPACES
        for hour in (8, 9)
    ]
    space_daily = [
        (space, BUILDING, day, 10, 4.0 + variant, 2.5, 0.4, 0.25, 12.5 + variant, 9, 0.9, 0.8, 1, 2, variant)
        for space in SPACES
    ]
    building_daily = [(BUILDING, day, 2, 20, 8.0 + variant, 0.25, 25.0 + variant, 18, 0.9, 0.8, 2, 4, 6)]
    critical = [
        (
            str(uuid.uuid5(_IDS, f"critical/{day}/{variant}/{space}")),
            space,
            BUILDING,
            "device-1",
            "co2-high",
            2,
            "critical",
            "co2",
            1500.0 + variant,
            "ppm",
            "CO2_HIGH",
            "CO2 above 1500 ppm",
            midnight + timedelta(hours=10),
            day,
            str(uuid.uuid5(_IDS, f"source/{day}/{variant}/{space}")),
            midnight + timedelta(hours=10, seconds=2),
        )
        for space in SPACES
    ]
    raised = midnight + timedelta(hours=10)
    alarms = [
        (
            str(uuid.uuid5(_IDS, f"alarm/{day}/{variant}/{space}")),
            "co2_high",
            1,
            "space",
            space,
            BUILDING,
            space,
            None,
            "warning",
            "warning",
            "CO2 above 1500 ppm for 5 minutes",
            "co2",
            raised,
            day,
            None,
            raised + timedelta(minutes=3 * variant),
            "alice",
            raised + timedelta(minutes=20),
            1600.0 + variant,
            3.0 * variant,
            20.0,
        )
        for space in SPACES
    ]
    return {
        SPACE_METRIC_HOURLY: hourly,
        SPACE_DAILY: space_daily,
        BUILDING_DAILY: building_daily,
        CRITICAL_EVENT: critical,
        ALARM: alarms,
    }


def space_version(space_id: str, name: str, valid_from: datetime, valid_to: datetime | None = None) -> tuple[Any, ...]:
    return (
        space_id,
        valid_from,
        valid_to,
        valid_to is None,
        "campus-1",
        BUILDING,
        2,
        name,
        "meeting_room",
        24.5,
        10,
        "Acme",
    )


def device_version(device_id: str, space_id: str, valid_from: datetime) -> tuple[Any, ...]:
    return (device_id, valid_from, None, True, space_id, "co2_sensor", "AirQ 2", valid_from, None)


def frames(spark: SparkSession, rows: TableRows) -> dict[ReportingTable, DataFrame]:
    return {table: spark.createDataFrame(table_rows, table.schema) for table, table_rows in rows.items()}


def snapshot(pg: PostgresSettings) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every fact and dimension, ordered by all columns, uuids as text."""
    content = {}
    with connect(pg) as connection:
        for table in REPORTING_TABLES:
            columns = sql.SQL(", ").join(sql.Identifier(name) for name in table.schema.fieldNames())
            query = sql.SQL("SELECT {columns} FROM {table} ORDER BY {columns}").format(
                columns=columns, table=sql.Identifier("reporting", table.name)
            )
            content[table.name] = [
                tuple(str(value) if isinstance(value, uuid.UUID) else value for value in row)
                for row in connection.execute(query).fetchall()
            ]
    return content


def expected_content(*parts: TableRows) -> dict[str, list[tuple[Any, ...]]]:
    """What snapshot() returns when the tables hold exactly the given rows."""
    content: dict[str, list[tuple[Any, ...]]] = {table.name: [] for table in REPORTING_TABLES}
    for part in parts:
        for table, rows in part.items():
            content[table.name].extend(rows)
    return {name: sorted(rows, key=_sort_key) for name, rows in content.items()}


def _sort_key(row: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    # PostgreSQL sorts nulls last.
    return tuple((value is None, value) for value in row)


def empty_reporting_tables(pg: PostgresSettings) -> None:
    tables = sql.SQL(", ").join(
        sql.Identifier("reporting", name)
        for name in (*(table.name for table in REPORTING_TABLES), "dq_results", "enrichment_runs")
    )
    with connect(pg) as connection:
        connection.execute(sql.SQL("TRUNCATE {}").format(tables))


def run_of(window: ReportWindow, verdict: Verdict = Verdict.PASSED, *results: ExpectationResult) -> EnrichmentRun:
    now = datetime.now(UTC)
    return EnrichmentRun(uuid.uuid4(), window, now, verdict, now, tuple(results))


@pytest.fixture(scope="module")
def reporting_pg(running_stack: Settings) -> Iterator[PostgresSettings]:
    """A database of the module's own on the stack's server, migrated: the shared reporting tables stay untouched."""
    name = f"test_reporting_{uuid.uuid4().hex[:8]}"
    with connect(running_stack.postgres, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    pg = running_stack.postgres.model_copy(update={"database": name})
    try:
        apply_postgres(pg)
        yield pg
    finally:
        with connect(running_stack.postgres, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def store(reporting_pg: PostgresSettings) -> PostgresSettings:
    """The module's database with empty reporting tables."""
    empty_reporting_tables(reporting_pg)
    return reporting_pg
