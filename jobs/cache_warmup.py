"""Cache warm-up: loads recent critical events and the latest readings from Cassandra into Redis.

For a cold or flushed cache: the same key layout as the change feed's streaming loader and the API's
fill-on-miss. A space's list is marked complete only when the window holds at least K of its events (then
they are surely its newest K); other spaces fill completely on their first read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pyspark.sql import functions as F

from smartspaces.config import load_settings
from smartspaces.connectors.cassandra import read_cassandra
from smartspaces.session import spark_session
from smartspaces.stages.cache.loaders import load_critical_events, load_latest_readings
from smartspaces.stages.changefeed.sinks import CRITICAL_EVENTS_TABLE, LATEST_TABLES
from transformations.critical_rules import newest_per_space


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smartspaces run cache-warmup", description=__doc__)
    parser.add_argument("--env", help="configuration environment (default: $SMARTSPACES_ENV or local)")
    parser.add_argument("--hours", type=int, help="hours of critical events to load (default: cache.warmup_hours)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings(args.env)
    cache, keyspace = settings.cache, settings.cassandra.keyspace
    since = datetime.now(UTC) - timedelta(hours=args.hours or cache.warmup_hours)
    with spark_session(settings, "smartspaces-cache-warmup") as spark:
        # A range on the clustering column: the connector pushes it down to each partition's slice.
        recent = read_cassandra(spark, keyspace, CRITICAL_EVENTS_TABLE).where(F.col("event_time") >= F.lit(since))
        newest = recent.transform(newest_per_space(cache.critical_per_space)).persist()
        complete = newest.where(F.col("space_events_in_window") >= cache.critical_per_space)
        load_critical_events(complete, settings.redis, cache, complete=True)
        load_critical_events(newest.where(F.col("space_events_in_window") < cache.critical_per_space),
                             settings.redis, cache, complete=False)  # fmt: skip
        print(f"critical events: {newest.count()} loaded for {newest.select('space_id').distinct().count()} spaces")
        for scope, (table, key_template) in LATEST_TABLES.items():
            latest = read_cassandra(spark, keyspace, table).persist()
            load_latest_readings(latest, key_template, scope, settings.redis, cache, complete=True)
            print(f"{table}: {latest.count()} readings loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
