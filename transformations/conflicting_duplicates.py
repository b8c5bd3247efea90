"""Conflicting duplicates: an event id received again with other content is quarantined, never stored twice.

The rule: an event id belongs to the content it was first received with, first by the broker's arrival
(Kafka timestamp, then partition and offset). A later message with the same id and the same content is a
plain duplicate (stored once, as before); one with other content (another time, device, value ...) is
quarantined as `conflicting_duplicate`, its detail naming where the first one came from. "First" spans
batches: the ids already stored, with their content's fingerprint, come from the `event_ids` table (the
ingest looks them up and checks a batch for conflicts from the driver; this flagging runs for a batch that
holds one).

Without this, a device that re-sends an id with a corrected time would have both rows in
events_by_device_day (its key holds the event time) and be counted twice in the hourly facts.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType, TimestampType

from transformations.ingest import ACCEPTED_COLUMNS, FIRST_RECEIVED
from transformations.quarantine import QuarantineReason as Reason
from transformations.validation import VERDICT_COLUMNS

# What an event says: its stored columns but its id, its day (derived) and where and when it came. Two messages
# of one id that differ in any of these are two different events under one id.
NOT_CONTENT = frozenset({"event_id", "day", "kafka_topic", "kafka_partition", "kafka_offset", "ingest_time"})
CONTENT_COLUMNS = tuple(name for name in ACCEPTED_COLUMNS if name not in NOT_CONTENT)
# The event_ids row: the id, what its content was and where it was first received.
EVENT_ID_SCHEMA = StructType(
    [
        StructField("event_id", StringType()),
        StructField("fingerprint", LongType()),
        StructField("device_id", StringType()),
        StructField("event_time", TimestampType()),
        StructField("kafka_topic", StringType()),
        StructField("kafka_partition", IntegerType()),
        StructField("kafka_offset", LongType()),
    ]
)
EVENT_ID_COLUMNS = tuple(EVENT_ID_SCHEMA.fieldNames())


def content_fingerprint() -> Column:
    """A 64-bit hash of an event's content. The attributes map is hashed as its entries sorted by key (Spark
    hashes no maps, and two maps with the same entries are the same content)."""
    columns = [
        F.array_sort(F.map_entries(F.col(name))) if name == "attributes" else F.col(name) for name in CONTENT_COLUMNS
    ]
    return F.xxhash64(*columns)


def flag_conflicting_duplicates(stored: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Marks valid events whose id was first received with other content as CONFLICTING_DUPLICATE.

    stored: event_ids rows (EVENT_ID_COLUMNS) of ids received in earlier batches, lower-case; at most one per id.
    Events already flagged keep their reason; an id's first message in the batch is compared with the stored
    row when there is one, else it is the reference the batch's later messages are compared with.
    """

    def transform(verdicts: DataFrame) -> DataFrame:
        valid = F.col("reason").isNull()
        candidates = verdicts.withColumn("_id", F.when(valid, F.lower("event_id"))).withColumn(
            "_fingerprint", F.when(valid, content_fingerprint())
        )
        first_here = F.min_by(
            F.struct(
                F.col("_fingerprint").alias("fingerprint"),
                F.col("device_id"),
                F.col("event_time"),
                F.col("kafka_topic"),
                F.col("kafka_partition"),
                F.col("kafka_offset"),
            ),
            F.struct(*FIRST_RECEIVED),
        ).over(Window.partitionBy("_id"))
        before = stored.select(
            F.col("event_id").alias("_stored_id"),
            F.struct(*[F.col(name) for name in EVENT_ID_COLUMNS if name != "event_id"]).alias("_stored"),
        )
        joined = candidates.withColumn("_first_here", F.when(valid, first_here)).join(
            before, F.col("_id") == F.col("_stored_id"), "left"
        )
        reference = F.coalesce(F.col("_stored"), F.col("_first_here"))
        conflicting = valid & (F.col("_fingerprint") != reference["fingerprint"])
        detail = F.format_string(
            "event_id %s was first received from %s with event_time %s at %s/%d/%d; this message differs from it",
            F.col("_id"),
            reference["device_id"],
            F.date_format(reference["event_time"], "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"),
            reference["kafka_topic"],
            reference["kafka_partition"],
            reference["kafka_offset"],
        )
        return joined.select(
            *[c for c in verdicts.columns if c not in VERDICT_COLUMNS],
            F.when(conflicting, F.lit(Reason.CONFLICTING_DUPLICATE.value)).otherwise(F.col("reason")).alias("reason"),
            F.when(conflicting, detail).otherwise(F.col("detail")).alias("detail"),
        )

    return transform
