"""One micro-batch's outputs from one frame: counts, critical events, latest readings and the next state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces.session import local_dataframe, runtime_conf
from smartspaces.stages.changefeed.outputs import FeedBatchOutputs
from smartspaces.stages.changefeed.processor import MICRO_BATCH_SPARK_CONF
from transformations.feed_batch import feed_batch_frames
from transformations.schemas import CHANGE_EVENT, CRITICAL_RULE, RULE_STATE

T0 = datetime(2026, 11, 25, 9, 0)
DETECTED = datetime(2026, 11, 25, 9, 30)
RULES = [
    (
        "co2_high",
        1,
        True,
        "telemetry",
        "co2",
        None,
        "*",
        "above",
        None,
        1000.0,
        1,
        0.0,
        "once_per_run",
        "warning",
        "CO2 high",
    ),
    (
        "door_forced",
        1,
        True,
        "access",
        None,
        "forced",
        "*",
        "matches",
        None,
        None,
        1,
        0.0,
        "each",
        "critical",
        "Door forced",
    ),
]
LOCATED = [("d-co2", "s1", "office", 10, "b1"), ("d-door", "s1", "office", 10, "b1")]
LOCATED_SCHEMA = "device_id string, space_id string, space_type string, capacity int, building_id string"
DOOR_EVENT = "00000000-0000-0000-0000-00000000000a"
OLD_CO2, NEW_CO2, GHOST = (f"00000000-0000-0000-0000-00000000000{n}" for n in "bcd")


def change(device: str, minute: int, event_id: str, event_type: str, **fields: object) -> tuple[object, ...]:
    at = T0 + timedelta(minutes=minute)
    return (
        device,
        at,
        event_id,
        event_type,
        fields.get("metric"),
        fields.get("value"),
        fields.get("unit"),
        None,
        fields.get("code"),
        at,
    )


def batch_frames(
    spark: SparkSession,
    changes: list[tuple[object, ...]],
    alarm_event_types: tuple[str, ...] = (),
    state: Sequence[tuple[object, ...]] = (),
    one_partition: bool = False,
) -> tuple[DataFrame, DataFrame, DataFrame]:
    registry = spark.createDataFrame(LOCATED, LOCATED_SCHEMA)
    return feed_batch_frames(
        spark.createDataFrame(changes, CHANGE_EVENT),
        spark.createDataFrame(list(state), RULE_STATE),
        registry,
        spark.createDataFrame(RULES, CRITICAL_RULE),
        F.lit(DETECTED),
        alarm_event_types,
        one_partition,
    )


def outputs_of(
    spark: SparkSession, changes: list[tuple[object, ...]], alarm_event_types: tuple[str, ...] = ()
) -> FeedBatchOutputs:
    _, _, frame = batch_frames(spark, changes, alarm_event_types)
    return FeedBatchOutputs.from_rows(frame.collect())


def test_one_frame_holds_every_output_of_the_batch(spark: SparkSession) -> None:
    outputs = outputs_of(
        spark,
        [
            change("d-door", 1, DOOR_EVENT, "access", code="forced"),
            change("d-co2", 2, OLD_CO2, "telemetry", metric="co2", value=900.0, unit="ppm"),
            change("d-co2", 3, NEW_CO2, "telemetry", metric="co2", value=1100.0, unit="ppm"),
            change("ghost", 3, GHOST, "telemetry", metric="co2", value=2000.0, unit="ppm"),
        ],
    )

    assert (outputs.changes, outputs.unattributed) == (4, 1)
    assert sorted((e["rule_id"], e["source_event_id"], e["space_id"]) for e in outputs.critical_events) == [
        ("co2_high", NEW_CO2, "s1"),
        ("door_forced", DOOR_EVENT, "s1"),
    ]
    assert outputs.critical_by_severity() == {"critical": 1, "warning": 1}
    newest = {"metric": "co2", "value": 1100.0, "event_id": NEW_CO2, "event_time": "2026-11-25T09:03:00.000000+00:00"}
    assert [{k: r[k] for k in newest} | {"device_id": r["device_id"]} for r in outputs.device_latest] == [
        newest | {"device_id": "d-co2"}
    ]
    assert [{k: r[k] for k in newest} | {"space_id": r["space_id"]} for r in outputs.space_latest] == [
        newest | {"space_id": "s1"}
    ]
    assert outputs.rule_state == [
        {
            "device_id": "d-co2",
            "rule_id": "co2_high",
            "run_start": "2026-11-25T09:03:00.000000+00:00",
            "run_readings": 1,
            "last_event_time": "2026-11-25T09:03:00.000000+00:00",
            "fired": True,
        }
    ]


def test_an_empty_batch_counts_zero_and_yields_nothing(spark: SparkSession) -> None:
    assert outputs_of(spark, []) == FeedBatchOutputs()


def test_the_located_changes_of_the_alarm_rules_event_types_go_to_the_driver(spark: SparkSession) -> None:
    outputs = outputs_of(
        spark,
        [
            change("d-door", 1, DOOR_EVENT, "access", code="held_open"),
            change("d-co2", 2, OLD_CO2, "telemetry", metric="co2", value=900.0, unit="ppm"),
            change("ghost", 3, GHOST, "telemetry", metric="co2", value=2000.0, unit="ppm"),
        ],
        alarm_event_types=("telemetry",),
    )
    assert outputs.alarm_readings == [
        {
            "event_time": "2026-11-25T09:02:00.000000+00:00",
            "event_id": OLD_CO2,
            "device_id": "d-co2",
            "space_id": "s1",
            "building_id": "b1",
            "space_type": "office",
            "event_type": "telemetry",
            "metric": "co2",
            "value": 900.0,
            "code": None,
        }
    ]


def _unordered(outputs: FeedBatchOutputs) -> dict[str, Any]:
    return {
        name: sorted(json.dumps(row, sort_keys=True) for row in rows) if isinstance(rows, list) else rows
        for name, rows in asdict(outputs).items()
    }


def test_a_batch_in_one_partition_runs_as_one_job_of_one_stage_with_the_same_outputs(spark: SparkSession) -> None:
    changes = [
        change("d-door", 1, DOOR_EVENT, "access", code="forced"),
        change("d-co2", 2, OLD_CO2, "telemetry", metric="co2", value=1200.0, unit="ppm"),
        change("d-co2", 3, NEW_CO2, "telemetry", metric="co2", value=1100.0, unit="ppm"),
        change("ghost", 3, GHOST, "telemetry", metric="co2", value=2000.0, unit="ppm"),
    ]
    # An open run of the CO2 rule, carried from an earlier batch: the state's join is in the query too.
    state = [("d-co2", "co2_high", T0, 2, T0 + timedelta(minutes=1), True)]
    _, _, spread = batch_frames(spark, changes, ("telemetry",), state)
    expected = FeedBatchOutputs.from_rows(spread.collect())
    registry = spark.createDataFrame(LOCATED, LOCATED_SCHEMA).persist()
    rules = spark.createDataFrame(RULES, CRITICAL_RULE).persist()
    registry.count(), rules.count()
    # As the processor runs it: its session's settings, the batch's rows as local relations (read by the
    # driver), the reference data in memory (FeedReference), the located and matched changes kept too.
    with runtime_conf(spark, MICRO_BATCH_SPARK_CONF):
        located, matched, single = feed_batch_frames(
            local_dataframe(spark, changes, CHANGE_EVENT),
            local_dataframe(spark, state, RULE_STATE),
            registry,
            rules,
            F.lit(DETECTED),
            ("telemetry",),
            one_partition=True,
        )
        located.persist(), matched.persist()
        context = spark.sparkContext
        try:
            context.setJobGroup("one-partition-batch", "the micro-batch's query")
            rows = single.collect()
            context.setJobGroup("", "")
            tracker = context.statusTracker()
            jobs = [tracker.getJobInfo(job) for job in tracker.getJobIdsForGroup("one-partition-batch")]
            plan = single._jdf.queryExecution().executedPlan().toString()
        finally:
            for frame in (matched, located, rules, registry):
                frame.unpersist()

    assert "Exchange" not in plan  # neither a shuffle nor a broadcast
    assert [len(job.stageIds) for job in jobs if job is not None] == [1]
    outputs = FeedBatchOutputs.from_rows(rows)
    assert _unordered(outputs) == _unordered(expected)
    assert outputs.critical_by_severity() == {"critical": 1}
