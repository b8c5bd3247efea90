"""Change-feed leases: each consumer's position per source, and its rule state, durable in Cassandra."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces.connectors.cassandra import read_cassandra, write_cassandra
from transformations.critical_rules import STATE_COLUMNS

CHECKPOINTS = "change_feed_checkpoints"
RULE_STATE = "rule_state"


class CheckpointStore:
    """Positions of one consumer. A commit is one logged batch in one partition: all sources move, or none."""

    def __init__(self, session: Session, keyspace: str, consumer: str) -> None:
        self.session = session
        self.keyspace = keyspace
        self.consumer = consumer

    def load(self) -> dict[str, str]:
        rows = self.session.execute(
            f"SELECT source, position FROM {self.keyspace}.{CHECKPOINTS} WHERE consumer = %s", (self.consumer,)
        )
        return {row.source: row.position for row in rows}

    def commit(self, positions: Mapping[str, str]) -> None:
        if not positions:
            return
        insert = self.session.prepare(
            f"INSERT INTO {self.keyspace}.{CHECKPOINTS} (consumer, source, position, updated_at) VALUES (?, ?, ?, ?)"
        )
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        now = datetime.now(UTC)
        for source, position in positions.items():
            batch.add(insert, (self.consumer, source, position, now))
        self.session.execute(batch)


def read_rule_state(spark: SparkSession, keyspace: str, consumer: str) -> DataFrame:
    """The consumer's open rule runs (one partition, pushed down)."""
    return read_cassandra(spark, keyspace, RULE_STATE).where(F.col("consumer") == consumer).select(*STATE_COLUMNS)


def write_rule_state(state: DataFrame, keyspace: str, consumer: str) -> None:
    """Upserts the (device, rule) rows that changed; the others keep their state."""
    write_cassandra(state.withColumn("consumer", F.lit(consumer)), keyspace, RULE_STATE)
