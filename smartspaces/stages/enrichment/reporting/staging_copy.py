"""Fills a staging table with PostgreSQL's binary COPY: every Spark partition streams its rows from the executor.

The encoding and the COPY run in the JVM (smartspaces/jvm: smartspaces.postgres.BinaryCopyWriter, compiled by
smartspaces.project_jar): each task encodes Spark's own rows into COPY's binary format and streams them over a
JDBC connection of its own; no row passes through the driver or through Python. Profiled on 300 000 rows, the
same work in Python workers spent longer handing the rows over as Arrow batches and encoding them than
PostgreSQL spent taking them (docs/enrichment.md). The binary form carries exactly the values Spark held (NaN,
infinities and microseconds included), and the server parses no text: measured here, PostgreSQL took CSV at
about a third of its rate for binary rows.

Idempotent per partition: the COPY and a claim of (staging table, partition) commit in one transaction, so
a task that Spark runs again after its COPY committed finds the claim and copies nothing; a task that fails
before its commit leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from pyspark.errors import IllegalArgumentException
from pyspark.sql import DataFrame

from smartspaces.config import PostgresSettings
from smartspaces.connectors.jvm import java_strings, session_jvm
from smartspaces.connectors.postgres import connect, jdbc_url, naming_the_server
from smartspaces.stages.enrichment.reporting.staging import CLAIMS, StagingTable, column_list, column_types
from transformations.conform import conform_to

# JDBC's parameters are `?`; psycopg's composition leaves them as they are.
_CLAIM = "INSERT INTO {} (table_name, partition_id, rows_copied) VALUES (?, ?, 0) ON CONFLICT DO NOTHING"
_HELD = "SELECT rows_copied FROM {} WHERE table_name = ? AND partition_id = ?"
_RECORD = "UPDATE {} SET rows_copied = ? WHERE table_name = ? AND partition_id = ?"
# How the JVM's writer refuses a column it has no encoding for (an IllegalArgumentException's message).
_REFUSED_COLUMN = "is not copied as PostgreSQL type"
_NO_ENCODING = "no binary COPY encoding for PostgreSQL type"


class UnsupportedColumnError(TypeError):
    """A column whose Spark and PostgreSQL types the COPY writer has no binary encoding for."""


@dataclass(frozen=True)
class CopyStatements:
    """What the JVM's writer runs, composed here where the tables' names are: JDBC's SQL, `?` parameters."""

    copy: str
    claim: str
    held: str
    record: str

    @staticmethod
    def of(connection: psycopg.Connection[Any], staging: StagingTable) -> CopyStatements:
        copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(staging.identifier, column_list(staging.table))
        claim, held, record = (sql.SQL(statement).format(CLAIMS) for statement in (_CLAIM, _HELD, _RECORD))
        return CopyStatements(*(part.as_string(connection) for part in (copy, claim, held, record)))


def binary_copy_writer(
    rows: DataFrame, pg: PostgresSettings, staging_name: str, statements: CopyStatements, pg_types: tuple[str, ...]
) -> Any:
    """The JVM's writer of these rows' columns as the PostgreSQL types (pg_type.typname) of the target's columns.

    Raises UnsupportedColumnError for a column it has no encoding for."""
    spark = rows.sparkSession
    try:
        return session_jvm(spark).smartspaces.postgres.BinaryCopyWriter(
            jdbc_url(pg),
            pg.user,
            pg.password.get_secret_value() if pg.password else None,
            statements.copy,
            statements.claim,
            statements.held,
            statements.record,
            staging_name,
            rows._jdf.schema().fields(),
            java_strings(spark, pg_types),
            pg.socket_timeout_s,
        )
    except IllegalArgumentException as error:  # PySpark's, raised for Java's
        message = str(error).strip().splitlines()[0]
        if _REFUSED_COLUMN in message or _NO_ENCODING in message:
            raise UnsupportedColumnError(message) from None
        raise


@dataclass(frozen=True)
class CopyStagingWriter:
    """Fills staging tables by COPY from the executors, over at most `connections` connections at once."""

    pg: PostgresSettings
    connections: int

    def fill(self, rows: DataFrame, staging: StagingTable) -> int:
        """Copies the rows into the staging table; returns the rows it holds (what Spark wrote).

        The rows keep their partitions, coalesced down to the connections: a repartition would add a
        shuffle that costs more than the parallelism it buys on few cores."""
        conformed = rows.transform(conform_to(staging.table.schema)).coalesce(self.connections)
        with naming_the_server(self.pg, f"the COPY into {staging.name}"):
            with connect(self.pg) as connection:
                pg_types = column_types(connection, staging)
                statements = CopyStatements.of(connection, staging)
            writer = binary_copy_writer(conformed, self.pg, staging.name, statements, pg_types)
            return int(writer.copy(conformed._jdf))
