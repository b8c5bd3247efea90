"""One process at a time per change-feed consumer: a lease in Cassandra, taken with lightweight transactions.

The lease is three static columns of the consumer's checkpoint partition (holder, owner, until). A process
takes it when it is free or expired, renews it while it runs, and gives it back when it stops; a process that
died leaves it to expire after `changefeed.lease_s`. Every checkpoint commit is a conditional batch in that
partition, applied only while the committing process still holds the lease: a process paused past its lease
while another took over cannot move the checkpoint (fencing). A second process started for a consumer waits
up to `changefeed.lease_wait_s` for the lease, then ends with a message naming who holds it.

On Azure Cosmos DB for Apache Cassandra, lightweight transactions are supported for these statements (one
partition, conditions on its columns).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from cassandra import ConsistencyLevel
from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType, SimpleStatement

from smartspaces.cassandra_tables import CHANGE_FEED_CHECKPOINTS
from smartspaces.entrypoint import JobSetupError

log = logging.getLogger("smartspaces.stages.changefeed")

# How often a waiting process asks again.
POLL_S = 1.0


class LeaseHeldError(JobSetupError):
    """Another process holds the consumer's lease (and kept it for the whole wait)."""


class LeaseLostError(RuntimeError):
    """This process no longer holds the lease (another took it over after it expired): it must stop."""


class ConsumerLease:
    """The lease of one consumer, for this process."""

    def __init__(self, session: Session, keyspace: str, consumer: str, lease_s: float) -> None:
        self.session = session
        self.consumer = consumer
        self.lease_s = lease_s
        self.holder = uuid.uuid4()
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.held = False
        self._renewed_at = 0.0
        table = CHANGE_FEED_CHECKPOINTS.qualified(keyspace)
        self._take_free = session.prepare(
            f"UPDATE {table} SET lease_holder = ?, lease_owner = ?, lease_until = ? WHERE consumer = ? "
            "IF lease_holder = null"
        )
        self._take_expired = session.prepare(
            f"UPDATE {table} SET lease_holder = ?, lease_owner = ?, lease_until = ? WHERE consumer = ? "
            "IF lease_holder = ? AND lease_until = ?"
        )
        self._renew = session.prepare(f"UPDATE {table} SET lease_until = ? WHERE consumer = ? IF lease_holder = ?")
        self._release = session.prepare(
            f"UPDATE {table} SET lease_holder = null, lease_owner = null, lease_until = null WHERE consumer = ? "
            "IF lease_holder = ?"
        )
        self._position = session.prepare(
            f"UPDATE {table} SET position = ?, updated_at = ? WHERE consumer = ? AND source = ?"
        )
        self._current = SimpleStatement(
            f"SELECT lease_holder, lease_owner, lease_until FROM {table} WHERE consumer = %s LIMIT 1",
            consistency_level=ConsistencyLevel.SERIAL,
        )

    def acquire(self, wait_s: float) -> None:
        """Takes the lease, waiting up to wait_s while another process holds it; LeaseHeldError after that."""
        deadline = time.monotonic() + wait_s
        waiting_logged = False
        while True:
            holder = self._try_take()
            if holder is None:
                self.held, self._renewed_at = True, time.monotonic()
                log.info("change feed %s: lease taken by %s", self.consumer, self.owner)
                return
            owner, until = holder
            if time.monotonic() >= deadline:
                raise LeaseHeldError(
                    f"change feed consumer {self.consumer!r} is held by {owner} (its lease runs until {until} UTC "
                    f"unless renewed): one process per consumer. Stop that one, or wait for its lease to expire "
                    f"(changefeed.lease_s), or give this one another changefeed.consumer to read independently"
                )
            if not waiting_logged:
                log.warning(
                    "change feed %s is held by %s until %s UTC; waiting up to %.0f s (changefeed.lease_wait_s)",
                    self.consumer,
                    owner,
                    until,
                    wait_s,
                )
                waiting_logged = True
            time.sleep(POLL_S)

    def renew_if_due(self) -> None:
        """Renews the lease when a third of it has passed since the last renewal; LeaseLostError if it is gone."""
        if time.monotonic() - self._renewed_at < self.lease_s / 3:
            return
        result = self.session.execute(self._renew, (self._until(), self.consumer, self.holder))
        if not result.was_applied:
            self._lost()
        self._renewed_at = time.monotonic()

    def commit(self, positions: Mapping[str, str]) -> None:
        """Moves the consumer's positions, and renews the lease, only while this process holds it."""
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        now = datetime.now(UTC)
        for source, position in positions.items():
            batch.add(self._position, (position, now, self.consumer, source))
        batch.add(self._renew, (self._until(), self.consumer, self.holder))
        if not self.session.execute(batch).was_applied:
            self._lost()
        self._renewed_at = time.monotonic()

    def release(self) -> None:
        if self.held:
            self.session.execute(self._release, (self.consumer, self.holder))
            self.held = False

    def _try_take(self) -> tuple[str, datetime] | None:
        """None when taken; else who holds it and until when."""
        values = (self.holder, self.owner, self._until())
        if self.session.execute(self._take_free, (*values, self.consumer)).was_applied:
            return None
        row = self.session.execute(self._current, (self.consumer,)).one()
        if row is None or row.lease_holder is None:
            # Given back between the two statements: the next poll takes it.
            return "a process that just gave it back", datetime.now(UTC)
        until = row.lease_until.replace(tzinfo=UTC) if row.lease_until is not None else None
        if until is None or until < datetime.now(UTC):
            taken = self.session.execute(
                self._take_expired, (*values, self.consumer, row.lease_holder, row.lease_until)
            )
            if taken.was_applied:
                log.warning("change feed %s: took over the expired lease of %s", self.consumer, row.lease_owner)
                return None
        return str(row.lease_owner), until or datetime.now(UTC)

    def _until(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.lease_s)

    def _lost(self) -> None:
        self.held = False
        raise LeaseLostError(
            f"change feed consumer {self.consumer!r}: this process ({self.owner}) lost its lease to another one "
            f"(it was not renewed within changefeed.lease_s); it stops without moving the checkpoint"
        )
