"""The device simulator without Kafka: determinism, reference consistency, plausible values, honest counts."""

from __future__ import annotations

import csv
import dataclasses
import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from jobs import simulate
from smartspaces.config import KafkaSettings, load_settings
from smartspaces.stages.simulator import producer
from smartspaces.stages.simulator import service as simulator_service
from smartspaces.stages.simulator.campus import DEVICE_COLUMNS, SPACE_COLUMNS, build_campus, write_reference
from smartspaces.stages.simulator.producer import (
    SimMessage,
    SimulationOptions,
    SimulationReport,
    campus_for,
    generate_messages,
    resolved,
)
from smartspaces.stages.simulator.signals import EnergyMeter, SpaceSignals
from transformations.contract import ACCESS_CODES, METRICS, REQUIRED_FIELDS, STATUS_CODES, EventType, Severity
from transformations.quarantine import QuarantineReason as Reason
from transformations.schemas import DEVICE_REFERENCE, SPACE_REFERENCE

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday
OPTIONS = SimulationOptions(
    count=5000, seed=3, buildings=2, bad_fraction=0.005, duplicate_fraction=0.03, late_fraction=0.03, now=NOW
)
HOUR = timedelta(hours=1)


def payload(message: SimMessage) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(message.value)
    return event


def good_events(options: SimulationOptions = OPTIONS) -> list[tuple[SimMessage, dict[str, Any]]]:
    return [(m, payload(m)) for m in generate_messages(options) if m.expected_reason is None]


def in_order(events: list[tuple[SimMessage, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [event for message, event in events if not message.is_late and not message.is_duplicate]


def report_of(options: SimulationOptions) -> SimulationReport:
    report = SimulationReport()
    for message in generate_messages(options):
        report.count(message)
    return report


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    first, again = list(generate_messages(OPTIONS)), list(generate_messages(OPTIONS))
    other = list(generate_messages(SimulationOptions(count=5000, seed=4, buildings=2, now=NOW)))
    assert first == again
    assert [m.value for m in first[:100]] != [m.value for m in other[:100]]


def test_the_campus_is_deterministic_and_has_the_requested_buildings() -> None:
    campus = build_campus(3, seed=9, now=NOW)
    assert campus == build_campus(3, seed=9, now=NOW)
    assert sorted({space.building_id for space in campus.spaces}) == ["b01", "b02", "b03"]
    assert len({device.device_id for device in campus.devices}) == len(campus.devices)
    assert all(device.installed_at <= NOW - timedelta(days=30) for device in campus.devices)


def test_the_reference_files_have_the_columns_the_loader_reads(tmp_path: Path) -> None:
    spaces, devices = write_reference(campus_for(resolved(OPTIONS)), tmp_path)
    with spaces.open(encoding="utf-8") as file:
        assert next(csv.reader(file)) == list(SPACE_COLUMNS) == SPACE_REFERENCE.fieldNames()
    with devices.open(encoding="utf-8") as file:
        assert next(csv.reader(file)) == list(DEVICE_COLUMNS) == DEVICE_REFERENCE.fieldNames()


def test_every_good_event_comes_from_a_registered_device_in_a_registered_space(tmp_path: Path) -> None:
    spaces, devices = write_reference(campus_for(resolved(OPTIONS)), tmp_path)
    space_ids = {row["space_id"] for row in read_csv(spaces)}
    device_spaces = {row["device_id"]: row["space_id"] for row in read_csv(devices)}
    events = good_events()
    senders = {event["device_id"] for _, event in events}

    assert senders - device_spaces.keys() == set()
    assert set(device_spaces.values()) - space_ids == set()
    assert [message.key.decode() for message, _ in events] == [event["device_id"] for _, event in events]


def test_unknown_device_events_come_from_unregistered_devices(tmp_path: Path) -> None:
    _, devices = write_reference(campus_for(resolved(OPTIONS)), tmp_path)
    registered = {row["device_id"] for row in read_csv(devices)}
    unknown = [
        payload(m)["device_id"] for m in generate_messages(OPTIONS) if m.expected_reason == Reason.UNKNOWN_DEVICE
    ]
    assert len(unknown) == report_of(OPTIONS).bad_by_reason[Reason.UNKNOWN_DEVICE] > 0
    assert set(unknown) & registered == set()


def test_good_telemetry_is_within_its_metrics_range_with_its_unit() -> None:
    telemetry = [event for _, event in good_events() if event["event_type"] == EventType.TELEMETRY]
    out_of_contract = [
        event
        for event in telemetry
        if event["unit"] != METRICS[event["metric"]].unit
        or not METRICS[event["metric"]].minimum <= event["value"] <= METRICS[event["metric"]].maximum
    ]
    assert out_of_contract == []
    assert sorted({event["metric"] for event in telemetry}) == sorted(METRICS)


def test_good_values_are_plausible_for_a_building() -> None:
    values: defaultdict[str, list[float]] = defaultdict(list)
    for _, event in good_events():
        if event["event_type"] == EventType.TELEMETRY:
            values[event["metric"]].append(event["value"])
    assert 19.0 <= min(values["temperature"]) <= max(values["temperature"]) <= 24.0
    assert 30.0 <= min(values["humidity"]) <= max(values["humidity"]) <= 60.0
    assert 400.0 <= min(values["co2"]) <= max(values["co2"]) <= 5000.0
    assert all(value == int(value) for value in values["occupancy"])


def test_codes_and_severities_are_the_contracts() -> None:
    events = [event for _, event in good_events()]
    by_type: defaultdict[str, set[str]] = defaultdict(set)
    for event in events:
        if event["event_type"] != EventType.TELEMETRY:
            by_type[event["event_type"]].add(event["code"])
    assert by_type[EventType.STATUS] <= set(STATUS_CODES)
    assert by_type[EventType.ACCESS] <= set(ACCESS_CODES)
    assert {event["severity"] for event in events if event["event_type"] == EventType.ALARM} <= set(Severity)
    assert all(set(REQUIRED_FIELDS) <= event.keys() and event["schema_version"] == 1 for event in events)


def test_energy_meters_never_decrease_among_in_order_events() -> None:
    readings: defaultdict[str, list[float]] = defaultdict(list)
    for event in in_order(good_events()):
        if event.get("metric") == "energy":
            readings[event["device_id"]].append(event["value"])
    assert len(readings) > 1
    assert {device: sorted(values) for device, values in readings.items()} == readings


def test_an_energy_meter_reading_is_a_non_decreasing_function_of_time() -> None:
    meter = EnergyMeter(NOW - timedelta(days=90), random.Random(1), utc_offset_s=3600)
    times = [(NOW - timedelta(minutes=7 * step)).timestamp() for step in range(3000)][::-1]
    readings = [meter.reading(t) for t in times]
    assert readings == sorted(readings)
    # The base load always runs; the daytime load adds more by day than by night.
    night = meter.reading((NOW - 7 * HOUR).timestamp()) - meter.reading((NOW - 8 * HOUR).timestamp())
    day = meter.reading((NOW - 1 * HOUR).timestamp()) - meter.reading((NOW - 2 * HOUR).timestamp())
    assert 0 < night < day


def test_office_occupancy_follows_working_hours() -> None:
    office = next(space for space in build_campus(1, seed=1, now=NOW).spaces if space.space_type == "office")
    signals = SpaceSignals(office, random.Random(1), utc_offset_s=0)
    wednesday, saturday = datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC)
    at = {hour: signals.occupancy_ratio((wednesday + hour * HOUR).timestamp()) for hour in (3, 11)}
    assert at[3] == 0.0
    assert at[11] == pytest.approx(min(0.8 * signals.popularity, 1.0))
    assert signals.occupancy_ratio((saturday + 11 * HOUR).timestamp()) == pytest.approx(at[11] * 0.06)


def test_good_events_are_in_time_order_and_late_ones_are_one_to_six_hours_behind_within_the_span() -> None:
    events = good_events()
    sent = [(m, datetime.fromisoformat(event["event_time"])) for m, event in events if not m.is_duplicate]
    ordered = [time for m, time in sent if not m.is_late]
    assert ordered == sorted(ordered)
    assert NOW - timedelta(hours=24) <= ordered[0] <= ordered[-1] <= NOW
    late = [index for index, (message, _) in enumerate(sent) if message.is_late]
    assert len(late) == report_of(OPTIONS).late > 0
    for index in late:
        time = sent[index][1]
        before = [t for m, t in sent[:index] if not m.is_late][-1:]
        after = [t for m, t in sent[index:] if not m.is_late][:1]
        # The clock of a late event lies between its neighbours in order; it is 1-6 h behind that clock, or at
        # the start of the simulated span when that is nearer.
        at_span_start = time <= NOW - timedelta(hours=24) + timedelta(seconds=1)
        assert [t - time <= 6 * HOUR for t in before] == [True] * len(before)
        assert [t - time >= HOUR or at_span_start for t in after] == [True] * len(after)


def test_a_duplicate_is_an_earlier_good_message_byte_for_byte() -> None:
    seen: set[tuple[bytes, bytes]] = set()
    duplicates = 0
    for message in generate_messages(OPTIONS):
        if message.is_duplicate:
            duplicates += 1
            assert (message.key, message.value) in seen
        elif message.expected_reason is None:
            seen.add((message.key, message.value))
    assert duplicates == report_of(OPTIONS).duplicates > 0


def test_good_events_are_padded_to_the_requested_size() -> None:
    options = SimulationOptions(count=300, seed=2, buildings=1, now=NOW, payload_bytes=400)
    assert {len(m.value) for m in generate_messages(options)} == {400}


def test_payload_too_large_exceeds_the_limit_and_nothing_else_does() -> None:
    sizes: defaultdict[bool, list[int]] = defaultdict(list)
    for message in generate_messages(OPTIONS):
        sizes[message.expected_reason == Reason.PAYLOAD_TOO_LARGE].append(len(message.value))
    assert min(sizes[True]) > OPTIONS.limits.max_payload_bytes >= max(sizes[False])


class FakeProducer:
    """Stands in for confluent_kafka.Producer: records what is produced."""

    instances: ClassVar[list[FakeProducer]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.produced: list[tuple[str, bytes, bytes]] = []
        FakeProducer.instances.append(self)

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        self.produced.append((topic, value, key))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0


def test_the_report_counts_exactly_what_was_produced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    created: list[tuple[str, int]] = []
    monkeypatch.setattr(producer, "Producer", FakeProducer)
    monkeypatch.setattr(producer, "ensure_topic", lambda _kafka, topic, partitions: created.append((topic, partitions)))
    options = dataclasses.replace(OPTIONS, topic="t", reference_dir=tmp_path / "drop")
    report = producer.run_simulation(options, KafkaSettings(bootstrap_servers="127.0.0.1:9092"))

    produced = FakeProducer.instances[-1].produced
    expected = list(generate_messages(options))
    assert produced == [("t", m.value, m.key) for m in expected]
    assert created == [("t", 3)]
    assert report.sent_total == len(expected) == 5000
    assert report.good_distinct == len({m.value for m in expected if m.expected_reason is None})
    assert report.duplicates == sum(m.is_duplicate for m in expected)
    assert report.late == sum(m.is_late and not m.is_duplicate for m in expected)
    assert report.bad_by_reason == {
        reason: sum(m.expected_reason == reason for m in expected) for reason in report.bad_by_reason
    }
    assert report.bytes_sent == sum(len(m.value) for m in expected)
    assert (report.delivery_failures, sorted(p.name for p in (tmp_path / "drop").iterdir())) == (
        0,
        ["devices.csv", "spaces.csv"],
    )
    assert FakeProducer.instances[-1].config["enable.idempotence"] is True


def test_the_command_line_runs_with_the_settings_and_writes_the_summary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs: list[SimulationOptions] = []
    report = SimulationReport(sent_total=7, good_distinct=7, seconds=1.0)

    def fake_run(options: SimulationOptions, kafka: KafkaSettings) -> SimulationReport:
        runs.append(options)
        return report

    monkeypatch.setattr(simulator_service, "run_simulation", fake_run)
    summary = tmp_path / "summary.json"
    argv = ["--env", "local", "--count", "7", "--bad-fraction", "0.01", "--seed", "5", "--summary-out", str(summary)]
    assert simulate.main(argv) == 0

    settings = load_settings("local")
    assert (runs[0].count, runs[0].seed, runs[0].bad_fraction, runs[0].topic) == (7, 5, 0.01, settings.ingest.topic)
    assert runs[0].reference_dir == Path(settings.lake.root) / "landing" / "reference"
    assert json.loads(summary.read_text()) == report.to_dict()


def test_forced_doors_are_a_known_share_of_door_events_that_fire_the_forced_rule() -> None:
    options = dataclasses.replace(OPTIONS, forced_door_fraction=0.05)
    messages = list(generate_messages(options))
    forced = [payload(message) for message in messages if message.is_forced_door]
    doors = {device.device_id for device in build_campus(2, 3, NOW).devices if device.device_type == "door"}
    assert 0.04 * len(messages) < len(forced) < 0.06 * len(messages)
    assert {(event["event_type"], event["code"]) for event in forced} == {("access", "forced")}
    assert {event["device_id"] for event in forced} <= doors
    assert report_of(options).forced_doors == len(forced)
    assert not any(message.is_forced_door for message in generate_messages(OPTIONS))


def test_live_event_times_follow_the_wall_clock_and_ids_are_fresh_each_run() -> None:
    options = dataclasses.replace(OPTIONS, count=200, live=True, bad_fraction=0.0, late_fraction=0.0)
    before = datetime.now(UTC)
    first = [payload(message) for message in generate_messages(options) if not message.is_duplicate]
    after = datetime.now(UTC)
    times = [datetime.fromisoformat(event["event_time"]) for event in first]
    # Event times carry milliseconds (truncated), so the earliest may be up to 1 ms before `before`.
    assert all(before - timedelta(milliseconds=1) <= moment <= after for moment in times)
    second = {payload(message)["event_id"] for message in generate_messages(options)}
    assert not {event["event_id"] for event in first} & second
