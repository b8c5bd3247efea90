"""The change-feed stage as it runs: micro-batches every interval, or once over what is committed now."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import timedelta

from cassandra.cluster import Session
from pyspark.sql import SparkSession

from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.entrypoint import JobSetupError
from smartspaces.session import spark_session
from smartspaces.stages.changefeed.alarms import AlarmStage, alarm_line
from smartspaces.stages.changefeed.backends import change_feed_source
from smartspaces.stages.changefeed.cache_debt import CacheDebt, GuardedCache
from smartspaces.stages.changefeed.lease import ConsumerLease, LeaseLostError
from smartspaces.stages.changefeed.processor import MICRO_BATCH_SPARK_CONF, CriticalEventProcessor
from smartspaces.stages.changefeed.reference import read_alarm_rules
from smartspaces.stopping import stop_between_batches
from transformations.alarms.rules import AlarmRulesError

logger = logging.getLogger("smartspaces.stages.changefeed")
# Totals that are not a severity of critical events.
_NOT_SEVERITIES = (
    "changes",
    "unattributed",
    "alarms_open",
    "alarms_cleared",
    "alarm_readings_skipped",
    "alarm_readings_too_late",
)


def totals_line(totals: Mapping[str, int]) -> str:
    """`changefeed: N changes, M critical events (critical 2, warning 1), K unattributed`."""
    severities = {name: count for name, count in totals.items() if name not in _NOT_SEVERITIES}
    by_severity = ", ".join(f"{name} {count}" for name, count in sorted(severities.items()))
    return (
        f"changefeed: {totals.get('changes', 0)} changes, {sum(severities.values())} critical events "
        f"({by_severity or 'none'}), {totals.get('unattributed', 0)} unattributed; alarms written: "
        f"{totals.get('alarms_open', 0)} open, {totals.get('alarms_cleared', 0)} cleared; alarm readings not applied: "
        f"{totals.get('alarm_readings_skipped', 0)} already applied, "
        f"{totals.get('alarm_readings_too_late', 0)} too late"
    )


def alarm_stage(spark: SparkSession, settings: Settings, session: Session, cache: GuardedCache) -> AlarmStage | None:
    """The consumer's alarm lifecycle, or None when the configuration names no alarm rules."""
    feed = settings.changefeed
    if feed.alarm_rules_file is None:
        return None
    try:
        rules = read_alarm_rules(spark, feed.alarm_rules_file)
    except AlarmRulesError as error:
        raise JobSetupError(f"changefeed.alarm_rules_file is not usable:\n{error}") from error
    return AlarmStage(
        rules,
        session,
        settings.cassandra.keyspace,
        feed.consumer,
        cache,
        settings.cache.critical_ttl_s,
        timedelta(seconds=feed.alarm_grace_s),
    )


# The exit code of a process that lost its consumer's lease to another one (its last batch not committed).
LEASE_LOST = 3

# Alarms listed at the end of a run; beyond, only their number.
ALARMS_LISTED = 20


def written_alarms(alarms: AlarmStage) -> str:
    """The alarms the run wrote, newest raised first, as they stand."""
    written = sorted(alarms.written.values(), key=lambda alarm: (alarm.raised_at, alarm.alarm_id), reverse=True)
    lines = [f"alarms written by this run: {len(written)}"]
    lines += [f"  {alarm_line(alarm)}" for alarm in written[:ALARMS_LISTED]]
    if len(written) > ALARMS_LISTED:
        lines.append(f"  and {len(written) - ALARMS_LISTED} more")
    return "\n".join(lines)


def run_changefeed(
    settings: Settings,
    once: bool,
    run_for_s: float | None,
    hold_before_commit_s: float = 0.0,
    accept_gaps: bool = False,
) -> int:
    """Processes the change feed (the backend of the configuration) and prints what it produced."""
    cluster = cassandra_cluster(settings.cassandra)
    try:
        with spark_session(settings, "smartspaces-changefeed", MICRO_BATCH_SPARK_CONF) as spark:
            source = change_feed_source(spark, settings, cluster.connect(), accept_gaps)
            redis = redis_client(settings.redis)
            session = cluster.connect()
            feed = settings.changefeed
            # Taken before any state is loaded: what this process reads is what no other one is writing.
            lease = ConsumerLease(session, settings.cassandra.keyspace, feed.consumer, feed.lease_s)
            try:
                lease.acquire(feed.lease_wait_s)
                debt = CacheDebt(session, settings.cassandra.keyspace, feed.consumer)
                cache = GuardedCache(redis, debt, f"{settings.redis.host}:{settings.redis.port}")
                processor = CriticalEventProcessor(
                    spark,
                    settings,
                    source,
                    session,
                    cache,
                    lease,
                    alarms=alarm_stage(spark, settings, session, cache),
                    hold_before_commit_s=hold_before_commit_s,
                )
                with stop_between_batches() as stop:
                    processor.run(feed.interval_s, run_for_s=run_for_s, once=once, stop=stop)
            except LeaseLostError as lost:
                print(f"changefeed: {lost}", file=sys.stderr)
                return LEASE_LOST
            finally:
                lease.release()
                source.close()
                redis.close()
    finally:
        cluster.shutdown()
    totals = dict(processor.totals)
    print(totals_line(totals))
    if processor.alarms is not None:
        print(written_alarms(processor.alarms))
    logger.info(json.dumps({"event": "changefeed_totals", **totals}))
    return 0
