"""The device event contract, version 1: defined once here; docs/event.schema.json is rendered from it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pyspark.sql.types import (
    DoubleType,
    IntegerType,
    MapType,
    StringType,
    StructField,
    StructType,
)

SCHEMA_VERSION = 1


class EventType(StrEnum):
    TELEMETRY = "telemetry"
    ALARM = "alarm"
    STATUS = "status"
    ACCESS = "access"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Metric:
    """A telemetry metric: its unit and the physically possible range of its value."""

    name: str
    unit: str
    minimum: float
    maximum: float
    description: str


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("temperature", "celsius", -40.0, 85.0, "air temperature"),
        Metric("humidity", "percent", 0.0, 100.0, "relative humidity"),
        Metric("co2", "ppm", 0.0, 10_000.0, "CO2 concentration"),
        Metric("occupancy", "count", 0.0, 5_000.0, "people counted in the space"),
        Metric("energy", "kWh", 0.0, 1.0e9, "cumulative energy meter reading"),
    )
}

# Codes of status and access events.
STATUS_CODES = ("online", "offline", "battery_low", "tamper")
ACCESS_CODES = ("granted", "denied", "forced", "held_open", "closed")

REQUIRED_FIELDS = ("schema_version", "event_id", "device_id", "event_type", "event_time")
REQUIRED_BY_EVENT_TYPE: dict[EventType, tuple[str, ...]] = {
    EventType.TELEMETRY: ("metric", "value", "unit"),
    EventType.ALARM: ("severity", "code"),
    EventType.STATUS: ("code",),
    EventType.ACCESS: ("code",),
}

# How Spark reads a payload. event_time stays a string here: it is parsed, and checked, separately.
EVENT_PAYLOAD = StructType(
    [
        StructField("schema_version", IntegerType()),
        StructField("event_id", StringType()),
        StructField("device_id", StringType()),
        StructField("event_type", StringType()),
        StructField("metric", StringType()),
        StructField("value", DoubleType()),
        StructField("unit", StringType()),
        StructField("severity", StringType()),
        StructField("code", StringType()),
        StructField("event_time", StringType()),
        StructField("attributes", MapType(StringType(), StringType())),
    ]
)
# ISO 8601 with a mandatory offset (Z or ±hh:mm) and an optional fraction of up to 6 digits.
EVENT_TIME_PATTERN = "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX"
EVENT_ID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def event_json_schema() -> dict[str, Any]:
    """The contract as a JSON Schema (draft 2020-12), for device makers."""
    telemetry_rules = [
        {
            "if": {"properties": {"metric": {"const": metric.name}}},
            "then": {
                "properties": {
                    "unit": {"const": metric.unit},
                    "value": {"minimum": metric.minimum, "maximum": metric.maximum},
                }
            },
        }
        for metric in METRICS.values()
    ]
    by_type = [
        {
            "if": {"properties": {"event_type": {"const": event_type.value}}},
            "then": {"required": list(fields)},
        }
        for event_type, fields in REQUIRED_BY_EVENT_TYPE.items()
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://smartspaces.example/schemas/device-event-v1.json",
        "title": f"Smart-spaces device event, schema version {SCHEMA_VERSION}",
        "type": "object",
        "required": list(REQUIRED_FIELDS),
        "properties": {
            "schema_version": {"const": SCHEMA_VERSION},
            "event_id": {"type": "string", "pattern": EVENT_ID_PATTERN, "description": "UUID; the idempotency key"},
            "device_id": {"type": "string", "minLength": 1, "description": "also the Kafka message key"},
            "event_type": {"enum": [event_type.value for event_type in EventType]},
            "metric": {"enum": list(METRICS)},
            "value": {"type": "number", "description": "finite; within the metric's range"},
            "unit": {"enum": sorted({metric.unit for metric in METRICS.values()})},
            "severity": {"enum": [severity.value for severity in Severity]},
            "code": {"type": "string", "minLength": 1},
            "event_time": {
                "type": "string",
                "format": "date-time",
                "description": "ISO 8601 with an offset, e.g. 2026-01-01T09:30:00.250+01:00",
            },
            "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "allOf": by_type + telemetry_rules,
    }
