"""The local stack's generated server configuration and its pre-start checks (no server started)."""

from __future__ import annotations

import itertools
import socket
import uuid
from pathlib import Path

import pytest
import yaml

from smartspaces.config import Settings
from smartspaces.stack.cassandra import CassandraServer
from smartspaces.stack.kafka import KafkaServer, new_cluster_id
from smartspaces.stack.process import StackError, port_is_free
from smartspaces.stack.server import java_executable, read_jvm_options, render_template
from smartspaces.stack.spark_cluster import cluster_servers


def test_kafka_properties_describe_one_kraft_node(settings: Settings) -> None:
    assert settings.stack is not None
    kafka = KafkaServer(settings, settings.stack)
    text = render_template(
        "kafka-server.properties",
        host="127.0.0.1",
        broker_port=kafka.broker_port,
        controller_port=9093,
        sasl_port=9094,
        sasl_password="pw",
        tls_key="KEY",
        tls_certificate="CERTIFICATE",
        log_dir="/data",
    )
    properties = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert properties["process.roles"] == "broker,controller"
    assert properties["listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,SASL_SSL://127.0.0.1:9094"
    )
    assert properties["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094"
    assert properties["listener.name.sasl_ssl.plain.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.plain.PlainLoginModule required user_$ConnectionString="pw";'
    )
    assert properties["listener.name.sasl_ssl.ssl.keystore.type"] == "PEM"
    assert properties["listener.name.sasl_ssl.ssl.keystore.key"] == "KEY"
    assert properties["listener.name.sasl_ssl.ssl.keystore.certificate.chain"] == "CERTIFICATE"
    assert properties["controller.quorum.voters"] == "1@127.0.0.1:9093"


def test_cassandra_yaml_is_single_node_murmur3(settings: Settings, tmp_path: Path) -> None:
    assert settings.stack is not None
    server = CassandraServer(settings, settings.stack.model_copy(update={"data_dir": tmp_path}))
    config = yaml.safe_load(server.config_text())
    assert config["authenticator"] == "AllowAllAuthenticator"
    assert "client_encryption_options" not in config
    assert config["partitioner"] == "org.apache.cassandra.dht.Murmur3Partitioner"
    assert config["native_transport_port"] == 9042
    assert config["data_file_directories"] == [f"{tmp_path}/cassandra/data"]
    assert config["seed_provider"][0]["parameters"][0]["seeds"] == "127.0.0.1:7000"


def test_cassandra_jvm_options_carry_the_jdk17_module_flags() -> None:
    options = read_jvm_options("cassandra-jvm17.options")
    pairs = list(itertools.pairwise(options))
    assert ("--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED") in pairs
    assert ("--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED") in pairs
    assert "-XX:+UseG1GC" in options
    assert not any(option.startswith("#") for option in options)


def test_cassandra_command_sizes_the_heap_from_settings(settings: Settings, tmp_path: Path) -> None:
    assert settings.stack is not None
    server = CassandraServer(settings, settings.stack.model_copy(update={"data_dir": tmp_path}))
    (server.jars).mkdir(parents=True)
    (server.jars / "jamm-0.4.0.jar").touch()
    command = server.command()
    assert {"-Xms1g", "-Xmx1g", "org.apache.cassandra.service.CassandraDaemon"} <= set(command)
    assert f"-javaagent:{server.jars / 'jamm-0.4.0.jar'}" in command


def test_a_java_home_without_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(StackError, match="Java is missing"):
        java_executable()


def test_a_bound_port_is_seen_as_taken() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        assert port_is_free("127.0.0.1", holder.getsockname()[1]) is False


def test_a_kafka_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xF8 first: the URL-safe base64 of these bytes starts with "-", which the storage tool reads as an option.
    dashed, plain = uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x01" + bytes(15))
    drawn = iter([dashed, plain])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(drawn))
    assert new_cluster_id() == "AQAAAAAAAAAAAAAAAAAAAA"


def test_the_spark_cluster_is_a_master_and_workers_on_their_own_ports_with_their_cores_and_memory(
    settings: Settings,
) -> None:
    master, workers = cluster_servers(settings)
    assert master.endpoint == "spark://127.0.0.1:7077"
    assert master.ports == (7077, 8180)
    assert [worker.name for worker in workers] == ["spark-worker-1", "spark-worker-2"]
    assert [worker.ports for worker in workers] == [(7078, 8181), (7079, 8182)]
    command = workers[1].command()
    assert Path(command[0]).name == "spark-class"
    assert command[1:3] == ["org.apache.spark.deploy.worker.Worker", "spark://127.0.0.1:7077"]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    assert options["--port"] == "7079"
    assert options["--cores"] == "1"
    assert options["--memory"] == "2g"
    assert workers[1].environment()["SPARK_DAEMON_MEMORY"] == "256m"
    ports = {port for server in (master, *workers) for port in server.ports}
    assert settings.api.port not in ports
