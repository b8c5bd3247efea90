"""The change-feed processor: micro-batches of stored events → critical events and latest readings.

Each micro-batch: read the changes after the checkpoint; compute, in one Spark query, everything the batch
yields (transformations.feed_batch: located changes, rules evaluated against the carried rule state,
critical events, latest readings, the next state and the counts); write critical events and latest readings
to Cassandra, then to Redis, from the driver (a Redis failure never stops it: cache_debt); save the rule
state; and only then commit the checkpoint. A
crash anywhere before the commit replays the batch: every write is an upsert by a deterministic key, a
latest reading only replaces an older one, and readings already applied to the rule state are not applied
again. Delivery is at least once; the effect is exactly once.

Reference data (registry, rules) and the rule state stay in memory between micro-batches; the reference is
reloaded when one of its sources has a new version.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial

from cassandra.cluster import Session
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces.config import Settings
from smartspaces.query_templates import QueryTemplates
from smartspaces.session import MICRO_BATCH_CONF
from smartspaces.stages.changefeed.alarms import AlarmStage, reading_from_payload
from smartspaces.stages.changefeed.cache_debt import GuardedCache, critical_event_keys, latest_keys
from smartspaces.stages.changefeed.checkpoints import CheckpointStore
from smartspaces.stages.changefeed.lease import ConsumerLease
from smartspaces.stages.changefeed.outputs import FeedBatchOutputs
from smartspaces.stages.changefeed.reference import FeedReference
from smartspaces.stages.changefeed.rule_state import RuleStateStore
from smartspaces.stages.changefeed.sinks import CassandraFeedSink, RedisFeedSink
from smartspaces.stages.changefeed.source import ChangeFeedSource
from transformations.feed_batch import feed_batch_frames
from transformations.schemas import CHANGE_EVENT, RULE_STATE

log = logging.getLogger("smartspaces.stages.changefeed")

# The streaming micro-batch settings, and one shuffle partition: a change-feed micro-batch fits one task.
# Arrow hands the driver-read changes and the rule state to the JVM without Python workers.
MICRO_BATCH_SPARK_CONF = {
    **MICRO_BATCH_CONF,
    "spark.sql.shuffle.partitions": "1",
    # No join broadcasts on its own (the rule state's would be a job each batch): a batch's query keeps its rows
    # in one partition, where a merge join needs no exchange (transformations.feed_batch.feed_batch_frames).
    "spark.sql.autoBroadcastJoinThreshold": "-1",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


@dataclass
class FeedBatchReport:
    """What one micro-batch did, logged as one JSON line."""

    changes: int = 0
    sources: int = 0
    critical_events: dict[str, int] = field(default_factory=dict)
    # Changes whose device the registry no longer knows: no space to attribute them to.
    unattributed: int = 0
    lag_s: float = 0.0
    seconds: float = 0.0
    # Where the seconds went: reading the changes, the Spark job, the Cassandra and Redis writes (alarms_s of
    # them: the alarm lifecycle, its writes included).
    read_s: float = 0.0
    compute_s: float = 0.0
    write_s: float = 0.0
    alarms_s: float = 0.0
    pending_after: bool = False
    # Alarms written (open, cleared) and alarm readings skipped as already applied.
    alarms: dict[str, int] = field(default_factory=dict)

    def log(self) -> None:
        log.info(json.dumps({"event": "changefeed_batch", **asdict(self)}))


def cached_keys(outputs: FeedBatchOutputs) -> set[str]:
    """The Redis keys a micro-batch's outputs update."""
    spaces = {event["space_id"] for event in outputs.critical_events if event.get("space_id")}
    devices = {reading["device_id"] for reading in outputs.device_latest if reading.get("device_id")}
    space_readings = {reading["space_id"] for reading in outputs.space_latest if reading.get("space_id")}
    return critical_event_keys(spaces) | latest_keys(devices, space_readings)


def lag_seconds(oldest_change_time: datetime | None, now: datetime) -> float:
    """How far behind the processor is: now - the oldest change it had not processed (0 when none waits)."""
    return 0.0 if oldest_change_time is None else max(0.0, (now - oldest_change_time).total_seconds())


class CriticalEventProcessor:
    def __init__(
        self,
        spark: SparkSession,
        settings: Settings,
        source: ChangeFeedSource,
        session: Session,
        cache: GuardedCache,
        lease: ConsumerLease,
        alarms: AlarmStage | None = None,
        hold_before_commit_s: float = 0.0,
    ) -> None:
        self.spark = spark
        self.settings = settings
        self.source = source
        keyspace, consumer = settings.cassandra.keyspace, settings.changefeed.consumer
        self.checkpoints = CheckpointStore(session, keyspace, lease)
        self.lease = lease
        self.reference = FeedReference(spark, settings)
        self.rule_state = RuleStateStore(session, keyspace, consumer)
        self.cassandra_sink = CassandraFeedSink(session, keyspace)
        self.cache = cache
        self.redis_sink = RedisFeedSink(cache.redis, settings.cache)
        self.alarms = alarms
        # Fault injection for tests and drills: wait between the writes and the commit.
        self.hold_before_commit_s = hold_before_commit_s
        self.totals: Counter[str] = Counter()
        # The batch's queries, with the reference data they were built over.
        self._query_templates: tuple[tuple[DataFrame, DataFrame], QueryTemplates] | None = None

    def run_once(self) -> FeedBatchReport:
        """One micro-batch: everything committed since the checkpoint (up to the per-trigger bound)."""
        started = time.monotonic()
        self.lease.renew_if_due()
        # Whatever a Redis outage left stale is dropped as soon as Redis answers, even without new changes.
        self.cache.settle()
        change_set = self.source.read(self.checkpoints.load())
        report = FeedBatchReport(
            lag_s=round(lag_seconds(change_set.oldest_change_time, datetime.now(UTC)), 3),
            sources=len(change_set.positions),
            pending_after=change_set.pending_after,
        )
        if change_set.is_empty:
            # No new changes, but time passes: a silent device or an open door may raise its alarm now.
            self._process_alarms(FeedBatchOutputs(), report)
            report.seconds = round(time.monotonic() - started, 3)
            return report
        report.read_s = round(time.monotonic() - started, 3)
        outputs = self._compute(change_set.changes)
        report.compute_s = round(time.monotonic() - started - report.read_s, 3)
        self._write(outputs)
        self._process_alarms(outputs, report)
        report.write_s = round(time.monotonic() - started - report.read_s - report.compute_s, 3)
        if self.hold_before_commit_s:
            log.warning(json.dumps({"event": "changefeed_holding_before_commit", "s": self.hold_before_commit_s}))
            time.sleep(self.hold_before_commit_s)
        self.checkpoints.commit(change_set.positions)
        report.changes, report.unattributed = outputs.changes, outputs.unattributed
        report.critical_events = outputs.critical_by_severity()
        report.seconds = round(time.monotonic() - started, 3)
        self.totals.update({"changes": report.changes, "unattributed": report.unattributed, **report.critical_events})
        return report

    def _compute(self, changes: DataFrame) -> FeedBatchOutputs:
        """The one Spark query of the micro-batch: its rows are few (bounded by the campus), so they are collected.

        Read by the driver, the changes are a local DataFrame: the query kept for the current reference data
        runs over them (and the rule state) as it is, instead of being built again (smartspaces.query_templates).
        The located and the matched changes are kept while the job runs: every output starts from one of them,
        so each registry and rules broadcast happens once."""
        state = self.rule_state.as_dataframe(self.spark)
        if changes.isLocal():
            located, matched, outputs = self._templates().over(changes, state)
        else:  # read by Spark (a backlog too large for the driver): built for this batch
            located, matched, outputs = self._queries(changes, state)
        located.persist()
        matched.persist()
        try:
            return FeedBatchOutputs.from_rows(outputs.collect())
        finally:
            matched.unpersist()
            located.unpersist()

    def _queries(
        self, changes: DataFrame, state: DataFrame, one_partition: bool = False
    ) -> tuple[DataFrame, DataFrame, DataFrame]:
        """The located changes, the matched ones and the batch's outputs, over the current reference data;
        one_partition for a batch read by the driver (transformations.feed_batch.feed_batch_frames)."""
        registry, rules = self.reference.current()
        alarm_event_types = self.alarms.rules.event_types() if self.alarms else ()
        # The query's own start: the same instant in every output of the batch.
        detected_at = F.current_timestamp()
        return feed_batch_frames(changes, state, registry, rules, detected_at, alarm_event_types, one_partition)

    def _templates(self) -> QueryTemplates:
        """The batch's queries over placeholders, built again only when the reference data was reloaded."""
        reference = self.reference.current()
        if self._query_templates is None or self._query_templates[0] is not reference:
            templates = QueryTemplates(
                self.spark, (CHANGE_EVENT, RULE_STATE), partial(self._queries, one_partition=True)
            )
            self._query_templates = (reference, templates)
        return self._query_templates[1]

    def _write(self, outputs: FeedBatchOutputs) -> None:
        self.cassandra_sink.write(outputs)
        # Redis failing never stops the batch: its keys are owed instead (cache_debt).
        self.cache.write(cached_keys(outputs), lambda: self.redis_sink.write(outputs))
        # After the sinks: a crash before this point re-applies the same readings to the old state.
        self.rule_state.save(outputs.rule_state)

    def _process_alarms(self, outputs: FeedBatchOutputs, report: FeedBatchReport) -> None:
        if self.alarms is not None:
            started = time.monotonic()
            alarms = self.alarms.process([reading_from_payload(row) for row in outputs.alarm_readings])
            report.alarms_s = round(time.monotonic() - started, 3)
            report.alarms = asdict(alarms)
            self.totals.update(
                {
                    "alarms_open": alarms.open,
                    "alarms_cleared": alarms.cleared,
                    "alarm_readings_skipped": alarms.skipped,
                    "alarm_readings_too_late": alarms.too_late,
                }
            )

    def run(
        self,
        interval_s: float,
        run_for_s: float | None = None,
        once: bool = False,
        stop: threading.Event | None = None,
    ) -> None:
        """Micro-batches every interval_s (at once while a backlog remains); once=True drains and returns.

        stop: set, the run returns after the micro-batch under way (it is committed)."""
        stop = stop or threading.Event()
        deadline = None if run_for_s is None else time.monotonic() + run_for_s
        while not stop.is_set():
            report = self.run_once()
            report.log()
            if once and not report.pending_after:
                return
            if deadline is not None and time.monotonic() >= deadline:
                return
            if not report.pending_after:
                stop.wait(max(0.0, interval_s - report.seconds))
