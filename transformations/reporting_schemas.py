"""The reporting star schema as the enrichment produces it: one StructType per table, and each table's key.

The PostgreSQL migrations create the same columns (tests compare them); the quality gate checks these keys.
Times are UTC instants; `local_date` and `local_hour` are in the enrichment's configured time zone.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _fields(*columns: tuple[str, object]) -> StructType:
    return StructType([StructField(name, data_type, nullable=True) for name, data_type in columns])  # type: ignore[arg-type]


FACT_SPACE_METRIC_HOURLY = _fields(
    ("space_id", StringType()),
    ("building_id", StringType()),
    ("metric", StringType()),
    ("unit", StringType()),
    ("hour_start", TimestampType()),
    ("local_date", DateType()),
    ("local_hour", IntegerType()),
    ("readings", LongType()),
    ("value_min", DoubleType()),
    ("value_max", DoubleType()),
    ("value_avg", DoubleType()),
    ("value_p95", DoubleType()),
)

FACT_SPACE_DAILY = _fields(
    ("space_id", StringType()),
    ("building_id", StringType()),
    ("local_date", DateType()),
    ("capacity", IntegerType()),
    ("peak_occupancy", DoubleType()),
    ("avg_occupancy", DoubleType()),
    ("peak_utilisation", DoubleType()),
    ("avg_utilisation", DoubleType()),
    ("energy_kwh", DoubleType()),
    ("occupied_hours", IntegerType()),
    ("temperature_comfort_share", DoubleType()),
    ("co2_comfort_share", DoubleType()),
    ("critical_events", LongType()),
    ("warning_events", LongType()),
    ("info_events", LongType()),
)

FACT_BUILDING_DAILY = _fields(
    ("building_id", StringType()),
    ("local_date", DateType()),
    ("spaces", IntegerType()),
    ("capacity", LongType()),
    ("peak_occupancy", DoubleType()),
    ("avg_utilisation", DoubleType()),
    ("energy_kwh", DoubleType()),
    ("occupied_space_hours", LongType()),
    ("temperature_comfort_share", DoubleType()),
    ("co2_comfort_share", DoubleType()),
    ("critical_events", LongType()),
    ("warning_events", LongType()),
    ("info_events", LongType()),
)

FACT_CRITICAL_EVENT = _fields(
    ("critical_event_id", StringType()),
    ("space_id", StringType()),
    ("building_id", StringType()),
    ("device_id", StringType()),
    ("rule_id", StringType()),
    ("rule_version", IntegerType()),
    ("severity", StringType()),
    ("metric", StringType()),
    ("value", DoubleType()),
    ("unit", StringType()),
    ("code", StringType()),
    ("message", StringType()),
    ("event_time", TimestampType()),
    ("local_date", DateType()),
    ("source_event_id", StringType()),
    ("detected_at", TimestampType()),
)

FACT_ALARM = _fields(
    ("alarm_id", StringType()),
    ("rule_id", StringType()),
    ("rule_version", IntegerType()),
    ("scope", StringType()),
    ("source_id", StringType()),
    ("building_id", StringType()),
    ("space_id", StringType()),
    ("device_id", StringType()),
    ("severity", StringType()),
    ("raised_severity", StringType()),
    ("message", StringType()),
    ("metric", StringType()),
    ("raised_at", TimestampType()),
    ("local_date", DateType()),
    ("escalated_at", TimestampType()),
    ("acknowledged_at", TimestampType()),
    ("acknowledged_by", StringType()),
    ("cleared_at", TimestampType()),
    ("peak_value", DoubleType()),
    ("minutes_to_acknowledge", DoubleType()),
    ("minutes_to_clear", DoubleType()),
)

DIM_SPACE = _fields(
    ("space_id", StringType()),
    ("valid_from", TimestampType()),
    ("valid_to", TimestampType()),
    ("is_current", BooleanType()),
    ("campus_id", StringType()),
    ("building_id", StringType()),
    ("floor", IntegerType()),
    ("name", StringType()),
    ("space_type", StringType()),
    ("area_m2", DoubleType()),
    ("capacity", IntegerType()),
    ("tenant", StringType()),
)

DIM_DEVICE = _fields(
    ("device_id", StringType()),
    ("valid_from", TimestampType()),
    ("valid_to", TimestampType()),
    ("is_current", BooleanType()),
    ("space_id", StringType()),
    ("device_type", StringType()),
    ("model", StringType()),
    ("installed_at", TimestampType()),
    ("retired_at", TimestampType()),
)


@dataclass(frozen=True)
class ReportingTable:
    """A table of the star schema: its name, its columns, its key, and how a window is replaced in it.

    window_column: the column a window replace deletes on (a timestamp or a date); None for a dimension,
    which is upserted by key instead. counted_against_previous: whether the quality gate holds a window's rows
    against the previous window's (not for a fact whose count may rightly fall to zero, such as alarms).
    """

    name: str
    schema: StructType
    key: tuple[str, ...]
    window_column: str | None
    counted_against_previous: bool = True


SPACE_METRIC_HOURLY = ReportingTable(
    "fact_space_metric_hourly", FACT_SPACE_METRIC_HOURLY, ("space_id", "metric", "hour_start"), "hour_start"
)
SPACE_DAILY = ReportingTable("fact_space_daily", FACT_SPACE_DAILY, ("space_id", "local_date"), "local_date")
BUILDING_DAILY = ReportingTable("fact_building_daily", FACT_BUILDING_DAILY, ("building_id", "local_date"), "local_date")
CRITICAL_EVENT = ReportingTable("fact_critical_event", FACT_CRITICAL_EVENT, ("critical_event_id",), "event_time")
ALARM = ReportingTable("fact_alarm", FACT_ALARM, ("alarm_id",), "raised_at", counted_against_previous=False)
SPACE_DIMENSION = ReportingTable("dim_space", DIM_SPACE, ("space_id", "valid_from"), None)
DEVICE_DIMENSION = ReportingTable("dim_device", DIM_DEVICE, ("device_id", "valid_from"), None)

FACT_TABLES = (SPACE_METRIC_HOURLY, SPACE_DAILY, BUILDING_DAILY, CRITICAL_EVENT, ALARM)
DIMENSION_TABLES = (SPACE_DIMENSION, DEVICE_DIMENSION)
