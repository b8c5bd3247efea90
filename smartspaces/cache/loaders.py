"""Spark → Redis cache loaders: critical events per space and latest readings, pipelined per partition.

The same Redis writes as the read API's fill-on-miss (smartspaces.cache), so both leave one layout.
Idempotent: a critical event is a set member by id, and a latest reading only replaces an older one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from smartspaces.cache.critical_events import CRITICAL_EVENT_FIELDS, add_critical_events, mark_critical_complete
from smartspaces.cache.encoding import SPARK_ISO_UTC
from smartspaces.cache.latest_readings import READING_FIELDS, mark_latest_complete, update_latest
from smartspaces.config import CacheSettings, RedisSettings
from smartspaces.connectors.redis import write_per_partition


def cached_columns(rows: DataFrame, fields: tuple[str, ...]) -> DataFrame:
    """The fields the cache keeps, times formatted by Spark in UTC (Python workers would use their local zone)."""
    return rows.select(
        *[F.date_format(name, SPARK_ISO_UTC).alias(name) if dtype == "timestamp" else F.col(name).cast("string")
          if name.endswith("_id") else F.col(name) for name, dtype in rows.dtypes if name in fields]
    )  # fmt: skip


def load_critical_events(critical: DataFrame, redis: RedisSettings, cache: CacheSettings, complete: bool) -> None:
    """Adds critical events to their spaces' newest-K lists; complete=True marks the lists as whole (warm-up)."""

    def write(pipeline: Any, rows: list[Row]) -> Iterable[str]:
        by_space: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_space[row.space_id].append(row.asDict())
        for space_id, events in by_space.items():
            add_critical_events(pipeline, space_id, events, cache.critical_per_space, cache.critical_ttl_s)
        return by_space.keys()

    def mark_complete(pipeline: Any, space_ids: set[str]) -> None:
        for space_id in space_ids:
            mark_critical_complete(pipeline, space_id, cache.critical_ttl_s)

    # One space's events in one partition, so its list is complete when the partition ends.
    write_per_partition(cached_columns(critical, CRITICAL_EVENT_FIELDS).repartition("space_id"), redis, write,
                    mark_complete if complete else None)  # fmt: skip


def load_latest_readings(
    readings: DataFrame, key_template: str, scope: str, redis: RedisSettings, cache: CacheSettings, complete: bool
) -> None:
    """Updates the latest reading of each metric under key_template.format(**{scope: id}); newer wins."""

    def write(pipeline: Any, rows: list[Row]) -> Iterable[str]:
        keys = []
        for row in rows:
            keys.append(key_template.format(**{scope: row[scope]}))
            update_latest(pipeline, keys[-1], row.asDict(), cache.latest_ttl_s)
        return keys

    def mark_complete(pipeline: Any, keys: set[str]) -> None:
        for key in keys:
            mark_latest_complete(pipeline, key, cache.latest_ttl_s)

    # One scope's readings in one partition, so its hash is complete when the partition ends.
    write_per_partition(cached_columns(readings, READING_FIELDS).repartition(scope), redis, write,
                    mark_complete if complete else None)  # fmt: skip
