"""The change-feed processor: micro-batches of stored events → critical events and latest readings.

Each micro-batch: read the changes after the checkpoint; locate them in their spaces; evaluate the rules
against the carried rule state; write critical events (Cassandra, then Redis) and latest readings
(Cassandra, then Redis); save the rule state; and only then commit the checkpoint. A crash anywhere before
the commit replays the batch: every write is an upsert by a deterministic key, a latest reading only
replaces an older one, and readings already applied to the rule state are not applied again. Delivery is
at least once; the effect is exactly once.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from cassandra.cluster import Session
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces import lake
from smartspaces.cache.loaders import load_critical_events, load_latest_readings
from smartspaces.changefeed.checkpoints import CheckpointStore, read_rule_state, write_rule_state
from smartspaces.changefeed.source import ChangeFeedSource
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import write_cassandra
from smartspaces.connectors.delta import read_delta
from transformations.critical_rules import (
    attach_space,
    evaluate_rules,
    latest_readings,
    located_devices,
    match_rules,
)
from transformations.redis_keys import DEVICE_LATEST, SPACE_LATEST
from transformations.scd2 import current_versions
from transformations.schemas import CRITICAL_RULE

log = logging.getLogger("smartspaces.changefeed")

CRITICAL_EVENTS_TABLE = "critical_events_by_space"
# Registry and rules changes reach the change feed within this many seconds.
REFERENCE_REFRESH_S = 60.0
LATEST_TABLES = {"device_id": ("device_latest", DEVICE_LATEST), "space_id": ("space_latest", SPACE_LATEST)}


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
    pending_after: bool = False

    def log(self) -> None:
        log.info(json.dumps({"event": "changefeed_batch", **asdict(self)}))


def read_rules(spark: SparkSession, rules_file: str) -> DataFrame:
    """The versioned critical-event rules (reference data, CSV with a header)."""
    return spark.read.csv(rules_file, header=True, schema=CRITICAL_RULE, enforceSchema=False, mode="FAILFAST")


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
        hold_before_commit_s: float = 0.0,
    ) -> None:
        self.spark = spark
        self.settings = settings
        self.source = source
        self.keyspace = settings.cassandra.keyspace
        self.consumer = settings.changefeed.consumer
        self.checkpoints = CheckpointStore(session, self.keyspace, self.consumer)
        # Fault injection for tests and drills: wait between the writes and the commit.
        self.hold_before_commit_s = hold_before_commit_s
        self.totals: Counter[str] = Counter()
        self._reference: tuple[float, DataFrame, DataFrame] | None = None

    def reference(self) -> tuple[DataFrame, DataFrame]:
        """(device → space registry, rules), cached between micro-batches and re-read every
        REFERENCE_REFRESH_S: reading two Delta tables and a CSV each micro-batch would add seconds to its lag."""
        now = time.monotonic()
        if self._reference is None or now - self._reference[0] > REFERENCE_REFRESH_S:
            if self._reference is not None:
                self._reference[1].unpersist()
                self._reference[2].unpersist()
            lake_settings = self.settings.lake
            # The registries' current versions: where each device is now.
            spaces = read_delta(self.spark, lake.space_registry(lake_settings)).transform(current_versions)
            registry = (
                read_delta(self.spark, lake.device_registry(lake_settings))
                .transform(current_versions)
                .transform(located_devices(spaces))
                .persist()
            )
            rules = read_rules(self.spark, self.settings.changefeed.rules_file).persist()
            registry.count(), rules.count()  # materialised now, so a bad rules file fails here
            self._reference = (now, registry, rules)
        return self._reference[1], self._reference[2]

    def run_once(self) -> FeedBatchReport:
        """One micro-batch: everything committed since the checkpoint (up to the per-trigger bound)."""
        started = time.monotonic()
        change_set = self.source.read(self.checkpoints.load())
        report = FeedBatchReport(
            lag_s=round(lag_seconds(change_set.oldest_change_time, datetime.now(UTC)), 3),
            sources=len(change_set.positions),
            pending_after=change_set.pending_after,
        )
        if change_set.is_empty:
            report.seconds = round(time.monotonic() - started, 3)
            return report
        changes = change_set.changes.persist()
        try:
            self._process(changes, report)
            if self.hold_before_commit_s:
                log.warning(json.dumps({"event": "changefeed_holding_before_commit", "s": self.hold_before_commit_s}))
                time.sleep(self.hold_before_commit_s)
            self.checkpoints.commit(change_set.positions)
        finally:
            changes.unpersist()
        report.seconds = round(time.monotonic() - started, 3)
        self.totals.update({"changes": report.changes, "unattributed": report.unattributed,
                            **report.critical_events})  # fmt: skip
        return report

    def _process(self, changes: DataFrame, report: FeedBatchReport) -> None:
        cache = self.settings.cache
        registry, rules = self.reference()
        located = changes.transform(attach_space(registry)).persist()
        try:
            counts = located.groupBy(F.col("space_id").isNull().alias("unattributed")).count().collect()  # ≤ 2 rows
            report.changes = sum(row["count"] for row in counts)
            report.unattributed = sum(row["count"] for row in counts if row.unattributed)
            attributed = located.where(F.col("space_id").isNotNull())
            matched = attributed.transform(match_rules(rules))
            state = read_rule_state(self.spark, self.keyspace, self.consumer)
            outcome = evaluate_rules(matched, state, F.lit(datetime.now(UTC)))
            critical = outcome.critical_events.persist()
            try:
                report.critical_events = {
                    row.severity: row["count"] for row in critical.groupBy("severity").count().collect()
                }
                write_cassandra(critical, self.keyspace, CRITICAL_EVENTS_TABLE)
                load_critical_events(critical, self.settings.redis, cache, complete=False)
            finally:
                critical.unpersist()
            for scope, (table, key_template) in LATEST_TABLES.items():
                newest = attributed.transform(latest_readings(scope)).persist()
                try:
                    write_cassandra(newest.withColumn("write_time", F.unix_micros("event_time")), self.keyspace,
                                    table, writetime_column="write_time")  # fmt: skip
                    load_latest_readings(newest, key_template, scope, self.settings.redis, cache, complete=False)
                finally:
                    newest.unpersist()
            # After the sinks: a crash before this point re-applies the same readings to the old state.
            write_rule_state(outcome.next_state, self.keyspace, self.consumer)
        finally:
            located.unpersist()

    def run(self, interval_s: float, run_for_s: float | None = None, once: bool = False) -> None:
        """Micro-batches every interval_s (at once while a backlog remains); once=True drains and returns."""
        deadline = None if run_for_s is None else time.monotonic() + run_for_s
        while True:
            report = self.run_once()
            report.log()
            if once and not report.pending_after:
                return
            if deadline is not None and time.monotonic() >= deadline:
                return
            if not report.pending_after:
                time.sleep(max(0.0, interval_s - report.seconds))
