"""Spark → Redis cache loaders: critical events per space and latest readings, whole Arrow batches per partition.

Each partition runs the plain-Python writers of smartspaces.stages.cache (write_critical_events, write_latest_readings)
that the change feed also calls from the driver and whose single-entry forms the read API's fill-on-miss
uses, so every writer leaves one layout. Idempotent: a critical event is a set member by id, and a latest
reading only replaces an older one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from smartspaces.connectors.redis import RowBatches, write_per_partition
from smartspaces.stages.cache.critical_events import (
    CRITICAL_EVENT_FIELDS,
    mark_critical_lists_complete,
    write_critical_events,
)
from smartspaces.stages.cache.encoding import SPARK_ISO_UTC
from smartspaces.stages.cache.latest_readings import READING_FIELDS, mark_latest_hashes_complete, write_latest_readings

if TYPE_CHECKING:
    from redis import Redis

    from smartspaces.config import CacheSettings, RedisSettings


def cached_columns(rows: DataFrame, fields: tuple[str, ...]) -> DataFrame:
    """The fields the cache keeps, times formatted by Spark in UTC (Python workers would use their local zone)."""
    types = dict(rows.dtypes)
    return rows.select(*[cached_column(name, types[name]) for name in fields if name in types])


def cached_column(name: str, dtype: str) -> Column:
    """A field as the cache writes it: times as iso_utc spells them, ids as strings, the rest as they are."""
    if dtype == "timestamp":
        return F.date_format(name, SPARK_ISO_UTC).alias(name)
    if name.endswith("_id"):
        return F.col(name).cast("string").alias(name)
    return F.col(name)


def load_critical_events(critical: DataFrame, redis: RedisSettings, cache: CacheSettings, complete: bool) -> int:
    """Adds critical events to their spaces' newest-K lists; complete=True marks the lists as whole (warm-up).

    Returns the number of events sent.
    """
    keep, ttl_s = cache.critical_per_space, cache.critical_ttl_s  # plain ints: the task carries no settings model

    def write(client: Redis, batches: RowBatches) -> None:
        spaces: set[str] = set()
        for rows in batches:
            spaces |= write_critical_events(client, rows, keep, ttl_s)
        if complete:
            mark_critical_lists_complete(client, spaces, ttl_s)  # after everything the markers vouch for

    rows = cached_columns(critical, CRITICAL_EVENT_FIELDS)
    # complete=True: one space's events in one partition, so its list is whole when the partition ends. Adds
    # alone need no shuffle: the trim keeps the newest K of whatever each partition adds.
    return write_per_partition(rows.repartition("space_id") if complete else rows, redis, write)


def load_latest_readings(
    readings: DataFrame, key_template: str, scope: str, redis: RedisSettings, cache: CacheSettings, complete: bool
) -> int:
    """Updates the latest reading of each metric under key_template.format(**{scope: id}); newer wins.

    Returns the number of readings sent.
    """
    ttl_s = cache.latest_ttl_s

    def write(client: Redis, batches: RowBatches) -> None:
        keys: set[str] = set()
        for rows in batches:
            keys |= write_latest_readings(client, key_template, scope, rows, ttl_s)
        if complete:
            mark_latest_hashes_complete(client, keys, ttl_s)  # after everything the markers vouch for

    rows = cached_columns(readings, READING_FIELDS)
    # complete=True: one scope's readings in one partition, so its hash is whole when the partition ends.
    # Updates alone need no shuffle: newer-wins gives the same hash in any order.
    return write_per_partition(rows.repartition(scope) if complete else rows, redis, write)
