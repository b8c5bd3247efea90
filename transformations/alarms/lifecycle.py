"""The alarm lifecycle: readings in event-time order, and a watermark, drive each (rule, source)'s one open alarm.

The same evaluator runs live (the change feed applies each micro-batch's readings, then advances to a watermark
that keeps moving while nothing arrives) and on replay (one source's readings of a period, then the period's
end). Every time it records is an event time or a deadline computed from event times (`no_data`: last seen +
silent minutes; `held_open`: opened + open minutes; escalation: raised + after minutes), never the wall clock,
so a replay of a period writes the same alarms, ids included, as the live run did. Parity holds for readings
that reach the feed in event-time order per source before the watermark passes them. Two kinds of reading are
not applied, and counted: one at or before its (rule, source)'s last applied reading (`skipped`: a reprocessed
micro-batch, or a device re-sending its past), and one older than a time-driven transition the watermark
already made for its source (`too_late`: applying it would rewrite a decision already published, e.g. clear
an alarm before the escalation it got).

Time-driven transitions due at T happen before a reading at T' > T is applied, and when the watermark reaches T.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from transformations.alarms.rules import CLOSED_CODE, HELD_OPEN_CODE, AlarmKind, AlarmRule, AlarmRules, Direction, Scope
from transformations.deterministic_ids import DERIVED_RECORDS_NAMESPACE


class AlarmState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


@dataclass(frozen=True)
class Reading:
    """One located event as the alarm rules see it."""

    event_time: datetime
    event_id: str
    device_id: str
    space_id: str | None
    building_id: str | None
    space_type: str | None
    event_type: str
    metric: str | None = None
    value: float | None = None
    code: str | None = None

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.event_time, self.event_id)


@dataclass
class Alarm:
    """One alarm's lifecycle as the rules drive it; acknowledgement is recorded apart, by the operator's call."""

    alarm_id: str
    rule_id: str
    rule_version: int
    scope: str
    source_id: str
    building_id: str | None
    space_id: str | None
    device_id: str | None
    severity: str
    raised_severity: str
    message: str
    metric: str | None
    raised_at: datetime
    escalated_at: datetime | None = None
    cleared_at: datetime | None = None
    peak_value: float | None = None
    last_value: float | None = None

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


@dataclass
class SourceState:
    """What one (rule, source) carries between readings and micro-batches."""

    last_event_time: datetime | None = None
    last_event_id: str | None = None
    # threshold: since when the raise (or, while open, the clear) condition has held without a break.
    raise_since: datetime | None = None
    clear_since: datetime | None = None
    # no_data: when the device was last heard; held_open: since when the door is open.
    timer_since: datetime | None = None
    # The newest time-driven transition (a timer's raise, an escalation) the watermark made: final.
    decided_until: datetime | None = None
    alarm: Alarm | None = None
    # Where the last reading placed the source: a time-driven alarm is raised there.
    device_id: str | None = None
    space_id: str | None = None
    building_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceState:
        alarm = data.get("alarm")
        times = {name: _instant(data.get(name)) for name in _STATE_TIMES}
        return cls(
            last_event_id=data.get("last_event_id"),
            alarm=None if alarm is None else alarm_from_json(alarm),
            device_id=data.get("device_id"),
            space_id=data.get("space_id"),
            building_id=data.get("building_id"),
            **times,
        )


_ALARM_TIMES = ("raised_at", "escalated_at", "cleared_at")
_STATE_TIMES = ("last_event_time", "raise_since", "clear_since", "timer_since", "decided_until")


def _latest(known: datetime | None, at: datetime) -> datetime:
    return at if known is None else max(known, at)


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {key: convert(inner) for key, inner in value.items()}
        return value

    return {key: convert(value) for key, value in data.items()}


def alarm_to_json(alarm: Alarm) -> dict[str, Any]:
    return _jsonable(asdict(alarm))


def alarm_from_json(data: dict[str, Any]) -> Alarm:
    return Alarm(**{**data, **{name: _instant(data.get(name)) for name in _ALARM_TIMES}})


def alarm_id(rule_id: str, scope: str, source_id: str, raised_at: datetime) -> str:
    """Deterministic from (rule, source, first raise time): every re-run of the same readings writes the same id."""
    raised = raised_at.astimezone(UTC).isoformat()  # one spelling whatever offset the time came with
    return str(uuid.uuid5(DERIVED_RECORDS_NAMESPACE, f"alarm/{rule_id}/{scope}/{source_id}/{raised}"))


def source_of(rule: AlarmRule, reading: Reading) -> str | None:
    """Whose alarm a reading feeds: its device, space or building (None: the registry does not place it)."""
    if rule.scope is Scope.DEVICE:
        return reading.device_id
    return reading.space_id if rule.scope is Scope.SPACE else reading.building_id


StateKey = tuple[str, str]  # (rule_id, source_id)


@dataclass
class AlarmEvaluator:
    """Applies readings and watermarks to the states of every (rule, source); collects what changed."""

    rules: AlarmRules
    states: dict[StateKey, SourceState] = field(default_factory=dict)
    changed_alarms: dict[str, Alarm] = field(default_factory=dict)
    changed_states: set[StateKey] = field(default_factory=set)
    skipped: int = 0
    too_late: int = 0

    def __post_init__(self) -> None:
        self._rules = self.rules.by_id()

    def apply(self, readings: Iterable[Reading]) -> None:
        """Applies readings in event-time order (sorted here; a tie is broken by the event id)."""
        for reading in sorted(readings, key=lambda r: r.order):
            for rule in self.rules.rules:
                if rule.selects(reading.event_type, reading.metric, reading.code, reading.space_type):
                    source = source_of(rule, reading)
                    if source is not None:
                        self._apply(rule, source, reading)

    def advance_to(self, watermark: datetime) -> None:
        """Fires every timer and escalation due at or before the watermark."""
        for (rule_id, source), state in list(self.states.items()):
            rule = self._rules.get(rule_id)
            if rule is not None and self._advance(rule, source, state, watermark, inclusive=True):
                self.changed_states.add((rule_id, source))

    def take_changes(self) -> tuple[list[Alarm], dict[StateKey, SourceState]]:
        """The alarms (copies, as they stood) and the states (live) changed since the last call; starts anew."""
        alarms = list(self.changed_alarms.values())
        states = {key: self.states[key] for key in self.changed_states}
        self.changed_alarms, self.changed_states = {}, set()
        return alarms, states

    def _apply(self, rule: AlarmRule, source: str, reading: Reading) -> None:
        key = (rule.rule_id, source)
        state = self.states.setdefault(key, SourceState())
        if state.last_event_time is not None and reading.order <= (state.last_event_time, state.last_event_id or ""):
            self.skipped += 1
            return
        if state.decided_until is not None and reading.event_time < state.decided_until:
            self.too_late += 1
            return
        self._advance(rule, source, state, reading.event_time, inclusive=False)
        if rule.kind is AlarmKind.THRESHOLD:
            self._threshold(rule, source, state, reading)
        elif rule.kind is AlarmKind.NO_DATA:
            self._close(state, reading.event_time)
            state.timer_since = reading.event_time
        else:
            self._held_open(rule, source, state, reading)
        state.last_event_time, state.last_event_id = reading.event_time, reading.event_id
        state.device_id, state.space_id, state.building_id = reading.device_id, reading.space_id, reading.building_id
        self.changed_states.add(key)

    def _threshold(self, rule: AlarmRule, source: str, state: SourceState, reading: Reading) -> None:
        assert rule.raise_when is not None and rule.clear_when is not None
        if reading.value is None:
            return
        t, value = reading.event_time, reading.value
        if state.alarm is None:
            if not rule.raise_when.holds(value):
                state.raise_since = None
                return
            state.raise_since = state.raise_since or t
            if t - state.raise_since >= rule.raise_when.hold:
                self._open(rule, source, state, reading, t)
                state.raise_since = None
            return
        self._record(state.alarm, value, rule.raise_when.direction)
        if not rule.clear_when.holds(value):
            state.clear_since = None
            return
        state.clear_since = state.clear_since or t
        if t - state.clear_since >= rule.clear_when.hold:
            self._close(state, t)

    def _held_open(self, rule: AlarmRule, source: str, state: SourceState, reading: Reading) -> None:
        if reading.code == HELD_OPEN_CODE:
            state.timer_since = state.timer_since or reading.event_time
        elif reading.code == CLOSED_CODE:
            state.timer_since = None
            self._close(state, reading.event_time)

    def _advance(self, rule: AlarmRule, source: str, state: SourceState, until: datetime, inclusive: bool) -> bool:
        def due(at: datetime) -> bool:
            return at <= until if inclusive else at < until

        changed = False
        if rule.kind is not AlarmKind.THRESHOLD and state.alarm is None and state.timer_since is not None:
            assert rule.timeout is not None
            deadline = state.timer_since + rule.timeout
            if due(deadline):
                self._open(rule, source, state, None, deadline)
                state.decided_until = _latest(state.decided_until, deadline)
                changed = True
        alarm = state.alarm
        if alarm is not None and rule.escalation is not None and alarm.escalated_at is None:
            escalate_at = alarm.raised_at + rule.escalation.after
            if due(escalate_at):
                alarm.escalated_at, alarm.severity = escalate_at, rule.escalation.severity.value
                state.decided_until = _latest(state.decided_until, escalate_at)
                self._changed(alarm)
                changed = True
        return changed

    def _open(self, rule: AlarmRule, source: str, state: SourceState, reading: Reading | None, at: datetime) -> None:
        located = reading or state
        alarm = Alarm(
            alarm_id=alarm_id(rule.rule_id, rule.scope.value, source, at),
            rule_id=rule.rule_id,
            rule_version=rule.version,
            scope=rule.scope.value,
            source_id=source,
            building_id=located.building_id,
            space_id=located.space_id,
            device_id=located.device_id if rule.scope is Scope.DEVICE else None,
            severity=rule.severity.value,
            raised_severity=rule.severity.value,
            message=rule.message,
            metric=rule.metric,
            raised_at=at,
        )
        if reading is not None and reading.value is not None and rule.raise_when is not None:
            self._record(alarm, reading.value, rule.raise_when.direction)
        state.alarm, state.clear_since = alarm, None
        self._changed(alarm)

    def _close(self, state: SourceState, at: datetime) -> None:
        if state.alarm is not None:
            state.alarm.cleared_at = at
            self._changed(state.alarm)
            state.alarm, state.clear_since = None, None

    @staticmethod
    def _record(alarm: Alarm, value: float, direction: Direction) -> None:
        """The last value, and the peak: the furthest value in the direction that raised the alarm."""
        alarm.last_value = value
        further = max if direction is Direction.ABOVE else min
        alarm.peak_value = value if alarm.peak_value is None else further(alarm.peak_value, value)

    def _changed(self, alarm: Alarm) -> None:
        self.changed_alarms[alarm.alarm_id] = replace(alarm)
