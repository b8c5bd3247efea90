"""Cache warm-up: loads recent critical events and the latest readings from Cassandra into Redis.

For a cold or flushed cache: the same key layout as the change feed's streaming loader and the API's
fill-on-miss. A space's list is marked complete only when the window holds at least K of its events (then
they are surely its newest K); other spaces fill completely on their first read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyspark.sql import functions as F

from smartspaces.cassandra_tables import CRITICAL_EVENTS
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import read_cassandra
from smartspaces.session import spark_session
from smartspaces.stages.cache.latest_readings import LATEST_TABLES
from smartspaces.stages.cache.loaders import load_critical_events, load_latest_readings
from transformations.critical_rules import newest_per_space


def warm_up_cache(settings: Settings, hours: int | None = None) -> int:
    """Loads the critical events of the last `hours` (default cache.warmup_hours) and every latest reading."""
    cache, keyspace = settings.cache, settings.cassandra.keyspace
    since = datetime.now(UTC) - timedelta(hours=hours or cache.warmup_hours)
    with spark_session(settings, "smartspaces-cache-warmup") as spark:
        # A range on the clustering column: the connector pushes it down to each partition's slice.
        recent = read_cassandra(spark, keyspace, CRITICAL_EVENTS.name).where(F.col("event_time") >= F.lit(since))
        newest = recent.transform(newest_per_space(cache.critical_per_space)).persist()
        complete = newest.where(F.col("space_events_in_window") >= cache.critical_per_space)
        partial = newest.where(F.col("space_events_in_window") < cache.critical_per_space)
        load_critical_events(complete, settings.redis, cache, complete=True)
        load_critical_events(partial, settings.redis, cache, complete=False)
        print(f"critical events: {newest.count()} loaded for {newest.select('space_id').distinct().count()} spaces")
        for scope, (table, key_template) in LATEST_TABLES.items():
            latest = read_cassandra(spark, keyspace, table.name).persist()
            load_latest_readings(latest, key_template, scope, settings.redis, cache, complete=True)
            print(f"{table.name}: {latest.count()} readings loaded")
    return 0
