"""Kafka through Spark's spark-sql-kafka source and sink (Event Hubs' Kafka endpoint in production)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from smartspaces.config import KAFKA_TLS_PROTOCOLS, KafkaSettings


def kafka_options(kafka: KafkaSettings) -> dict[str, str]:
    """The kafka.* options of Spark's Kafka source and sink: brokers, security, SASL, client tuning."""
    options = {
        "kafka.bootstrap.servers": kafka.bootstrap_servers,
        "kafka.security.protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        options["kafka.sasl.mechanism"] = kafka.sasl_mechanism
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
        # JAAS quotes its values: a backslash or a quote in the secret must be escaped.
        escaped = password.replace("\\", "\\\\").replace('"', '\\"')
        options["kafka.sasl.jaas.config"] = (
            f'{kafka.login_module} required username="{kafka.sasl_username or ""}" password="{escaped}";'
        )
    if kafka.security_protocol in KAFKA_TLS_PROTOCOLS:
        # The broker's host name is checked against its certificate: the client's default, stated so that no
        # change of default can turn it off (client_options may not either).
        options["kafka.ssl.endpoint.identification.algorithm"] = "https"
        if kafka.ssl_ca_location is not None:
            options["kafka.ssl.truststore.type"] = "PEM"
            options["kafka.ssl.truststore.location"] = str(kafka.ssl_ca_location)
    options.update({f"kafka.{key}": value for key, value in kafka.client_options.items()})
    return options


def write_kafka(messages: DataFrame, kafka: KafkaSettings, topic: str) -> None:
    """Writes (key, value) rows to a topic. Kafka appends: idempotency is the consumers' event id."""
    messages.write.format("kafka").options(**kafka_options(kafka)).option("topic", topic).save()


def read_kafka(
    spark: SparkSession,
    kafka: KafkaSettings,
    topic: str,
    starting_offsets: str = "earliest",
    ending_offsets: str = "latest",
) -> DataFrame:
    """A bounded read of a topic: key, value, topic, partition, offset, timestamp, timestampType."""
    return (
        spark.read.format("kafka")
        .options(**kafka_options(kafka))
        .option("subscribe", topic)
        .option("startingOffsets", starting_offsets)
        .option("endingOffsets", ending_offsets)
        .load()
    )
