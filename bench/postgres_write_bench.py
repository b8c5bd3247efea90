"""PostgreSQL write benchmark: the reporting store's JDBC staging write against psycopg's binary COPY.

N rows shaped like reporting.fact_space_metric_hourly are generated in Spark and cached. The same rows go
(1) through the store's staging path (Spark's JDBC writer, multi-row INSERTs over `jdbc_partitions`
connections) and (2) through `COPY ... FROM STDIN (FORMAT BINARY)` from the driver, each into an empty
unlogged staging table of its own. Only the writes are timed: the COPY rows are collected beforehand.
Prints rows/s of both and their ratio (target JDBC/COPY >= 0.5); `--sweep` also times JDBC variants
(batch size, connections, reWriteBatchedInserts, repartition or not). Each write is timed after one
untimed warm-up (the JVM's first JDBC write, reported apart, is slower) and `--repeat` keeps the best.

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
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from psycopg import sql
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces import progress
from smartspaces.config import PostgresSettings, load_settings
from smartspaces.connectors.postgres import connect, jdbc_properties, jdbc_url
from smartspaces.session import spark_session
from smartspaces.stages.enrichment.reporting.staging import (
    JdbcTuning,
    StagingTable,
    create_staging_tables,
    drop_staging_tables,
    fill_staging_table,
)
from transformations.conform import conform_to
from transformations.reporting_schemas import SPACE_METRIC_HOURLY

METRICS = ("temperature", "co2", "humidity")
HOURS = 30 * 24
FIRST_HOUR = datetime(2026, 10, 1, tzinfo=UTC)
# The binary COPY's types, in the contract's column order.
COPY_TYPES = (
    "text",
    "text",
    "text",
    "text",
    "timestamptz",
    "date",
    "int4",
    "int8",
    "float8",
    "float8",
    "float8",
    "float8",
)


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
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in SPACE_METRIC_HOURLY.schema.fieldNames())
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(staging.identifier, columns)
    with connect(pg) as connection:
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(list(COPY_TYPES))
            for row in rows:
                copy.write_row(row)
        connection.commit()


@dataclass(frozen=True)
class JdbcVariant:
    """Spark's JDBC writer with settings other than the store's (for the sweep only)."""

    batch_size: int
    partitions: int
    rewrite: bool = True
    repartition: bool = False

    def describe(self) -> str:
        return (
            f"JDBC batch {self.batch_size:>6}, {self.partitions} connections, "
            f"reWriteBatchedInserts={str(self.rewrite).lower()}, "
            f"{'repartitioned' if self.repartition else 'partitions as they are'}"
        )

    def write(self, rows: DataFrame, pg: PostgresSettings, staging: StagingTable) -> None:
        url = jdbc_url(pg)
        if not self.rewrite:
            url = url.replace("reWriteBatchedInserts=true", "reWriteBatchedInserts=false")
        properties = {
            **jdbc_properties(pg),
            "batchsize": str(self.batch_size),
            "numPartitions": str(self.partitions),
            "stringtype": "unspecified",
        }
        source = rows.repartition(self.partitions) if self.repartition else rows
        source.write.jdbc(url, staging.qualified_name, mode="append", properties=properties)


def sweep_variants(tuning: JdbcTuning) -> list[JdbcVariant]:
    """One setting changed at a time from the store's; more connections than partitions need a repartition."""
    store = JdbcVariant(tuning.batch_size, tuning.partitions)
    return [
        replace(store, repartition=True),
        replace(store, rewrite=False),
        *(replace(store, batch_size=size) for size in (1_000, 50_000) if size != tuning.batch_size),
        *(replace(store, partitions=n, repartition=n > tuning.partitions) for n in (1, 4) if n != tuning.partitions),
    ]


STORE_PATH = "JDBC staging path"
COPY_PATH = "binary COPY"


def measure(
    spark: SparkSession, pg: PostgresSettings, count: int, tuning: JdbcTuning, repeat: int = 1, sweep: bool = False
) -> dict[str, Any]:
    """Rows/s of the store's JDBC staging write, of binary COPY and of the JDBC variants: best of repeat.

    Every write runs once untimed first (the JVM's very first is reported apart), then each round times
    every write once, so a busy moment of the machine does not favour one of them.
    """
    rows = hourly_rows(spark, count).cache()
    rows.count()
    collected = copy_rows(rows)
    jdbc = BenchTable(pg, StagingTable(SPACE_METRIC_HOURLY, uuid.uuid4()))
    copy = BenchTable(pg, StagingTable(SPACE_METRIC_HOURLY, uuid.uuid4()))
    writes: dict[str, tuple[BenchTable, Callable[[], None]]] = {
        STORE_PATH: (jdbc, lambda: fill_staging_table(rows, jdbc.staging, pg, tuning)),
        COPY_PATH: (copy, lambda: write_copy(pg, copy.staging, collected)),
    }
    for variant in sweep_variants(tuning) if sweep else []:
        writes[variant.describe()] = (jdbc, partial(variant.write, rows, pg, jdbc.staging))
    try:
        with progress.step("postgres bench: untimed first writes", total=len(writes) + 1, unit="writes") as warming:
            cold_s = timed(jdbc, count, writes[STORE_PATH][1])
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
            drop_staging_tables(connection, [jdbc.staging.name, copy.staging.name])
        rows.unpersist()
    return {
        "rows": count,
        "batch_size": tuning.batch_size,
        "partitions": tuning.partitions,
        "repeat": repeat,
        "jdbc_cold_rows_per_s": round(count / cold_s),
        "rows_per_s": {name: round(count / seconds) for name, seconds in best.items()},
        "jdbc_to_copy": round(best[COPY_PATH] / best[STORE_PATH], 2),
    }


def summary(result: dict[str, Any]) -> str:
    rates = result["rows_per_s"]
    lines = [
        f"PostgreSQL write of {result['rows']} fact_space_metric_hourly rows on {os.cpu_count()} cores, "
        f"best of {result['repeat']} (store: batch {result['batch_size']}, {result['partitions']} connections):",
        f"  {STORE_PATH}: {rates[STORE_PATH]} rows/s (the JVM's first write: {result['jdbc_cold_rows_per_s']} rows/s)",
        f"  {COPY_PATH}: {rates[COPY_PATH]} rows/s",
        f"  JDBC/COPY: {result['jdbc_to_copy']} (target >= 0.5)",
    ]
    lines.extend(f"  {name}: {rate} rows/s" for name, rate in rates.items() if name not in (STORE_PATH, COPY_PATH))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000, help="rows to write each way (default 500000)")
    parser.add_argument("--batch-size", type=int, help="JDBC batch size (default: enrichment.jdbc_batch_size)")
    parser.add_argument("--partitions", type=int, help="JDBC connections (default: enrichment.jdbc_partitions)")
    parser.add_argument("--repeat", type=int, default=1, help="time each write this many times, keep the best")
    parser.add_argument("--sweep", action="store_true", help="also time JDBC with one setting changed at a time")
    parser.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    settings = load_settings("local")
    configured = JdbcTuning.from_settings(settings.enrichment)
    tuning = JdbcTuning(args.batch_size or configured.batch_size, args.partitions or configured.partitions)
    with spark_session(settings, "smartspaces-bench-postgres") as spark:
        result = measure(spark, settings.postgres, args.rows, tuning, args.repeat, args.sweep)
    result["run"] = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
