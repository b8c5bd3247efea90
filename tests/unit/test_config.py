"""Configuration: validated at start-up, overridable by environment, secrets only from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from smartspaces.config import PROJECT_ROOT, ConfigError, KafkaSettings, load_settings
from smartspaces.connectors.kafka import kafka_options
from smartspaces.connectors.kafka_admin import client_config
from smartspaces.connectors.mysql import jdbc_properties, jdbc_url

LOCAL = PROJECT_ROOT / "conf" / "local.yaml"


def write_conf(folder: Path, text: str) -> Path:
    (folder / "test.yaml").write_text(text)
    return folder


def test_local_and_aks_files_load() -> None:
    local = load_settings("local", environ={})
    aks = load_settings("aks", environ={})
    assert (local.environment, local.cassandra.port, local.kafka.security_protocol) == ("local", 9042, "PLAINTEXT")
    assert (aks.cassandra.port, aks.cassandra.ssl, aks.kafka.security_protocol) == (10350, True, "SASL_SSL")
    assert aks.spark.master is None


def test_relative_paths_are_taken_from_the_project_root() -> None:
    local = load_settings("local", environ={})
    assert local.stack is not None
    assert local.stack.data_dir == PROJECT_ROOT / ".local-stack"
    assert local.lake.root == str(PROJECT_ROOT / ".local-stack" / "lake")


def test_environment_variable_overrides_a_key_with_its_type() -> None:
    settings = load_settings("local", environ={"SMARTSPACES__CASSANDRA__PORT": "19042"})
    assert settings.cassandra.port == 19042


def test_an_option_from_the_environment_keeps_its_case_and_its_text_beside_the_files_options() -> None:
    settings = load_settings(
        "local",
        environ={
            "SMARTSPACES__SPARK__EXTRA_CONF__spark.eventLog.enabled": "true",
            "SMARTSPACES__SPARK__EXTRA_CONF__spark.sql.adaptive.coalescePartitions.minPartitionNum": "4",
            "SMARTSPACES__CASSANDRA__CONNECTOR__read.timeoutMS": "60000",
        },
    )
    assert settings.spark.extra_conf == {
        "spark.databricks.delta.snapshotPartitions": "2",  # conf/local.yaml's
        "spark.eventLog.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.minPartitionNum": "4",
    }
    assert settings.cassandra.connector["read.timeoutMS"] == "60000"


def test_a_whole_option_map_from_the_environment_replaces_the_files() -> None:
    environ = {"SMARTSPACES__SPARK__EXTRA_CONF": '{"spark.eventLog.enabled": "true"}'}
    assert load_settings("local", environ=environ).spark.extra_conf == {"spark.eventLog.enabled": "true"}


def test_secret_comes_from_the_environment_as_a_string() -> None:
    settings = load_settings("local", environ={"SMARTSPACES__POSTGRES__PASSWORD": "12345"})
    assert settings.postgres.password is not None
    assert settings.postgres.password.get_secret_value() == "12345"


def test_missing_key_is_named(tmp_path: Path) -> None:
    text = LOCAL.read_text().replace("  keyspace: smartspaces\n", "")
    with pytest.raises(ConfigError, match=r"cassandra\.keyspace: missing"):
        load_settings("test", environ={}, directory=write_conf(tmp_path, text))


def test_wrong_type_is_named_with_its_value(tmp_path: Path) -> None:
    text = LOCAL.read_text().replace("  port: 9042", "  port: ninety")
    with pytest.raises(ConfigError, match=r"cassandra\.port: .*integer.*'ninety'"):
        load_settings("test", environ={}, directory=write_conf(tmp_path, text))


def test_wrong_override_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"redis\.port: .*\(from SMARTSPACES__REDIS__PORT\)"):
        load_settings("local", environ={"SMARTSPACES__REDIS__PORT": "70000"})


def test_misspelt_key_is_rejected(tmp_path: Path) -> None:
    text = LOCAL.read_text().replace("  local_dc: datacenter1", "  local_dc: datacenter1\n  hots: 127.0.0.1")
    with pytest.raises(ConfigError, match=r"cassandra\.hots: unknown key"):
        load_settings("test", environ={}, directory=write_conf(tmp_path, text))


def test_secret_in_a_file_is_refused(tmp_path: Path) -> None:
    text = LOCAL.read_text().replace("  sslmode: disable\n", "  sslmode: disable\n  password: hunter2\n")
    with pytest.raises(ConfigError, match=r"postgres\.password is a secret .* SMARTSPACES__POSTGRES__PASSWORD"):
        load_settings("test", environ={}, directory=write_conf(tmp_path, text))
    text = LOCAL.read_text().replace("  ssl_mode: DISABLED\n", "  ssl_mode: DISABLED\n  password: hunter2\n")
    with pytest.raises(ConfigError, match=r"mysql\.password is a secret .* SMARTSPACES__MYSQL__PASSWORD"):
        load_settings("test", environ={}, directory=write_conf(tmp_path, text))


def test_mysql_is_optional_and_its_jdbc_url_carries_its_settings() -> None:
    assert load_settings("aks", environ={}).mysql is None
    mysql = load_settings("local", environ={"SMARTSPACES__MYSQL__SSL_MODE": "VERIFY_IDENTITY"}).mysql
    assert mysql is not None
    assert jdbc_url(mysql) == (
        "jdbc:mysql://127.0.0.1:3306/smartspaces_reference?sslMode=VERIFY_IDENTITY&connectionTimeZone=UTC"
        "&connectTimeout=10000&socketTimeout=600000"
    )
    assert "password" not in jdbc_properties(mysql)


def test_invalid_secret_is_reported_without_its_value() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings("local", environ={"SMARTSPACES__REDIS__PASSWORD__X": "s3cr3t-value"})
    assert "s3cr3t-value" not in str(raised.value)


def test_unknown_environment_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"no configuration for environment 'mars'.*mars\.yaml"):
        load_settings("mars", environ={})


@pytest.mark.parametrize(
    ("section", "key", "option"),
    [
        ("spark", "extra_conf", "spark.hadoop.fs.azure.account.key.lake.dfs.core.windows.net"),
        ("kafka", "client_options", "sasl.jaas.config"),
        ("cassandra", "connector", "auth.password"),
    ],
)
def test_a_secret_looking_option_in_a_file_is_refused_naming_the_variable(
    tmp_path: Path, section: str, key: str, option: str
) -> None:
    conf = yaml.safe_load(LOCAL.read_text())
    conf[section].setdefault(key, {})[option] = "s3cr3t-value"
    text = yaml.safe_dump(conf)
    with pytest.raises(ConfigError) as raised:
        load_settings("test", environ={}, directory=write_conf(tmp_path, text))
    message = str(raised.value)
    assert f"{section}.{key}.{option} looks like a secret" in message
    assert f"SMARTSPACES__{section.upper()}__{key.upper()}__{option}" in message
    assert "s3cr3t-value" not in message


def test_secret_looking_options_from_the_environment_are_used_and_printed_masked() -> None:
    settings = load_settings(
        "local",
        environ={
            "SMARTSPACES__KAFKA__CLIENT_OPTIONS__sasl.jaas.config": "PlainLoginModule required password='s3cr3t';",
            "SMARTSPACES__SPARK__EXTRA_CONF__spark.hadoop.fs.azure.sas.lake.token": "sv=s3cr3t",
        },
    )
    assert settings.kafka.client_options["sasl.jaas.config"].endswith("password='s3cr3t';")
    printed = settings.model_dump_json()
    assert "s3cr3t" not in printed
    assert '"sasl.jaas.config":"**********"' in printed
    # Options that only look like keys stay readable.
    assert '"output.batch.grouping.key":"partition"' in printed
    assert '"spark.databricks.delta.snapshotPartitions":"2"' in printed


@pytest.mark.parametrize("key", ["ssl.endpoint.identification.algorithm", "enable.ssl.certificate.verification"])
def test_kafka_client_options_may_not_loosen_the_brokers_identity_check(key: str) -> None:
    with pytest.raises(ValidationError, match=rf"kafka.client_options may not set {re.escape(key)}"):
        KafkaSettings(bootstrap_servers="broker:9093", client_options={key: ""})


def test_kafka_over_tls_checks_the_host_with_the_private_ca_in_both_clients(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9094", security_protocol="SASL_SSL", ssl_ca_location=ca)
    spark_options = kafka_options(kafka)
    assert spark_options["kafka.ssl.endpoint.identification.algorithm"] == "https"
    assert (spark_options["kafka.ssl.truststore.type"], spark_options["kafka.ssl.truststore.location"]) == (
        "PEM",
        str(ca),
    )
    librdkafka = client_config(kafka)
    assert librdkafka["ssl.endpoint.identification.algorithm"] == "https"
    assert librdkafka["enable.ssl.certificate.verification"] is True
    assert librdkafka["ssl.ca.location"] == str(ca)
    public = KafkaSettings(bootstrap_servers="ns.servicebus.windows.net:9093", security_protocol="SASL_SSL")
    assert "kafka.ssl.truststore.location" not in kafka_options(public)
    assert client_config(public)["ssl.ca.location"] == "probe"
    plaintext = KafkaSettings(bootstrap_servers="127.0.0.1:9092")
    assert not any("ssl" in key for key in [*kafka_options(plaintext), *client_config(plaintext)])
