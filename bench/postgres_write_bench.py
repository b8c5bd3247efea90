"""PostgreSQL write benchmark: the reporting store's COPY writer against one process's binary COPY.

N rows shaped like reporting.fact_space_metric_hourly are generated in Spark and cached. The same rows go
(1) through the store's staging path (the COPY writer: every Spark partition streams its Arrow batches, encoded
binary, into `COPY ... FROM STDIN` over `enrichment.write_connections` connections), (2) through `COPY ... FROM STDIN
(FORMAT BINARY)` from one process (the driver), and (3) through Spark's JDBC writer (multi-row INSERTs, the
store's path before the COPY writer), each into an empty unlogged staging table of its own. Only the writes
are timed: the binary COPY's rows are collected beforehand. Prints rows/s of each and the store's share of
the binary COPY (target >= 0.7); `--sweep` also times the COPY writer over 1 and 4 connections. Each write
is timed after one untimed warm-up (the first, reported apart, is slower) and `--repeat` keeps the best.

    python -m bench.postgres_write_bench --rows 500000 [--sweep] [--repeat 3]

Needs the local stack and the reporting schema (`smartspaces schema apply`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from psycopg import sql
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces import progress
from smartspaces.config import PostgresSettings, load_settings
from smartspaces.connectors.postgres import connect, write_jdbc
from smartspaces.session import spark_session
from smartspaces.stages.enrichment.reporting.staging import (
    StagingTable,
    column_list,
    column_types,
    create_staging_tables,
    drop_staging_tables,
)
from smartspaces.stages.enrichment.reporting.staging_copy import CopyStagingWriter
from transformations.conform import conform_to
from transformations.reporting_schemas import SPACE_METRIC_HOURLY

METRICS = ("temperature", "co2", "humidity")
HOURS = 30 * 24
FIRST_HOUR = datetime(2026, 10, 1, tzinfo=UTC)


def hourly_rows(spark: SparkSession, count: int) -> DataFrame:
    """count rows of fact_space_metric_hourly: three metrics of count/3/720 spaces over 30 days of hours."""
    per_space = len(METRICS) * HOURS
    hour = (F.col("id") / len(METRICS)).cast("long") % HOURS
    hour_start = F.timestamp_seconds(F.lit(int(FIRST_HOUR.timestamp())) + hour * 3600)
    rows = spark.range(count).select(
        F.format_string("space-%06d", (F.col("id") / per_space).cast("long")).alias("space_id"),
        F.format_string("building-%02d", (F.col("id") / per_space).cast("long") % 12).alias("building_id"),
        F.element_at(F.array(*map(F.lit, METRICS)), (F.col("id") % len(METRICS) + 1).cast("int")).alias("metric"),
        F.lit("unit").alias("unit"),
        hour_start.alias("hour_start"),
        F.to_date(hour_start).alias("local_date"),
        F.hour(hour_start).alias("local_hour"),
        (F.rand(1) * 60).cast("long").alias("readings"),
        (F.rand(2) * 10 + 15).alias("value_min"),
        (F.rand(3) * 10 + 25).alias("value_max"),
        (F.rand(4) * 10 + 20).alias("value_avg"),
        (F.rand(5) * 10 + 24).alias("value_p95"),
    )
    return rows.transform(conform_to(SPACE_METRIC_HOURLY.schema))


def copy_rows(rows: DataFrame) -> list[tuple[Any, ...]]:
    """The rows as the COPY sends them; collected on purpose: the COPY path streams from the driver.

    PySpark returns timestamps naive in the local zone; astimezone makes them the aware instants COPY needs.
    """
    return [(*row[:4], row[4].astimezone(UTC), *row[5:]) for row in rows.toLocalIterator()]


@dataclass
class BenchTable:
    """An empty staging table of fact_space_metric_hourly, re-created before each timed write."""

    pg: PostgresSettings
    staging: StagingTable

    def reset(self) -> None:
        with connect(self.pg, autocommit=True) as connection:
            create_staging_tables(connection, [self.staging])

    def count(self) -> int:
        with connect(self.pg) as connection:
            row = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(self.staging.identifier)).fetchone()
            return row[0] if row else 0


def timed(table: BenchTable, expected: int, write: Callable[[], None]) -> float:
    """Seconds the write took into the empty table; fails if it did not write every row."""
    table.reset()
    started = time.perf_counter()
    write()
    seconds = time.perf_counter() - started
    written = table.count()
    if written != expected:
        raise RuntimeError(f"{table.staging.name}: {written} rows written, {expected} expected")
    return seconds


def write_copy(pg: PostgresSettings, staging: StagingTable, rows: list[tuple[Any, ...]]) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        staging.identifier, column_list(SPACE_METRIC_HOURLY)
    )
    with connect(pg) as connection:
        # Asked like the store's writer asks, before the COPY (no other statement runs during one).
        types = list(column_types(connection, staging))
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
        connection.commit()


def fill_store(writer: CopyStagingWriter, rows: DataFrame, staging: StagingTable) -> None:
    writer.fill(rows, staging)


def write_jdbc_staging(rows: DataFrame, pg: PostgresSettings, staging: StagingTable, connections: int) -> None:
    """The store's path before the COPY writer: Spark's JDBC writer, batches of 10 000 rows, multi-row INSERTs."""
    write_jdbc(rows, pg, staging.qualified_name, JDBC_BATCH_ROWS, partitions=connections, untyped_strings=True)


STORE_PATH = "store COPY writer"
COPY_PATH = "binary COPY"
JDBC_PATH = "Spark JDBC writer"
JDBC_BATCH_ROWS = 10_000


def measure(
    spark: SparkSession, pg: PostgresSettings, count: int, connections: int, repeat: int = 1, sweep: bool = False
) -> dict[str, Any]:
    """Rows/s of the store's COPY writer, of one process's binary COPY and of Spark's JDBC writer: best of repeat.

    Every write runs once untimed first (the very first of the store's writer is reported apart), then each
    round times every write once, so a busy moment of the machine does not favour one of them.
    """
    rows = hourly_rows(spark, count).cache()
    rows.count()
    collected = copy_rows(rows)
    tables = {name: BenchTable(pg, StagingTable(SPACE_METRIC_HOURLY, uuid.uuid4())) for name in PATHS}
    store, copy, jdbc = (tables[name] for name in PATHS)
    writes: dict[str, tuple[BenchTable, Callable[[], None]]] = {
        STORE_PATH: (store, partial(fill_store, CopyStagingWriter(pg, connections), rows, store.staging)),
        COPY_PATH: (copy, lambda: write_copy(pg, copy.staging, collected)),
        JDBC_PATH: (jdbc, lambda: write_jdbc_staging(rows, pg, jdbc.staging, connections)),
    }
    for other in (1, 4) if sweep else ():
        if other != connections:
            writer = CopyStagingWriter(pg, other)
            writes[f"{STORE_PATH}, {other} connections"] = (store, partial(fill_store, writer, rows, store.staging))
    try:
        with progress.step("postgres bench: untimed first writes", total=len(writes) + 1, unit="writes") as warming:
            cold_s = timed(store, count, writes[STORE_PATH][1])
            warming.advance()
            for table, write in writes.values():
                timed(table, count, write)
                warming.advance()
        best = dict.fromkeys(writes, float("inf"))
        for round_number in range(1, repeat + 1):
            rounds = f"postgres bench: round {round_number}/{repeat}"
            with progress.step(rounds, total=len(writes), unit="writes") as timing:
                for name, (table, write) in writes.items():
                    best[name] = min(best[name], timed(table, count, write))
                    timing.advance()
    finally:
        with connect(pg, autocommit=True) as connection:
            drop_staging_tables(connection, [table.staging.name for table in tables.values()])
        rows.unpersist()
    return {
        "rows": count,
        "connections": connections,
        "repeat": repeat,
        "store_cold_rows_per_s": round(count / cold_s),
        "rows_per_s": {name: round(count / seconds) for name, seconds in best.items()},
        "store_to_copy": round(best[COPY_PATH] / best[STORE_PATH], 2),
        "jdbc_to_copy": round(best[COPY_PATH] / best[JDBC_PATH], 2),
    }


PATHS = (STORE_PATH, COPY_PATH, JDBC_PATH)


def summary(result: dict[str, Any]) -> str:
    rates = result["rows_per_s"]
    lines = [
        f"PostgreSQL write of {result['rows']} fact_space_metric_hourly rows on {os.cpu_count()} cores, "
        f"best of {result['repeat']} ({result['connections']} connections):",
        f"  {STORE_PATH}: {rates[STORE_PATH]} rows/s (its first write: {result['store_cold_rows_per_s']} rows/s)",
        f"  {COPY_PATH}: {rates[COPY_PATH]} rows/s",
        f"  {JDBC_PATH}: {rates[JDBC_PATH]} rows/s",
        f"  store/COPY: {result['store_to_copy']} (target >= 0.7); JDBC/COPY: {result['jdbc_to_copy']}",
    ]
    lines.extend(f"  {name}: {rate} rows/s" for name, rate in rates.items() if name not in PATHS)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000, help="rows to write each way (default 500000)")
    parser.add_argument("--connections", type=int, help="connections (default: enrichment.write_connections)")
    parser.add_argument("--repeat", type=int, default=1, help="time each write this many times, keep the best")
    parser.add_argument("--sweep", action="store_true", help="also time the COPY writer over 1 and 4 connections")
    parser.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    settings = load_settings("local")
    connections = args.connections or settings.enrichment.write_connections
    with spark_session(settings, "smartspaces-bench-postgres") as spark:
        result = measure(spark, settings.postgres, args.rows, connections, args.repeat, args.sweep)
    result["run"] = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
