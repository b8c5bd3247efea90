"""Change-feed positions: each consumer's position per source, durable in Cassandra (its rule state:
rule_state.py). Positions move only through the consumer's lease (lease.py), so only its holder moves them."""

from __future__ import annotations

from collections.abc import Mapping

from cassandra.cluster import Session

from smartspaces.cassandra_tables import CHANGE_FEED_CHECKPOINTS
from smartspaces.stages.changefeed.lease import ConsumerLease


class CheckpointStore:
    """Positions of one consumer. A commit is one conditional batch in one partition: all sources move, or none,
    and only while this process holds the consumer's lease."""

    def __init__(self, session: Session, keyspace: str, lease: ConsumerLease) -> None:
        self.session = session
        self.lease = lease
        self.table = CHANGE_FEED_CHECKPOINTS.qualified(keyspace)

    def load(self) -> dict[str, str]:
        rows = self.session.execute(
            f"SELECT source, position FROM {self.table} WHERE consumer = %s", (self.lease.consumer,)
        )
        # A partition that holds only the lease (static columns) gives one row without a source.
        return {row.source: row.position for row in rows if row.source is not None}

    def commit(self, positions: Mapping[str, str]) -> None:
        if positions:
            self.lease.commit(positions)
