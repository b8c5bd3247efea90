"""Schemas of the data the stages exchange, declared once and reused by readers, writers and tests."""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

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

# Reference drops (CSV or parquet files), as the device simulator and the building systems deliver them.
SPACE_REFERENCE = StructType(
    [
        StructField("space_id", StringType()),
        StructField("building_id", StringType()),
        StructField("floor", IntegerType()),
        StructField("name", StringType()),
        StructField("space_type", StringType()),
        StructField("area_m2", DoubleType()),
        StructField("capacity", IntegerType()),
    ]
)
DEVICE_REFERENCE = StructType(
    [
        StructField("device_id", StringType()),
        StructField("space_id", StringType()),
        StructField("device_type", StringType()),
        StructField("model", StringType()),
        StructField("installed_at", TimestampType()),
    ]
)

# One stored event as the change feed delivers it (from the change log, or from Cosmos DB's change feed).
CHANGE_EVENT = StructType(
    [
        StructField("device_id", StringType(), nullable=False),
        StructField("event_time", TimestampType(), nullable=False),
        StructField("event_id", StringType(), nullable=False),
        StructField("event_type", StringType()),
        StructField("metric", StringType()),
        StructField("value", DoubleType()),
        StructField("unit", StringType()),
        StructField("severity", StringType()),
        StructField("code", StringType()),
        StructField("ingest_time", TimestampType()),
    ]
)

# A critical-event rule, as the versioned rules file (reference data) holds it.
CRITICAL_RULE = StructType(
    [
        StructField("rule_id", StringType()),
        StructField("rule_version", IntegerType()),
        StructField("active", BooleanType()),
        StructField("event_type", StringType()),
        StructField("metric", StringType()),
        StructField("code", StringType()),
        StructField("space_type", StringType()),
        StructField("condition", StringType()),
        StructField("low", DoubleType()),
        StructField("high", DoubleType()),
        StructField("hold_readings", IntegerType()),
        StructField("hold_minutes", DoubleType()),
        StructField("fires", StringType()),
        StructField("severity", StringType()),
        StructField("message", StringType()),
    ]
)

# The open run of a hold-for rule on one device, carried from one micro-batch to the next.
RULE_STATE = StructType(
    [
        StructField("device_id", StringType(), nullable=False),
        StructField("rule_id", StringType(), nullable=False),
        StructField("run_start", TimestampType()),
        StructField("run_readings", IntegerType()),
        StructField("last_event_time", TimestampType()),
        StructField("fired", BooleanType()),
    ]
)
