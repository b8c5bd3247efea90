"""Everything one change-feed micro-batch produces, as one DataFrame that a single Spark job collects.

A micro-batch of the hot path holds a few hundred changes; what it yields is bounded by the campus, not by
the events: at most one critical event per change, one latest reading per (device or space, metric), one
rule state per (device, rule). Packing the outputs into one frame of (kind, payload JSON) rows lets the
processor compute them in one job and write them from the driver, instead of one Spark job per sink.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from enum import StrEnum

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transformations.critical_rules import (
    CRITICAL_EVENT_COLUMNS,
    JoinHint,
    attach_space,
    evaluate_rules,
    latest_readings,
    match_rules,
)

# Times in the payloads: ISO 8601 with microseconds and the UTC offset (the session time zone is UTC).
PAYLOAD_TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx"
_LATEST_COLUMNS = ("device_id", "space_id", "metric", "value", "unit", "event_time", "event_id")
# What the alarm rules read of a located change (transformations.alarms.lifecycle.Reading).
ALARM_READING_COLUMNS = (
    "event_time",
    "event_id",
    "device_id",
    "space_id",
    "building_id",
    "space_type",
    "event_type",
    "metric",
    "value",
    "code",
)


class FeedOutput(StrEnum):
    """The kinds of rows a micro-batch yields."""

    CHANGES = "changes"
    UNATTRIBUTED = "unattributed"
    CRITICAL_EVENT = "critical_event"
    DEVICE_LATEST = "device_latest"
    SPACE_LATEST = "space_latest"
    RULE_STATE = "rule_state"
    ALARM_READING = "alarm_reading"


def _packed(kind: FeedOutput, rows: DataFrame, columns: tuple[str, ...]) -> DataFrame:
    """rows as (kind, payload): the columns as one JSON object, nulls kept, times with microseconds."""
    payload = F.to_json(
        F.struct(*[F.col(name) for name in columns]),
        {"timestampFormat": PAYLOAD_TIME_FORMAT, "ignoreNullFields": "false"},
    )
    return rows.select(F.lit(kind.value).alias("kind"), payload.alias("payload"))


def _counted(kind: FeedOutput, rows: DataFrame) -> DataFrame:
    """One row whose payload is the number of rows (a count computed in the same job as everything else)."""
    return rows.agg(F.count(F.lit(1)).cast("string").alias("payload")).select(
        F.lit(kind.value).alias("kind"), "payload"
    )


def located_changes(located_devices: DataFrame, join_hint: JoinHint = "broadcast") -> Callable[[DataFrame], DataFrame]:
    """Changes (CHANGE_EVENT rows) with their device's space, space type and capacity (null: unknown device)."""
    return attach_space(located_devices, join_hint)


def matched_changes(rules: DataFrame, join_hint: JoinHint = "broadcast") -> Callable[[DataFrame], DataFrame]:
    """Located changes of known devices, paired with every current rule that selects them."""

    def transform(located: DataFrame) -> DataFrame:
        return located.where(F.col("space_id").isNotNull()).transform(match_rules(rules, join_hint))

    return transform


def feed_batch_outputs(
    located: DataFrame,
    matched: DataFrame,
    state: DataFrame,
    detected_at: Column,
    alarm_event_types: Collection[str] = (),
) -> DataFrame:
    """The micro-batch's counts, critical events, latest readings, next rule state and alarm readings as
    (kind, payload) rows.

    located comes from located_changes, matched from matched_changes over it (the caller may keep both in
    memory: every output starts from one of them); state holds the consumer's RULE_STATE rows (those of
    devices outside the batch are left as they are). The attributed changes of alarm_event_types go to the
    driver as they are, for the alarm rules' lifecycle (transformations.alarms).
    """
    is_attributed = F.col("space_id").isNotNull()
    attributed = located.where(is_attributed)
    outcome = evaluate_rules(matched, state, detected_at)
    outputs = [
        _counted(FeedOutput.CHANGES, located),
        _counted(FeedOutput.UNATTRIBUTED, located.where(~is_attributed)),
        _packed(FeedOutput.CRITICAL_EVENT, outcome.critical_events, CRITICAL_EVENT_COLUMNS),
        _packed(FeedOutput.DEVICE_LATEST, attributed.transform(latest_readings("device_id")), _LATEST_COLUMNS),
        _packed(FeedOutput.SPACE_LATEST, attributed.transform(latest_readings("space_id")), _LATEST_COLUMNS),
        _packed(FeedOutput.RULE_STATE, outcome.next_state, tuple(outcome.next_state.columns)),
    ]
    if alarm_event_types:
        is_alarm_input = F.col("event_type").isin(*sorted(alarm_event_types))
        outputs.append(_packed(FeedOutput.ALARM_READING, attributed.where(is_alarm_input), ALARM_READING_COLUMNS))
    # Every output is (kind, payload) in that order: a union by position, which costs less to plan than by name.
    combined = outputs[0]
    for output in outputs[1:]:
        combined = combined.union(output)
    return combined


def in_one_partition(frame: DataFrame) -> DataFrame:
    """The frame as one partition, without a shuffle."""
    return frame.coalesce(1)


def _as_it_is(frame: DataFrame) -> DataFrame:
    return frame


def feed_batch_frames(
    changes: DataFrame,
    state: DataFrame,
    located_devices: DataFrame,
    rules: DataFrame,
    detected_at: Column,
    alarm_event_types: Collection[str] = (),
    one_partition: bool = False,
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """A micro-batch's located changes, matched changes and outputs (feed_batch_outputs).

    one_partition: for a batch of a few hundred changes. Every input is taken as one partition and the
    reference data is joined by a merge join instead of a broadcast: each window, aggregation and join then
    finds its rows together, so Spark adds no exchange and broadcasts nothing, and the whole query is one job
    of one stage (no stages' tasks to serialise and deserialise, no broadcast job per batch). It takes the
    session's automatic broadcasts off (spark.sql.autoBroadcastJoinThreshold = -1) and small estimates of the
    inputs' sizes: Spark keeps a join in one partition only while the product of its inputs' estimated sizes
    stays within spark.sql.maxSinglePartitionBytes (local relations and cached reference data are estimated
    by their real size; a frame Spark knows nothing about counts as 8 EiB). Past that, it shuffles: the same
    rows, more stages.
    """
    join_hint: JoinHint = "broadcast"
    if one_partition:
        changes, state, located_devices, rules = (
            in_one_partition(frame) for frame in (changes, state, located_devices, rules)
        )
        join_hint = "merge"
    # A join reports its output as partitioned like each of its sides, which Spark does not take for one
    # partition when it plans the next join (it shuffles): each join's output is taken as one partition again.
    keep_together = in_one_partition if one_partition else _as_it_is
    located = keep_together(changes.transform(located_changes(located_devices, join_hint)))
    matched = keep_together(located.transform(matched_changes(rules, join_hint)))
    return located, matched, feed_batch_outputs(located, matched, state, detected_at, alarm_event_types)
