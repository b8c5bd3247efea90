"""Change-feed processor: stored events → critical events (Cassandra, Redis) and latest readings (Cassandra, Redis).

Runs micro-batches every changefeed.interval_s; --once drains what is committed now and stops (tests,
backfills). The backend (the ingest's change log, or Cosmos DB's change feed) comes from the configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from smartspaces.config import load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.session import spark_session
from smartspaces.stages.changefeed.backends import change_feed_source
from smartspaces.stages.changefeed.processor import MICRO_BATCH_SPARK_CONF, CriticalEventProcessor


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smartspaces run changefeed", description=__doc__)
    parser.add_argument("--env", help="configuration environment (default: $SMARTSPACES_ENV or local)")
    parser.add_argument("--once", action="store_true", help="process what is committed now, then stop")
    parser.add_argument("--run-for-s", type=float, help="stop after this many seconds")
    parser.add_argument(
        "--hold-before-commit-s", type=float, default=0.0, help="fault drills: wait this long before each commit"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("smartspaces").setLevel(logging.INFO)
    settings = load_settings(args.env)
    cluster = cassandra_cluster(settings.cassandra)
    try:
        with spark_session(settings, "smartspaces-changefeed", MICRO_BATCH_SPARK_CONF) as spark:
            source = change_feed_source(spark, settings, cluster.connect())
            redis = redis_client(settings.redis)
            processor = CriticalEventProcessor(
                spark, settings, source, cluster.connect(), redis, hold_before_commit_s=args.hold_before_commit_s
            )
            try:
                processor.run(settings.changefeed.interval_s, run_for_s=args.run_for_s, once=args.once)
            finally:
                source.close()
                redis.close()
    finally:
        cluster.shutdown()
    totals = dict(processor.totals)
    severities = {name: count for name, count in totals.items() if name not in ("changes", "unattributed")}
    by_severity = ", ".join(f"{name} {count}" for name, count in sorted(severities.items()))
    print(f"changefeed: {totals.get('changes', 0)} changes, {sum(severities.values())} critical events "
          f"({by_severity or 'none'}), {totals.get('unattributed', 0)} unattributed")  # fmt: skip
    logging.getLogger("smartspaces.stages.changefeed").info(json.dumps({"event": "changefeed_totals", **totals}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
