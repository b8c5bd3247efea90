"""MySQL (or MariaDB): tables read through Spark's JDBC reader with MySQL's Connector/J."""

from __future__ import annotations

from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]
from pyspark.sql import DataFrame, SparkSession

from smartspaces.config import MysqlSettings
from smartspaces.connectors.jdbc import java_causes, jdbc_credentials
from smartspaces.connectors.jvm import session_jvm

JDBC_DRIVER = "com.mysql.cj.jdbc.Driver"


class MysqlReadError(RuntimeError):
    """MySQL refused or did not answer the read of a table: the message names the server, its settings, the table."""


def jdbc_url(mysql: MysqlSettings) -> str:
    # connectionTimeZone=UTC: TIMESTAMP columns are read as the instants they hold, whatever the JVM's zone.
    # The timeouts (Connector/J's are in milliseconds) make a server that does not answer an error, never a hang.
    return (
        f"jdbc:mysql://{mysql.host}:{mysql.port}/{mysql.database}?sslMode={mysql.ssl_mode}"
        f"&connectionTimeZone=UTC&connectTimeout={mysql.connect_timeout_s * 1000}"
        f"&socketTimeout={mysql.socket_timeout_s * 1000}"
    )


def jdbc_properties(mysql: MysqlSettings) -> dict[str, str]:
    return jdbc_credentials(mysql.user, mysql.password, JDBC_DRIVER)


def read_mysql(spark: SparkSession, mysql: MysqlSettings, table: str) -> DataFrame:
    """A table of the settings' database (or 'database.table').

    DATETIME columns, which carry no zone, are read as wall-clock times (TIMESTAMP_NTZ); a cast to a timestamp
    then takes them as UTC, the session's zone, instead of the zone of the machine the JVM runs on."""
    properties = {**jdbc_properties(mysql), "preferTimestampNTZ": "true"}
    try:
        # Spark connects here, to read the table's columns: a wrong host, password or table fails now.
        return spark.read.jdbc(jdbc_url(mysql), table, properties=properties)
    except Py4JJavaError as error:
        reason = sql_error(spark, error)
        if reason is None:
            raise
        raise MysqlReadError(
            f"MySQL at {mysql.host}:{mysql.port}, database {mysql.database!r} as {mysql.user!r} (mysql.host, "
            f"mysql.port, mysql.database, mysql.user, SMARTSPACES__MYSQL__PASSWORD) refused reading {table}: {reason}"
        ) from None


def sql_error(spark: SparkSession, error: Py4JJavaError) -> str | None:
    """The first line of the JDBC driver's SQLException behind a Java error, if there is one."""
    sql_exception = session_jvm(spark).java.lang.Class.forName("java.sql.SQLException")
    for throwable in java_causes(error.java_exception):
        if sql_exception.isInstance(throwable):
            message = str(throwable.getMessage() or throwable.getClass().getName()).strip()
            return message.splitlines()[0] if message else throwable.getClass().getName()
    return None
