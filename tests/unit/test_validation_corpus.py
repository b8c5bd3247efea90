"""The validator's contract test: every message of a simulated run gets exactly the reason it was made for."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces.connectors.delta import read_reference_drop
from smartspaces.stages.simulator.bad_input import BAD_KINDS
from smartspaces.stages.simulator.campus import write_reference
from smartspaces.stages.simulator.producer import (
    SimMessage,
    SimulationOptions,
    SimulationReport,
    campus_for,
    generate_messages,
    resolved,
)
from transformations.schemas import DEVICE_REFERENCE
from transformations.validation import ValidationLimits, flag_unknown_devices, from_kafka_rows, validate_events

# The simulated 'now' is also every message's arrival (its Kafka timestamp).
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
OPTIONS = SimulationOptions(
    count=2000, seed=7, buildings=2, bad_fraction=0.01, duplicate_fraction=0.02, late_fraction=0.02, now=NOW
)
KAFKA_ROW = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"


def kafka_rows(spark: SparkSession, messages: list[SimMessage]) -> DataFrame:
    """The messages as the Kafka source delivers them, one partition, offsets in sending order."""
    rows = [(m.key, m.value, "events", 0, offset, NOW) for offset, m in enumerate(messages)]
    return spark.createDataFrame(rows, KAFKA_ROW)


def device_registry(spark: SparkSession, folder: Path) -> DataFrame:
    """devices.csv of the run, read as jobs.reference reads a drop."""
    _, devices = write_reference(campus_for(resolved(OPTIONS)), folder)
    return read_reference_drop(spark, str(devices), DEVICE_REFERENCE, "csv")


def test_every_simulated_message_gets_the_reason_it_was_made_for(spark: SparkSession, tmp_path: Path) -> None:
    messages = list(generate_messages(OPTIONS))
    report = SimulationReport()
    for message in messages:
        report.count(message)
    verdicts = (
        kafka_rows(spark, messages)
        .transform(from_kafka_rows)
        .transform(validate_events(ValidationLimits()))
        .transform(flag_unknown_devices(device_registry(spark, tmp_path)))
    )
    # 2,000 rows: small enough to collect.
    reasons = sorted((row.kafka_offset, row.reason) for row in verdicts.select("kafka_offset", "reason").collect())

    assert reasons == [(offset, message.expected_reason) for offset, message in enumerate(messages)]
    assert Counter(reason for _, reason in reasons if reason) == report.bad_by_reason
    assert sorted(report.bad_by_reason) == sorted(kind.value for kind in BAD_KINDS)
    assert min(report.bad_by_reason.values()) > 0, "every bad kind is in the corpus"
    assert (report.duplicates > 0, report.late > 0) == (True, True)


def test_the_reference_drop_reads_without_nulls_in_the_loaders_schema(spark: SparkSession, tmp_path: Path) -> None:
    registry = device_registry(spark, tmp_path)
    # retired_at is null for a device in service: every device of a fresh campus.
    required = [name for name in registry.columns if name != "retired_at"]
    incomplete = registry.where(F.greatest(*[F.col(name).isNull() for name in required]))
    assert (incomplete.count(), registry.count()) == (0, len(campus_for(resolved(OPTIONS)).devices))
