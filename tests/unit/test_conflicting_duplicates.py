"""Conflicting duplicates: an id's first content wins, in the batch and across batches; plain duplicates pass."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from tests.unit.test_validation import EVENT_ID, encode, telemetry, verdicts
from transformations.conflicting_duplicates import (
    EVENT_ID_COLUMNS,
    content_fingerprint,
    flag_conflicting_duplicates,
)
from transformations.ingest import accepted_events
from transformations.quarantine import QuarantineReason as Reason

OTHER_ID = "0b9d7c1e-2f3a-4b5c-8d6e-7f8091a2b3c4"
CONFLICT = str(Reason.CONFLICTING_DUPLICATE)


# A message of the validation tests' corpus: (payload, Kafka key, expected reason, expected detail).
Message = tuple[str, str | None, str | None, str | None]


def stored_rows(accepted: DataFrame) -> DataFrame:
    """Accepted events (one per id) as the event_ids rows an earlier batch would have stored."""
    return accepted.withColumn("fingerprint", content_fingerprint()).select(*EVENT_ID_COLUMNS)


def message(**changes: object) -> Message:
    return (encode(telemetry(**changes)), "dev-1", None, None)


def nothing_stored(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [],
        "event_id string, fingerprint long, device_id string, event_time timestamp, kafka_topic string, "
        "kafka_partition int, kafka_offset long",
    )


def reasons(flagged: DataFrame) -> list[tuple[int, str | None]]:
    return sorted((row.kafka_offset, row.reason) for row in flagged.select("kafka_offset", "reason").collect())


def test_in_one_batch_the_first_received_content_is_kept_and_the_others_quarantined(spark: SparkSession) -> None:
    batch: list[Message] = [
        message(),
        message(),  # the same content again: a plain duplicate, stored once
        message(event_time="2026-03-10T13:05:00+01:00"),  # the same id at another time
        message(value=700.0),  # the same id with another value
        message(event_id=OTHER_ID),
    ]
    flagged = verdicts(spark, batch).transform(flag_conflicting_duplicates(nothing_stored(spark)))
    assert reasons(flagged) == [(0, None), (1, None), (2, CONFLICT), (3, CONFLICT), (4, None)]
    assert sorted(row.event_id for row in flagged.transform(accepted_events).collect()) == sorted([EVENT_ID, OTHER_ID])
    (detail,) = [row.detail for row in flagged.where("kafka_offset = 2").collect()]
    assert detail == (
        f"event_id {EVENT_ID} was first received from dev-1 with event_time 2026-03-10T11:59:00.250000Z "
        "at events/0/0; this message differs from it"
    )


def test_first_is_the_earliest_arrival_not_the_order_in_the_batch(spark: SparkSession) -> None:
    later, earlier = message(value=700.0), message()
    rows = verdicts(spark, [later, earlier])
    # The first row arrived a second after the second.
    arrived = F.col("kafka_timestamp")
    rows = rows.withColumn(
        "kafka_timestamp", F.when(F.col("kafka_offset") == 0, arrived + F.expr("INTERVAL 1 SECOND")).otherwise(arrived)
    )
    assert reasons(rows.transform(flag_conflicting_duplicates(nothing_stored(spark)))) == [(0, CONFLICT), (1, None)]


def test_an_id_stored_before_keeps_its_content_across_batches(spark: SparkSession) -> None:
    first_batch = verdicts(spark, [message(), message(event_id=OTHER_ID)])
    stored = first_batch.transform(accepted_events).transform(stored_rows).where(f"event_id = '{EVENT_ID}'")
    assert tuple(stored.columns) == EVENT_ID_COLUMNS
    second_batch = verdicts(
        spark,
        [
            message(),  # the same content: a replay or a resend, accepted again (an upsert)
            message(event_time="2026-03-10T13:05:00+01:00"),  # conflicts with the stored content
            message(event_id=OTHER_ID, value=1.0),  # OTHER_ID is not stored: the first in this batch
        ],
    )
    flagged = second_batch.transform(flag_conflicting_duplicates(stored))
    assert reasons(flagged) == [(0, None), (1, CONFLICT), (2, None)]


def test_an_id_stored_with_other_content_quarantines_every_message_of_it(spark: SparkSession) -> None:
    stored = verdicts(spark, [message(value=1.0)]).transform(accepted_events).transform(stored_rows)
    flagged = verdicts(spark, [message(), message()]).transform(flag_conflicting_duplicates(stored))
    assert reasons(flagged) == [(0, CONFLICT), (1, CONFLICT)]


def test_attributes_in_another_order_are_the_same_content(spark: SparkSession) -> None:
    batch: list[Message] = [
        (encode(telemetry(attributes={"a": "1", "b": "2"})), "dev-1", None, None),
        ('{"attributes": {"b": "2", "a": "1"}, ' + encode(telemetry(attributes=...))[1:], "dev-1", None, None),
    ]
    assert reasons(verdicts(spark, batch).transform(flag_conflicting_duplicates(nothing_stored(spark)))) == [
        (0, None),
        (1, None),
    ]


def test_events_flagged_for_another_reason_keep_it_and_count_for_no_id(spark: SparkSession) -> None:
    ghost: Message = (encode(telemetry(device_id="ghost", event_time="2026-03-10T13:05:00+01:00")), "ghost", None, None)
    batch: list[Message] = [ghost, message()]
    flagged = verdicts(spark, batch).transform(flag_conflicting_duplicates(nothing_stored(spark)))
    # The unknown device's message arrived first, but it was never an event: the second one is the first content.
    assert reasons(flagged) == [(0, str(Reason.UNKNOWN_DEVICE)), (1, None)]
    # Nothing else changes: the same rows, columns and order as the verdicts given.
    assert_df_equality(flagged.orderBy("kafka_offset"), verdicts(spark, batch).orderBy("kafka_offset"))


def test_the_fingerprint_ignores_the_kafka_coordinates_and_the_case_of_the_id(spark: SparkSession) -> None:
    upper: Message = (encode(telemetry(event_id=EVENT_ID.upper())), "dev-1", None, None)
    rows = verdicts(spark, [message(), upper])
    assert len({row.fingerprint for row in rows.select(content_fingerprint().alias("fingerprint")).collect()}) == 1
    assert reasons(rows.transform(flag_conflicting_duplicates(nothing_stored(spark)))) == [(0, None), (1, None)]
