"""The reporting store on real PostgreSQL: migration, window replaces, upserts, failures, the reader role."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

from smartspaces.bootstrap.postgres import apply_postgres
from smartspaces.config import PostgresSettings, Settings
from smartspaces.connectors.postgres import connect
from smartspaces.stages.enrichment.quality.outcomes import CheckSeverity, Verdict
from smartspaces.stages.enrichment.reporting.postgres_store import (
    REPORTING_LOCK_ID,
    ReportingLockTimeoutError,
    StagedWindow,
    StagingLostError,
    SwapServerLostError,
    discard_staging,
    fact_row_counts,
    record_failed_run,
    stage_window,
    swap_window,
    swaps_waiting_for_the_lock,
    table_row_counts,
    write_window,
)
from smartspaces.stages.enrichment.reporting.runs import EnrichmentRun, ExpectationResult
from smartspaces.stages.enrichment.reporting.staging_copy import CopyStagingWriter
from tests.integration.reporting_fixtures import (
    BUILDING,
    REPORTING_TABLES,
    SPACES,
    ZONE,
    PrivatePostgres,
    device_version,
    empty_reporting_tables,
    expected_content,
    fact_rows,
    frames,
    local_midnight,
    run_of,
    snapshot,
    space_version,
)
from transformations.report_window import ReportWindow
from transformations.reporting_schemas import (
    ALARM,
    CRITICAL_EVENT,
    DEVICE_DIMENSION,
    DIMENSION_TABLES,
    FACT_TABLES,
    SPACE_DAILY,
    SPACE_DIMENSION,
    SPACE_METRIC_HOURLY,
)

DAY_A = date(2026, 11, 23)
DAY_B = date(2026, 11, 24)
WINDOW_A = ReportWindow.of_days(DAY_A, DAY_A, ZONE)
WINDOW_B = ReportWindow.of_days(DAY_B, DAY_B, ZONE)
SINCE = datetime(2025, 1, 1, tzinfo=UTC)
SPARK_TYPE_OF = {
    "text": StringType(),
    "uuid": StringType(),
    "integer": IntegerType(),
    "bigint": LongType(),
    "double precision": DoubleType(),
    "boolean": BooleanType(),
    "date": DateType(),
    "timestamp with time zone": TimestampType(),
}
VIEWS = {
    "v_alarm_response_weekly",
    "v_alarms",
    "v_building_daily",
    "v_critical_events",
    "v_data_quality",
    "v_date",
    "v_device_current",
    "v_enrichment_runs",
    "v_space",
    "v_space_daily",
    "v_space_history",
    "v_space_hourly",
}


def copy_writer(pg: PostgresSettings) -> CopyStagingWriter:
    return CopyStagingWriter(pg, connections=2)


def write(spark: SparkSession, pg: PostgresSettings, window: ReportWindow, day: date, variant: int) -> dict[str, int]:
    return write_window(frames(spark, fact_rows(day, variant)), window, pg, copy_writer(pg), run_of(window))


def query(pg: PostgresSettings, statement: str, *parameters: Any) -> list[tuple[Any, ...]]:
    with connect(pg) as connection:
        return connection.execute(statement, parameters or None).fetchall()


def staging_tables_left(pg: PostgresSettings) -> int:
    """Staging tables in reporting_staging beside its two registry tables."""
    rows = query(
        pg,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'reporting_staging' "
        "AND tablename NOT IN ('staging_tables', 'staged_partitions')",
    )
    return int(rows[0][0])


def test_migration_is_applied_to_the_stack_database(settings: Settings) -> None:
    applied = query(settings.postgres, "SELECT version, name FROM public.schema_migrations WHERE version = 3")
    assert applied == [(3, "reporting")]


def test_reporting_tables_have_the_contract_columns(settings: Settings) -> None:
    for table in (*FACT_TABLES, *DIMENSION_TABLES):
        columns = query(
            settings.postgres,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'reporting' AND table_name = %s ORDER BY ordinal_position",
            table.name,
        )
        contract: list[tuple[str, DataType]] = [(field.name, field.dataType) for field in table.schema.fields]
        assert [(name, SPARK_TYPE_OF[data_type]) for name, data_type in columns] == contract, table.name


def test_dim_date_covers_2015_to_2040_with_iso_weekdays(store: PostgresSettings) -> None:
    assert query(store, "SELECT count(*), min(date_key), max(date_key) FROM reporting.dim_date") == [
        (9497, date(2015, 1, 1), date(2040, 12, 31))
    ]
    assert query(store, "SELECT * FROM reporting.dim_date WHERE date_key IN ('2021-01-03', '2026-11-23')") == [
        (date(2021, 1, 3), 2021, 1, 1, "January", 3, 7, "Sunday", 53, 2020, True),
        (date(2026, 11, 23), 2026, 4, 11, "November", 23, 1, "Monday", 48, 2026, False),
    ]


def test_a_window_holds_exactly_what_was_written(spark: SparkSession, store: PostgresSettings) -> None:
    written = write(spark, store, WINDOW_A, DAY_A, variant=1)

    assert snapshot(store) == expected_content(fact_rows(DAY_A, 1))
    assert written == {
        "fact_space_metric_hourly": 4,
        "fact_space_daily": 2,
        "fact_building_daily": 1,
        "fact_critical_event": 2,
        "fact_alarm": 2,
    }


def test_writing_a_window_twice_gives_identical_content(spark: SparkSession, store: PostgresSettings) -> None:
    write(spark, store, WINDOW_A, DAY_A, variant=1)
    first = snapshot(store)
    write(spark, store, WINDOW_A, DAY_A, variant=1)

    assert snapshot(store) == first


def test_a_rewrite_replaces_the_window_rows(spark: SparkSession, store: PostgresSettings) -> None:
    write(spark, store, WINDOW_A, DAY_A, variant=1)
    write(spark, store, WINDOW_A, DAY_A, variant=2)

    assert snapshot(store) == expected_content(fact_rows(DAY_A, 2))


def test_a_second_window_leaves_the_first_untouched(spark: SparkSession, store: PostgresSettings) -> None:
    write(spark, store, WINDOW_A, DAY_A, variant=1)
    write(spark, store, WINDOW_B, DAY_B, variant=2)

    assert snapshot(store) == expected_content(fact_rows(DAY_A, 1), fact_rows(DAY_B, 2))
    assert fact_row_counts(store, WINDOW_A) == {
        "fact_space_metric_hourly": 4,
        "fact_space_daily": 2,
        "fact_building_daily": 1,
        "fact_critical_event": 2,
        "fact_alarm": 2,
    }
    assert table_row_counts(store) == {
        "fact_space_metric_hourly": 8,
        "fact_space_daily": 4,
        "fact_building_daily": 2,
        "fact_critical_event": 4,
        "fact_alarm": 4,
        "dim_space": 0,
        "dim_device": 0,
    }


def test_a_window_of_hours_replaces_its_hours_and_no_daily_rows(spark: SparkSession, store: PostgresSettings) -> None:
    write(spark, store, WINDOW_A, DAY_A, variant=1)
    nine_to_eleven = ReportWindow(
        local_midnight(DAY_A) + timedelta(hours=9), local_midnight(DAY_A) + timedelta(hours=11), ZONE
    )
    assert nine_to_eleven.whole_local_days == ()

    written = write(spark, store, nine_to_eleven, DAY_A, variant=2)

    first, second = fact_rows(DAY_A, 1), fact_rows(DAY_A, 2)
    hour_eight = [row for row in first[SPACE_METRIC_HOURLY] if row[6] == 8]
    hour_nine = [row for row in second[SPACE_METRIC_HOURLY] if row[6] == 9]
    assert snapshot(store) == expected_content(
        {
            **first,
            SPACE_METRIC_HOURLY: hour_eight + hour_nine,
            CRITICAL_EVENT: second[CRITICAL_EVENT],
            ALARM: second[ALARM],
        }
    )
    assert written == {
        "fact_space_metric_hourly": 2,
        "fact_space_daily": 0,
        "fact_building_daily": 0,
        "fact_critical_event": 2,
        "fact_alarm": 2,
    }


def test_a_dimension_upsert_closes_the_old_version(spark: SparkSession, store: PostgresSettings) -> None:
    moved = datetime(2026, 11, 23, 12, tzinfo=UTC)
    first = {
        **fact_rows(DAY_A, 1),
        SPACE_DIMENSION: [space_version(space, f"Room {space}", SINCE) for space in SPACES],
        DEVICE_DIMENSION: [device_version("device-1", "space-a", SINCE)],
    }
    renamed = {
        **fact_rows(DAY_A, 1),
        SPACE_DIMENSION: [
            space_version("space-a", "Room space-a", SINCE, valid_to=moved),
            space_version("space-a", "Boardroom", moved),
        ],
    }
    write_window(frames(spark, first), WINDOW_A, store, copy_writer(store), run_of(WINDOW_A))
    written = write_window(frames(spark, renamed), WINDOW_A, store, copy_writer(store), run_of(WINDOW_A))
    again = write_window(frames(spark, renamed), WINDOW_A, store, copy_writer(store), run_of(WINDOW_A))

    assert query(
        store, "SELECT space_id, valid_from, valid_to, is_current, name FROM reporting.dim_space ORDER BY 1, 2"
    ) == [
        ("space-a", SINCE, moved, False, "Room space-a"),
        ("space-a", moved, None, True, "Boardroom"),
        ("space-b", SINCE, None, True, "Room space-b"),
    ]
    assert query(store, "SELECT space_id, space_name FROM reporting.v_space ORDER BY 1") == [
        ("space-a", "Boardroom"),
        ("space-b", "Room space-b"),
    ]
    assert query(store, "SELECT device_id, space_name FROM reporting.v_device_current") == [("device-1", "Boardroom")]
    assert (written["dim_space"], again["dim_space"]) == (2, 0)


def test_a_failing_staging_write_leaves_the_window_as_it_was(spark: SparkSession, store: PostgresSettings) -> None:
    write(spark, store, WINDOW_A, DAY_A, variant=1)
    before = snapshot(store)
    second = frames(spark, fact_rows(DAY_A, 2))
    # The last table Spark writes has a row without event_time: its staging write fails after the others.
    second[CRITICAL_EVENT] = second[CRITICAL_EVENT].union(
        second[CRITICAL_EVENT].limit(1).withColumn("event_time", F.lit(None).cast("timestamp"))
    )
    run = run_of(WINDOW_A)

    with pytest.raises(Exception, match='null value in column "event_time"'):
        write_window(second, WINDOW_A, store, copy_writer(store), run)

    assert snapshot(store) == before
    assert query(store, "SELECT count(*) FROM reporting.enrichment_runs WHERE run_id = %s", run.run_id) == [(0,)]
    assert query(store, "SELECT count(*) FROM reporting_staging.staging_tables") == [(0,)]
    assert staging_tables_left(store) == 0


def test_a_failure_inside_the_swap_rolls_the_whole_window_back(spark: SparkSession, store: PostgresSettings) -> None:
    write(spark, store, WINDOW_A, DAY_A, variant=1)
    before = snapshot(store)
    second = frames(spark, fact_rows(DAY_A, 2))
    # The same space and day twice: the daily fact's key is violated after the hourly facts were replaced.
    second[SPACE_DAILY] = second[SPACE_DAILY].union(second[SPACE_DAILY].limit(1))

    with pytest.raises(errors.UniqueViolation):
        write_window(second, WINDOW_A, store, copy_writer(store), run_of(WINDOW_A))

    assert snapshot(store) == before


def test_a_run_records_itself_and_its_expectations(spark: SparkSession, store: PostgresSettings) -> None:
    warned = ExpectationResult(
        "row_count_vs_previous_window",
        "fact_space_daily",
        None,
        CheckSeverity.WARN,
        False,
        "0.4 of the previous window",
        {"ratio": 0.4},
    )
    met = ExpectationResult("not_null", "fact_space_daily", "space_id", CheckSeverity.FAIL, True, "0 nulls")
    not_applicable = ExpectationResult(
        "freshness",
        "fact_space_metric_hourly",
        None,
        CheckSeverity.WARN,
        None,
        "no events",
        {"lag_h": float("nan"), "newest": WINDOW_A.start},
    )
    run = run_of(WINDOW_A, Verdict.WARNED, warned, met, not_applicable)

    written = write_window(frames(spark, fact_rows(DAY_A, 1)), WINDOW_A, store, copy_writer(store), run)

    assert query(store, "SELECT verdict, rows_written, window_start, window_end FROM reporting.enrichment_runs") == [
        ("warned", written, WINDOW_A.start, WINDOW_A.end)
    ]
    assert query(
        store,
        "SELECT run_id, expectation, column_name, severity, success, observed, details, window_start, "
        "window_end FROM reporting.dq_results ORDER BY expectation",
    ) == [
        (
            run.run_id,
            "freshness",
            "",
            "warn",
            None,
            "no events",
            {"lag_h": None, "newest": "2026-11-22T23:00:00+00:00"},
            WINDOW_A.start,
            WINDOW_A.end,
        ),
        (run.run_id, "not_null", "space_id", "fail", True, "0 nulls", {}, WINDOW_A.start, WINDOW_A.end),
        (
            run.run_id,
            "row_count_vs_previous_window",
            "",
            "warn",
            False,
            "0.4 of the previous window",
            {"ratio": 0.4},
            WINDOW_A.start,
            WINDOW_A.end,
        ),
    ]
    assert query(store, "SELECT verdict, expectation, success FROM reporting.v_data_quality ORDER BY 2") == [
        ("warned", "freshness", None),
        ("warned", "not_null", True),
        ("warned", "row_count_vs_previous_window", False),
    ]


def test_a_failed_run_is_recorded_without_touching_the_facts(spark: SparkSession, store: PostgresSettings) -> None:
    write(spark, store, WINDOW_A, DAY_A, variant=1)
    before = snapshot(store)
    missed = ExpectationResult("unique_key", "fact_space_daily", None, CheckSeverity.FAIL, False, "2 duplicate keys")
    failed = run_of(WINDOW_A, Verdict.FAILED, missed)

    record_failed_run(store, failed)

    assert snapshot(store) == before
    assert query(store, "SELECT DISTINCT run_id, verdict, expectation FROM reporting.v_data_quality") == [
        (failed.run_id, "failed", "unique_key")
    ]
    assert query(store, "SELECT verdict, rows_written FROM reporting.enrichment_runs ORDER BY started_at") == [
        (
            "passed",
            {
                "fact_space_metric_hourly": 4,
                "fact_space_daily": 2,
                "fact_building_daily": 1,
                "fact_critical_event": 2,
                "fact_alarm": 2,
            },
        ),
        ("failed", {}),
    ]


def test_the_reader_role_can_read_every_view_and_write_nothing(spark: SparkSession, store: PostgresSettings) -> None:
    write(spark, store, WINDOW_A, DAY_A, variant=1)
    with connect(store) as connection:
        views = connection.execute(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'reporting'"
        ).fetchall()
        assert {name for (name,) in views} == VIEWS
        connection.execute("SET ROLE reporting_reader")
        counts = {
            name: connection.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("reporting", name))
            ).fetchone()
            for name in sorted(VIEWS)
        }
        assert counts["v_space_daily"] == (2,)
        assert counts["v_critical_events"] == (2,)
        assert counts["v_alarms"] == (2,)
        weekly = connection.execute(
            "SELECT building_id, week_start, alarms, acknowledged, cleared, mean_minutes_to_acknowledge, "
            "mean_minutes_to_clear FROM reporting.v_alarm_response_weekly"
        ).fetchall()
        # 2026-11-23 is a Monday: its own week's start.
        assert weekly == [(BUILDING, DAY_A, 2, 2, 2, 3.0, 20.0)]
        with pytest.raises(errors.InsufficientPrivilege):
            connection.execute(
                "INSERT INTO reporting.fact_building_daily (building_id, local_date) VALUES ('b', '2026-11-23')"
            )
        connection.rollback()
        # Nothing but the views: no table of the star schema, of staging or of the migrations.
        tables = [
            *(f"reporting.{table.name}" for table in REPORTING_TABLES),
            "reporting.dim_date",
            "reporting.enrichment_runs",
            "reporting.dq_results",
            "reporting_staging.staging_tables",
            "public.schema_migrations",
        ]
        for table in tables:
            connection.execute("SET ROLE reporting_reader")
            with pytest.raises(errors.InsufficientPrivilege):
                connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split("."))))
            connection.rollback()


# What the writer role must never do; each statement is refused for lack of a privilege.
REFUSED_TO_THE_WRITER = (
    "CREATE TABLE reporting.extra (id integer)",
    "DROP TABLE reporting.fact_space_daily",
    "TRUNCATE reporting.fact_space_daily",
    "ALTER TABLE reporting.dim_space ADD COLUMN extra integer",
    "UPDATE reporting.fact_space_daily SET occupied_hours = 0",
    "DELETE FROM reporting.dim_date",
    "DELETE FROM reporting.enrichment_runs",
    "SELECT count(*) FROM reporting.v_space_daily",
    "DELETE FROM public.schema_migrations",
    "CREATE SCHEMA extra",
    "CREATE TABLE public.extra (id integer)",
)


def test_the_writer_role_writes_and_records_a_window_and_is_refused_the_rest(
    spark: SparkSession, store: PostgresSettings
) -> None:
    write(spark, store, WINDOW_A, DAY_A, variant=1)
    as_owner = snapshot(store)
    empty_reporting_tables(store)
    writer = store.model_copy(update={"user": "reporting_writer"})

    # Staging (COPY from the executors), the swap and the run's records, twice: the second replaces the first.
    write(spark, writer, WINDOW_A, DAY_A, variant=2)
    write(spark, writer, WINDOW_A, DAY_A, variant=1)
    missed = ExpectationResult("unique_key", "fact_space_daily", None, CheckSeverity.FAIL, False, "2 duplicate keys")
    record_failed_run(writer, run_of(WINDOW_A, Verdict.FAILED, missed))

    assert snapshot(store) == as_owner
    assert staging_tables_left(store) == 0
    assert query(store, "SELECT verdict FROM reporting.enrichment_runs ORDER BY started_at")[-1] == ("failed",)
    with connect(writer) as connection:
        assert connection.execute("SELECT current_user").fetchone() == ("reporting_writer",)
        for statement in REFUSED_TO_THE_WRITER:
            with pytest.raises(errors.InsufficientPrivilege):
                connection.execute(statement.encode())
            connection.rollback()


def window_written_once(
    spark: SparkSession, server: PrivatePostgres
) -> tuple[PostgresSettings, dict[str, list[tuple[Any, ...]]]]:
    """The private server migrated, window A written once; its settings and that snapshot."""
    pg = server.settings
    apply_postgres(pg)
    write(spark, pg, WINDOW_A, DAY_A, variant=1)
    return pg, snapshot(pg)


def test_postgres_killed_during_the_staging_write_leaves_the_window_as_it_was(
    spark: SparkSession, private_postgres: PrivatePostgres
) -> None:
    pg, first = window_written_once(spark, private_postgres)
    second = frames(spark, fact_rows(DAY_A, 2))
    second[SPACE_METRIC_HOURLY] = many_hourly_rows(spark, 400_000)
    killer = threading.Thread(target=kill_when_spark_copies, args=(private_postgres,), daemon=True)
    killer.start()

    # Whichever attempt fails last (the COPY cut, or Spark's retry refused), the error names the server.
    with pytest.raises(Exception, match=r"PostgreSQL at 127\.0\.0\.1:\d+ \(postgres\.host, postgres\.port\) failed"):
        write_window(second, WINDOW_A, pg, copy_writer(pg), run_of(WINDOW_A))
    killer.join(timeout=30)
    private_postgres.start()

    assert snapshot(pg) == first
    left_behind = query(pg, "SELECT table_name FROM reporting_staging.staging_tables")
    assert len(left_behind) == len(FACT_TABLES)
    with connect(pg) as connection:
        connection.execute("UPDATE reporting_staging.staging_tables SET created_at = now() - interval '2 days'")
    write(spark, pg, WINDOW_A, DAY_A, variant=3)
    assert snapshot(pg) == expected_content(fact_rows(DAY_A, 3))
    assert staging_tables_left(pg) == 0


def test_postgres_restarted_between_the_staging_fill_and_the_swap_leaves_the_window_and_records_the_run_failed(
    spark: SparkSession, private_postgres: PrivatePostgres
) -> None:
    pg, first = window_written_once(spark, private_postgres)
    run = run_of(WINDOW_A)
    staged = stage_window(frames(spark, fact_rows(DAY_A, 2)), pg, copy_writer(pg), run)
    assert sum(staged.rows_written.values()) > 0
    # A power cut after Spark's fill: crash recovery empties the unlogged staging tables.
    private_postgres.kill()
    private_postgres.start()
    with pytest.raises(StagingLostError, match=r"holds 0 of the [1-9]\d* rows Spark wrote") as refused:
        swap_window(staged, WINDOW_A, pg, run)
    discard_staging(pg, staged)
    record_failed_run(pg, replace(run, verdict=Verdict.FAILED, failure=str(refused.value)))

    assert snapshot(pg) == first
    recorded = query(pg, "SELECT verdict, failure FROM reporting.v_enrichment_runs WHERE run_id = %s", run.run_id)
    assert recorded == [("failed", str(refused.value))]
    assert staging_tables_left(pg) == 0
    # The next run writes the window.
    write(spark, pg, WINDOW_A, DAY_A, variant=3)
    assert snapshot(pg) == expected_content(fact_rows(DAY_A, 3))


def swap_in_thread(
    staged: StagedWindow, pg: PostgresSettings, run: EnrichmentRun
) -> tuple[threading.Thread, dict[str, Any]]:
    """The swap running in a thread of its own; the dict gets its `written` rows or its `error`."""
    outcome: dict[str, Any] = {}

    def swap() -> None:
        try:
            outcome["written"] = swap_window(staged, WINDOW_A, pg, run)
        except Exception as error:  # the test asserts on what it was
            outcome["error"] = error

    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    return thread, outcome


@dataclass
class WaitingSwap:
    """Window A written once; a second run staged, its swap in a thread waiting for the lock another session holds."""

    pg: PostgresSettings
    before: dict[str, list[tuple[Any, ...]]]
    thread: threading.Thread
    outcome: dict[str, Any]
    lock_holder: psycopg.Connection[Any]


def swap_waiting_for_the_lock(spark: SparkSession, server: PrivatePostgres, **pg_settings: Any) -> WaitingSwap:
    pg, before = window_written_once(spark, server)
    pg = pg.model_copy(update=pg_settings)
    run = run_of(WINDOW_A)
    staged = stage_window(frames(spark, fact_rows(DAY_A, 2)), pg, copy_writer(pg), run)
    holder = connect(pg, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (REPORTING_LOCK_ID,))
    thread, outcome = swap_in_thread(staged, pg, run)
    deadline = time.monotonic() + 60
    while not swaps_waiting_for_the_lock(holder):
        assert time.monotonic() < deadline, "the swap never waited for the reporting lock"
        time.sleep(0.05)
    return WaitingSwap(pg, before, thread, outcome, holder)


def test_postgres_restarted_while_the_swap_waits_is_waited_for_and_the_emptied_staging_refused(
    spark: SparkSession, private_postgres: PrivatePostgres
) -> None:
    waiting = swap_waiting_for_the_lock(spark, private_postgres)
    # The server crashes under the waiting swap and comes back after a while, its staging tables emptied.
    private_postgres.kill()
    waiting.lock_holder.close()
    time.sleep(3)
    private_postgres.start()
    waiting.thread.join(120)

    assert isinstance(waiting.outcome.get("error"), StagingLostError), waiting.outcome
    assert "holds 0 of the" in str(waiting.outcome["error"])
    assert snapshot(waiting.pg) == waiting.before


def test_a_server_that_does_not_come_back_within_reconnect_wait_s_ends_the_swap_naming_the_setting(
    spark: SparkSession, private_postgres: PrivatePostgres
) -> None:
    waiting = swap_waiting_for_the_lock(spark, private_postgres, reconnect_wait_s=2)
    private_postgres.kill()
    waiting.lock_holder.close()
    waiting.thread.join(60)

    error, pg = waiting.outcome.get("error"), waiting.pg
    assert isinstance(error, SwapServerLostError), waiting.outcome
    assert f"PostgreSQL at {pg.host}:{pg.port} (postgres.host, postgres.port) went away" in str(error)
    assert "did not answer again within 2 s (postgres.reconnect_wait_s)" in str(error)
    private_postgres.start()
    assert snapshot(pg) == waiting.before


def test_a_swap_waits_for_another_runs_lock_only_as_long_as_postgres_lock_timeout_s(
    spark: SparkSession, store: PostgresSettings
) -> None:
    write(spark, store, WINDOW_A, DAY_A, variant=1)
    first = snapshot(store)
    patient = store.model_copy(update={"lock_timeout_s": 1})
    with connect(store, autocommit=True) as other_run:
        other_run.execute("SELECT pg_advisory_lock(%s)", (REPORTING_LOCK_ID,))
        started = time.monotonic()
        with pytest.raises(ReportingLockTimeoutError, match=r"for more than 1 s \(postgres.lock_timeout_s\)"):
            write(spark, patient, WINDOW_A, DAY_A, variant=2)
        waited_s = time.monotonic() - started
    assert snapshot(store) == first
    assert waited_s < 60, waited_s
    # The lock released, the same write goes through.
    write(spark, patient, WINDOW_A, DAY_A, variant=2)
    assert snapshot(store) == expected_content(fact_rows(DAY_A, 2))


def many_hourly_rows(spark: SparkSession, count: int) -> DataFrame:
    """Enough hourly rows of window A to keep the staging COPY busy for seconds."""
    midnight = local_midnight(DAY_A)
    return spark.range(count).select(
        F.concat(F.lit("space-"), F.col("id").cast("string")).alias("space_id"),
        F.lit("building-1").alias("building_id"),
        F.lit("temperature").alias("metric"),
        F.lit("celsius").alias("unit"),
        (F.lit(midnight) + F.expr("make_interval(0, 0, 0, 0, cast(id % 24 as int))")).alias("hour_start"),
        F.lit(DAY_A).alias("local_date"),
        (F.col("id") % 24).cast("int").alias("local_hour"),
        F.lit(60).cast("long").alias("readings"),
        *(F.lit(21.0).alias(name) for name in ("value_min", "value_max", "value_avg", "value_p95")),
    )


def kill_when_spark_copies(server: PrivatePostgres, timeout_s: float = 60.0) -> None:
    """Kills the server as soon as one of Spark's tasks is copying into a staging table."""
    deadline = datetime.now(UTC) + timedelta(seconds=timeout_s)
    with psycopg.connect(
        host=server.settings.host,
        port=server.settings.port,
        user=server.settings.user,
        dbname=server.settings.database,
        autocommit=True,
    ) as watcher:
        while datetime.now(UTC) < deadline:
            row = watcher.execute(
                'SELECT count(*) FROM pg_stat_activity WHERE query LIKE \'COPY "reporting_staging"."fact%\''
            ).fetchone()
            if row and row[0]:
                server.kill()
                return
            threading.Event().wait(0.02)
    raise AssertionError("Spark never copied into a staging table")


def test_a_rebuilt_registry_replaces_the_versions_of_the_ids_it_sends(
    spark: SparkSession, store: PostgresSettings
) -> None:
    rebuilt_at = datetime(2026, 11, 24, 6, tzinfo=UTC)
    first = {**fact_rows(DAY_A, 1), SPACE_DIMENSION: [space_version(space, f"Room {space}", SINCE) for space in SPACES]}
    # The lake's registry was loaded afresh: space-a's only version now starts later; space-b is not sent.
    rebuilt = {**fact_rows(DAY_A, 1), SPACE_DIMENSION: [space_version("space-a", "Room space-a", rebuilt_at)]}
    write_window(frames(spark, first), WINDOW_A, store, copy_writer(store), run_of(WINDOW_A))
    write_window(frames(spark, rebuilt), WINDOW_A, store, copy_writer(store), run_of(WINDOW_A))

    assert query(store, "SELECT space_id, valid_from, is_current FROM reporting.dim_space ORDER BY 1, 2") == [
        ("space-a", rebuilt_at, True),
        ("space-b", SINCE, True),
    ]
