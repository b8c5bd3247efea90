"""Scripted alarm scenarios: the events a few devices of the campus send, and the alarms they must produce.

Each scenario uses devices of its own space, so all of them can run together. Its events come in arrival
batches: the live pipeline sees one batch after another (the late scenario's second batch arrives after its
first was processed), a replay sees them all at once in event-time order. The expected alarms are written
here by hand, minute by minute from the script, not computed by the alarm code they check.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from smartspaces.stages.simulator.campus import Campus, Device
from smartspaces.stages.simulator.events import Event
from transformations.contract import METRICS, SCHEMA_VERSION, EventType

_SCENARIO_EVENTS = uuid.uuid5(uuid.NAMESPACE_URL, "https://smartspaces.example/alarm-scenarios")


@dataclass(frozen=True)
class ExpectedAlarm:
    """An alarm a scenario must produce; times in minutes after the scenario's start."""

    rule_id: str
    source_id: str
    severity: str
    raised_at_min: float
    cleared_at_min: float | None
    escalated_at_min: float | None = None
    peak_value: float | None = None


@dataclass(frozen=True)
class ScenarioRun:
    """A scenario placed on a campus and a start time: its arrival batches, its expected alarms, its end."""

    name: str
    start: datetime
    batches: tuple[tuple[Event, ...], ...]
    expected: tuple[ExpectedAlarm, ...]
    # The end of the period the scenario covers: a replay runs up to here, as the live run's watermark did.
    end: datetime

    def events(self) -> Iterator[Event]:
        for batch in self.batches:
            yield from batch

    def at(self, minutes: float | None) -> datetime | None:
        return None if minutes is None else self.start + timedelta(minutes=minutes)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    script: Callable[[_Script], tuple[ExpectedAlarm, ...]]

    def place(self, campus: Campus, end: datetime) -> ScenarioRun:
        """The scenario on a campus, ending at `end` in whole seconds (so scenarios placed together end together,
        and the stores' millisecond times hold its times exactly)."""
        end = end.replace(microsecond=0)
        length = timedelta(minutes=self._last_minute(campus) + END_AFTER_LAST_MIN)
        script = _Script(self.name, campus, end - length)
        expected = self.script(script)
        return ScenarioRun(self.name, script.start, tuple(tuple(batch) for batch in script.batches), expected, end)

    def _last_minute(self, campus: Campus) -> float:
        script = _Script(self.name, campus, datetime.fromtimestamp(0).astimezone())
        self.script(script)
        return script.last_minute


# A scenario ends this long after its last event: its devices' silence before the end stays shorter than the
# device_offline rule's 15 minutes.
END_AFTER_LAST_MIN = 10


class _Script:
    """Writes a scenario's events: readings of a device at given minutes, in the current arrival batch."""

    def __init__(self, name: str, campus: Campus, start: datetime) -> None:
        self.name, self.campus, self.start = name, campus, start
        self.batches: list[list[Event]] = [[]]
        self.last_minute = 0.0
        self._used_spaces: set[str] = set()

    def device(self, space_type: str, device_type: str, nth_space: int) -> Device:
        """The first `device_type` device of the nth space of that type (spaces in the campus's order)."""
        spaces = [space for space in self.campus.spaces if space.space_type == space_type]
        space = spaces[nth_space]
        return next(d for d in self.campus.devices if d.space_id == space.space_id and d.device_type == device_type)

    def readings(self, device: Device, minutes: range, value: Callable[[int], float]) -> None:
        for minute in minutes:
            self._add(
                device,
                minute,
                {
                    "event_type": EventType.TELEMETRY.value,
                    "metric": device.device_type,
                    "value": value(minute),
                    "unit": METRICS[device.device_type].unit,
                },
            )

    def access(self, device: Device, minute: float, code: str) -> None:
        self._add(device, minute, {"event_type": EventType.ACCESS.value, "code": code})

    def next_batch(self) -> None:
        """What follows arrives after everything before it was processed (a device flushing its buffer late)."""
        self.batches.append([])

    def _add(self, device: Device, minute: float, fields: dict[str, object]) -> None:
        at = self.start + timedelta(minutes=minute)
        event_id = uuid.uuid5(_SCENARIO_EVENTS, f"{self.name}/{device.device_id}/{at.isoformat()}/{fields}")
        event: Event = {
            "schema_version": SCHEMA_VERSION,
            "event_id": str(event_id),
            "device_id": device.device_id,
            "event_time": at.isoformat(),
            "attributes": {"scenario": self.name},
            **fields,
        }
        self.batches[-1].append(event)
        self.last_minute = max(self.last_minute, minute)


def _co2_excursion(script: _Script) -> tuple[ExpectedAlarm, ...]:
    sensor = script.device("office", "co2", 0)
    script.readings(sensor, range(0, 10), lambda m: 800.0)
    script.readings(sensor, range(10, 25), lambda m: 1650.0 if m == 20 else 1600.0)
    script.readings(sensor, range(25, 30), lambda m: 1300.0)
    script.readings(sensor, range(30, 50), lambda m: 1100.0)
    script.readings(sensor, range(50, 60), lambda m: 900.0)
    # Above 1500 from minute 10, held 5 min: raised at 15. 1300 is inside the hysteresis band: no clear.
    # Below 1200 from minute 30, held 10 min: cleared at 40 (before the escalation due at 45).
    return (ExpectedAlarm("co2_high", sensor.space_id, "warning", 15, 40, None, 1650.0),)


def _temperature_flapping(script: _Script) -> tuple[ExpectedAlarm, ...]:
    sensor = script.device("office", "temperature", 1)
    script.readings(sensor, range(0, 10), lambda m: 24.0)
    script.readings(sensor, range(10, 25), lambda m: 26.5)
    # An hour of 26 ± 0.3 °C: without hysteresis, thirty alarms.
    script.readings(sensor, range(25, 85), lambda m: 26.3 if m % 2 else 25.7)
    script.readings(sensor, range(85, 105), lambda m: 24.5)
    # Above 26 from minute 10, held 10 min: raised at 20; below 25 from 85, held 10 min: cleared at 95.
    return (ExpectedAlarm("office_too_warm", sensor.space_id, "warning", 20, 95, None, 26.5),)


def _silent_device(script: _Script) -> tuple[ExpectedAlarm, ...]:
    sensor = script.device("office", "humidity", 2)
    script.readings(sensor, range(0, 20), lambda m: 45.0)
    script.readings(sensor, range(40, 60), lambda m: 46.0)
    # Last heard at minute 19: offline at 19 + 15 = 34; back at 40.
    return (ExpectedAlarm("device_offline", sensor.device_id, "warning", 34, 40),)


def _door_held_open(script: _Script) -> tuple[ExpectedAlarm, ...]:
    door = script.device("lobby", "door", 0)
    script.access(door, 0, "granted")
    script.access(door, 2, "held_open")
    script.access(door, 8, "closed")
    # A short one: closed 3 minutes after it was held open, no alarm.
    script.access(door, 14, "held_open")
    script.access(door, 17, "closed")
    # Held open at minute 2 and not closed 5 minutes later: raised at 7, cleared when it closed at 8.
    return (ExpectedAlarm("door_held_open", door.device_id, "warning", 7, 8),)


def _escalation(script: _Script) -> tuple[ExpectedAlarm, ...]:
    sensor = script.device("meeting_room", "co2", 0)
    script.readings(sensor, range(0, 46), lambda m: 1750.0 if m == 30 else 1700.0)
    script.readings(sensor, range(46, 61), lambda m: 1000.0)
    # Raised at 5; still open 30 minutes later: critical at 35; below 1200 from 46, held 10: cleared at 56.
    return (ExpectedAlarm("co2_high", sensor.space_id, "critical", 5, 56, 35, 1750.0),)


def _late_batch(script: _Script) -> tuple[ExpectedAlarm, ...]:
    sensor = script.device("office", "co2", 3)
    script.readings(sensor, range(0, 15), lambda m: 1600.0)
    script.next_batch()
    # The sensor's buffered readings from minute 15 on arrive after the first ones were processed.
    script.readings(sensor, range(15, 41), lambda m: 1000.0)
    # Raised at 5; the late readings show it below 1200 from minute 15, held 10: cleared at 25, in the past.
    return (ExpectedAlarm("co2_high", sensor.space_id, "warning", 5, 25, None, 1600.0),)


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("co2_excursion", "CO2 held above 1500 ppm, then back below 1200 ppm", _co2_excursion),
        Scenario("temperature_flapping", "an office at 26 ± 0.3 °C for an hour: one alarm", _temperature_flapping),
        Scenario("silent_device", "a humidity sensor silent for 20 minutes, then back", _silent_device),
        Scenario("door_held_open", "a lobby door held open for 6 minutes", _door_held_open),
        Scenario("escalation", "CO2 high in a meeting room for 50 minutes: warning, then critical", _escalation),
        Scenario("late_batch", "a sensor's buffered readings arrive late and clear its alarm", _late_batch),
    )
}
