"""What the hot-path benchmark observes: critical events appearing in Redis and in the read API, and each
event's produce time and Cassandra write time.

Redis is watched through keyspace notifications (`notify-keyspace-events Kh`): every write to a space's
critical-event hash is seen within a round trip, without a polling interval that would blur the latency.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from bench.api_access import authorization
from smartspaces.config import RedisSettings
from smartspaces.connectors.redis import redis_client
from transformations.redis_keys import SPACE_CRITICAL_EVENTS

FORCED_CODE = "forced"
# How often the API watcher asks for the spaces whose sampled events it has not seen yet.
API_POLL_S = 0.05


@dataclass(frozen=True)
class SeenCriticalEvent:
    """A critical event as first seen in Redis: when (epoch s), and its cached body."""

    seen_at: float
    critical_event_id: str
    space_id: str
    rule_id: str
    device_id: str
    event_time: datetime
    source_event_id: str


class RedisCriticalWatcher(threading.Thread):
    """Records the first moment each critical event is in Redis, from keyspace notifications."""

    def __init__(self, settings: RedisSettings) -> None:
        super().__init__(daemon=True, name="redis-critical-watcher")
        self.client = redis_client(settings)
        self.reader = redis_client(settings)
        self.db = settings.db
        self.seen: dict[str, SeenCriticalEvent] = {}
        # The same events in the order they were seen, so that a reader can take only those it has not had.
        self.in_order: list[SeenCriticalEvent] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.listening = threading.Event()

    def run(self) -> None:
        self.client.config_set("notify-keyspace-events", "Kh")
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        pattern = f"__keyspace@{self.db}__:" + SPACE_CRITICAL_EVENTS.format(space_id="*")
        pubsub.psubscribe(pattern)
        self.listening.set()
        try:
            while not self.stopping.is_set():
                message = pubsub.get_message(timeout=0.2)
                if message is None:
                    continue
                now = time.time()
                key = str(message["channel"]).split(":", 1)[1]
                events: dict[str, str] = self.reader.hgetall(key)  # type: ignore[assignment]  # decoded responses
                self._record(now, events.items())
        finally:
            pubsub.close()
            self.client.config_set("notify-keyspace-events", "")

    def _record(self, now: float, events: Iterable[tuple[str, str]]) -> None:
        with self.lock:
            for critical_id, body in events:
                if critical_id in self.seen:
                    continue
                event: dict[str, Any] = json.loads(body)
                self.seen[critical_id] = seen = SeenCriticalEvent(
                    seen_at=now,
                    critical_event_id=critical_id,
                    space_id=event["space_id"],
                    rule_id=event["rule_id"],
                    device_id=event["device_id"],
                    event_time=datetime.fromisoformat(event["event_time"]).astimezone(UTC),
                    source_event_id=event["source_event_id"],
                )
                self.in_order.append(seen)

    def snapshot(self) -> list[SeenCriticalEvent]:
        with self.lock:
            return list(self.in_order)

    def count(self) -> int:
        with self.lock:
            return len(self.in_order)

    def seen_from(self, position: int) -> list[SeenCriticalEvent]:
        """The events seen after the first `position` ones: a reader that polls takes only what is new."""
        with self.lock:
            return self.in_order[position:]


class ApiWatcher(threading.Thread):
    """For a sample of critical events (every `every`-th seen in Redis), the first moment the read API serves it."""

    def __init__(self, base_url: str, redis_watcher: RedisCriticalWatcher, every: int) -> None:
        super().__init__(daemon=True, name="api-watcher")
        self.base_url = base_url
        self.redis_watcher = redis_watcher
        self.every = every
        self.served: dict[str, float] = {}
        self.errors = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        # Sampled events the API has not served yet, with their space. Each poll costs what is new and what
        # waits, not everything seen since the start: the watcher shares the machine with what it measures.
        waiting: dict[str, str] = {}
        position = 0
        with httpx.Client(base_url=self.base_url, timeout=5.0, headers=authorization()) as client:
            while not self.stopping.is_set():
                new = self.redis_watcher.seen_from(position)
                for index, event in enumerate(new, start=position):
                    if index % self.every == 0:
                        waiting[event.critical_event_id] = event.space_id
                position += len(new)
                for space_id in set(waiting.values()):
                    try:
                        response = client.get(f"/spaces/{space_id}/critical-events")
                        now = time.time()
                        response.raise_for_status()
                    except httpx.HTTPError:
                        self.errors += 1
                        continue
                    for event in response.json()["critical_events"]:
                        if waiting.pop(event["critical_event_id"], None) is not None:
                            self.served.setdefault(event["critical_event_id"], now)
                self.stopping.wait(API_POLL_S)


@dataclass(frozen=True)
class StoredEvent:
    """An event's produce time (its Kafka timestamp, kept as ingest_time) and Cassandra write time, epoch s."""

    produced_at: float
    written_at: float


def stored_events(session: Session, keyspace: str, seen: list[SeenCriticalEvent]) -> dict[str, StoredEvent]:
    """Each critical event's source row (critical_event_id -> StoredEvent); rows not found are left out."""
    select = session.prepare(
        f"SELECT ingest_time, writetime(event_type) AS written FROM {keyspace}.events_by_device_day "
        "WHERE device_id = ? AND day = ? AND event_time = ? AND event_id = ?"
    )
    parameters = [
        (event.device_id, event.event_time.date(), event.event_time, uuid.UUID(event.source_event_id)) for event in seen
    ]
    results = execute_concurrent_with_args(session, select, parameters, concurrency=32, raise_on_first_error=True)
    stored: dict[str, StoredEvent] = {}
    for event, (_, rows) in zip(seen, results, strict=True):
        row = rows.one()
        if row is not None:
            stored[event.critical_event_id] = StoredEvent(
                row.ingest_time.replace(tzinfo=UTC).timestamp(), row.written / 1e6
            )
    return stored


def door_rows_since(
    session: Session, keyspace: str, doors: list[str], since: datetime, forced_only: bool = False
) -> list[StoredEvent]:
    """Every stored event of these devices (or only their forced doors) with an event time since `since`: the
    ingest's latency probe."""
    select = session.prepare(
        f"SELECT code, ingest_time, writetime(event_type) AS written FROM {keyspace}.events_by_device_day "
        "WHERE device_id = ? AND day = ? AND event_time >= ?"
    )
    days = _days(since, datetime.now(UTC))
    parameters = [(device_id, day, since) for device_id in doors for day in days]
    results = execute_concurrent_with_args(session, select, parameters, concurrency=32, raise_on_first_error=True)
    return [
        StoredEvent(row.ingest_time.replace(tzinfo=UTC).timestamp(), row.written / 1e6)
        for _, rows in results
        for row in rows
        if not forced_only or row.code == FORCED_CODE
    ]


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
