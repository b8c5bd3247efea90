"""Merges a reference drop (spaces and devices: files, PostgreSQL or MySQL tables) into the lake's SCD2 histories.

Refreshes the read API's Cassandra tables of the same names; rejected rows go to the lake's reference rejects
with their reason. What a drop changes: docs/reference-data.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces import lake
from smartspaces.cassandra_tables import SPACES_BY_BUILDING
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import write_cassandra
from smartspaces.connectors.delta import (
    insert_new_rows,
    merge_versions,
    read_delta,
    read_delta_or_empty,
    read_reference_drop,
)
from smartspaces.connectors.mysql import MysqlReadError, read_mysql
from smartspaces.connectors.postgres import read_jdbc
from smartspaces.entrypoint import JobSetupError
from smartspaces.session import spark_session
from transformations.conform import conform_to
from transformations.reference import (
    REASON,
    REFERENCE_TABLES,
    REJECT_KEY_COLUMNS,
    ReferenceTable,
    reference_rejects,
    registry_rows,
    with_drop_verdict,
)
from transformations.scd2 import CHANGE, VALID_FROM, change_counts, current_versions, version_changes, versions_after
from transformations.schemas import SPACE_HISTORY


@dataclass(frozen=True)
class ReferenceDrop:
    """Where a drop comes from: files in a folder (csv or parquet), or the tables of a PostgreSQL (jdbc) or MySQL
    schema."""

    source: Literal["files", "jdbc", "mysql"] = "files"
    folder: str | None = None  # default: the lake's reference landing
    format: Literal["csv", "parquet"] = "csv"
    jdbc_url: str | None = None  # default: the postgres settings'
    jdbc_schema: str | None = None  # default: PostgreSQL's public, the mysql settings' database
    effective_at: datetime | None = None  # default: now


# Cassandra tables that hold a registry's current versions by another key, for the read API.
SERVING_COPIES = {"spaces": (SPACES_BY_BUILDING,)}
HISTORIES = {"spaces": lake.space_registry, "devices": lake.device_registry}
SHOWN_REJECTS = 20


def merge_reference_drop(settings: Settings, drop: ReferenceDrop) -> int:
    """Merges the drop's spaces, then its devices, into their histories; refuses a drop older than a history."""
    as_of = drop.effective_at or datetime.now(UTC)
    with spark_session(settings, "smartspaces-reference") as spark:
        histories = {table.name: read_history(spark, settings, table) for table in REFERENCE_TABLES}
        # Checked for both tables before either is merged, so a refused drop changes neither.
        for name, history in histories.items():
            if not versions_after(history, as_of).isEmpty():
                raise JobSetupError(f"{name}: the history has versions after {as_of.isoformat()}; merge drops in order")
        for table in REFERENCE_TABLES:
            merge_drop(spark, settings, table, read_drop(spark, settings, drop, table), histories[table.name], as_of)
    return 0


def read_history(spark: SparkSession, settings: Settings, table: ReferenceTable) -> DataFrame:
    path = HISTORIES[table.name](settings.lake)
    history = read_delta_or_empty(spark, path, table.history_schema).transform(conform_to(table.history_schema))
    return history.localCheckpoint()


def read_drop(spark: SparkSession, settings: Settings, drop: ReferenceDrop, table: ReferenceTable) -> DataFrame:
    if drop.source == "jdbc":
        rows = read_jdbc(spark, settings.postgres, f"{drop.jdbc_schema or 'public'}.{table.name}", url=drop.jdbc_url)
        return rows.transform(conform_to(table.drop_schema))
    if drop.source == "mysql":
        if settings.mysql is None:
            raise JobSetupError(f"--source mysql: the {settings.environment!r} environment has no 'mysql' section")
        name = f"{drop.jdbc_schema}.{table.name}" if drop.jdbc_schema else table.name
        try:
            rows = read_mysql(spark, settings.mysql, name)
        except MysqlReadError as error:
            raise JobSetupError(str(error)) from None
        return rows.transform(conform_to(table.drop_schema))
    folder = (drop.folder or lake.reference_landing(settings.lake)).rstrip("/")
    return read_reference_drop(spark, f"{folder}/{table.name}.{drop.format}", table.drop_schema, drop.format)


def merge_drop(
    spark: SparkSession, settings: Settings, table: ReferenceTable, drop: DataFrame, history: DataFrame, at: datetime
) -> None:
    """Checks the drop, merges its changes into the table's history, refreshes Cassandra, records rejects.

    What several actions read is computed once and kept with its plan cut (local checkpoints): a drop and a
    history are small, and what costs is planning each action over their whole lineage, and Delta reading the
    table's log again for each (measured in docs/reference-data.md).
    """
    path = HISTORIES[table.name](settings.lake)
    spaces = current_versions(read_delta_or_empty(spark, lake.space_registry(settings.lake), SPACE_HISTORY))
    checked = drop.transform(with_drop_verdict(table, spaces)).localCheckpoint()
    accepted, rejected = checked.where(F.col(REASON).isNull()).drop(REASON), checked.where(F.col(REASON).isNotNull())
    changes = version_changes(history, accepted, table.key, table.attributes, at, table.retired_column, rejected)
    changes = changes.localCheckpoint()
    counts = change_counts(changes, accepted, table.key).collect()[0]  # one row
    merge_versions(changes.drop(CHANGE), path, (table.key, VALID_FROM))
    current = read_delta(spark, path).transform(registry_rows(table)).localCheckpoint()
    write_cassandra(current, settings.cassandra.keyspace, table.name)
    for serving_copy in SERVING_COPIES.get(table.name, ()):
        write_cassandra(current.select(*serving_copy.column_names), settings.cassandra.keyspace, serving_copy.name)
    rejects = rejected.transform(reference_rejects(table, at)).localCheckpoint()
    if rejected_count := rejects.count():
        insert_new_rows(rejects, lake.reference_rejects(settings.lake), REJECT_KEY_COLUMNS)
    print(
        f"{table.name}: {counts.opened} versions opened, {counts.closed} closed, "
        f"{counts.unchanged} unchanged, {rejected_count} rejected"
    )
    for row in rejects.limit(SHOWN_REJECTS).collect():  # at most 20 rows
        print(f"  rejected {row.key!r}: {row.reason} {row.row_json}")
