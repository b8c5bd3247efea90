"""PostgreSQL: Spark's JDBC reader and writer, and psycopg for transactions and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]
from pyspark.sql import DataFrame, SparkSession

from smartspaces.config import PostgresSettings
from smartspaces.connectors.jdbc import java_causes, jdbc_credentials

JDBC_DRIVER = "org.postgresql.Driver"


def jdbc_url(pg: PostgresSettings) -> str:
    # reWriteBatchedInserts turns a JDBC batch into multi-row INSERTs: far fewer round trips. The timeouts make a
    # server that does not answer an error instead of a task that waits forever.
    root_certificate = f"&sslrootcert={pg.sslrootcert}" if pg.sslrootcert else ""
    return (
        f"jdbc:postgresql://{pg.host}:{pg.port}/{pg.database}?sslmode={pg.sslmode}{root_certificate}"
        f"&reWriteBatchedInserts=true&connectTimeout={pg.connect_timeout_s}&loginTimeout={pg.connect_timeout_s}"
        f"&socketTimeout={pg.socket_timeout_s}"
    )


def jdbc_properties(pg: PostgresSettings) -> dict[str, str]:
    return jdbc_credentials(pg.user, pg.password, JDBC_DRIVER)


def write_jdbc(
    rows: DataFrame,
    pg: PostgresSettings,
    table: str,
    batch_size: int = 5000,
    *,
    partitions: int | None = None,
    untyped_strings: bool = False,
) -> None:
    """Appends rows to an existing table (its keys and types come from the migrations, never from Spark).

    partitions: at most this many connections insert at once (Spark coalesces the rows down to it).
    untyped_strings: strings are sent untyped, so PostgreSQL casts them to the column's type (uuid, jsonb).
    """
    properties = {**jdbc_properties(pg), "batchsize": str(batch_size)}
    if partitions is not None:
        properties["numPartitions"] = str(partitions)
    if untyped_strings:
        properties["stringtype"] = "unspecified"
    rows.write.jdbc(jdbc_url(pg), table, mode="append", properties=properties)


def read_jdbc(spark: SparkSession, pg: PostgresSettings, table_or_query: str, url: str | None = None) -> DataFrame:
    """A table, or a query written as '(SELECT ...) AS name', read through JDBC.

    url: another PostgreSQL database than the settings' (user and password stay the settings').
    MySQL is read with smartspaces.connectors.mysql, with credentials of its own."""
    if url is not None and not url.startswith("jdbc:postgresql:"):
        # The URL itself is not repeated: it may carry credentials.
        raise ValueError("unsupported JDBC URL: expected one starting jdbc:postgresql: (MySQL: --source mysql)")
    return spark.read.jdbc(url or jdbc_url(pg), table_or_query, properties=jdbc_properties(pg))


def connect(pg: PostgresSettings, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A psycopg connection with the same host, database, user, password, SSL mode and timeouts as JDBC.

    Data sent and not acknowledged for postgres.socket_timeout_s (a COPY to a server that is gone) ends the
    connection (TCP's user timeout, libpq's tcp_user_timeout) instead of blocking forever."""
    return psycopg.connect(
        host=pg.host,
        port=pg.port,
        dbname=pg.database,
        user=pg.user,
        password=pg.password.get_secret_value() if pg.password else None,
        sslmode=pg.sslmode,
        sslrootcert=str(pg.sslrootcert) if pg.sslrootcert else None,
        connect_timeout=pg.connect_timeout_s,
        tcp_user_timeout=pg.socket_timeout_s * 1000,
        autocommit=autocommit,
    )


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL stopped answering (refused, closed or timed out) while a step was under way."""


@contextmanager
def naming_the_server(pg: PostgresSettings, step: str) -> Iterator[None]:
    """Turns a lost or refused connection into an error naming the server, its settings and the step.

    Only connection faults are translated (psycopg's OperationalError; in the JVM, pgjdbc's SQLSTATE class 08
    behind a Spark task's failure): a constraint or a syntax error says more as it is."""
    try:
        yield
    except psycopg.OperationalError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PostgresUnavailableError(_failed(pg, step, first_line)) from error
    except Py4JJavaError as error:
        fault = jdbc_connection_fault(error)
        if fault is None:
            raise
        raise PostgresUnavailableError(_failed(pg, step, fault)) from error


def _failed(pg: PostgresSettings, step: str, detail: str) -> str:
    return f"PostgreSQL at {pg.host}:{pg.port} (postgres.host, postgres.port) failed during {step}: {detail}"


# pgjdbc's exception and the project's COPY writer's (java.sql's own), and PostgreSQL's SQLSTATE class of connection
# faults (refused, lost, timed out).
_JDBC_ERRORS = ("org.postgresql.util.PSQLException", "java.sql.SQLException")
_CONNECTION_FAULTS = "08"


def jdbc_connection_fault(error: Py4JJavaError) -> str | None:
    """The first line of the connection fault among the Java exception's causes, None if there is none."""
    for cause in java_causes(error.java_exception):
        if cause.getClass().getName() in _JDBC_ERRORS and str(cause.getSQLState() or "").startswith(_CONNECTION_FAULTS):
            return str(cause.getMessage()).strip().splitlines()[0]
    return None
