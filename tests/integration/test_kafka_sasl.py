"""The Event Hubs code path on loopback: TLS and SASL PLAIN with user $ConnectionString on the local broker's
SASL_SSL listener, whose certificate (of the stack's CA) names 127.0.0.1 only: reached as localhost, both
clients must refuse it."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from chispa import assert_df_equality
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]
from pydantic import SecretStr
from pyspark.sql import SparkSession

from smartspaces.config import KafkaSettings, Settings
from smartspaces.connectors.kafka import read_kafka, write_kafka
from smartspaces.connectors.kafka_admin import client_config
from smartspaces.stack.kafka import KafkaServer


def sasl_settings(settings: Settings, password: str, host: str | None = None) -> KafkaSettings:
    """The settings of the SASL_SSL listener, reached at host (default: the address it advertises)."""
    assert settings.stack is not None
    kafka = KafkaServer(settings, settings.stack)
    endpoint = kafka.sasl_endpoint if host is None else f"{host}:{settings.stack.kafka_sasl_port}"
    return settings.kafka.model_copy(
        update={
            "bootstrap_servers": endpoint,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "PLAIN",
            "sasl_username": "$ConnectionString",
            "sasl_password": SecretStr(password),
            "ssl_ca_location": kafka.ca_certificate,
        }
    )


def local_sasl_password(settings: Settings) -> str:
    assert settings.stack is not None
    return KafkaServer(settings, settings.stack).sasl_password()


def refused_within(admin: AdminClient, errors: list[KafkaError], timeout_s: float = 10) -> None:
    """Serves the client's callbacks until it reports an error (librdkafka retries a refused broker for as long
    as a request may wait; the first refusal is what the test needs)."""
    deadline = time.monotonic() + timeout_s
    while not errors and time.monotonic() < deadline:
        admin.poll(0.1)


def test_spark_writes_and_reads_through_the_sasl_listener(spark: SparkSession, settings: Settings) -> None:
    kafka = sasl_settings(settings, local_sasl_password(settings))
    topic = f"test.sasl_{uuid.uuid4().hex[:8]}"
    messages = spark.createDataFrame([("dev-1", "a"), ("dev-2", "b")], "key string, value string")
    write_kafka(messages, kafka, topic)
    back = read_kafka(spark, kafka, topic).selectExpr("CAST(key AS STRING) key", "CAST(value AS STRING) value")
    assert_df_equality(back, messages, ignore_row_order=True, ignore_nullable=True)


def test_a_wrong_connection_string_is_refused(settings: Settings) -> None:
    errors: list[KafkaError] = []
    quiet = logging.getLogger("test.kafka.sasl")
    quiet.setLevel(logging.CRITICAL)
    wrong = sasl_settings(settings, "Endpoint=sb://localhost/;SharedAccessKey=wrong")
    admin = AdminClient(client_config(wrong), logger=quiet, error_cb=errors.append)
    refused_within(admin, errors)
    assert KafkaError._AUTHENTICATION in {error.code() for error in errors}
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=1)


def test_a_certificate_that_does_not_name_the_host_is_refused_by_librdkafka(settings: Settings) -> None:
    errors: list[KafkaError] = []
    quiet = logging.getLogger("test.kafka.tls")
    quiet.setLevel(logging.CRITICAL)
    right = AdminClient(client_config(sasl_settings(settings, local_sasl_password(settings))))
    assert right.list_topics(timeout=30).brokers
    # The same listener and password, reached as localhost: its certificate names 127.0.0.1 only.
    as_localhost = sasl_settings(settings, local_sasl_password(settings), host="localhost")
    admin = AdminClient(client_config(as_localhost), logger=quiet, error_cb=errors.append)
    refused_within(admin, errors)
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=1)
    assert any("certificate" in error.str().lower() or error.code() == KafkaError._SSL for error in errors), errors


def test_a_certificate_that_does_not_name_the_host_is_refused_by_sparks_client(
    spark: SparkSession, settings: Settings
) -> None:
    topic = f"test.tls_{uuid.uuid4().hex[:8]}"
    messages = spark.createDataFrame([("dev-1", "a")], "key string, value string")
    fail_fast = {"max.block.ms": "10000", "request.timeout.ms": "5000", "delivery.timeout.ms": "10000"}
    right = sasl_settings(settings, local_sasl_password(settings))
    write_kafka(messages, right.model_copy(update={"client_options": fail_fast}), topic)
    as_localhost = sasl_settings(settings, local_sasl_password(settings), host="localhost")
    with pytest.raises(Py4JJavaError):
        write_kafka(messages, as_localhost.model_copy(update={"client_options": fail_fast}), topic)
    assert read_kafka(spark, right, topic).count() == 1
