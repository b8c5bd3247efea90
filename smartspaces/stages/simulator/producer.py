"""The simulation: a seeded stream of good, late, duplicate and bad messages, and its producer to Kafka.

`generate_messages` is pure (no Kafka, no files): the same options give the same bytes, and each message
says which reason the validator must give it. `run_simulation` writes the campus's reference drop, sends
the stream with confluent-kafka and reports what it sent by category.

With a reference change, the campus changes at a time within the run (devices moved, added, retired):
events before it come from the first campus, events after it from the changed one, whose drop is written
to a folder of its own.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from confluent_kafka import KafkaError, Producer

from smartspaces import progress
from smartspaces.config import IngestSettings, KafkaSettings
from smartspaces.connectors.kafka_admin import client_config, ensure_topic
from smartspaces.stages.simulator.bad_input import BAD_INPUT, BAD_KINDS, HOUR_S, BadInputContext
from smartspaces.stages.simulator.campus import Campus, build_campus, device_changes, evolve_campus, write_reference
from smartspaces.stages.simulator.events import EventFactory, encode, encode_padded
from smartspaces.stages.simulator.scenarios import SCENARIOS, ScenarioRun

# Rate assumed for a run "as fast as possible", to size the simulated clock and the future-event margin.
NOMINAL_RATE = 50_000.0
# Duplicates resend one of the last good messages.
RECENT_GOOD = 1024
# How often a run updates its progress step (the display decides what to show).
PROGRESS_EVERY_S = 0.5
FLUSH_TIMEOUT_S = 120.0
LATE_BY_S = (1 * HOUR_S, 6 * HOUR_S)
# The later drop's folder below the reference folder, unless given.
NEXT_DROP_FOLDER = "next"


@dataclass(frozen=True)
class ReferenceChange:
    """The campus changes at `at`: how many devices move (within their building), are added and are retired."""

    at: datetime
    moved: int = 3
    added: int = 3
    retired: int = 2

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("the reference change's time needs an offset (UTC if in doubt)")
        if min(self.moved, self.added, self.retired) < 0:
            raise ValueError("moved, added and retired must not be negative")


@dataclass(frozen=True)
class SimulationOptions:
    """What to send: how many (count and/or duration), how fast, from which campus, with how much bad input."""

    count: int | None = None
    duration_s: float | None = None
    # Messages per second; 0: as fast as possible.
    rate: float = 0.0
    buildings: int = 2
    seed: int = 1
    # The share of messages of EACH bad kind (13 kinds), of duplicates and of late events.
    bad_fraction: float = 0.0
    duplicate_fraction: float = 0.0
    late_fraction: float = 0.0
    topic: str = "events"
    # Where spaces.csv and devices.csv are written (None: not written).
    reference_dir: Path | None = None
    # The end of the simulated clock (None: the time the run starts); event times spread over span_s before it.
    now: datetime | None = None
    span_s: float = 24 * HOUR_S
    partitions: int = 3
    # Good events are padded to about this many bytes (None: their natural ~250 bytes).
    payload_bytes: int | None = None
    # The campus's offset from UTC, in which its events' times are written.
    utc_offset_minutes: int = 60
    # The ingest's limits that bad input must break (payload size, future skew, lateness).
    limits: IngestSettings = field(default_factory=IngestSettings)
    # Idempotent producer; None: on, except on SASL_SSL endpoints (Event Hubs does not offer it).
    idempotent: bool | None = None
    # The campus changes during the run (None: it does not); the later drop goes to next_reference_dir
    # (None: <reference_dir>/next).
    reference_change: ReferenceChange | None = None
    next_reference_dir: Path | None = None
    # The share of messages that are a forced door (a critical event for certain: the `door_forced` rule), on
    # top of the critical events the realistic mix produces by itself.
    forced_door_fraction: float = 0.0
    # Event times follow the wall clock as messages are made (a real-time stream, not reproducible) instead of
    # spreading over span_s before `now`.
    live: bool = False
    # Scripted alarm scenarios (scenarios.SCENARIOS) to send before the random mix, all ending at `now`.
    scenarios: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.count is None and self.duration_s is None:
            raise ValueError("set count or duration_s")
        if self.count is not None and self.count < 0:
            raise ValueError(f"count must not be negative, got {self.count}")
        fractions = {
            "bad_fraction": self.bad_fraction,
            "duplicate_fraction": self.duplicate_fraction,
            "late_fraction": self.late_fraction,
            "forced_door_fraction": self.forced_door_fraction,
        }
        for name, value in fractions.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        special = self.duplicate_fraction + self.late_fraction + self.forced_door_fraction
        if len(BAD_KINDS) * self.bad_fraction + special > 1.0:
            raise ValueError(
                f"{len(BAD_KINDS)} * bad_fraction + duplicate_fraction + late_fraction + forced_door_fraction exceeds 1"
            )
        if self.payload_bytes is not None and self.payload_bytes > self.limits.max_payload_bytes:
            raise ValueError(f"payload_bytes {self.payload_bytes} would make good events too large for the ingest")
        if self.rate < 0:
            raise ValueError(f"rate must not be negative, got {self.rate}")
        unknown = [name for name in self.scenarios if name not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenario(s) {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")


class SimMessage(NamedTuple):
    key: bytes
    value: bytes
    # The reason the validator must give (a QuarantineReason value), or None for a good message.
    expected_reason: str | None
    is_duplicate: bool
    is_late: bool
    is_forced_door: bool = False


@dataclass
class SimulationReport:
    sent_total: int = 0
    # Distinct good events, late ones included (duplicates are not distinct).
    good_distinct: int = 0
    duplicates: int = 0
    late: int = 0
    # Good events that are forced doors sent for forced_door_fraction (each fires exactly one critical event).
    forced_doors: int = 0
    bad_by_reason: dict[str, int] = field(default_factory=lambda: {kind.value: 0 for kind in BAD_KINDS})
    delivery_failures: int = 0
    seconds: float = 0.0
    bytes_sent: int = 0
    # The later reference drop of a run whose campus changed: its folder, and the devices moved, added, retired.
    next_reference_dir: str | None = None
    changed_devices: dict[str, Any] = field(default_factory=dict)

    def count(self, message: SimMessage) -> None:
        self.sent_total += 1
        self.bytes_sent += len(message.value)
        if message.expected_reason is not None:
            self.bad_by_reason[message.expected_reason] += 1
        elif message.is_duplicate:
            self.duplicates += 1
        else:
            self.good_distinct += 1
            self.late += message.is_late
            self.forced_doors += message.is_forced_door

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def resolved(options: SimulationOptions) -> SimulationOptions:
    """The options with `now` fixed (the current time when unset), in UTC."""
    now = options.now or datetime.now(UTC)
    change = options.reference_change
    if change is not None:
        change = dataclasses.replace(change, at=change.at.astimezone(UTC))
    return dataclasses.replace(options, now=now.astimezone(UTC), reference_change=change)


def campus_for(options: SimulationOptions) -> Campus:
    """The campus of a run (its devices were installed before `now`); needs resolved options."""
    assert options.now is not None, "resolve the options first"
    return build_campus(options.buildings, options.seed, options.now)


def next_campus_for(options: SimulationOptions) -> Campus | None:
    """The campus after the run's reference change (None without one); needs resolved options."""
    change = options.reference_change
    if change is None:
        return None
    return evolve_campus(campus_for(options), options.seed, change.at, change.moved, change.added, change.retired)


def next_reference_dir(options: SimulationOptions) -> Path | None:
    """Where the later drop is written: next_reference_dir, or <reference_dir>/next (None: not written)."""
    if options.reference_change is None:
        return None
    if options.next_reference_dir is not None:
        return options.next_reference_dir
    return options.reference_dir / NEXT_DROP_FOLDER if options.reference_dir is not None else None


def planned_seconds(options: SimulationOptions) -> float:
    """How long a run is expected to take."""
    if options.duration_s is not None:
        return options.duration_s
    return (options.count or 0) / (options.rate or NOMINAL_RATE)


def scenario_runs(options: SimulationOptions) -> list[ScenarioRun]:
    """The run's scenarios placed on its campus, all ending at its `now`."""
    options = resolved(options)
    assert options.now is not None
    return [SCENARIOS[name].place(campus_for(options), options.now) for name in options.scenarios]


def _unscripted(campus: Campus, options: SimulationOptions) -> Campus:
    """The campus without the devices the scenarios script: the random mix must not interleave with them."""
    scripted = {event["device_id"] for run in scenario_runs(options) for event in run.events()}
    if not scripted:
        return campus
    return dataclasses.replace(campus, devices=tuple(d for d in campus.devices if d.device_id not in scripted))


def _scenario_messages(options: SimulationOptions) -> Iterator[SimMessage]:
    for run in scenario_runs(options):
        for event in run.events():
            yield SimMessage(event["device_id"].encode(), encode(event), None, False, False)


def generate_messages(options: SimulationOptions) -> Iterator[SimMessage]:
    """The messages of a run, in sending order: endless when only a duration is set.

    Pure unless options.live: then event times are read from the wall clock as each message is made.
    """
    # Scenarios first (their events end at `now`), then the random mix, if any is asked for.
    yield from _scenario_messages(options)
    options = resolved(options)
    assert options.now is not None
    # Live runs draw fresh event ids (and readings) each run; the campus still comes from the seed.
    rng = random.Random(f"{options.seed}/{time.time_ns()}" if options.live else options.seed)
    factory = EventFactory(_unscripted(campus_for(options), options), rng, options.utc_offset_minutes)
    next_campus = next_campus_for(options)
    later = EventFactory(next_campus, rng, options.utc_offset_minutes, earlier=factory) if next_campus else None
    change_at = options.reference_change.at.timestamp() if options.reference_change else float("inf")

    def factory_at(t: float) -> EventFactory:
        """The devices in service at event time t."""
        return later if later is not None and t >= change_at else factory

    now = options.now.timestamp()
    expected = (
        options.count
        if options.count is not None
        else max(planned_seconds(options) * (options.rate or NOMINAL_RATE), 1.0)
    )
    step = options.span_s / max(expected, 1)
    start = now - options.span_s
    # Generous allowance: the run may be slower than planned.
    context = BadInputContext(
        factory, clock=start, now=now, limits=options.limits, run_allowance_s=2 * planned_seconds(options) + 600.0
    )
    bad_input = {kind.value: make for kind, make in BAD_INPUT.items()}
    labels, bounds = _categories(options)
    special = bounds[-1]
    recent: list[SimMessage] = []
    index = 0
    while options.count is None or index < options.count:
        clock = time.time() if options.live else min(start + step * (index + rng.random()), now)
        index += 1
        draw = rng.random()
        label = labels[bisect_right(bounds, draw)] if draw < special else "good"
        if label == "duplicate" and recent:
            original = recent[int(rng.random() * len(recent))]
            yield SimMessage(original.key, original.value, None, True, original.is_late)
            continue
        if label in bad_input:
            key, value = bad_input[label](dataclasses.replace(context, clock=clock, factory=factory_at(clock)))
            yield SimMessage(key, value, label, False, False)
            continue
        is_late, is_forced_door = label == "late", label == "forced_door"
        if is_late:
            # Late, but within the simulated span: a device's history has no gap before its late reading.
            clock = max(start, clock - rng.uniform(*LATE_BY_S))
        event = factory_at(clock).forced_door(clock) if is_forced_door else factory_at(clock).random_event(clock)
        message = SimMessage(
            event["device_id"].encode(),
            encode_padded(event, options.payload_bytes),
            None,
            False,
            is_late,
            is_forced_door,
        )
        if len(recent) < RECENT_GOOD:
            recent.append(message)
        else:
            recent[index % RECENT_GOOD] = message
        yield message


def _categories(options: SimulationOptions) -> tuple[list[str], list[float]]:
    """Message categories with their cumulative shares: each bad kind, duplicates, late, forced doors; the rest
    is good."""
    labels = [kind.value for kind in BAD_KINDS] + ["duplicate", "late", "forced_door"]
    shares = [options.bad_fraction] * len(BAD_KINDS) + [
        options.duplicate_fraction,
        options.late_fraction,
        options.forced_door_fraction,
    ]
    bounds, total = [], 0.0
    for share in shares:
        total += share
        bounds.append(total)
    return labels, bounds


def producer_config(kafka: KafkaSettings, idempotent: bool | None) -> dict[str, Any]:
    """Connection settings plus batching for throughput; delivery reports only for failures."""
    if idempotent is None:
        idempotent = kafka.security_protocol != "SASL_SSL"
    return {
        **client_config(kafka),
        "enable.idempotence": idempotent,
        "linger.ms": 50,
        "batch.num.messages": 10_000,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 500_000,
        "delivery.report.only.error": True,
    }


def run_simulation(
    options: SimulationOptions, kafka: KafkaSettings, stop: threading.Event | None = None
) -> SimulationReport:
    """Writes the reference drop(s), sends the messages (at `rate`, for `count` and/or `duration_s`, or until
    `stop` is set), flushes."""
    options = resolved(options)
    if options.reference_dir is not None:
        write_reference(campus_for(options), options.reference_dir)
    report = SimulationReport()
    next_campus, next_dir = next_campus_for(options), next_reference_dir(options)
    if next_campus is not None:
        report.changed_devices = device_changes(campus_for(options), next_campus).to_dict()
        if next_dir is not None:
            write_reference(next_campus, next_dir)
            report.next_reference_dir = str(next_dir)
    ensure_topic(kafka, options.topic, options.partitions)
    failures: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: object) -> None:
        if error is not None:
            failures.append(error)

    producer = Producer({**producer_config(kafka, options.idempotent), "on_delivery": delivered})
    with _sending_step(options) as sending:
        started = last_progress = time.monotonic()
        deadline = started + options.duration_s if options.duration_s is not None else float("inf")
        for message in generate_messages(options):
            elapsed = time.monotonic()
            if elapsed >= deadline or (stop is not None and stop.is_set()):
                break
            if options.rate:
                wait = started + report.sent_total / options.rate - elapsed
                if wait > 0:
                    producer.poll(wait)
            _produce(producer, options.topic, message)
            report.count(message)
            if report.sent_total % 1024 == 0:
                producer.poll(0)  # serves delivery reports
            if elapsed - last_progress >= PROGRESS_EVERY_S:
                last_progress = elapsed
                _show_progress(sending, options, report, elapsed - started)
        _show_progress(sending, options, report, time.monotonic() - started, "flushing")
        undelivered = producer.flush(FLUSH_TIMEOUT_S)
        report.seconds = round(time.monotonic() - started, 3)
        report.delivery_failures = len(failures) + undelivered
        _show_progress(sending, options, report, report.seconds, f"{report.delivery_failures} delivery failures")
    return report


def _sending_step(options: SimulationOptions) -> AbstractContextManager[progress.Step]:
    """The run's progress: messages sent of `count`, or (a duration alone) seconds of `duration_s`."""
    if options.count is not None:
        scripted = sum(len(batch) for run in scenario_runs(options) for batch in run.batches)
        return progress.step("simulate", total=options.count + scripted, unit="messages")
    return progress.step("simulate", total=options.duration_s, unit="s", show_rate=False)


def _show_progress(
    sending: progress.Step, options: SimulationOptions, report: SimulationReport, elapsed_s: float, detail: str = ""
) -> None:
    if options.count is not None:
        sending.update(report.sent_total, detail=detail)
        return
    rate = report.sent_total / elapsed_s if elapsed_s > 0 else 0.0
    figures = f"{report.sent_total} messages sent, {rate:.0f} messages/s"
    seconds = min(round(elapsed_s, 1), options.duration_s or 0.0)
    sending.update(seconds, detail=", ".join(part for part in (figures, detail) if part))


def _produce(producer: Producer, topic: str, message: SimMessage) -> None:
    while True:
        try:
            producer.produce(topic, message.value, message.key)
            return
        except BufferError:  # the local queue is full: let deliveries drain it
            producer.poll(0.05)
