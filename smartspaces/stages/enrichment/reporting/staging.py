"""Per-run staging tables: unlogged copies of the reporting tables that Spark fills before the swap.

A staging table is named <reporting table>_<run id hex> in schema reporting_staging, and registered in
reporting_staging.staging_tables when it is created, so tables a crashed run left behind can be dropped.
The COPY writer (staging_copy) claims each partition it copies in reporting_staging.staged_partitions.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import psycopg
from psycopg import sql
from pyspark.sql import DataFrame

from transformations.reporting_schemas import ReportingTable

REPORTING_SCHEMA = "reporting"
STAGING_SCHEMA = "reporting_staging"
_REGISTRY = sql.Identifier(STAGING_SCHEMA, "staging_tables")
CLAIMS = sql.Identifier(STAGING_SCHEMA, "staged_partitions")
# A run takes minutes; a staging table a day old belongs to a run that crashed.
STALE_AFTER = timedelta(days=1)

log = logging.getLogger("smartspaces.stages.enrichment.reporting")


def reporting_table(table: ReportingTable) -> sql.Identifier:
    return sql.Identifier(REPORTING_SCHEMA, table.name)


def column_list(table: ReportingTable) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(name) for name in table.schema.fieldNames())


@dataclass(frozen=True)
class StagingTable:
    """The staging table of one reporting table in one run."""

    table: ReportingTable
    run_id: uuid.UUID

    @property
    def name(self) -> str:
        return f"{self.table.name}_{self.run_id.hex}"

    @property
    def qualified_name(self) -> str:
        """schema.table, as Spark's JDBC writer takes it (both parts are lower-case identifiers)."""
        return f"{STAGING_SCHEMA}.{self.name}"

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(STAGING_SCHEMA, self.name)


class StagingWriter(Protocol):
    """Fills one staging table with a DataFrame's rows."""

    def fill(self, rows: DataFrame, staging: StagingTable) -> int:
        """Writes the rows into the (empty) staging table; returns how many rows it wrote."""
        ...


def create_staging_tables(connection: psycopg.Connection[Any], staging: Iterable[StagingTable]) -> None:
    """Creates (or re-creates empty) each staging table with its reporting table's columns, and registers it.

    LIKE copies column names, types and NOT NULL; keys are left out, so duplicates fail at the swap instead.
    The claims of a dropped table's partitions go with its registry row (ON DELETE CASCADE).
    """
    with connection.transaction():
        for table in staging:
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table.identifier))
            connection.execute(
                sql.SQL("CREATE UNLOGGED TABLE {} (LIKE {})").format(table.identifier, reporting_table(table.table))
            )
            connection.execute(
                sql.SQL(
                    "INSERT INTO {} (table_name, run_id) VALUES (%s, %s) "
                    "ON CONFLICT (table_name) DO UPDATE SET run_id = EXCLUDED.run_id, created_at = now()"
                ).format(_REGISTRY),
                (table.name, table.run_id),
            )
            # A re-created table is empty: none of its partitions are copied yet.
            connection.execute(sql.SQL("DELETE FROM {} WHERE table_name = %s").format(CLAIMS), (table.name,))


def column_types(connection: psycopg.Connection[Any], staging: StagingTable) -> tuple[str, ...]:
    """The staging table's column types (pg_type.typname: text, uuid, int8, timestamptz, ...), in schema order."""
    rows = connection.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (staging.qualified_name,),
    ).fetchall()
    types = dict(rows)
    return tuple(types[name] for name in staging.table.schema.fieldNames())


def drop_staging_tables(connection: psycopg.Connection[Any], names: Iterable[str]) -> None:
    with connection.transaction():
        for name in names:
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGING_SCHEMA, name)))
            connection.execute(sql.SQL("DELETE FROM {} WHERE table_name = %s").format(_REGISTRY), (name,))


def drop_stale_staging_tables(connection: psycopg.Connection[Any], older_than: timedelta = STALE_AFTER) -> list[str]:
    """Drops the staging tables registered longer ago than older_than (left by runs that crashed)."""
    rows = connection.execute(
        sql.SQL("SELECT table_name FROM {} WHERE created_at < now() - %s ORDER BY table_name").format(_REGISTRY),
        (older_than,),
    ).fetchall()
    stale = [name for (name,) in rows]
    if stale:
        drop_staging_tables(connection, stale)
        log.warning("dropped %d staging tables left by crashed runs: %s", len(stale), ", ".join(stale))
    return stale
