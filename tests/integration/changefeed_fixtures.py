"""A tiny campus and hand-made events whose critical events are known in advance."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Producer

from smartspaces.config import Settings, load_settings
from smartspaces.connectors.kafka_admin import client_config
from smartspaces.connectors.redis import redis_client
from smartspaces.stages.simulator.campus import DEVICE_COLUMNS, DEVICES_FILE, SPACE_COLUMNS, SPACES_FILE

# A Redis database of its own, flushed per test: the stack's other users keep theirs.
TEST_REDIS_DB = "6"
SPACES = [
    ("s-office", "c1", "b1", 1, "Office 1.01", "office", 30.0, 4, "Acme"),
    ("s-lobby", "c1", "b1", 0, "Lobby", "lobby", 120.0, 50, None),
]
DEVICES = [
    ("co2-1", "s-office", "co2"),
    ("temp-1", "s-office", "temperature"),
    ("occ-1", "s-office", "occupancy"),
    ("door-1", "s-lobby", "door"),
    ("panel-1", "s-lobby", "alarm_panel"),
]
UNITS = {"co2": "ppm", "temperature": "celsius", "occupancy": "count"}


@dataclass(frozen=True)
class Sent:
    """One event sent, and the rule it should fire (None: none)."""

    minute: int
    device_id: str
    body: dict[str, object]
    fires: tuple[str, ...] = ()


def telemetry(minute: int, device_id: str, metric: str, value: float, *fires: str) -> Sent:
    body = {"event_type": "telemetry", "metric": metric, "value": value, "unit": UNITS[metric]}
    return Sent(minute, device_id, body, fires)


def coded(minute: int, device_id: str, event_type: str, code: str, *fires: str, severity: str | None = None) -> Sent:
    body: dict[str, object] = {"event_type": event_type, "code": code}
    if severity:
        body["severity"] = severity
    return Sent(minute, device_id, body, fires)


# Two halves, sent and processed one after the other: runs cross the micro-batch boundary.
FIRST_HALF = [
    telemetry(0, "co2-1", "co2", 900.0),
    telemetry(1, "co2-1", "co2", 1100.0, "co2_high"),
    telemetry(2, "co2-1", "co2", 1250.0),
    telemetry(0, "temp-1", "temperature", 27.0),
    telemetry(6, "temp-1", "temperature", 27.5),
    telemetry(0, "occ-1", "occupancy", 3.0),
    telemetry(1, "occ-1", "occupancy", 5.0),
    coded(0, "door-1", "access", "forced", "door_forced"),
    coded(1, "door-1", "access", "granted"),
]
SECOND_HALF = [
    telemetry(3, "co2-1", "co2", 1300.0),
    telemetry(4, "co2-1", "co2", 1600.0, "co2_sustained", "co2_critical"),
    telemetry(5, "co2-1", "co2", 800.0),
    telemetry(11, "temp-1", "temperature", 28.0, "temperature_comfort"),
    telemetry(12, "temp-1", "temperature", 40.0, "temperature_extreme"),
    telemetry(2, "occ-1", "occupancy", 6.0, "over_capacity"),
    coded(2, "door-1", "access", "forced", "door_forced"),
    coded(3, "panel-1", "alarm", "fire", "device_alarm", severity="critical"),
]
SPACE_OF = {device_id: space_id for device_id, space_id, _ in DEVICES}


def write_reference(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / SPACES_FILE).open("w", newline="") as out:
        csv.writer(out).writerows([SPACE_COLUMNS, *SPACES])
    with (folder / DEVICES_FILE).open("w", newline="") as out:
        rows = [(d, s, t, "Model X", "2026-01-01T00:00:00Z", None) for d, s, t in DEVICES]
        csv.writer(out).writerows([DEVICE_COLUMNS, *rows])
    return folder


class Campus:
    """Sends the events of a half at times relative to one start; remembers each event's id."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.start = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
        self.ids: dict[tuple[str, int], str] = {}

    def send(self, events: list[Sent]) -> None:
        producer = Producer(client_config(self.settings.kafka))
        for sent in events:
            event_id = str(uuid.uuid4())
            self.ids[(sent.device_id, sent.minute)] = event_id
            body = {
                "schema_version": 1,
                "event_id": event_id,
                "device_id": sent.device_id,
                "event_time": (self.start + timedelta(minutes=sent.minute)).isoformat(),
                **sent.body,
            }
            producer.produce(self.settings.ingest.topic, key=sent.device_id, value=json.dumps(body))
        assert producer.flush(30) == 0

    def expected_critical(self, events: list[Sent]) -> set[tuple[str, str, str, datetime]]:
        """(space, rule, source event id, event time) of every critical event the events should raise."""
        return {
            (
                SPACE_OF[sent.device_id],
                rule,
                self.ids[(sent.device_id, sent.minute)],
                (self.start + timedelta(minutes=sent.minute)).replace(tzinfo=None),
            )
            for sent in events
            for rule in sent.fires
        }


@pytest.fixture
def feed_settings(ingest_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The ingest test's settings plus a flushed Redis database of the test's own."""
    monkeypatch.setenv("SMARTSPACES__REDIS__DB", TEST_REDIS_DB)
    settings = load_settings("local")
    client = redis_client(settings.redis)
    client.flushdb()
    yield settings
    client.flushdb()
    client.close()
