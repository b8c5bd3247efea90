"""The ingest's driver-side check: the same messages flagged as the Spark rule flags them, and the counts."""

from __future__ import annotations

from dataclasses import replace

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces.stages.ingest.event_ids import (
    Receipt,
    accepted_receipts,
    batch_counts,
    collect_batch,
    conflicting,
    first_receipts,
    later_copies,
    receipts_frame,
)
from tests.unit.test_conflicting_duplicates import OTHER_ID, Message, message
from tests.unit.test_validation import EVENT_ID, encode, telemetry, verdicts
from transformations.conflicting_duplicates import flag_conflicting_duplicates
from transformations.ingest import accepted_events, events_but_copies
from transformations.quarantine import QuarantineReason as Reason

CONFLICT = str(Reason.CONFLICTING_DUPLICATE)
BATCH: list[Message] = [
    message(),
    message(),
    message(event_time="2026-03-10T13:05:00+01:00"),
    message(value=700.0),
    message(event_id=OTHER_ID),
    ("{not json", "dev-1", None, None),
]


def flagged_by_spark(rows: DataFrame, stored: dict[str, Receipt]) -> set[int]:
    flagged = rows.transform(flag_conflicting_duplicates(receipts_frame(rows.sparkSession, stored.values())))
    return {row.kafka_offset for row in flagged.where(F.col("reason") == CONFLICT).collect()}


def test_the_driver_finds_the_conflicts_the_spark_rule_flags_in_a_batch(spark: SparkSession) -> None:
    rows = verdicts(spark, BATCH)
    collected = collect_batch(rows)
    conflicts = conflicting(collected.receipts, {})
    assert {receipt.kafka_offset for receipt in conflicts} == flagged_by_spark(rows, {}) == {2, 3}


def test_the_driver_finds_the_conflicts_with_stored_ids_the_spark_rule_flags(spark: SparkSession) -> None:
    first = collect_batch(verdicts(spark, [message(value=1.0)])).receipts
    stored = {receipt.event_id: receipt for receipt in first}
    rows = verdicts(spark, BATCH)
    conflicts = conflicting(collect_batch(rows).receipts, stored)
    assert {receipt.kafka_offset for receipt in conflicts} == flagged_by_spark(rows, stored) == {0, 1, 2, 3}


def test_counts_are_messages_distinct_events_plain_duplicates_and_reasons(spark: SparkSession) -> None:
    collected = collect_batch(verdicts(spark, BATCH))
    conflicts = conflicting(collected.receipts, {})
    counts = batch_counts(7, collected, conflicts, later_copies(accepted_receipts(collected, conflicts), {}))
    assert (counts.batch_id, counts.messages, counts.accepted_events, counts.duplicates) == (7, 6, 2, 1)
    assert counts.quarantined == {"not_json": 1, CONFLICT: 2}


def test_an_ids_first_receipt_is_its_earliest_arrival(spark: SparkSession) -> None:
    batch: list[Message] = [message(value=700.0), message(), message(event_id=OTHER_ID)]
    rows = verdicts(spark, batch)
    later_first = rows.withColumn(
        "kafka_timestamp",
        F.when(F.col("kafka_offset") == 0, F.col("kafka_timestamp") + F.expr("INTERVAL 1 SECOND")).otherwise(
            F.col("kafka_timestamp")
        ),
    )
    first = first_receipts(collect_batch(later_first).receipts)
    assert {event_id: receipt.kafka_offset for event_id, receipt in first.items()} == {EVENT_ID: 1, OTHER_ID: 2}


def test_a_receipt_keeps_its_event_time_to_the_microsecond(spark: SparkSession) -> None:
    precise: Message = (encode(telemetry(event_time="2026-03-10T12:59:00.123456+01:00")), "dev-1", None, None)
    rows = verdicts(spark, [precise])
    (receipt,) = collect_batch(rows).receipts
    stored = receipts_frame(rows.sparkSession, [receipt])
    assert stored.select(F.date_format("event_time", "HH:mm:ss.SSSSSS")).collect()[0][0] == "11:59:00.123456"


def test_a_copy_of_an_id_an_earlier_batch_stored_counts_as_a_duplicate(spark: SparkSession) -> None:
    collected = collect_batch(verdicts(spark, [message(), message(event_id=OTHER_ID)]))
    earlier = {EVENT_ID: replace(collected.receipts[0], kafka_offset=99)}
    counts = batch_counts(3, collected, [], later_copies(collected.receipts, earlier))
    assert (counts.messages, counts.accepted_events, counts.duplicates) == (2, 1, 1)


def written(rows: DataFrame) -> list[tuple[str, int]]:
    return sorted((row.event_id, row.kafka_offset) for row in rows.collect())


def test_the_driver_writes_the_rows_the_spark_rule_keeps_each_ids_first_receipt(spark: SparkSession) -> None:
    rows = verdicts(spark, [message(), message(), message(event_id=OTHER_ID), message(event_id=OTHER_ID)])
    copies = later_copies(collect_batch(rows).receipts, {})
    assert copies == {("events", 0): {1, 3}}
    kept = written(rows.transform(events_but_copies(copies)))
    assert kept == written(rows.transform(accepted_events)) == sorted([(EVENT_ID, 0), (OTHER_ID, 2)])


def test_a_copy_of_an_id_an_earlier_batch_stored_is_not_written_again_but_a_replayed_batch_is(
    spark: SparkSession,
) -> None:
    rows = verdicts(spark, [message(), message(event_id=OTHER_ID)])
    receipts = collect_batch(rows).receipts
    earlier = {EVENT_ID: replace(receipts[0], kafka_partition=2, kafka_offset=7)}
    assert written(rows.transform(events_but_copies(later_copies(receipts, earlier)))) == [(OTHER_ID, 1)]
    replayed = {receipt.event_id: receipt for receipt in receipts}
    assert written(rows.transform(events_but_copies(later_copies(receipts, replayed)))) == sorted(
        [(EVENT_ID, 0), (OTHER_ID, 1)]
    )
