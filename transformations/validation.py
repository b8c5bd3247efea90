"""Parses Kafka messages against the event contract and gives every message a verdict.

A message that fails gets the reason of the first check it fails and a detail (the field, the
value); one that passes gets a null reason. Nothing is dropped: the caller splits the two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transformations.contract import (
    ACCESS_CODES,
    EVENT_ID_PATTERN,
    EVENT_PAYLOAD,
    EVENT_TIME_PATTERN,
    METRICS,
    REQUIRED_BY_EVENT_TYPE,
    REQUIRED_FIELDS,
    SCHEMA_VERSION,
    STATUS_CODES,
    EventType,
    Severity,
)
from transformations.quarantine import QuarantineReason as Reason

# The columns a validated message carries, whatever its verdict.
RAW_COLUMNS = ("key", "payload", "payload_bytes", "kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp")
EVENT_COLUMNS = tuple(field.name for field in EVENT_PAYLOAD.fields)
VERDICT_COLUMNS = ("reason", "detail")


@dataclass(frozen=True)
class ValidationLimits:
    """Bounds a message must respect; times are relative to the message's Kafka timestamp (its arrival)."""

    max_payload_bytes: int = 16_384
    max_future_skew_s: int = 300
    max_lateness_s: int = 7 * 24 * 3600


Check = tuple[Column, Reason, Column]
# Strict JSON: Spark's reader accepts single-quoted strings unless told not to.
JSON_OPTIONS = {"allowSingleQuotes": "false"}


STRING_FIELDS = tuple(field.name for field in EVENT_PAYLOAD.fields if field.dataType.simpleString() == "string")
# A field of another type is null in the typed parse both when it is absent and when its type is wrong.
TYPED_FIELDS = tuple(field.name for field in EVENT_PAYLOAD.fields if field.name not in STRING_FIELDS)


def _present(event: Column, loose: Column, field: str) -> Column:
    """The field is in the payload with a non-null value (of whatever type)."""
    if field in STRING_FIELDS:
        return event[field].isNotNull()
    return event[field].isNotNull() | loose.getItem(field).isNotNull()


def _checks(limits: ValidationLimits) -> list[Check]:
    loose, event = F.col("_loose"), F.col("_event")
    payload = F.col("payload")
    value, metric, event_type = event["value"], event["metric"], event["event_type"]
    event_time, arrived = F.col("event_time"), F.col("kafka_timestamp")

    def missing(fields: tuple[str, ...], when: Column | None = None) -> list[Check]:
        applies = F.lit(True) if when is None else when
        return [(applies & ~_present(event, loose, field), Reason.MISSING_FIELD, F.lit(field)) for field in fields]

    wrong_types: list[Check] = [
        (event[field].isNull() & loose.getItem(field).isNotNull(), Reason.WRONG_TYPE, F.lit(field))
        for field in TYPED_FIELDS
    ] + [
        # A JSON object or array where a string is expected arrives as its JSON text.
        (event[field].rlike(r"^\s*[\[{]"), Reason.WRONG_TYPE, F.lit(field))
        for field in STRING_FIELDS
    ]
    type_specific = [
        check
        for kind, fields in REQUIRED_BY_EVENT_TYPE.items()
        for check in missing(fields, when=event_type == kind.value)
    ]
    expected_unit = F.coalesce(*[F.when(metric == m.name, F.lit(m.unit)) for m in METRICS.values()])
    out_of_range = F.coalesce(
        *[F.when(metric == m.name, (value < m.minimum) | (value > m.maximum)) for m in METRICS.values()]
    )
    codes = {EventType.STATUS: STATUS_CODES, EventType.ACCESS: ACCESS_CODES}
    unknown_code = F.coalesce(
        *[F.when(event_type == kind.value, ~event["code"].isin(*allowed)) for kind, allowed in codes.items()]
    )
    skew, lateness = (
        F.expr(f"INTERVAL {limits.max_future_skew_s} SECONDS"),
        F.expr(f"INTERVAL {limits.max_lateness_s} SECONDS"),
    )
    return [
        (
            F.col("payload_bytes") > limits.max_payload_bytes,
            Reason.PAYLOAD_TOO_LARGE,
            F.format_string("%d bytes", F.col("payload_bytes")),
        ),
        (F.col("_wellformed").isNull(), Reason.NOT_JSON, F.substring(payload, 1, 80)),
        (
            F.coalesce(~F.ltrim(F.col("_wellformed")["w"]).startswith("{"), F.lit(True)),
            Reason.NOT_AN_OBJECT,
            F.substring(payload, 1, 80),
        ),
        *missing(REQUIRED_FIELDS),
        *wrong_types,
        (
            event["schema_version"] != SCHEMA_VERSION,
            Reason.UNSUPPORTED_SCHEMA_VERSION,
            event["schema_version"].cast("string"),
        ),
        (~event["event_id"].rlike(EVENT_ID_PATTERN), Reason.BAD_EVENT_ID, event["event_id"]),
        (
            ~F.col("key").eqNullSafe(event["device_id"]),
            Reason.KEY_MISMATCH,
            F.format_string("key %s", F.coalesce(F.col("key"), F.lit("null"))),
        ),
        (~event_type.isin(*[kind.value for kind in EventType]), Reason.UNKNOWN_EVENT_TYPE, event_type),
        *type_specific,
        ((event_type == EventType.TELEMETRY.value) & ~metric.isin(*METRICS), Reason.UNKNOWN_METRIC, metric),
        (event["unit"] != expected_unit, Reason.WRONG_UNIT, F.concat_ws(" ", metric, event["unit"])),
        (
            (event_type == EventType.ALARM.value) & ~event["severity"].isin(*[s.value for s in Severity]),
            Reason.UNKNOWN_SEVERITY,
            event["severity"],
        ),
        (unknown_code, Reason.UNKNOWN_CODE, event["code"]),
        (F.isnan(value) | (F.abs(value) == float("inf")), Reason.NOT_FINITE, value.cast("string")),
        (out_of_range, Reason.OUT_OF_RANGE, F.concat_ws(" ", metric, value.cast("string"))),
        (event_time.isNull(), Reason.BAD_EVENT_TIME, event["event_time"]),
        (event_time > arrived + skew, Reason.EVENT_TIME_IN_FUTURE, event["event_time"]),
        (event_time < arrived - lateness, Reason.EVENT_TIME_TOO_OLD, event["event_time"]),
    ]


def from_kafka_rows(messages: DataFrame) -> DataFrame:
    """Kafka source rows → the raw columns every verdict keeps (payload as text, coordinates, arrival)."""
    return messages.select(
        F.col("key").cast("string").alias("key"),
        F.col("value").cast("string").alias("payload"),
        F.octet_length("value").alias("payload_bytes"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    )


def validate_events(limits: ValidationLimits) -> Callable[[DataFrame], DataFrame]:
    """Raw message rows (RAW_COLUMNS) → the same rows with the event's fields, a reason and a detail."""

    def transform(raw: DataFrame) -> DataFrame:
        # An oversized payload is never parsed.
        parsable = F.when(F.col("payload_bytes") <= limits.max_payload_bytes, F.col("payload"))
        # Wrapped as the value of an object, any single JSON document parses (null and trailing white space
        # included), while text after it, a second document or anything that is not JSON does not. Spark's
        # reader stops after the first object, so the unwrapped parses alone would accept those.
        wrapped = F.concat(F.lit('{"w":'), parsable, F.lit("}"))
        parsed = raw.select(
            *RAW_COLUMNS,
            F.from_json(parsable, EVENT_PAYLOAD, JSON_OPTIONS).alias("_event"),
            F.from_json(wrapped, "map<string,string>", JSON_OPTIONS).alias("_wellformed"),
        )
        # The payload as a map of raw values tells an absent field from a wrongly typed one. It is parsed
        # only where a non-string field came out null although its name is in the text: most messages
        # either have those fields or plainly lack them.
        typed_null = F.lit(False)
        for field in TYPED_FIELDS:
            typed_null = typed_null | (F.col("_event")[field].isNull() & F.col("payload").contains(f'"{field}"'))
        parsed = parsed.withColumn(
            "_loose", F.when(typed_null, F.from_json(parsable, "map<string,string>", JSON_OPTIONS))
        )
        parsed = parsed.withColumn("event_time", F.to_timestamp(F.col("_event.event_time"), EVENT_TIME_PATTERN))
        checks = _checks(limits)
        verdict = parsed.select(
            *RAW_COLUMNS,
            *[F.col("_event")[name].alias(name) for name in EVENT_COLUMNS if name != "event_time"],
            "event_time",
            F.coalesce(*[F.when(failed, F.lit(reason.value)) for failed, reason, _ in checks]).alias("reason"),
            F.coalesce(*[F.when(failed, detail) for failed, _, detail in checks]).alias("detail"),
        )
        return verdict

    return transform


def flag_unknown_devices(registry: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Marks valid events whose device_id is not in the registry (device_id column) as UNKNOWN_DEVICE."""

    def transform(verdicts: DataFrame) -> DataFrame:
        known = registry.select(F.col("device_id").alias("_known_device")).distinct()
        joined = verdicts.join(F.broadcast(known), verdicts["device_id"] == known["_known_device"], "left")
        unknown = F.col("reason").isNull() & F.col("_known_device").isNull()
        return joined.select(
            *[c for c in verdicts.columns if c not in VERDICT_COLUMNS],
            F.when(unknown, F.lit(Reason.UNKNOWN_DEVICE.value)).otherwise(F.col("reason")).alias("reason"),
            F.when(unknown, F.col("device_id")).otherwise(F.col("detail")).alias("detail"),
        )

    return transform
