"""Schemas of the data the stages exchange, declared once and reused by readers, writers and tests."""

from __future__ import annotations

from pyspark.sql.types import DoubleType, StringType, StructField, StructType, TimestampType

# A smoke-flow reading as it travels through Kafka (JSON) and into Cassandra.
SMOKE_READING = StructType(
    [
        StructField("run_id", StringType(), nullable=False),
        StructField("reading_id", StringType(), nullable=False),
        StructField("device_id", StringType(), nullable=False),
        StructField("metric", StringType(), nullable=False),
        StructField("value", DoubleType(), nullable=False),
        StructField("event_time", TimestampType(), nullable=False),
    ]
)
