"""Kafka from Python (librdkafka): client settings from the same KafkaSettings as Spark, and topic creation."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # documented, not re-exported

from smartspaces.config import KafkaSettings


def client_config(kafka: KafkaSettings) -> dict[str, Any]:
    """librdkafka connection settings from KafkaSettings: brokers, security protocol and SASL."""
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "security.protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        config["sasl.mechanism"] = kafka.sasl_mechanism
        config["sasl.username"] = kafka.sasl_username or ""
        config["sasl.password"] = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
    return config


def ensure_topic(kafka: KafkaSettings, topic: str, partitions: int) -> bool:
    """Creates the topic when it is missing (broker-default replication); True when it was created."""
    admin = AdminClient(client_config(kafka))
    if topic in admin.list_topics(timeout=30).topics:
        return False
    future = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=-1)])[topic]
    try:
        future.result(timeout=60)
    except KafkaException as error:
        if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
        return False
    return True
