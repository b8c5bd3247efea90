"""The ingest's side of the change log: each micro-batch's accepted events, then its commit marker.

A reader sees a batch only through its marker, so it never reads half a batch. A replayed ingest batch (a
restart before Spark committed it) rewrites the same rows and the same marker: upserts by key.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cassandra.cluster import Session
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from smartspaces.cassandra_tables import CHANGE_LOG, CHANGE_LOG_COMMITS, NO_BATCH
from smartspaces.connectors.cassandra import write_cassandra


def change_log_rows(writer_id: str, batch_id: int, accepted: DataFrame) -> DataFrame:
    """Accepted events (events_by_device_day rows) as change_log rows of one writer's batch."""
    return accepted.select(
        F.lit(writer_id).alias("writer_id"),
        F.lit(batch_id).cast("long").alias("batch_id"),
        *CHANGE_LOG.column_names[2:],
    )


def write_change_batch(
    session: Session, keyspace: str, writer_id: str, batch_id: int, accepted: DataFrame, events: int
) -> None:
    """Writes a batch's changes, then its commit marker, which names the writer's previous marker (readers
    find an expired batch by the break in that chain). Idempotent: both are upserts by (writer, batch), and a
    replayed batch finds the same previous marker."""
    write_cassandra(change_log_rows(writer_id, batch_id, accepted), keyspace, CHANGE_LOG.name, nulls_unset=True)
    commits = CHANGE_LOG_COMMITS.qualified(keyspace)
    previous = session.execute(
        f"SELECT batch_id FROM {commits} WHERE writer_id = %s AND batch_id < %s ORDER BY batch_id DESC LIMIT 1",
        (writer_id, batch_id),
    ).one()
    session.execute(
        f"INSERT INTO {commits} (writer_id, batch_id, events, committed_at, previous_batch_id) "
        "VALUES (%s, %s, %s, %s, %s)",
        (writer_id, batch_id, events, datetime.now(UTC), NO_BATCH if previous is None else previous.batch_id),
    )
