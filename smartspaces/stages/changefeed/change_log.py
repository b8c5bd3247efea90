"""The change log: open-source Cassandra's change feed, written by the ingest and read strictly in commit order.

Writing: each ingest micro-batch writes its accepted events to change_log under (writer, batch), and only
after every write of the batch succeeded, one commit marker. A reader sees a batch only through its marker,
so it never reads half a batch. A replayed ingest batch (a restart before Spark committed it) rewrites the
same rows and the same marker: upserts by key. Two ingest writers have different writer ids, so their batch
ids never collide; the reader keeps one position per writer.

Reading: the marker table is small (one row a batch, 7 days), so it is read with the Python driver; so are
the batches' events while they are few (the hot path), and a larger backlog by the Spark Cassandra
Connector with the partition keys pushed down.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces.cassandra_tables import CHANGE_LOG, CHANGE_LOG_COMMITS, NO_BATCH
from smartspaces.connectors.cassandra import read_cassandra
from smartspaces.entrypoint import JobSetupError
from smartspaces.instants import as_utc
from smartspaces.session import local_dataframe
from smartspaces.stages.changefeed.source import ChangeSet
from transformations.schemas import CHANGE_EVENT

log = logging.getLogger("smartspaces.stages.changefeed")


class ChangeLogGapError(JobSetupError):
    """Change-log batches expired before this consumer read them (a loud stop, never a silent skip)."""


@dataclass(frozen=True)
class Marker:
    """A commit marker: its batch, when, how many events, and the writer's previous batch (None: written
    before markers named it)."""

    batch_id: int
    committed_at: datetime
    events: int
    previous_batch_id: int | None


class ChangeLogSource:
    """Reads committed change-log batches after each writer's stored position, oldest first.

    A hot-path micro-batch holds a few thousand changes at most: those are read with the Python driver, one
    query per (writer, batch) partition, and handed to Spark as a local DataFrame (no connector scan to plan
    and schedule). Larger backlogs (more than driver_read_max_rows) are read by the connector.
    """

    def __init__(
        self,
        spark: SparkSession,
        session: Session,
        keyspace: str,
        max_batches: int,
        driver_read_max_rows: int,
        accept_gaps: bool = False,
    ) -> None:
        self.spark = spark
        # A gap (batches that expired unread) stops the reader unless accepted, once, by the operator.
        self.accept_gaps = accept_gaps
        self.session = session
        self.keyspace = keyspace
        self.max_batches = max_batches
        self.driver_read_max_rows = driver_read_max_rows
        columns = ", ".join(field.name for field in CHANGE_EVENT.fields)
        self._select_batch = session.prepare(
            f"SELECT {columns} FROM {CHANGE_LOG.qualified(keyspace)} WHERE writer_id = ? AND batch_id = ?"
        )

    def _writers(self) -> list[str]:
        rows = self.session.execute(f"SELECT DISTINCT writer_id FROM {CHANGE_LOG_COMMITS.qualified(self.keyspace)}")
        return sorted(row.writer_id for row in rows)

    def _pending(self, writer_id: str, after: int) -> list[Marker]:
        rows = self.session.execute(
            f"SELECT batch_id, committed_at, events, previous_batch_id FROM "
            f"{CHANGE_LOG_COMMITS.qualified(self.keyspace)} WHERE writer_id = %s AND batch_id > %s",
            (writer_id, after),
        )
        return [
            Marker(row.batch_id, row.committed_at.replace(tzinfo=UTC), row.events or 0, row.previous_batch_id)
            for row in rows
        ]

    def _check_chain(self, writer_id: str, position: int, pending: list[Marker], new_consumer: bool) -> None:
        """Raises ChangeLogGapError when a marker's previous batch is one this consumer never saw: the batches
        between expired before they were read. A new consumer starts where the log starts."""
        seen = position
        for index, marker in enumerate(pending):
            skip_first = index == 0 and new_consumer
            if marker.previous_batch_id is not None and marker.previous_batch_id > seen and not skip_first:
                # To the millisecond: it is the operator's --replay-to, and the expired batches arrived before it.
                committed = marker.committed_at.isoformat(timespec="milliseconds")
                gap = ChangeLogGapError(
                    f"change log gap: writer {writer_id}: this consumer read up to batch {seen}, and the next batch "
                    f"still in the log, {marker.batch_id} (committed {committed}), "
                    f"follows batch {marker.previous_batch_id}: batches {seen + 1}..{marker.previous_batch_id} "
                    "expired (the change log keeps 7 days) before they were read. Their events are in Cassandra "
                    "and bronze but the change feed never processed them. Replay them from bronze (smartspaces run "
                    "ingest --replay-from <when this consumer stopped> --replay-to <that commit time>), then run "
                    "the change feed once with --accept-gap to go on past it (docs/operations.md)"
                )
                if not self.accept_gaps:
                    raise gap
                log.warning("accepted: %s", gap)
            seen = marker.batch_id

    def read(self, positions: Mapping[str, str]) -> ChangeSet:
        """The changes of up to max_batches committed batches per writer, after the stored positions."""
        taken: dict[str, list[int]] = {}
        oldest: datetime | None = None
        pending_after = False
        rows = 0
        for writer_id in self._writers():
            position = int(positions.get(writer_id, NO_BATCH))
            pending = self._pending(writer_id, position)
            if not pending:
                continue
            self._check_chain(writer_id, position, pending[: self.max_batches], new_consumer=not positions)
            oldest = min([oldest or pending[0].committed_at, *(marker.committed_at for marker in pending)])
            taken[writer_id] = [marker.batch_id for marker in pending[: self.max_batches]]
            rows += sum(marker.events for marker in pending[: self.max_batches])
            pending_after = pending_after or len(pending) > self.max_batches
        changes = self._driver_read(taken) if rows <= self.driver_read_max_rows else self._connector_read(taken)
        return ChangeSet(
            changes=changes,
            positions={writer_id: str(max(batch_ids)) for writer_id, batch_ids in taken.items()},
            oldest_change_time=oldest,
            pending_after=pending_after,
        )

    def close(self) -> None:
        """The session belongs to the caller."""

    def _driver_read(self, taken: Mapping[str, list[int]]) -> DataFrame:
        keys = [(writer_id, batch_id) for writer_id, batch_ids in taken.items() for batch_id in batch_ids]
        results = execute_concurrent_with_args(
            self.session, self._select_batch, keys, concurrency=16, raise_on_first_error=True
        )
        rows = [
            # Naive UTC from the driver, made explicit: Spark would read a naive time in the machine's zone.
            (
                row.device_id,
                as_utc(row.event_time),
                str(row.event_id),
                row.event_type,
                row.metric,
                row.value,
                row.unit,
                row.severity,
                row.code,
                as_utc(row.ingest_time),
            )
            for _, result in results
            for row in result
        ]
        return local_dataframe(self.spark, rows, CHANGE_EVENT)

    def _connector_read(self, taken: Mapping[str, list[int]]) -> DataFrame:
        columns = [field.name for field in CHANGE_EVENT.fields]
        log = read_cassandra(self.spark, self.keyspace, CHANGE_LOG.name)
        # One filter per writer: writer_id = x AND batch_id IN (...) names whole partitions, which the
        # connector pushes down to Cassandra instead of scanning the table.
        reads = [
            log.where((F.col("writer_id") == writer_id) & F.col("batch_id").isin(batch_ids))
            .select(*columns)
            .withColumn("event_id", F.col("event_id").cast("string"))
            for writer_id, batch_ids in taken.items()
        ]
        if not reads:
            return self.spark.createDataFrame([], CHANGE_EVENT)
        return reduce(DataFrame.unionByName, reads)
