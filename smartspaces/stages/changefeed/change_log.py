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

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import reduce

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces.connectors.cassandra import read_cassandra, write_cassandra
from smartspaces.session import local_dataframe
from smartspaces.stages.changefeed.source import ChangeSet
from transformations.schemas import CHANGE_EVENT

CHANGE_LOG = "change_log"
CHANGE_LOG_COMMITS = "change_log_commits"
CHANGE_LOG_COLUMNS = (
    "writer_id", "batch_id", "device_id", "event_time", "event_id", "day", "event_type", "metric", "value", "unit",
    "severity", "code", "ingest_time",
)  # fmt: skip
# A source's position: the last batch id it has been read up to; a new writer starts before its first batch.
NO_BATCH = -1


def change_log_rows(writer_id: str, batch_id: int, accepted: DataFrame) -> DataFrame:
    """Accepted events (events_by_device_day rows) as change_log rows of one writer's batch."""
    return accepted.select(F.lit(writer_id).alias("writer_id"), F.lit(batch_id).cast("long").alias("batch_id"),
                           *CHANGE_LOG_COLUMNS[2:])  # fmt: skip


def write_change_batch(
    session: Session, keyspace: str, writer_id: str, batch_id: int, accepted: DataFrame, events: int
) -> None:
    """Writes a batch's changes, then its commit marker. Idempotent: both are upserts by (writer, batch)."""
    write_cassandra(change_log_rows(writer_id, batch_id, accepted), keyspace, CHANGE_LOG)
    session.execute(
        f"INSERT INTO {keyspace}.{CHANGE_LOG_COMMITS} (writer_id, batch_id, events, committed_at) "
        "VALUES (%s, %s, %s, %s)",
        (writer_id, batch_id, events, datetime.now(UTC)),
    )


class ChangeLogSource:
    """Reads committed change-log batches after each writer's stored position, oldest first.

    A hot-path micro-batch holds a few thousand changes at most: those are read with the Python driver, one
    query per (writer, batch) partition, and handed to Spark as a local DataFrame (no connector scan to plan
    and schedule). Larger backlogs (more than driver_read_max_rows) are read by the connector.
    """

    def __init__(
        self, spark: SparkSession, session: Session, keyspace: str, max_batches: int, driver_read_max_rows: int
    ) -> None:
        self.spark = spark
        self.session = session
        self.keyspace = keyspace
        self.max_batches = max_batches
        self.driver_read_max_rows = driver_read_max_rows
        columns = ", ".join(field.name for field in CHANGE_EVENT.fields)
        self._select_batch = session.prepare(
            f"SELECT {columns} FROM {keyspace}.{CHANGE_LOG} WHERE writer_id = ? AND batch_id = ?"
        )

    def _writers(self) -> list[str]:
        rows = self.session.execute(f"SELECT DISTINCT writer_id FROM {self.keyspace}.{CHANGE_LOG_COMMITS}")
        return sorted(row.writer_id for row in rows)

    def _pending(self, writer_id: str, after: int) -> list[tuple[int, datetime, int]]:
        rows = self.session.execute(
            f"SELECT batch_id, committed_at, events FROM {self.keyspace}.{CHANGE_LOG_COMMITS} "
            "WHERE writer_id = %s AND batch_id > %s",
            (writer_id, after),
        )
        return [(row.batch_id, row.committed_at.replace(tzinfo=UTC), row.events or 0) for row in rows]

    def read(self, positions: Mapping[str, str]) -> ChangeSet:
        """The changes of up to max_batches committed batches per writer, after the stored positions."""
        taken: dict[str, list[int]] = {}
        oldest: datetime | None = None
        pending_after = False
        rows = 0
        for writer_id in self._writers():
            pending = self._pending(writer_id, int(positions.get(writer_id, NO_BATCH)))
            if not pending:
                continue
            oldest = min([oldest or pending[0][1], *(committed for _, committed, _ in pending)])
            taken[writer_id] = [batch_id for batch_id, _, _ in pending[: self.max_batches]]
            rows += sum(events for _, _, events in pending[: self.max_batches])
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
            (row.device_id, _utc(row.event_time), str(row.event_id), row.event_type, row.metric, row.value,
             row.unit, row.severity, row.code, _utc(row.ingest_time))
            for _, result in results
            for row in result
        ]  # fmt: skip
        return local_dataframe(self.spark, rows, CHANGE_EVENT)

    def _connector_read(self, taken: Mapping[str, list[int]]) -> DataFrame:
        columns = [field.name for field in CHANGE_EVENT.fields]
        log = read_cassandra(self.spark, self.keyspace, CHANGE_LOG)
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


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)
