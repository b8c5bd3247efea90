"""Isolated serving environments: a keyspace per test, Redis db 3 (flushed), a private redis-server to kill."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn
from cassandra.cluster import Session

from smartspaces.config import Settings, load_settings
from smartspaces.connectors.redis import redis_client
from smartspaces.stages.serving.app import create_app
from tests.integration.ingest_fixtures import KeyspacePool, keyspace_session

# The stack's Redis, but a database of its own, flushed at the start of each test.
TEST_REDIS_DB = 3
# The serving tests' keyspaces (KeyspacePool): test_serving_<id>.
SERVING_KEYSPACES = "test_serving"
_IDS = uuid.UUID("6f1c3c52-3b5e-4d7a-9a43-8f0d3c1b2a10")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def serving_settings(keyspace_pool: KeyspacePool, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings with this test's own keyspace (migrated and empty, from the pool) and an empty Redis db 3."""
    keyspace, _ = keyspace_pool.take(SERVING_KEYSPACES)
    monkeypatch.setenv("SMARTSPACES__CASSANDRA__KEYSPACE", keyspace)
    monkeypatch.setenv("SMARTSPACES__REDIS__DB", str(TEST_REDIS_DB))
    settings = load_settings("local")
    client = redis_client(settings.redis)
    client.flushdb()
    client.close()
    yield settings
    keyspace_pool.give_back(SERVING_KEYSPACES, keyspace)


@pytest.fixture
def cache_redis(settings: Settings) -> Iterator[redis.Redis]:
    """A client of the stack's Redis on the tests' database, flushed first."""
    client = redis_client(settings.redis.model_copy(update={"db": TEST_REDIS_DB}))
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def session(serving_settings: Settings) -> Iterator[Session]:
    """A driver session on the test's keyspace, for inserting rows."""
    with keyspace_session(serving_settings) as session:
        yield session


@dataclass
class PrivateRedis:
    """A redis-server of the test's own, which the test may stop or kill (the stack's Redis is never touched)."""

    process: subprocess.Popen[bytes]
    port: int

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is missing: apt-get install redis-server"
    port = free_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = redis.Redis(port=port, socket_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            probe.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    probe.close()
    yield PrivateRedis(process, port)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def at(minute: int, millisecond: int = 0) -> datetime:
    """A time on the tests' day: 2026-11-25 10:MM:00.mmm UTC."""
    return datetime(2026, 11, 25, 10, minute, 0, millisecond * 1000, tzinfo=UTC)


def critical_event(space_id: str, number: int, when: datetime, device_id: str = "dev-1") -> dict[str, Any]:
    """A critical event as the API serves it, with ids derived from the space and number."""
    return {
        "critical_event_id": str(uuid.uuid5(_IDS, f"critical/{space_id}/{number}")),
        "space_id": space_id,
        "device_id": device_id,
        "rule_id": "smoke-alarm",
        "rule_version": 2,
        "severity": "critical",
        "metric": "smoke",
        "value": 0.5 + number,
        "unit": "ppm",
        "code": "fire",
        "message": f"smoke detected ({number})",
        "event_time": when.isoformat(timespec="microseconds"),
        "source_event_id": str(uuid.uuid5(_IDS, f"source/{space_id}/{number}")),
    }


def reading(device_id: str, space_id: str, metric: str, value: float, when: datetime, number: int) -> dict[str, Any]:
    """A latest reading as the API serves it."""
    return {
        "metric": metric,
        "value": value,
        "unit": {"temperature": "celsius", "co2": "ppm", "humidity": "percent"}[metric],
        "event_time": when.isoformat(timespec="microseconds"),
        "event_id": str(uuid.uuid5(_IDS, f"reading/{device_id}/{number}")),
        "device_id": device_id,
        "space_id": space_id,
    }


def insert_space(session: Session, space_id: str) -> None:
    """A space of building b1 in the registry's serving tables, as the reference job writes them."""
    session.execute(
        "INSERT INTO spaces (space_id, building_id, floor, name, space_type, area_m2, capacity) "
        "VALUES (%s, 'b1', 1, %s, 'office', 20.5, 6)",
        (space_id, f"Room {space_id}"),
    )
    session.execute(
        "INSERT INTO spaces_by_building (building_id, space_id, floor, name, space_type) "
        "VALUES ('b1', %s, 1, %s, 'office')",
        (space_id, f"Room {space_id}"),
    )


def insert_device(session: Session, device_id: str, space_id: str) -> None:
    session.execute(
        "INSERT INTO devices (device_id, space_id, device_type, model, installed_at) "
        "VALUES (%s, %s, 'multisensor', 'ms-3', '2026-01-01T00:00:00Z')",
        (device_id, space_id),
    )


def insert_critical_events(session: Session, events: Sequence[dict[str, Any]]) -> None:
    statement = session.prepare(
        "INSERT INTO critical_events_by_space (space_id, event_time, critical_event_id, device_id, rule_id, "
        "rule_version, severity, metric, value, unit, code, message, source_event_id, detected_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    for event in events:
        when = datetime.fromisoformat(event["event_time"])
        session.execute(
            statement,
            (
                event["space_id"],
                when,
                uuid.UUID(event["critical_event_id"]),
                event["device_id"],
                event["rule_id"],
                event["rule_version"],
                event["severity"],
                event["metric"],
                event["value"],
                event["unit"],
                event["code"],
                event["message"],
                uuid.UUID(event["source_event_id"]),
                when,
            ),
        )


def insert_device_latest(session: Session, readings: Sequence[dict[str, Any]]) -> None:
    statement = session.prepare(
        "INSERT INTO device_latest (device_id, metric, space_id, value, unit, event_time, event_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    for row in readings:
        session.execute(
            statement,
            (
                row["device_id"],
                row["metric"],
                row["space_id"],
                row["value"],
                row["unit"],
                datetime.fromisoformat(row["event_time"]),
                uuid.UUID(row["event_id"]),
            ),
        )


CHROMIUM = "/usr/bin/chromium"


def chromium(url: str, tmp_path: Path, *options: str) -> str:
    """Loads the page in headless Chromium (scripts run for up to 5 s of virtual time); returns its stdout."""
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: apt-get install chromium (this test needs a real browser)"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
        *options,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def chromium_dom(url: str, tmp_path: Path) -> str:
    """The page's DOM after its scripts ran."""
    return chromium(url, tmp_path, "--dump-dom")


class TableRows(HTMLParser):
    """The cells of each row of one <tbody id=...>, as text."""

    def __init__(self, tbody_id: str) -> None:
        super().__init__()
        self.tbody_id = tbody_id
        self.rows: list[list[str]] = []
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody" and ("id", self.tbody_id) in attrs:
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def running_api(serving_settings: Settings) -> Iterator[str]:
    """The API served by uvicorn on a free loopback port in a background thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(serving_settings), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
