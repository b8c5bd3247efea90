"""The reporting store's COPY writer on real PostgreSQL: the same star schema as Spark's JDBC writer, once."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from psycopg import sql
from pyspark.sql import DataFrame, SparkSession

from smartspaces.config import PostgresSettings
from smartspaces.connectors.postgres import connect, write_jdbc
from smartspaces.stages.enrichment.reporting.postgres_store import write_window
from smartspaces.stages.enrichment.reporting.staging import StagingTable, create_staging_tables, drop_staging_tables
from smartspaces.stages.enrichment.reporting.staging_copy import CopyStagingWriter
from tests.integration import reporting_fixtures as reporting
from transformations.report_window import ReportWindow
from transformations.reporting_schemas import CRITICAL_EVENT, SPACE_DIMENSION, SPACE_METRIC_HOURLY

DAY = date(2026, 11, 23)
WINDOW = ReportWindow.of_days(DAY, DAY, "Europe/Amsterdam")
# Text that CSV must quote or escape, and text that looks like CSV's own markers.
AWKWARD_TEXT = ('say "hi", then leave', "two\nlines", "back\\slash", "ünïcödé ✓", "", "NULL", "\\N", " padded ")


@dataclass(frozen=True)
class JdbcStagingWriter:
    """The store's path before the COPY writer: Spark's JDBC writer, multi-row INSERTs over two connections."""

    pg: PostgresSettings

    def fill(self, rows: DataFrame, staging: StagingTable) -> int:
        write_jdbc(rows, self.pg, staging.qualified_name, 1000, partitions=2, untyped_strings=True)
        return rows.count()


def awkward_rows() -> dict[Any, list[tuple[Any, ...]]]:
    """The facts of fact_rows plus rows of every edge a text format can get wrong."""
    rows = dict(reporting.fact_rows(DAY, 1))
    midnight = reporting.local_midnight(DAY)
    values = (math.nan, math.inf, -math.inf, None, 1e-300, 0.1 + 0.2, -0.0, 1.7976931348623157e308)
    rows[SPACE_METRIC_HOURLY] = rows[SPACE_METRIC_HOURLY] + [
        (
            f"space-{index}-{text}",
            None if index % 2 else reporting.BUILDING,
            "co2",
            text,
            midnight + timedelta(hours=index % 24, microseconds=123_457 * index),
            DAY,
            index % 24,
            2**40 + index,
            value,
            -value if value is not None else None,
            value,
            12.345678901234567,
        )
        for index, (text, value) in enumerate(zip(AWKWARD_TEXT, values, strict=True))
    ]
    critical = rows[CRITICAL_EVENT][0]
    rows[CRITICAL_EVENT] = rows[CRITICAL_EVENT] + [
        (str(uuid.uuid5(uuid.NAMESPACE_URL, text)), *critical[1:11], text, *critical[12:14], None, critical[15])
        for text in AWKWARD_TEXT
    ]
    rows[SPACE_DIMENSION] = [
        reporting.space_version(f"space-{index}", text, midnight) for index, text in enumerate(AWKWARD_TEXT)
    ]
    return rows


def comparable(content: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """NaN equals NaN here (it never equals itself in Python), and -0.0 is told from 0.0."""
    return {
        table: [tuple(repr(value) if isinstance(value, float) else value for value in row) for row in rows]
        for table, rows in content.items()
    }


def test_the_copy_writer_writes_the_star_schema_that_the_jdbc_writer_wrote(
    spark: SparkSession, store: PostgresSettings
) -> None:
    rows = awkward_rows()
    write_window(reporting.frames(spark, rows), WINDOW, store, JdbcStagingWriter(store), reporting.run_of(WINDOW))
    by_jdbc = reporting.snapshot(store)
    reporting.empty_reporting_tables(store)

    written = write_window(
        reporting.frames(spark, rows), WINDOW, store, CopyStagingWriter(store, connections=2), reporting.run_of(WINDOW)
    )

    by_copy = reporting.snapshot(store)
    assert comparable(by_copy) == comparable(by_jdbc)
    assert written["fact_space_metric_hourly"] == len(rows[SPACE_METRIC_HOURLY]) == 12
    # What both wrote is what Spark held: empty text is not NULL, "NULL" and "\N" are text, NaN stays NaN.
    units = {row[0]: row[3] for row in by_copy["fact_space_metric_hourly"]}
    assert [units[f"space-{index}-{text}"] for index, text in enumerate(AWKWARD_TEXT)] == list(AWKWARD_TEXT)
    minimums = [row[8] for row in by_copy["fact_space_metric_hourly"] if row[2] == "co2"]
    assert sum(1 for value in minimums if value is not None and math.isnan(value)) == 1
    assert sorted(row[7] for row in by_copy["dim_space"]) == sorted(AWKWARD_TEXT)


def test_a_partition_copied_again_is_not_written_twice(spark: SparkSession, store: PostgresSettings) -> None:
    """A task Spark runs again after its COPY committed finds its claim: the table keeps one copy of its rows."""
    rows = reporting.frames(spark, reporting.fact_rows(DAY, 1))[SPACE_METRIC_HOURLY].repartition(2)
    staging = StagingTable(SPACE_METRIC_HOURLY, uuid.uuid4())
    writer = CopyStagingWriter(store, connections=2)
    with connect(store, autocommit=True) as connection:
        create_staging_tables(connection, [staging])
    try:
        first = writer.fill(rows, staging)
        again = writer.fill(rows, staging)

        with connect(store) as connection:
            held = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(staging.identifier)).fetchone()
            claims = connection.execute(
                "SELECT partition_id, rows_copied FROM reporting_staging.staged_partitions WHERE table_name = %s "
                "ORDER BY partition_id",
                (staging.name,),
            ).fetchall()
    finally:
        with connect(store, autocommit=True) as connection:
            drop_staging_tables(connection, [staging.name])
    assert (first, again, held) == (4, 4, (4,))
    assert [partition for partition, _ in claims] == [0, 1]
    assert sum(copied for _, copied in claims) == 4
    with connect(store) as connection:
        left = connection.execute(
            "SELECT count(*) FROM reporting_staging.staged_partitions WHERE table_name = %s", (staging.name,)
        ).fetchone()
    assert left == (0,)
