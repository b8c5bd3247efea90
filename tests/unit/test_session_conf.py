"""The Spark settings a session is built with, for each environment (no JVM needed)."""

from __future__ import annotations

import os

from smartspaces.config import load_settings
from smartspaces.connectors.kafka import kafka_options
from smartspaces.pins import load_pins
from smartspaces.session import spark_conf


def test_local_session_resolves_pinned_packages_into_the_project_ivy_cache() -> None:
    settings = load_settings("local", environ={})
    conf = spark_conf(settings, "app")
    assert conf["spark.jars.packages"].split(",") == list(load_pins().spark_packages)
    assert settings.stack is not None
    assert conf["spark.jars.ivy"] == str(settings.stack.data_dir / "ivy")
    assert conf["spark.master"] == "local[2]"
    assert conf["spark.sql.shuffle.partitions"] == str(2 * (os.cpu_count() or 1))
    assert conf["spark.sql.extensions"] == (
        "io.delta.sql.DeltaSparkSessionExtension,com.datastax.spark.connector.CassandraSparkExtensions"
    )
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert conf["spark.cassandra.connection.host"] == "127.0.0.1"
    assert conf["spark.cassandra.connection.ssl.enabled"] == "false"
    assert "spark.cassandra.auth.username" not in conf


def test_aks_session_uses_baked_jars_and_cosmos_db_settings() -> None:
    settings = load_settings("aks", environ={"SMARTSPACES__CASSANDRA__PASSWORD": "account-key"})
    conf = spark_conf(settings, "app")
    assert "spark.jars.packages" not in conf
    assert "spark.master" not in conf
    expected = {
        "spark.cassandra.connection.host": "smartspaces.cassandra.cosmosdb.azure.com",
        "spark.cassandra.connection.port": "10350",
        "spark.cassandra.connection.ssl.enabled": "true",
        "spark.cassandra.auth.username": "smartspaces",
        "spark.cassandra.auth.password": "account-key",
        "spark.cassandra.output.batch.size.rows": "1",
        "spark.cassandra.connection.remoteConnectionsPerExecutor": "10",
        "spark.cassandra.output.concurrent.writes": "1000",
        "spark.cassandra.concurrent.reads": "512",
        "spark.cassandra.output.batch.grouping.buffer.size": "1000",
        "spark.cassandra.connection.keep_alive_ms": "600000000",
        "spark.task.maxFailures": "11",
        "spark.sql.shuffle.partitions": "16",
    }
    assert {key: conf.get(key) for key in expected} == expected


def test_local_kafka_options_are_plaintext() -> None:
    assert kafka_options(load_settings("local", environ={}).kafka) == {
        "kafka.bootstrap.servers": "127.0.0.1:9092",
        "kafka.security.protocol": "PLAINTEXT",
    }


def test_event_hubs_kafka_options_carry_the_connection_string_in_jaas() -> None:
    secret = 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=a"b'
    settings = load_settings("aks", environ={"SMARTSPACES__KAFKA__SASL_PASSWORD": secret})
    assert kafka_options(settings.kafka) == {
        "kafka.bootstrap.servers": "smartspaces.servicebus.windows.net:9093",
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": "PLAIN",
        "kafka.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="$ConnectionString" password="Endpoint=sb://ns.servicebus.windows.net/;'
        'SharedAccessKeyName=k;SharedAccessKey=a\\"b";',
        "kafka.request.timeout.ms": "60000",
        "kafka.session.timeout.ms": "30000",
    }
