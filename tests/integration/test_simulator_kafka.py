"""The simulator against the local Kafka: every message it reports arrives, keyed by its device."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from pyspark.sql import SparkSession

from smartspaces.config import Settings
from smartspaces.connectors.kafka import read_kafka
from smartspaces.connectors.kafka_admin import client_config
from smartspaces.stages.simulator.producer import SimulationOptions, generate_messages, run_simulation


@pytest.fixture
def topic(settings: Settings) -> Iterator[str]:
    """A topic of this test's own, deleted afterwards."""
    name = f"test.simulator_{uuid.uuid4().hex[:8]}"
    yield name
    admin = AdminClient(client_config(settings.kafka))  # kept alive until the deletion is confirmed
    admin.delete_topics([name])[name].result(timeout=60)


def device_of(value: bytes) -> str | None:
    """The payload's device_id when it is a JSON object with a string device_id."""
    try:
        event = json.loads(value)
    except ValueError:
        return None
    device = event.get("device_id") if isinstance(event, dict) else None
    return device if isinstance(device, str) else None


def test_every_reported_message_arrives_keyed_by_its_device(
    spark: SparkSession, settings: Settings, topic: str, tmp_path: Path
) -> None:
    options = SimulationOptions(
        count=500,
        seed=21,
        buildings=1,
        bad_fraction=0.01,
        duplicate_fraction=0.02,
        late_fraction=0.02,
        topic=topic,
        reference_dir=tmp_path,
        now=datetime.now(UTC),
    )
    report = run_simulation(options, settings.kafka)
    arrived = read_kafka(spark, settings.kafka, topic).select("key", "value", "partition").collect()

    assert (report.sent_total, report.delivery_failures) == (500, 0)
    assert len(arrived) == report.sent_total
    expected = Counter((m.key, m.value) for m in generate_messages(options))
    assert Counter((bytes(row.key), bytes(row.value)) for row in arrived) == expected
    keyed = [(bytes(row.key).decode(), device) for row in arrived if (device := device_of(bytes(row.value)))]
    assert [key for key, _ in keyed] == [device for _, device in keyed]
    assert sorted({row.partition for row in arrived}) == [0, 1, 2]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["devices.csv", "spaces.csv"]


def test_a_rate_limited_run_takes_as_long_as_its_rate_says(settings: Settings, topic: str) -> None:
    options = SimulationOptions(count=300, rate=600.0, seed=22, buildings=1, topic=topic)
    report = run_simulation(options, settings.kafka)
    assert (report.sent_total, report.delivery_failures) == (300, 0)
    assert 299 / 600.0 <= report.seconds < 30.0
