"""The Spark cache loaders in the real Redis: whole Arrow batches per partition, the same entries as the writers."""

from __future__ import annotations

from datetime import datetime

import redis
from pyspark.sql import SparkSession

from smartspaces.config import Settings
from smartspaces.stages.cache.critical_events import read_critical_events
from smartspaces.stages.cache.latest_readings import read_latest
from smartspaces.stages.cache.loaders import load_critical_events, load_latest_readings
from tests.integration.serving_fixtures import TEST_REDIS_DB, at, critical_event, reading, unique

CRITICAL_DDL = (
    "critical_event_id string, space_id string, device_id string, rule_id string, rule_version int, "
    "severity string, metric string, value double, unit string, code string, message string, "
    "event_time timestamp, source_event_id string, detected_at timestamp"
)
READING_DDL = (
    "metric string, value double, unit string, event_time timestamp, event_id string, device_id string, "
    "space_id string, quality int"
)


def as_row(entry: dict[str, object], fields: str, extra: tuple[object, ...] = ()) -> tuple[object, ...]:
    """The entry as a DataFrame row: its ISO event_time as a timestamp, then `extra` columns."""
    names = [column.split()[0] for column in fields.split(", ")][: -len(extra) or None]
    values = {**entry, "event_time": datetime.fromisoformat(str(entry["event_time"]))}
    return (*[values[name] for name in names], *extra)


def test_the_warm_up_load_writes_complete_newest_k_lists(
    spark: SparkSession, settings: Settings, cache_redis: redis.Redis
) -> None:
    redis_settings = settings.redis.model_copy(update={"db": TEST_REDIS_DB})
    cache = settings.cache.model_copy(update={"critical_per_space": 3})
    spaces = [unique("space") for _ in range(3)]
    events = {space: [critical_event(space, n, at(n)) for n in range(i + 2)] for i, space in enumerate(spaces)}
    events[spaces[0]][0]["code"] = None  # a null column value comes back as null
    rows = [as_row(event, CRITICAL_DDL, (at(30),)) for listed in events.values() for event in listed]
    critical = spark.createDataFrame(rows, CRITICAL_DDL).repartition(3)
    assert load_critical_events(critical, redis_settings, cache, complete=True) == 9
    assert {space: read_critical_events(cache_redis, space, 10) for space in spaces} == {
        space: sorted(listed, key=lambda event: str(event["event_time"]), reverse=True)[:3]
        for space, listed in events.items()
    }


def test_a_streaming_load_updates_without_marking_complete(
    spark: SparkSession, settings: Settings, cache_redis: redis.Redis
) -> None:
    redis_settings = settings.redis.model_copy(update={"db": TEST_REDIS_DB})
    device = unique("dev")
    newer = reading(device, "room-1", "co2", 655.0, at(6), 2)
    older = reading(device, "room-1", "co2", 410.0, at(4), 1)
    readings = spark.createDataFrame([as_row(r, READING_DDL, (1,)) for r in (newer, older)], READING_DDL)
    template = "smartspaces:v1:device:{device_id}:latest"
    key = template.format(device_id=device)
    assert load_latest_readings(readings, template, "device_id", redis_settings, settings.cache, complete=False) == 2
    assert read_latest(cache_redis, key) is None  # no marker: a stream only knows what it saw
    assert load_latest_readings(readings, template, "device_id", redis_settings, settings.cache, complete=True) == 2
    assert read_latest(cache_redis, key) == {"co2": newer}
