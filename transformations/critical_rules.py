"""Critical-event rules: which stored events are critical, evaluated per micro-batch of the change feed.

A rule selects events (event type, metric or code, space type) and tests a condition. Rules that fire
`each` time (a forced door, a device alarm) need no memory. Rules that fire `once_per_run` fire when the
condition has held for hold_readings readings in a row and for hold_minutes since the run began, once per
run; the open run of each (device, rule) is carried to the next micro-batch as state.

Reprocessing is safe: a critical event's id is derived from its rule and source event, and a reading at or
before the state's last_event_time was already applied to the state, so it is not applied twice (a late
reading still counts for `each` rules, which need no state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pyspark.sql import Column, DataFrame, Window, WindowSpec
from pyspark.sql import functions as F

from transformations.contract import EventType
from transformations.deterministic_ids import uuid5_column
from transformations.events import columns_of
from transformations.ranking import newest_by

ANY_SPACE_TYPE = "*"
# How a change meets its reference data (Spark's join hints): a broadcast in general; a sort-merge join when
# both sides come in one partition (the change feed's micro-batch), which then needs neither an exchange nor a
# job that broadcasts the reference data again for every batch.
JoinHint = Literal["broadcast", "merge"]


class Condition(StrEnum):
    ABOVE = "above"
    BELOW = "below"
    OUTSIDE = "outside"
    ABOVE_CAPACITY = "above_capacity"
    MATCHES = "matches"


class Fires(StrEnum):
    EACH = "each"
    ONCE_PER_RUN = "once_per_run"


# The critical_events_by_space row, in column order.
CRITICAL_EVENT_COLUMNS = (
    "space_id",
    "event_time",
    "critical_event_id",
    "device_id",
    "rule_id",
    "rule_version",
    "severity",
    "metric",
    "value",
    "unit",
    "code",
    "message",
    "source_event_id",
    "detected_at",
)
STATE_COLUMNS = ("device_id", "rule_id", "run_start", "run_readings", "last_event_time", "fired")
_RULE_COLUMNS = (
    "rule_id",
    "rule_version",
    "condition",
    "low",
    "high",
    "hold_readings",
    "hold_minutes",
    "fires",
    "message",
)


@dataclass(frozen=True)
class RuleOutcome:
    """What one micro-batch of rule evaluation produces: critical events, and the state to carry on."""

    critical_events: DataFrame
    next_state: DataFrame


def current_rules(rules: DataFrame) -> DataFrame:
    """The newest version of each rule, if that version is active (an inactive newest version retires it)."""
    is_active = F.coalesce(F.col("active"), F.lit(True))
    return rules.transform(newest_by("rule_id", "rule_version")).where(is_active).drop("active")


def located_devices(spaces: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Devices (registry rows) → device_id with its space_id, space_type, capacity and building_id."""

    def transform(devices: DataFrame) -> DataFrame:
        return devices.select("device_id", "space_id").join(
            spaces.select("space_id", "space_type", "capacity", "building_id"), "space_id", "left"
        )

    return transform


def attach_space(located: DataFrame, join_hint: JoinHint = "broadcast") -> Callable[[DataFrame], DataFrame]:
    """Adds each change's space_id, space_type, capacity and building_id (from located_devices; null for an unknown
    device)."""

    def transform(changes: DataFrame) -> DataFrame:
        return changes.join(located.hint(join_hint), "device_id", "left")

    return transform


def _condition_holds() -> Column:
    value = F.col("value")
    return (
        F.when(F.col("condition") == Condition.ABOVE.value, value > F.col("high"))
        .when(F.col("condition") == Condition.BELOW.value, value < F.col("low"))
        .when(F.col("condition") == Condition.OUTSIDE.value, (value < F.col("low")) | (value > F.col("high")))
        .when(F.col("condition") == Condition.ABOVE_CAPACITY.value, value > F.col("capacity"))
        .when(F.col("condition") == Condition.MATCHES.value, F.lit(True))
        .otherwise(F.lit(False))
    )


# What a rule selects by; dropped once a change is paired with the rules that select it.
_SELECTING_RULE_COLUMNS = ("rule_event_type", "rule_metric", "rule_code", "rule_space_type")


def match_rules(rules: DataFrame, join_hint: JoinHint = "broadcast") -> Callable[[DataFrame], DataFrame]:
    """Pairs each located change with every current rule that selects it, and whether its condition holds."""
    selected_rules = current_rules(rules).select(
        *_RULE_COLUMNS,
        F.col("severity").alias("rule_severity"),
        F.col("event_type").alias("rule_event_type"),
        F.col("metric").alias("rule_metric"),
        F.col("code").alias("rule_code"),
        F.col("space_type").alias("rule_space_type"),
    )

    def transform(changes: DataFrame) -> DataFrame:
        selects = (
            (F.col("event_type") == F.col("rule_event_type"))
            & (F.col("rule_metric").isNull() | (F.col("metric") == F.col("rule_metric")))
            & (F.col("rule_code").isNull() | (F.col("code") == F.col("rule_code")))
            & ((F.col("rule_space_type") == ANY_SPACE_TYPE) | (F.col("space_type") == F.col("rule_space_type")))
        )
        paired = changes.join(selected_rules.hint(join_hint), selects)
        kept = [name for name in paired.columns if name not in _SELECTING_RULE_COLUMNS]
        return paired.select(*kept, F.coalesce(_condition_holds(), F.lit(False)).alias("holds"))

    return transform


def _as_critical_events(fired: DataFrame, detected_at: Column) -> DataFrame:
    derived = {
        "critical_event_id": uuid5_column(F.concat_ws("/", "rule_id", "event_id")),
        "severity": F.coalesce("rule_severity", "severity"),
        "source_event_id": F.col("event_id"),
        "detected_at": detected_at,
    }
    return fired.select(*columns_of(CRITICAL_EVENT_COLUMNS, derived))


def _reading_order(*partition: str) -> WindowSpec:
    """Readings of a (device, rule), or of one run of it, in the order they happened (the id breaks a tie)."""
    return Window.partitionBy("device_id", "rule_id", *partition).orderBy("event_time", "event_id")


def _so_far(window: WindowSpec) -> WindowSpec:
    """The window's rows up to and including the current one."""
    return window.rowsBetween(Window.unboundedPreceding, Window.currentRow)


def _whole(window: WindowSpec) -> WindowSpec:
    """All of the window's rows, whichever the current one."""
    return window.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)


def pending_run_readings(state: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Matched changes of once-per-run rules with their (device, rule)'s state (STATE_COLUMNS), if not applied yet.

    A reading at or before the state's last_event_time was applied to the state already (a reprocessed batch),
    or came too late to extend the state's run in order: it is skipped (a late reading still counts for
    `each` rules, which need no state).
    """

    def transform(matched: DataFrame) -> DataFrame:
        is_once_per_run = F.col("fires") == Fires.ONCE_PER_RUN.value
        is_after_state = F.col("last_event_time").isNull() | (F.col("event_time") > F.col("last_event_time"))
        return (
            matched.where(is_once_per_run)
            .join(state.select(*STATE_COLUMNS), ["device_id", "rule_id"], "left")
            .where(is_after_state)
        )

    return transform


def with_run_number(readings: DataFrame) -> DataFrame:
    """Adds `run`, which run of the batch a reading is in, and `continues_state`, whether it is the state's open run.

    A reading where the condition fails ends a run: it and the readings after it have the next number. Run 0
    continues the run the state carries in, if that run had readings.
    """
    fails_so_far = F.sum(F.when(~F.col("holds"), 1).otherwise(0)).over(_so_far(_reading_order()))
    state_run_is_open = F.coalesce("run_readings", F.lit(0)) > 0
    # One projection (Spark computes the repeated window once).
    return readings.withColumns({"run": fails_so_far, "continues_state": (fails_so_far == 0) & state_run_is_open})


def with_run_progress(readings: DataFrame) -> DataFrame:
    """Adds `run_start_at`, when the reading's run began, and `run_readings_at`, its readings so far.

    A run continuing the state keeps the state's start and adds to its count; a new run starts at its first
    reading where the condition holds. Only readings where the condition holds are counted.
    """
    in_run = _reading_order("run")
    first_holding = F.min(F.when(F.col("holds"), F.col("event_time"))).over(_whole(in_run))
    holding_so_far = F.sum(F.when(F.col("holds"), 1).otherwise(0)).over(_so_far(in_run))
    carried = F.when(F.col("continues_state"), F.col("run_readings")).otherwise(0)
    return readings.withColumns(
        {
            "run_start_at": F.when(F.col("continues_state"), F.col("run_start")).otherwise(first_holding),
            "run_readings_at": carried + holding_so_far,
        }
    )


def with_qualifies(readings: DataFrame) -> DataFrame:
    """Adds `qualifies`: the condition holds, for hold_readings readings (default 1) and hold_minutes (default 0)."""
    held_readings = F.col("run_readings_at") >= F.coalesce("hold_readings", F.lit(1))
    held_micros = F.unix_micros("event_time") - F.unix_micros("run_start_at")
    held_long_enough = held_micros >= F.coalesce("hold_minutes", F.lit(0.0)) * 60_000_000
    return readings.withColumn("qualifies", F.col("holds") & held_readings & held_long_enough)


def with_firing(readings: DataFrame) -> DataFrame:
    """Adds `fires_here`, the reading that fires its run, and `fired_so_far`, whether its run has fired by then.

    A run fires once, at its first qualifying reading (`first_qualifying`: its time and id), unless it fired
    in an earlier micro-batch (`fired_before`: it continues a state that fired).
    """
    in_run = _reading_order("run")
    first_qualifying = F.min(F.when(F.col("qualifies"), F.struct("event_time", "event_id"))).over(_whole(in_run))
    is_first_qualifying = F.struct("event_time", "event_id") == F.col("first_qualifying")
    qualified_so_far = F.max(F.col("qualifies")).over(_so_far(in_run))
    return readings.withColumns(
        {
            "fired_before": F.col("continues_state") & F.coalesce("fired", F.lit(False)),
            "first_qualifying": first_qualifying,
        }
    ).withColumns(
        {
            "fires_here": F.col("qualifies") & is_first_qualifying & ~F.col("fired_before"),
            "fired_so_far": F.col("fired_before") | qualified_so_far,
        }
    )


def _runs(matched: DataFrame, state: DataFrame) -> DataFrame:
    """Once-per-run rule readings with their run's length, start and whether this reading fires."""
    return (
        matched.transform(pending_run_readings(state))
        .transform(with_run_number)
        .transform(with_run_progress)
        .transform(with_qualifies)
        .transform(with_firing)
    )


def _next_state(runs: DataFrame) -> DataFrame:
    """The state after the newest reading of each (device, rule): its open run, or none if the condition failed."""
    last = runs.transform(newest_by(("device_id", "rule_id"), ("event_time", "event_id")))
    open_run = F.col("holds")
    return last.select(
        "device_id",
        "rule_id",
        F.when(open_run, F.col("run_start_at")).alias("run_start"),
        F.when(open_run, F.col("run_readings_at")).otherwise(0).cast("int").alias("run_readings"),
        F.col("event_time").alias("last_event_time"),
        (open_run & F.col("fired_so_far")).alias("fired"),
    )


def evaluate_rules(matched: DataFrame, state: DataFrame, detected_at: Column) -> RuleOutcome:
    """Critical events of a micro-batch of matched changes (from match_rules), and the next rule state.

    state holds RULE_STATE rows of this consumer; only the (device, rule) pairs with new readings change.
    """
    each = matched.where((F.col("fires") == Fires.EACH.value) & F.col("holds"))
    runs = _runs(matched, state)
    # Both sides have CRITICAL_EVENT_COLUMNS in that order: a union by position, which costs less to plan.
    critical = _as_critical_events(each, detected_at).union(
        _as_critical_events(runs.where(F.col("fires_here")), detected_at)
    )
    return RuleOutcome(critical, _next_state(runs))


def latest_readings(scope: str) -> Callable[[DataFrame], DataFrame]:
    """Per scope (device_id or space_id) and metric, the telemetry change with the newest event_time."""

    def transform(changes: DataFrame) -> DataFrame:
        is_located_telemetry = (F.col("event_type") == EventType.TELEMETRY.value) & F.col(scope).isNotNull()
        return (
            changes.where(is_located_telemetry)
            .transform(newest_by((scope, "metric"), ("event_time", "event_id")))
            .select("device_id", "space_id", "metric", "value", "unit", "event_time", "event_id")
        )

    return transform


def newest_per_space(keep: int) -> Callable[[DataFrame], DataFrame]:
    """Each space's newest `keep` critical events, with how many it has in the input (space_events_in_window)."""

    def transform(critical: DataFrame) -> DataFrame:
        events_in_space = F.count("*").over(Window.partitionBy("space_id"))
        return critical.withColumn("space_events_in_window", events_in_space).transform(
            newest_by("space_id", ("event_time", "critical_event_id"), count=keep)
        )

    return transform
