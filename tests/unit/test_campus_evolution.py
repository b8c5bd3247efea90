"""A later version of the simulated campus: devices moved, added and retired, its drop, and the events it sends."""

from __future__ import annotations

import csv
import dataclasses
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobs import simulate
from smartspaces.config import KafkaSettings
from smartspaces.stages.simulator import producer
from smartspaces.stages.simulator import service as simulator_service
from smartspaces.stages.simulator.campus import build_campus, device_changes, evolve_campus, write_reference
from smartspaces.stages.simulator.events import EventFactory
from smartspaces.stages.simulator.producer import (
    ReferenceChange,
    SimulationOptions,
    generate_messages,
    next_campus_for,
    resolved,
)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
AT = NOW - timedelta(hours=12)
CAMPUS = build_campus(2, seed=5, now=NOW)
OPTIONS = SimulationOptions(
    count=6000,
    seed=5,
    buildings=2,
    bad_fraction=0.003,
    late_fraction=0.03,
    now=NOW,
    reference_change=ReferenceChange(AT, moved=4, added=3, retired=5),
)


def test_the_next_campus_is_deterministic_per_seed_and_time() -> None:
    evolved = evolve_campus(CAMPUS, seed=5, at=AT, moved=4, added=3, retired=5)
    assert evolved == evolve_campus(CAMPUS, seed=5, at=AT, moved=4, added=3, retired=5)
    assert evolved != evolve_campus(CAMPUS, seed=6, at=AT, moved=4, added=3, retired=5)
    assert evolved.spaces == CAMPUS.spaces


def test_exactly_the_requested_devices_are_moved_added_and_retired() -> None:
    evolved = evolve_campus(CAMPUS, seed=5, at=AT, moved=4, added=3, retired=5)
    changes = device_changes(CAMPUS, evolved)
    assert (len(changes.moved), len(changes.added), len(changes.retired)) == (4, 3, 5)
    assert len(evolved.devices) == len({d.device_id for d in evolved.devices}) == len(CAMPUS.devices) + 3
    by_id = {device.device_id: device for device in evolved.devices}
    assert {by_id[d].retired_at for d in changes.retired} == {AT}
    assert {(by_id[d].installed_at, by_id[d].retired_at) for d in changes.added} == {(AT, None)}
    unchanged = set(by_id) - set(changes.moved) - set(changes.added) - set(changes.retired)
    assert [by_id[d] for d in sorted(unchanged)] == [
        d for d in sorted(CAMPUS.devices, key=lambda d: d.device_id) if d.device_id in unchanged
    ]


def test_moved_devices_stay_in_their_building_in_another_space() -> None:
    evolved = evolve_campus(CAMPUS, seed=5, at=AT, moved=10)
    building = {space.space_id: space.building_id for space in CAMPUS.spaces}
    moves = device_changes(CAMPUS, evolved).moved
    assert len(moves) == 10
    assert all(before != after and building[before] == building[after] for before, after in moves.values())


def test_a_campus_cannot_lose_more_devices_than_it_has() -> None:
    with pytest.raises(ValueError, match="exceed"):
        evolve_campus(CAMPUS, seed=5, at=AT, moved=len(CAMPUS.devices), retired=1)


def test_the_later_drop_lists_retired_devices_with_their_retirement(tmp_path: Path) -> None:
    evolved = evolve_campus(CAMPUS, seed=5, at=AT, retired=2)
    _, devices = write_reference(evolved, tmp_path)
    with devices.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(CAMPUS.devices)
    assert sorted(row["device_id"] for row in rows if row["retired_at"]) == sorted(
        device_changes(CAMPUS, evolved).retired
    )
    assert {row["retired_at"] for row in rows if row["retired_at"]} == {AT.isoformat()}


def test_events_follow_the_campus_in_service_at_their_event_time() -> None:
    options = resolved(OPTIONS)
    evolved = next_campus_for(options)
    assert evolved is not None
    changes = device_changes(CAMPUS, evolved)
    sent = [
        (json.loads(m.value)["device_id"], datetime.fromisoformat(json.loads(m.value)["event_time"]))
        for m in generate_messages(options)
        if m.expected_reason is None
    ]
    before = {device for device, time in sent if time < AT}
    after = {device for device, time in sent if time >= AT}
    assert before & set(changes.added) == set()
    assert after & set(changes.retired) == set()
    assert set(changes.added) <= after
    assert after - {d.device_id for d in evolved.devices} == set()


def test_a_moved_device_keeps_its_firmware_and_reports_from_its_new_space() -> None:
    evolved = evolve_campus(CAMPUS, seed=5, at=AT, moved=3)
    first = EventFactory(CAMPUS, random.Random(1), 60)
    later = EventFactory(evolved, random.Random(1), 60, earlier=first)
    states = {state.device.device_id: state for state in first.devices}
    for device, (_, space) in device_changes(CAMPUS, evolved).moved.items():
        moved = next(state for state in later.devices if state.device.device_id == device)
        assert (moved.space, moved.firmware) == (first.climates[space], states[device].firmware)


def test_the_command_line_writes_the_later_drop_and_reports_the_changes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class RecordingProducer:
        def __init__(self, config: dict[str, Any]) -> None:
            self.config = config

        def produce(self, topic: str, value: bytes, key: bytes) -> None:
            pass

        def poll(self, timeout: float) -> int:
            return 0

        def flush(self, timeout: float) -> int:
            return 0

    monkeypatch.setattr(producer, "Producer", RecordingProducer)
    monkeypatch.setattr(producer, "ensure_topic", lambda _kafka, _topic, _partitions: None)
    monkeypatch.setattr(
        simulator_service,
        "run_simulation",
        lambda options, _kafka: producer.run_simulation(
            dataclasses.replace(options, now=NOW), KafkaSettings(bootstrap_servers="127.0.0.1:9092")
        ),
    )
    summary = tmp_path / "summary.json"
    argv = [
        "--env",
        "local",
        "--count",
        "50",
        "--seed",
        "5",
        "--reference-dir",
        str(tmp_path / "drop"),
        "--reference-change-at",
        "2026-11-24T22:00:00",
        "--moved",
        "2",
        "--added",
        "1",
        "--retired",
        "1",
        "--summary-out",
        str(summary),
    ]
    assert simulate.main(argv) == 0

    report = json.loads(summary.read_text())
    assert report["next_reference_dir"] == str(tmp_path / "drop" / "next")
    assert sorted(path.name for path in (tmp_path / "drop" / "next").iterdir()) == ["devices.csv", "spaces.csv"]
    changed = report["changed_devices"]
    assert (len(changed["moved"]), len(changed["added"]), len(changed["retired"])) == (2, 1, 1)
    printed = capsys.readouterr().out
    assert f"later reference drop, effective 2026-11-24T22:00:00+00:00, in {tmp_path / 'drop' / 'next'}" in printed
    assert all(f"retired {device}" in printed for device in changed["retired"])
