"""The change feed's Redis writes, kept from ever stopping it: Redis is a cache, Cassandra the truth.

When Redis fails (down, hung, refusing), the micro-batch goes on: its critical events, latest readings and
alarms are already in Cassandra, the rule state is saved and the checkpoint committed as usual. The Redis keys
the batch would have written are recorded as owed, in Cassandra (`change_feed_cache_debt`), so a consumer
restarted during the outage still knows them. Each later batch first tries to settle the debt: it drops
the owed keys from Redis (a read then misses and fills them from Cassandra, complete) and deletes the
records. Until then it writes nothing to Redis, so no cached value claims to be complete while it lacks
what the outage held back. One warning when an outage starts, naming the server and its settings; one line
when it ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from redis import Redis, RedisError

from smartspaces.cassandra_tables import CHANGE_FEED_CACHE_DEBT
from smartspaces.stages.cache.active_alarms import active_alarms_key
from smartspaces.stages.cache.critical_events import critical_keys
from transformations.redis_keys import DEVICE_LATEST, SPACE_LATEST

log = logging.getLogger("smartspaces.stages.changefeed")

# Keys dropped per DEL, and records written or deleted at once.
KEYS_PER_CALL = 500
CONCURRENCY = 32


def critical_event_keys(space_ids: Iterable[str]) -> set[str]:
    return {key for space_id in space_ids for key in critical_keys(space_id)}


def latest_keys(device_ids: Iterable[str], space_ids: Iterable[str]) -> set[str]:
    devices = {DEVICE_LATEST.format(device_id=device_id) for device_id in device_ids}
    return devices | {SPACE_LATEST.format(space_id=space_id) for space_id in space_ids}


def active_alarm_keys(space_ids: Iterable[str]) -> set[str]:
    return {active_alarms_key(space_id) for space_id in space_ids}


class CacheDebt:
    """The Redis keys one consumer owes, in Cassandra."""

    def __init__(self, session: Session, keyspace: str, consumer: str) -> None:
        self.session = session
        self.consumer = consumer
        table = CHANGE_FEED_CACHE_DEBT.qualified(keyspace)
        self._select = session.prepare(f"SELECT redis_key FROM {table} WHERE consumer = ?")
        self._insert = session.prepare(f"INSERT INTO {table} (consumer, redis_key, since) VALUES (?, ?, ?)")
        self._delete = session.prepare(f"DELETE FROM {table} WHERE consumer = ? AND redis_key = ?")

    def load(self) -> set[str]:
        return {row.redis_key for row in self.session.execute(self._select, (self.consumer,))}

    def add(self, keys: Iterable[str]) -> None:
        now = datetime.now(UTC)
        rows = [(self.consumer, key, now) for key in keys]
        if rows:
            execute_concurrent_with_args(self.session, self._insert, rows, concurrency=CONCURRENCY)

    def settle(self, keys: Iterable[str]) -> None:
        rows = [(self.consumer, key) for key in keys]
        if rows:
            execute_concurrent_with_args(self.session, self._delete, rows, concurrency=CONCURRENCY)


class GuardedCache:
    """Runs a batch's Redis writes, or records their keys as owed when Redis fails (see the module)."""

    def __init__(self, redis: Redis, debt: CacheDebt, server: str) -> None:
        self.redis = redis
        self.debt = debt
        self.server = server
        self.owed = debt.load()
        if self.owed:
            log.warning(
                "redis at %s: %d keys owed since an earlier outage; dropping them when it answers",
                server,
                len(self.owed),
            )

    def write(self, keys: set[str], write: Callable[[], object]) -> bool:
        """write() when Redis answers and owes nothing; else the keys are owed. True when written."""
        if not keys:
            return True
        if self.owed and not self.settle():
            self._owe(keys)
            return False
        try:
            write()
        except RedisError as error:
            self._failed(error)
            self._owe(keys)
            return False
        return True

    def settle(self) -> bool:
        """Drops every owed key from Redis and forgets it; False (still owed) when Redis fails."""
        if not self.owed:
            return True
        owed = sorted(self.owed)
        try:
            for start in range(0, len(owed), KEYS_PER_CALL):
                self.redis.delete(*owed[start : start + KEYS_PER_CALL])
        except RedisError:
            return False
        self.debt.settle(owed)
        self.owed.clear()
        log.warning(
            "redis at %s answers again: dropped the %d keys the outage left stale; reads refill them from Cassandra",
            self.server,
            len(owed),
        )
        return True

    def _owe(self, keys: set[str]) -> None:
        new = keys - self.owed
        self.debt.add(new)
        self.owed |= new

    def _failed(self, error: RedisError) -> None:
        if not self.owed:
            log.warning(
                "redis at %s failed (%s: %s): critical events, latest readings and alarms go on to Cassandra; "
                "the Redis keys they would have updated are owed and dropped when it answers again "
                "(settings redis.host, redis.port)",
                self.server,
                type(error).__name__,
                error,
            )
