"""Writes one enrichment run into the reporting star schema: a window replaced in one transaction.

Idempotent by design: each fact's rows of the window are deleted and the run's rows inserted in the same
transaction, so the window holds exactly what the last committed run computed, whatever ran before;
dimensions are upserted by their key (id, valid_from); the run's own rows are keyed by run_id. A re-run of
a window therefore leaves identical content, and a failure before the commit leaves everything as it was.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from pyspark.sql import DataFrame
from pyspark.sql.types import DateType

from smartspaces.config import PostgresSettings
from smartspaces.connectors.postgres import connect
from smartspaces.stages.enrichment.quality.outcomes import Verdict
from smartspaces.stages.enrichment.reporting.runs import EnrichmentRun
from smartspaces.stages.enrichment.reporting.staging import (
    StagingTable,
    StagingWriter,
    column_list,
    create_staging_tables,
    drop_staging_tables,
    drop_stale_staging_tables,
    reporting_table,
)
from transformations.report_window import ReportWindow
from transformations.reporting_schemas import DIMENSION_TABLES, FACT_TABLES, ReportingTable

# Any fixed number (the bootstrap uses 7_242_001): two runs swap one after the other, never interleaved.
REPORTING_LOCK_ID = 7_242_002

log = logging.getLogger("smartspaces.stages.enrichment.reporting")


class WindowNotWrittenError(RuntimeError):
    """The swap did not happen and the window keeps what it had; running the enrichment again can succeed."""


class StagingLostError(WindowNotWrittenError):
    """A staging table holds fewer rows than Spark wrote into it (a PostgreSQL restart empties unlogged tables)."""


class ReportingLockTimeoutError(WindowNotWrittenError):
    """Another run held the reporting lock for longer than postgres.lock_timeout_s."""


@dataclass(frozen=True)
class StagedWindow:
    """A run's staging tables, filled, with the rows Spark wrote into each."""

    staging: Mapping[ReportingTable, StagingTable]
    rows_written: Mapping[ReportingTable, int]


def write_window(
    tables: Mapping[ReportingTable, DataFrame],
    window: ReportWindow,
    pg: PostgresSettings,
    writer: StagingWriter,
    run: EnrichmentRun,
) -> dict[str, int]:
    """Replaces the window's facts with the run's, upserts the dimensions, records the run; rows per table.

    tables holds a DataFrame for every fact (an empty one clears the window) and for the dimensions that
    changed. The writer fills per-run staging tables first (stage_window); then one transaction, under an advisory
    lock, checks every staging table still holds what Spark wrote, deletes each fact's rows of the window
    (hour_start/event_time in [start, end); local_date in the whole local days, none for a window of hours),
    inserts the staged rows of the window (rows outside it are left out), upserts the dimensions and inserts
    the run and its expectation results (swap_window). StagingLostError when the check fails.
    """
    staged = stage_window(tables, pg, writer, run)
    try:
        written = swap_window(staged, window, pg, run)
    finally:
        discard_staging(pg, staged)
    log.info("reporting window %s written: %s", window.describe(), written)
    return written


def stage_window(
    tables: Mapping[ReportingTable, DataFrame], pg: PostgresSettings, writer: StagingWriter, run: EnrichmentRun
) -> StagedWindow:
    """Creates the run's staging tables and has the writer fill them; on a failure they are dropped again."""
    missing = [fact.name for fact in FACT_TABLES if fact not in tables]
    if missing:
        raise ValueError(f"a window replace needs every fact; missing: {', '.join(missing)}")
    unknown = [table.name for table in tables if table not in (*FACT_TABLES, *DIMENSION_TABLES)]
    if unknown:
        raise ValueError(f"not tables of the star schema: {', '.join(unknown)}")
    if run.verdict == Verdict.FAILED:
        raise ValueError("a failed run writes no facts: record it with record_failed_run")
    staging = {table: StagingTable(table, run.run_id) for table in (*FACT_TABLES, *DIMENSION_TABLES) if table in tables}
    with connect(pg, autocommit=True) as connection:
        drop_stale_staging_tables(connection)
        create_staging_tables(connection, staging.values())
    staged = StagedWindow(staging, {})
    try:
        rows_written = {table: writer.fill(rows, staging[table]) for table, rows in tables.items()}
    except BaseException:
        discard_staging(pg, staged)
        raise
    return StagedWindow(staging, rows_written)


def swap_window(staged: StagedWindow, window: ReportWindow, pg: PostgresSettings, run: EnrichmentRun) -> dict[str, int]:
    """The window's one transaction (see write_window); rows per table.

    A server lost during it (a restart, a failover) is waited for, at most postgres.reconnect_wait_s; then the
    transaction is done again on a new connection, unless it had committed (the run's row is there). Done again,
    its check of the staging tables finds what the restart left of them (crash recovery empties them)."""
    try:
        return _swap_once(staged, window, pg, run)
    except _ServerLostError as lost:
        log.warning("%s; waiting up to %d s (postgres.reconnect_wait_s) for it", lost, pg.reconnect_wait_s)
        _wait_until_answering(pg, lost)
        committed = _rows_written_by(pg, run)
        if committed is not None:
            return committed
        return _swap_once(staged, window, pg, run)


class _ServerLostError(Exception):
    """The swap's connection broke (or could not be made) before it knew whether its transaction committed."""


class SwapServerLostError(WindowNotWrittenError):
    """The server went away during the swap and did not answer again within postgres.reconnect_wait_s."""


def _swap_once(staged: StagedWindow, window: ReportWindow, pg: PostgresSettings, run: EnrichmentRun) -> dict[str, int]:
    connection: psycopg.Connection[Any] | None = None
    try:
        with connect(pg) as connection, connection.transaction():
            _take_reporting_lock(connection, pg)
            _check_staged(connection, staged)
            written = {fact.name: _replace_fact(connection, staged.staging[fact], window) for fact in FACT_TABLES}
            for dimension in DIMENSION_TABLES:
                if dimension in staged.staging:
                    written[dimension.name] = _upsert_dimension(connection, staged.staging[dimension])
            _record_run(connection, run, written)
        return written
    except psycopg.OperationalError as error:
        if connection is not None and not connection.broken:
            raise  # the server answered with an error: nothing to wait for
        raise _ServerLostError(
            f"PostgreSQL at {pg.host}:{pg.port} (postgres.host, postgres.port) went away during the window's swap "
            f"({str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__})"
        ) from error


def _wait_until_answering(pg: PostgresSettings, lost: _ServerLostError) -> None:
    deadline = time.monotonic() + pg.reconnect_wait_s
    while True:
        try:
            with connect(pg) as connection:
                connection.execute("SELECT 1")
            return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise SwapServerLostError(
                    f"{lost}, and did not answer again within {pg.reconnect_wait_s} s (postgres.reconnect_wait_s): "
                    f"{error}. The window keeps what it had unless the run is recorded in reporting.enrichment_runs; "
                    "run it again"
                ) from error
            time.sleep(1.0)


def _rows_written_by(pg: PostgresSettings, run: EnrichmentRun) -> dict[str, int] | None:
    """The rows the run's swap wrote if it committed (its run row is there), else None."""
    with connect(pg) as connection:
        row = connection.execute(
            "SELECT rows_written FROM reporting.enrichment_runs WHERE run_id = %s", (run.run_id,)
        ).fetchone()
    return {name: int(count) for name, count in row[0].items()} if row else None


def discard_staging(pg: PostgresSettings, staged: StagedWindow) -> None:
    """Drops the run's staging tables; if the server is gone they stay, and a later run drops them."""
    names = [table.name for table in staged.staging.values()]
    try:
        with connect(pg, autocommit=True) as connection:
            drop_staging_tables(connection, names)
    except psycopg.Error as error:
        log.warning("staging tables %s not dropped (%s); a run a day from now drops them", ", ".join(names), error)


def swaps_waiting_for_the_lock(connection: psycopg.Connection[Any]) -> int:
    """How many sessions wait for the reporting lock: runs whose staging is filled, queued behind another swap."""
    row = connection.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted", (REPORTING_LOCK_ID,)
    ).fetchone()
    return int(row[0]) if row else 0


def _take_reporting_lock(connection: psycopg.Connection[Any], pg: PostgresSettings) -> None:
    """Waits for another run's swap at most postgres.lock_timeout_s (lock_timeout covers advisory locks)."""
    connection.execute("SELECT set_config('lock_timeout', %s, true)", (f"{pg.lock_timeout_s}s",))
    try:
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (REPORTING_LOCK_ID,))
    except psycopg.errors.LockNotAvailable as error:
        raise ReportingLockTimeoutError(
            f"another enrichment run held the reporting lock on {pg.host}:{pg.port}/{pg.database} for more than "
            f"{pg.lock_timeout_s} s (postgres.lock_timeout_s). The window keeps what it had; run it again"
        ) from error
    # The swap's own statements may wait for row locks of readers as long as they need.
    connection.execute("SELECT set_config('lock_timeout', '0', true)")


def _check_staged(connection: psycopg.Connection[Any], staged: StagedWindow) -> None:
    """Every staging table holds the rows Spark wrote into it: a restart between the fill and the swap empties
    unlogged tables (crash recovery truncates them), and swapping those would replace the window with nothing."""
    lost = []
    for table, staging in staged.staging.items():
        row = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(staging.identifier)).fetchone()
        held = row[0] if row else 0
        if held != staged.rows_written[table]:
            lost.append(f"{staging.qualified_name} holds {held} of the {staged.rows_written[table]} rows Spark wrote")
    if lost:
        raise StagingLostError(
            "PostgreSQL lost staged rows before the swap (a restart empties unlogged staging tables): "
            + "; ".join(lost)
            + ". The window keeps what it had; run the enrichment again"
        )


def record_failed_run(pg: PostgresSettings, run: EnrichmentRun) -> None:
    """Records a run the quality gate stopped: its enrichment_runs and dq_results rows; facts untouched."""
    if run.verdict != Verdict.FAILED:
        raise ValueError(f"record_failed_run records failed runs, not {run.verdict} ones")
    with connect(pg) as connection, connection.transaction():
        _record_run(connection, run, {})


def fact_row_counts(pg: PostgresSettings, window: ReportWindow) -> dict[str, int]:
    """Rows each fact holds for the window (what a replace of it would delete): for the row-count check."""
    counts = {}
    with connect(pg) as connection:
        for fact in FACT_TABLES:
            predicate, parameters = _window_predicate(fact, window)
            query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(reporting_table(fact), predicate)
            row = connection.execute(query, parameters).fetchone()
            counts[fact.name] = row[0] if row else 0
    return counts


def table_row_counts(pg: PostgresSettings) -> dict[str, int]:
    """Rows of every fact and dimension table, for the job's summary."""
    counts = {}
    with connect(pg) as connection:
        for table in (*FACT_TABLES, *DIMENSION_TABLES):
            row = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(reporting_table(table))).fetchone()
            counts[table.name] = row[0] if row else 0
    return counts


def _window_predicate(fact: ReportingTable, window: ReportWindow) -> tuple[sql.Composed, tuple[Any, ...]]:
    """The fact's rows of the window: a date column takes the whole local days, a timestamp [start, end)."""
    assert fact.window_column is not None, f"{fact.name} is not replaced by window"
    column = sql.Identifier(fact.window_column)
    if isinstance(fact.schema[fact.window_column].dataType, DateType):
        return sql.SQL("{} = ANY(%s::date[])").format(column), (list(window.whole_local_days),)
    return sql.SQL("{} >= %s AND {} < %s").format(column, column), (window.start, window.end)


def _replace_fact(connection: psycopg.Connection[Any], staging: StagingTable, window: ReportWindow) -> int:
    fact = staging.table
    predicate, parameters = _window_predicate(fact, window)
    connection.execute(sql.SQL("DELETE FROM {} WHERE {}").format(reporting_table(fact), predicate), parameters)
    inserted = connection.execute(
        sql.SQL("INSERT INTO {target} ({columns}) SELECT {columns} FROM {staging} WHERE {predicate}").format(
            target=reporting_table(fact), columns=column_list(fact), staging=staging.identifier, predicate=predicate
        ),
        parameters,
    ).rowcount
    row = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(staging.identifier)).fetchone()
    outside = (row[0] if row else 0) - inserted
    if outside:
        log.warning("%s: %d rows lie outside the window %s and were not written", fact.name, outside, window.describe())
    return inserted


def _upsert_dimension(connection: psycopg.Connection[Any], staging: StagingTable) -> int:
    """Inserts new versions, updates changed ones, removes the sent ids' versions the run lacks; returns the count.

    Closed versions go first: a space's old version stops being current before its new one is inserted, so
    the one-current-version index holds after each statement.
    """
    dimension = staging.table
    columns = dimension.schema.fieldNames()
    values = [name for name in columns if name not in dimension.key]
    upsert = sql.SQL(
        "INSERT INTO {target} AS existing ({columns}) SELECT {columns} FROM {staging} WHERE {which} "
        "ON CONFLICT ({key}) DO UPDATE SET {assignments} WHERE ({current}) IS DISTINCT FROM ({incoming})"
    )
    # An id the run sends is mirrored whole: its versions the run does not hold (a registry rebuilt with
    # other valid_from times) go, so they cannot stay current beside the new ones. Other ids are untouched.
    identity, since = (sql.Identifier(name) for name in dimension.key)
    stale = sql.SQL(
        "DELETE FROM {target} AS existing WHERE EXISTS (SELECT 1 FROM {staging} AS incoming "
        "WHERE incoming.{identity} = existing.{identity}) AND NOT EXISTS (SELECT 1 FROM {staging} AS incoming "
        "WHERE incoming.{identity} = existing.{identity} AND incoming.{since} = existing.{since})"
    ).format(target=reporting_table(dimension), staging=staging.identifier, identity=identity, since=since)
    changed = connection.execute(stale).rowcount
    for which in ("is_current IS NOT TRUE", "is_current"):
        query = upsert.format(
            target=reporting_table(dimension),
            columns=column_list(dimension),
            staging=staging.identifier,
            which=sql.SQL(which),
            key=sql.SQL(", ").join(sql.Identifier(name) for name in dimension.key),
            assignments=sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name)) for name in values
            ),
            current=sql.SQL(", ").join(sql.Identifier("existing", name) for name in values),
            incoming=sql.SQL(", ").join(sql.Identifier("excluded", name) for name in values),
        )
        changed += connection.execute(query).rowcount
    return changed


def _record_run(connection: psycopg.Connection[Any], run: EnrichmentRun, written: Mapping[str, int]) -> None:
    """The run's row and its expectation results; recording the same run again replaces them."""
    window = run.window
    connection.execute(
        "INSERT INTO reporting.enrichment_runs (run_id, window_start, window_end, time_zone, started_at, "
        "finished_at, verdict, rows_written, data_docs, failure) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (run_id) DO UPDATE SET window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end, "
        "time_zone = EXCLUDED.time_zone, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, "
        "verdict = EXCLUDED.verdict, rows_written = EXCLUDED.rows_written, data_docs = EXCLUDED.data_docs, "
        "failure = EXCLUDED.failure",
        (
            run.run_id,
            window.start,
            window.end,
            window.time_zone,
            run.started_at,
            datetime.now(UTC),
            str(run.verdict),
            Jsonb(dict(written)),
            str(run.data_docs) if run.data_docs else None,
            run.failure,
        ),
    )
    connection.execute("DELETE FROM reporting.dq_results WHERE run_id = %s", (run.run_id,))
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO reporting.dq_results (run_id, expectation, table_name, column_name, severity, success, "
            "observed, details, window_start, window_end, checked_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    run.run_id,
                    str(result.expectation),
                    result.table_name,
                    result.column_name or "",
                    str(result.severity),
                    result.success,
                    result.observed,
                    Jsonb(_json_ready(result.details)),
                    window.start,
                    window.end,
                    run.checked_at,
                )
                for result in run.expectations
            ],
        )


def _json_ready(value: Any) -> Any:
    """The value with JSON types only: jsonb takes no NaN or Infinity (null instead), times become ISO text."""
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_ready(item) for item in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
