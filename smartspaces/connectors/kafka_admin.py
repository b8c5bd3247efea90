"""Kafka from Python (librdkafka): client settings from the same KafkaSettings as Spark, and topic creation."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # documented, not re-exported
    AdminClient,
    ConfigResource,
    NewTopic,
)

from smartspaces.config import KAFKA_TLS_PROTOCOLS, KafkaSettings


def client_config(kafka: KafkaSettings) -> dict[str, Any]:
    """librdkafka connection settings from KafkaSettings: brokers, security protocol, TLS and SASL."""
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "security.protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        config["sasl.mechanism"] = kafka.sasl_mechanism
        config["sasl.username"] = kafka.sasl_username or ""
        config["sasl.password"] = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
    if kafka.security_protocol in KAFKA_TLS_PROTOCOLS:
        # librdkafka's defaults, stated: the certificate is verified and names the broker's host.
        config["enable.ssl.certificate.verification"] = True
        config["ssl.endpoint.identification.algorithm"] = "https"
        # Without a CA of its own, the system's: the wheels' librdkafka finds it only by probing the usual paths.
        config["ssl.ca.location"] = str(kafka.ssl_ca_location) if kafka.ssl_ca_location is not None else "probe"
    return config


# Arrival time is the broker's clock, not the producer's: a device whose clock runs ahead cannot move its
# events' arrival, so the ingest's future-skew check (event time against arrival) still holds for it.
TOPIC_CONFIG = {"message.timestamp.type": "LogAppendTime"}

log = logging.getLogger("smartspaces.connectors.kafka")


def ensure_topic(kafka: KafkaSettings, topic: str, partitions: int) -> bool:
    """Creates the topic when it is missing (broker-default replication, TOPIC_CONFIG); True when it was created.

    An existing topic whose timestamps are the producers' (CreateTime) is left as it is, with a warning: its
    configuration is its owner's to change."""
    admin = AdminClient(client_config(kafka))
    if topic in admin.list_topics(timeout=30).topics:
        _warn_unless_log_append_time(admin, topic)
        return False
    future = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=-1, config=TOPIC_CONFIG)]
    )[topic]
    try:
        future.result(timeout=60)
    except KafkaException as error:
        if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
        return False
    return True


def topic_timestamp_type(admin: AdminClient, topic: str) -> str | None:
    """The topic's message.timestamp.type, or None when the broker does not say (Event Hubs, say)."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    try:
        configs = admin.describe_configs([resource])[resource].result(timeout=30)
    except KafkaException:
        return None
    entry = configs.get("message.timestamp.type")
    return None if entry is None else str(entry.value)


def _warn_unless_log_append_time(admin: AdminClient, topic: str) -> None:
    if topic_timestamp_type(admin, topic) == "CreateTime":
        log.warning(
            "topic %s takes its timestamps from the producers (message.timestamp.type=CreateTime): a device "
            "whose clock runs ahead can date its events' arrival; set it to LogAppendTime "
            "(kafka-configs --alter --entity-type topics --entity-name %s --add-config "
            "message.timestamp.type=LogAppendTime)",
            topic,
            topic,
        )
