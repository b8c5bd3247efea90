"""The Event Hubs code path on loopback: SASL PLAIN with user $ConnectionString on the local broker."""

from __future__ import annotations

import logging
import uuid

import pytest
from chispa import assert_df_equality
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr
from pyspark.sql import SparkSession

from smartspaces.config import KafkaSettings, Settings
from smartspaces.connectors.kafka import read_kafka, write_kafka
from smartspaces.stack.kafka import KafkaServer


def sasl_settings(settings: Settings, password: str) -> KafkaSettings:
    assert settings.stack is not None
    kafka = KafkaServer(settings, settings.stack)
    return settings.kafka.model_copy(
        update={
            "bootstrap_servers": kafka.sasl_endpoint,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN",
            "sasl_username": "$ConnectionString",
            "sasl_password": SecretStr(password),
        }
    )


def local_sasl_password(settings: Settings) -> str:
    assert settings.stack is not None
    return KafkaServer(settings, settings.stack).sasl_password()


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
    admin = AdminClient(
        {
            "bootstrap.servers": sasl_settings(settings, "wrong").bootstrap_servers,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "$ConnectionString",
            "sasl.password": "Endpoint=sb://localhost/;SharedAccessKey=wrong",
        },
        logger=quiet,
        error_cb=errors.append,
    )
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=10)
    admin.poll(1)  # serves the error callbacks
    assert KafkaError._AUTHENTICATION in {error.code() for error in errors}
