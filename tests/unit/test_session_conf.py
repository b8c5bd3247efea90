"""The Spark settings a session is built with, for each environment (no JVM needed)."""

from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

from smartspaces.config import Settings, load_settings
from smartspaces.connectors.kafka import kafka_options
from smartspaces.logs import log4j2_config_file
from smartspaces.session import (
    LOCAL_FILE_SYSTEM_CONF,
    executors_on_this_machine,
    jvm_launch_conf,
    spark_conf,
    spark_session,
    with_overrides,
)


def test_local_session_settings() -> None:
    settings = load_settings("local", environ={})
    conf = spark_conf(settings, "app")
    assert conf["spark.master"] == "local[2]"
    assert conf["spark.sql.shuffle.partitions"] == str(2 * (os.cpu_count() or 1))
    assert conf["spark.sql.extensions"] == (
        "io.delta.sql.DeltaSparkSessionExtension,com.datastax.spark.connector.CassandraSparkExtensions"
    )
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert conf["spark.cassandra.connection.host"] == "127.0.0.1"
    assert conf["spark.cassandra.connection.ssl.enabled"] == "false"
    assert "spark.cassandra.auth.username" not in conf
    # What one job wrote is what the next reads, whichever replica answers.
    assert (conf["spark.cassandra.input.consistency.level"], conf["spark.cassandra.output.consistency.level"]) == (
        "LOCAL_QUORUM",
        "LOCAL_QUORUM",
    )


def test_the_driver_chooses_the_python_of_executors_that_run_on_this_machine_only() -> None:
    assert executors_on_this_machine("local[2]")
    assert executors_on_this_machine("spark://127.0.0.1:7077")
    assert not executors_on_this_machine("spark://spark-master.example:7077")
    assert not executors_on_this_machine("k8s://https://10.0.0.1:443")
    assert not executors_on_this_machine(None)


def test_no_session_resolves_packages_when_it_starts() -> None:
    for environment, environ in (("local", {}), ("aks", {"SMARTSPACES__CASSANDRA__PASSWORD": "key"})):
        conf = spark_conf(load_settings(environment, environ=environ), "app")
        assert not {"spark.jars.packages", "spark.jars.ivy"} & conf.keys(), environment


def test_a_session_that_starts_its_jvm_puts_the_resolved_jars_and_the_log4j2_configuration_on_it() -> None:
    option = f"-Dlog4j2.configurationFile={log4j2_config_file().as_uri()}"
    assert jvm_launch_conf([Path("/ivy/jars/a.jar"), Path("/ivy/jars/b.jar")]) == {
        "spark.jars": "/ivy/jars/a.jar,/ivy/jars/b.jar",
        "spark.driver.extraJavaOptions": option,
        "spark.executor.extraJavaOptions": option,
    }
    assert "spark.jars" not in jvm_launch_conf([])


def test_executors_on_this_machine_take_the_jars_where_they_are_and_the_projects_local_file_system() -> None:
    option = f"-Dlog4j2.configurationFile={log4j2_config_file().as_uri()}"
    assert jvm_launch_conf([Path("/ivy/jars/a.jar"), Path("/ivy/jars/b.jar")], executors_here=True) == {
        "spark.jars": "local:/ivy/jars/a.jar,local:/ivy/jars/b.jar",
        "spark.driver.extraJavaOptions": option,
        "spark.executor.extraJavaOptions": option,
        "spark.hadoop.fs.file.impl": "smartspaces.hadoop.NioLocalFileSystem",
        "spark.hadoop.fs.AbstractFileSystem.file.impl": "smartspaces.hadoop.NioLocalFs",
    }
    assert not {"spark.jars", *LOCAL_FILE_SYSTEM_CONF} & jvm_launch_conf([], executors_here=True).keys()


def test_an_operator_adds_jars_and_jvm_options_to_the_platform_ones_and_replaces_other_settings() -> None:
    platform = {"spark.jars": "/a.jar", "spark.driver.extraJavaOptions": "-Dlog=x", "spark.task.maxFailures": "4"}
    operator = {"spark.jars": "/b.jar", "spark.driver.extraJavaOptions": "-Dlog=y", "spark.task.maxFailures": "11"}
    assert with_overrides(platform, operator) == {
        "spark.jars": "/a.jar,/b.jar",
        # The JVM takes the last of two values of a property: the operator's.
        "spark.driver.extraJavaOptions": "-Dlog=x -Dlog=y",
        "spark.task.maxFailures": "11",
    }


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
        # Event Hubs' certificate chains to a public root: no truststore, the host name checked.
        "kafka.ssl.endpoint.identification.algorithm": "https",
        "kafka.request.timeout.ms": "60000",
        "kafka.session.timeout.ms": "30000",
    }


def test_a_job_in_an_active_session_runs_with_its_run_time_settings_and_leaves_the_session_as_it_was(
    spark: SparkSession, settings: Settings
) -> None:
    operators = settings.spark.extra_conf
    assert operators["spark.databricks.delta.snapshotPartitions"] == "2"
    assert spark.conf.get("spark.sql.files.maxRecordsPerFile", None) is None
    writes = spark.conf.get("spark.cassandra.output.concurrent.writes", None)  # "8" with the connectors
    before = spark.conf.get("spark.sql.shuffle.partitions")
    job_conf = {
        "spark.sql.shuffle.partitions": "1",
        "spark.sql.files.maxRecordsPerFile": "77",
        "spark.cassandra.output.concurrent.writes": "3",  # a connector's: not Spark's, read from the session
        "spark.databricks.delta.snapshotPartitions": "9",  # the operator's value wins
        "spark.driver.memory": "9g",  # fixed when the JVM started: left alone, no error
    }
    with spark_session(settings, "a-job", job_conf) as session:
        assert session is spark
        assert spark.conf.get("spark.sql.shuffle.partitions") == "1"
        assert spark.conf.get("spark.sql.files.maxRecordsPerFile") == "77"
        assert spark.conf.get("spark.cassandra.output.concurrent.writes") == "3"
        assert spark.conf.get("spark.databricks.delta.snapshotPartitions") == "2"
        assert spark.conf.get("spark.driver.memory", None) != "9g"
    assert spark.conf.get("spark.sql.shuffle.partitions") == before != "1"
    assert spark.conf.get("spark.sql.files.maxRecordsPerFile", None) is None
    assert spark.conf.get("spark.cassandra.output.concurrent.writes", None) == writes != "3"
