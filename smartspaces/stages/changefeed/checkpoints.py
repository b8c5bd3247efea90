"""Change-feed leases: each consumer's position per source, durable in Cassandra (its rule state: rule_state.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType

from smartspaces.cassandra_tables import CHANGE_FEED_CHECKPOINTS


class CheckpointStore:
    """Positions of one consumer. A commit is one logged batch in one partition: all sources move, or none."""

    def __init__(self, session: Session, keyspace: str, consumer: str) -> None:
        self.session = session
        self.keyspace = keyspace
        self.consumer = consumer
        self.table = CHANGE_FEED_CHECKPOINTS.qualified(keyspace)

    def load(self) -> dict[str, str]:
        rows = self.session.execute(f"SELECT source, position FROM {self.table} WHERE consumer = %s", (self.consumer,))
        return {row.source: row.position for row in rows}

    def commit(self, positions: Mapping[str, str]) -> None:
        if not positions:
            return
        insert = self.session.prepare(
            f"INSERT INTO {self.table} (consumer, source, position, updated_at) VALUES (?, ?, ?, ?)"
        )
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        now = datetime.now(UTC)
        for source, position in positions.items():
            batch.add(insert, (self.consumer, source, position, now))
        self.session.execute(batch)
