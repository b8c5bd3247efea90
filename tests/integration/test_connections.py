"""Each real connection from Spark: write, read back, and compare the exact rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster, read_cassandra, write_cassandra
from smartspaces.connectors.delta import read_delta, write_delta
from smartspaces.connectors.kafka import read_kafka, write_kafka
from smartspaces.connectors.postgres import connect, read_jdbc, write_jdbc
from smartspaces.connectors.redis import redis_client, write_hashes
from tests.integration.ingest_fixtures import wait_until_spark_sees

ROWS_DDL = "device_id string, reading double, seen_at timestamp"
ROWS = [
    ("d1", 20.5, datetime(2026, 1, 1, 10)),
    ("d2", 19.0, datetime(2026, 1, 1, 11)),
    ("d3", 22.25, datetime(2026, 1, 2, 0, 30)),
]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_kafka_round_trip(spark: SparkSession, settings: Settings) -> None:
    topic = unique("test.roundtrip")
    messages = spark.createDataFrame([(f"k{i}", f"v{i}") for i in range(5)], "key string, value string")
    write_kafka(messages, settings.kafka, topic)
    back = read_kafka(spark, settings.kafka, topic).selectExpr("CAST(key AS STRING) key", "CAST(value AS STRING) value")
    assert_df_equality(back, messages, ignore_row_order=True, ignore_nullable=True)


def test_cassandra_round_trip_through_the_connector(spark: SparkSession, settings: Settings) -> None:
    keyspace, table = settings.cassandra.keyspace, unique("test_roundtrip")
    cluster = cassandra_cluster(settings.cassandra)
    try:
        cluster.connect().execute(
            f"CREATE TABLE {keyspace}.{table} (device_id text PRIMARY KEY, reading double, seen_at timestamp)"
        )
        wait_until_spark_sees(spark, keyspace, table)
        rows = spark.createDataFrame(ROWS, ROWS_DDL)
        write_cassandra(rows, keyspace, table)
        write_cassandra(rows, keyspace, table)  # a repeated write is an upsert: still three rows
        back = read_cassandra(spark, keyspace, table).select("device_id", "reading", "seen_at")
        assert_df_equality(back, rows, ignore_row_order=True, ignore_nullable=True)
    finally:
        cluster.connect().execute(f"DROP TABLE IF EXISTS {keyspace}.{table}")
        cluster.shutdown()


def test_delta_round_trip(spark: SparkSession, tmp_path: Path) -> None:
    rows = spark.createDataFrame(ROWS, ROWS_DDL)
    path = str(tmp_path / "delta_roundtrip")
    write_delta(rows, path, mode="overwrite", partition_by=("device_id",))
    back = read_delta(spark, path).select("device_id", "reading", "seen_at")
    assert_df_equality(back, rows, ignore_row_order=True, ignore_nullable=True)
    assert spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count() == 1


def test_postgres_round_trip_through_jdbc(spark: SparkSession, settings: Settings) -> None:
    table = unique("public.test_roundtrip")
    with connect(settings.postgres, autocommit=True) as connection:
        connection.execute(
            f"CREATE TABLE {table} (device_id text PRIMARY KEY, reading double precision, seen_at timestamp)".encode()
        )
    try:
        rows = spark.createDataFrame(ROWS, ROWS_DDL)
        write_jdbc(rows, settings.postgres, table)
        back = read_jdbc(spark, settings.postgres, table)
        # The JDBC reader attaches column metadata (scale); the values and types are what matter.
        assert_df_equality(back, rows, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)
    finally:
        with connect(settings.postgres, autocommit=True) as connection:
            connection.execute(f"DROP TABLE IF EXISTS {table}".encode())


def test_redis_hashes_written_from_foreach_partition(spark: SparkSession, settings: Settings) -> None:
    prefix = unique("test:roundtrip")
    rows = spark.createDataFrame(ROWS, ROWS_DDL).repartition(2)
    write_hashes(rows, settings.redis, prefix + ":{device_id}", ttl_s=600)
    write_hashes(rows, settings.redis, prefix + ":{device_id}", ttl_s=600)  # idempotent: same hashes
    client = redis_client(settings.redis)
    try:
        keys = sorted(client.scan_iter(match=f"{prefix}:*"))
        assert keys == [f"{prefix}:d1", f"{prefix}:d2", f"{prefix}:d3"]
        assert client.hgetall(f"{prefix}:d3") == {
            "device_id": "d3",
            "reading": "22.25",
            "seen_at": "2026-01-02 00:30:00",
        }
        assert all(0 < client.ttl(key) <= 600 for key in keys)
    finally:
        client.delete(*keys)
        client.close()
