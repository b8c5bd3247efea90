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

# Reference drops (CSV or parquet files, or tables read through JDBC), as the device simulator and the building
# systems deliver them. A drop is a full snapshot: a key it does not list is no longer in the registry.
SPACE_REFERENCE = StructType(
    [
        StructField("space_id", StringType()),
        StructField("campus_id", StringType()),
        StructField("building_id", StringType()),
        StructField("floor", IntegerType()),
        StructField("name", StringType()),
        StructField("space_type", StringType()),
        StructField("area_m2", DoubleType()),
        StructField("capacity", IntegerType()),
        StructField("tenant", StringType()),
    ]
)
DEVICE_REFERENCE = StructType(
    [
        StructField("device_id", StringType()),
        StructField("space_id", StringType()),
        StructField("device_type", StringType()),
        StructField("model", StringType()),
        StructField("installed_at", TimestampType()),
        # Set when the device was taken out of service; it stays listed so its history is closed at that time.
        StructField("retired_at", TimestampType()),
    ]
)

# The registry in the lake: every version of every key (SCD type 2). A version is valid from valid_from
# (inclusive) to valid_to (exclusive; null while it is open); is_current marks the open version.
# The reporting star schema's dim_space and dim_device have exactly these columns.
VERSION_FIELDS = [
    StructField("valid_from", TimestampType()),
    StructField("valid_to", TimestampType()),
    StructField("is_current", BooleanType()),
]
SPACE_HISTORY = StructType([SPACE_REFERENCE["space_id"], *VERSION_FIELDS, *SPACE_REFERENCE.fields[1:]])
DEVICE_HISTORY = StructType([DEVICE_REFERENCE["device_id"], *VERSION_FIELDS, *DEVICE_REFERENCE.fields[1:]])

# A row of a reference drop that was not merged: which table, its key, why, the drop's effective time and
# the row itself as JSON (nulls included).
REFERENCE_REJECT = StructType(
    [
        StructField("reference_table", StringType()),
        StructField("key", StringType()),
        StructField("reason", StringType()),
        StructField("effective_at", TimestampType()),
        StructField("row_json", StringType()),
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
