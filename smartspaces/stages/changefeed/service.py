"""The change-feed stage as it runs: micro-batches every interval, or once over what is committed now."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.session import spark_session
from smartspaces.stages.changefeed.backends import change_feed_source
from smartspaces.stages.changefeed.processor import MICRO_BATCH_SPARK_CONF, CriticalEventProcessor

logger = logging.getLogger("smartspaces.stages.changefeed")
# Totals that are not a severity of critical events.
_NOT_SEVERITIES = ("changes", "unattributed")


def totals_line(totals: Mapping[str, int]) -> str:
    """`changefeed: N changes, M critical events (critical 2, warning 1), K unattributed`."""
    severities = {name: count for name, count in totals.items() if name not in _NOT_SEVERITIES}
    by_severity = ", ".join(f"{name} {count}" for name, count in sorted(severities.items()))
    return (
        f"changefeed: {totals.get('changes', 0)} changes, {sum(severities.values())} critical events "
        f"({by_severity or 'none'}), {totals.get('unattributed', 0)} unattributed"
    )


def run_changefeed(settings: Settings, once: bool, run_for_s: float | None, hold_before_commit_s: float = 0.0) -> int:
    """Processes the change feed (the backend of the configuration) and prints what it produced."""
    cluster = cassandra_cluster(settings.cassandra)
    try:
        with spark_session(settings, "smartspaces-changefeed", MICRO_BATCH_SPARK_CONF) as spark:
            source = change_feed_source(spark, settings, cluster.connect())
            redis = redis_client(settings.redis)
            processor = CriticalEventProcessor(
                spark, settings, source, cluster.connect(), redis, hold_before_commit_s=hold_before_commit_s
            )
            try:
                processor.run(settings.changefeed.interval_s, run_for_s=run_for_s, once=once)
            finally:
                source.close()
                redis.close()
    finally:
        cluster.shutdown()
    totals = dict(processor.totals)
    print(totals_line(totals))
    logger.info(json.dumps({"event": "changefeed_totals", **totals}))
    return 0
