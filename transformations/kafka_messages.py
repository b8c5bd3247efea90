"""Rows to and from Kafka messages: key and JSON value."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

# Columns Spark's Kafka source gives that the pipeline keeps with each row.
KAFKA_COORDINATES = (("partition", "kafka_partition"), ("offset", "kafka_offset"))


def to_kafka_messages(key_column: str) -> Callable[[DataFrame], DataFrame]:
    """Each row becomes a message: key = key_column (one key's messages stay in order), value = the row as JSON."""

    def transform(rows: DataFrame) -> DataFrame:
        return rows.select(
            F.col(key_column).cast("string").alias("key"),
            F.to_json(F.struct(*[F.col(name) for name in rows.columns])).alias("value"),
        )

    return transform


def parse_json_messages(schema: StructType) -> Callable[[DataFrame], DataFrame]:
    """Kafka rows → the JSON value's fields, plus the message's partition and offset.

    A value that is not JSON of this schema gives a row of nulls in the fields (filter on them).
    """

    def transform(messages: DataFrame) -> DataFrame:
        payload = F.from_json(F.col("value").cast("string"), schema)
        return messages.select(
            payload.alias("payload"), *[F.col(source).alias(target) for source, target in KAFKA_COORDINATES]
        ).select("payload.*", *[target for _, target in KAFKA_COORDINATES])

    return transform
