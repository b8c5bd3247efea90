"""Splits validated messages into accepted events (for Cassandra) and quarantine records (for the lake)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Mapping
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transformations.events import columns_of, event_day
from transformations.ranking import first_by
from transformations.validation import RAW_COLUMNS

# The events_by_device_day row, in column order.
ACCEPTED_COLUMNS = (
    "device_id",
    "day",
    "event_time",
    "event_id",
    "schema_version",
    "event_type",
    "metric",
    "value",
    "unit",
    "severity",
    "code",
    "attributes",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "ingest_time",
)
# The order of arrival of messages: the first of an id's copies is the one stored.
FIRST_RECEIVED = ("kafka_timestamp", "kafka_partition", "kafka_offset")
QUARANTINE_COLUMNS = (*RAW_COLUMNS, "event_id", "device_id", "reason", "detail", "ingest_date")


def accepted_events(verdicts: DataFrame) -> DataFrame:
    """Events that passed every check, once per event_id, with their day and Kafka coordinates.

    Of an id's copies, the first received is kept (Kafka timestamp, then partition and offset): the same row
    whichever copy a task happens to see first, on one machine or on a cluster.
    """
    return (
        verdicts.where(F.col("reason").isNull())
        .withColumn("event_id", F.lower("event_id"))
        .transform(first_by("event_id", [F.col(name) for name in FIRST_RECEIVED]))
        .transform(as_stored_events)
    )


def events_but_copies(copies: Mapping[tuple[str, int], Collection[int]]) -> Callable[[DataFrame], DataFrame]:
    """Events that passed every check but the given copies (their offsets by topic and partition).

    What accepted_events keeps, when the caller already knows each id's first receipt and so the offsets of
    its later copies (the ingest's driver does: it holds every receipt of the batch and the ids stored
    before): a filter on each row instead of a shuffle of the batch by id.
    """

    def transform(verdicts: DataFrame) -> DataFrame:
        copy = [
            (F.col("kafka_topic") == topic)
            & (F.col("kafka_partition") == partition)
            & F.col("kafka_offset").isin(sorted(offsets))
            for (topic, partition), offsets in copies.items()
            if offsets
        ]
        kept = F.col("reason").isNull()
        if copy:
            kept = kept & ~reduce(operator.or_, copy)
        # One filter and one projection: each step of a DataFrame is analysed again, every micro-batch.
        return verdicts.where(kept).transform(as_stored_events)

    return transform


def as_stored_events(events: DataFrame) -> DataFrame:
    """Valid messages as events_by_device_day rows, in one projection: the event id in lower case, the day,
    and ingest_time, the message's Kafka timestamp (its arrival), so a replay writes the very same row."""
    computed = {"event_id": F.lower("event_id"), "day": event_day(), "ingest_time": F.col("kafka_timestamp")}
    return events.select(*columns_of(ACCEPTED_COLUMNS, computed))


def quarantine_records(verdicts: DataFrame) -> DataFrame:
    """Messages that failed a check: raw payload, coordinates, reason, detail, and the date they arrived."""
    computed = {"ingest_date": F.to_date("kafka_timestamp")}
    return verdicts.where(F.col("reason").isNotNull()).select(*columns_of(QUARANTINE_COLUMNS, computed))
