"""Cassandra through the Spark Cassandra Connector, and the Python driver for schema work."""

from __future__ import annotations

import ssl
from collections.abc import Mapping

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import DCAwareRoundRobinPolicy
from pyspark.sql import Column, DataFrame, SparkSession

from smartspaces.config import CassandraSettings

CASSANDRA_FORMAT = "org.apache.spark.sql.cassandra"


def write_cassandra(
    rows: DataFrame,
    keyspace: str,
    table: str,
    writetime_column: str | None = None,
    *,
    connector: Mapping[str, str] | None = None,
    nulls_unset: bool = False,
) -> None:
    """Appends rows to a table. Idempotent: a Cassandra write is an upsert by primary key.

    writetime_column names a column of microseconds used as each row's write time (not stored): of two
    writes to one key, the one with the later write time wins, whichever arrives last.
    connector: spark.cassandra.* settings (without the prefix) of this write alone, over the session's.
    nulls_unset: an empty column is left unset instead of written as a tombstone (a null that every later read
    of the partition must skip). Only for rows written once with one content, an event or a change: it would
    leave a column's old value in place of a null on an update.
    """
    writer = rows.write.format(CASSANDRA_FORMAT).options(keyspace=keyspace, table=table).mode("append")
    if nulls_unset:
        writer = writer.option("spark.cassandra.output.ignoreNulls", "true")
    for name, value in (connector or {}).items():
        writer = writer.option(f"spark.cassandra.{name}", value)
    if writetime_column:
        writer = writer.option("writetime", writetime_column)
    writer.save()


def read_cassandra(spark: SparkSession, keyspace: str, table: str) -> DataFrame:
    """A table as a DataFrame; filters on partition and clustering keys are pushed down to Cassandra."""
    return spark.read.format(CASSANDRA_FORMAT).options(keyspace=keyspace, table=table).load()


def read_partitions(keys: DataFrame, keyspace: str, table: str, where: Column | None = None) -> DataFrame:
    """The rows of the partitions `keys` names (a DataFrame of the table's partition-key columns, no duplicates).

    The connector turns the join into one read per partition (its direct join), so a window's events are
    read without a scan of the table, however large it is. `where` (on clustering columns) goes into each read.
    """
    table_rows = (
        keys.sparkSession.read.format(CASSANDRA_FORMAT)
        .options(keyspace=keyspace, table=table, directJoinSetting="on")
        .load()
    )
    if where is not None:
        table_rows = table_rows.where(where)
    # The join reads in as many tasks as `keys` has partitions. Fixed here: when a shuffle follows the read,
    # adaptive execution would coalesce the few kilobytes of keys into one partition, and one task would
    # read every row while the other cores wait.
    read_tasks = int(keys.sparkSession.conf.get("spark.sql.shuffle.partitions") or 1)
    return keys.repartition(read_tasks).join(table_rows, list(keys.columns))


def cassandra_cluster(cassandra: CassandraSettings) -> Cluster:
    """A Python driver cluster with the same host, port, SSL and credentials as the Spark connector."""
    auth = None
    if cassandra.username:
        password = cassandra.password.get_secret_value() if cassandra.password else ""
        auth = PlainTextAuthProvider(username=cassandra.username, password=password)
    # A default context checks the certificate's chain and that it names the host dialled (check_hostname).
    ca_file = str(cassandra.ssl_ca_certs) if cassandra.ssl_ca_certs else None
    ssl_context = ssl.create_default_context(cafile=ca_file) if cassandra.ssl else None
    return Cluster(
        [cassandra.host],
        port=cassandra.port,
        auth_provider=auth,
        ssl_context=ssl_context,
        execution_profiles={
            EXEC_PROFILE_DEFAULT: ExecutionProfile(
                load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=cassandra.local_dc),
                request_timeout=30,
                consistency_level=ConsistencyLevel.name_to_value[cassandra.consistency],
            )
        },
        # Version 4: what both Cassandra 5 and Cosmos DB's Cassandra API speak.
        protocol_version=4,
        connect_timeout=10,
        # The control connection reads the schema and the peers when it connects: 2 s by default, which a
        # Cassandra busy with a Spark job's writes (or, locally, sharing its cores with one) can miss.
        control_connection_timeout=10,
    )
