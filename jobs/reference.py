"""Merges a reference drop (spaces and devices, from files or JDBC tables) into the lake's SCD type 2 histories.

Refreshes the read API's Cassandra tables of the same names; rejected rows go to the lake's reference rejects
with their reason. What a drop changes: docs/reference-data.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces import lake
from smartspaces.config import Settings, load_settings
from smartspaces.connectors.cassandra import write_cassandra
from smartspaces.connectors.delta import (
    insert_new_rows,
    merge_versions,
    read_delta,
    read_delta_or_empty,
    read_reference_drop,
)
from smartspaces.connectors.postgres import read_jdbc
from smartspaces.session import spark_session
from transformations.reference import (
    REASON,
    REFERENCE_TABLES,
    REJECT_KEY_COLUMNS,
    ReferenceTable,
    conform_to,
    reference_rejects,
    registry_rows,
    with_drop_verdict,
)
from transformations.scd2 import CHANGE, VALID_FROM, change_counts, current_versions, version_changes, versions_after
from transformations.schemas import SPACE_HISTORY

HISTORIES = {"spaces": lake.space_registry, "devices": lake.device_registry}
SHOWN_REJECTS = 20


def utc_instant(value: str) -> datetime:
    """An ISO 8601 time; without an offset it is taken as UTC."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smartspaces run reference", description=__doc__)
    parser.add_argument("--env", help="configuration environment (default: $SMARTSPACES_ENV or local)")
    parser.add_argument("--source", choices=["files", "jdbc"], default="files")
    parser.add_argument("--drop", help="folder of the drop's files (default: <lake>/landing/reference)")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--jdbc-url", help="database of the reference tables (default: the postgres settings')")
    parser.add_argument("--jdbc-schema", default="public", help="schema holding the tables spaces and devices")
    parser.add_argument("--effective-at", type=utc_instant, help="when the drop takes effect (default: now, UTC)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings(args.env)
    as_of = args.effective_at or datetime.now(UTC)
    with spark_session(settings, "smartspaces-reference") as spark:
        histories = {table.name: read_history(spark, settings, table) for table in REFERENCE_TABLES}
        # Checked for both tables before either is merged, so a refused drop changes neither.
        for name, history in histories.items():
            if not versions_after(history, as_of).isEmpty():
                raise SystemExit(f"{name}: the history has versions after {as_of.isoformat()}; merge drops in order")
        for table in REFERENCE_TABLES:
            merge_drop(spark, settings, table, read_drop(spark, settings, args, table), histories[table.name], as_of)
    return 0


def read_history(spark: SparkSession, settings: Settings, table: ReferenceTable) -> DataFrame:
    path = HISTORIES[table.name](settings.lake)
    return read_delta_or_empty(spark, path, table.history_schema).transform(conform_to(table.history_schema))


def read_drop(spark: SparkSession, settings: Settings, args: argparse.Namespace, table: ReferenceTable) -> DataFrame:
    if args.source == "jdbc":
        rows = read_jdbc(spark, settings.postgres, f"{args.jdbc_schema}.{table.name}", url=args.jdbc_url)
        return rows.transform(conform_to(table.drop_schema))
    drop = (args.drop or lake.reference_landing(settings.lake)).rstrip("/")
    return read_reference_drop(spark, f"{drop}/{table.name}.{args.format}", table.drop_schema, args.format)


def merge_drop(
    spark: SparkSession, settings: Settings, table: ReferenceTable, drop: DataFrame, history: DataFrame, at: datetime
) -> None:
    """Checks the drop, merges its changes into the table's history, refreshes Cassandra, records rejects."""
    path = HISTORIES[table.name](settings.lake)
    spaces = current_versions(read_delta_or_empty(spark, lake.space_registry(settings.lake), SPACE_HISTORY))
    checked = drop.transform(with_drop_verdict(table, spaces)).persist()
    accepted, rejected = checked.where(F.col(REASON).isNull()).drop(REASON), checked.where(F.col(REASON).isNotNull())
    changes = version_changes(history, accepted, table.key, table.attributes, at, table.retired_column, rejected)
    changes = changes.persist()
    counts = change_counts(changes, accepted, table.key).collect()[0]  # one row
    merge_versions(changes.drop(CHANGE), path, (table.key, VALID_FROM))
    current = read_delta(spark, path).transform(registry_rows(table))
    write_cassandra(current, settings.cassandra.keyspace, table.name)
    rejects = rejected.transform(reference_rejects(table, at)).persist()
    if rejected_count := rejects.count():
        insert_new_rows(rejects, lake.reference_rejects(settings.lake), REJECT_KEY_COLUMNS)
    print(f"{table.name}: {counts.opened} versions opened, {counts.closed} closed, "
          f"{counts.unchanged} unchanged, {rejected_count} rejected")  # fmt: skip
    for row in rejects.limit(SHOWN_REJECTS).collect():  # at most 20 rows
        print(f"  rejected {row.key!r}: {row.reason} {row.row_json}")
    for cached in (checked, changes, rejects):
        cached.unpersist()


if __name__ == "__main__":
    sys.exit(main())
