"""The alarm model: rules with a raise and a separate clear condition, escalation and scope, from a reviewed YAML file.

A rules file is validated as a whole at start-up; every error names the line of the rule and the field, so a
reviewer can fix the file without reading code. Three kinds of rule:

- `threshold`: raise when a metric is above (or below) a value for `for_minutes`, clear when it is below (or
  above) another value for `for_minutes` (hysteresis: the clear value lies on the far side of the raise value);
- `no_data`: a device that sent nothing for `silent_minutes` raises its own alarm, cleared when it speaks again;
- `held_open`: a door that reported `held_open` and sent no `closed` within `open_minutes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

import yaml

from transformations.contract import METRICS, EventType, Severity

RULES_FILE_VERSION = 1
ANY_SPACE_TYPE = "*"
# The access codes that open and close a door's held-open timer.
HELD_OPEN_CODE = "held_open"
CLOSED_CODE = "closed"


class AlarmKind(StrEnum):
    THRESHOLD = "threshold"
    NO_DATA = "no_data"
    HELD_OPEN = "held_open"


class Scope(StrEnum):
    """Whose alarm it is: one device, or a space or building whatever device reports the reading."""

    DEVICE = "device"
    SPACE = "space"
    BUILDING = "building"


class Direction(StrEnum):
    ABOVE = "above"
    BELOW = "below"

    @property
    def opposite(self) -> Direction:
        return Direction.BELOW if self is Direction.ABOVE else Direction.ABOVE


class AlarmRulesError(ValueError):
    """A rules file that cannot be used; the message lists every problem with its line and field."""


@dataclass(frozen=True)
class Threshold:
    """`direction` the value, held for `hold` (0: the first reading decides)."""

    direction: Direction
    value: float
    hold: timedelta

    def holds(self, reading: float) -> bool:
        return reading > self.value if self.direction is Direction.ABOVE else reading < self.value


@dataclass(frozen=True)
class Escalation:
    severity: Severity
    after: timedelta


@dataclass(frozen=True)
class AlarmRule:
    rule_id: str
    version: int
    kind: AlarmKind
    scope: Scope
    severity: Severity
    message: str
    line: int
    metric: str | None = None
    space_type: str = ANY_SPACE_TYPE
    raise_when: Threshold | None = None
    clear_when: Threshold | None = None
    escalation: Escalation | None = None
    # no_data: how long a device may stay silent; held_open: how long a door may stay open.
    timeout: timedelta | None = None
    # no_data: the events that show the device alive (None: any).
    event_type: EventType | None = None

    def selects(self, event_type: str | None, metric: str | None, code: str | None, space_type: str | None) -> bool:
        """Whether a located event is one of this rule's inputs."""
        if self.space_type != ANY_SPACE_TYPE and space_type != self.space_type:
            return False
        if self.kind is AlarmKind.THRESHOLD:
            return event_type == EventType.TELEMETRY.value and metric == self.metric
        if self.kind is AlarmKind.HELD_OPEN:
            return event_type == EventType.ACCESS.value and code in (HELD_OPEN_CODE, CLOSED_CODE)
        return self.event_type is None or event_type == self.event_type.value


@dataclass(frozen=True)
class AlarmRules:
    version: int
    rules: tuple[AlarmRule, ...]

    def by_id(self) -> dict[str, AlarmRule]:
        return {rule.rule_id: rule for rule in self.rules}

    def event_types(self) -> frozenset[str]:
        """The event types some rule reads."""
        types: set[str] = set()
        for rule in self.rules:
            if rule.kind is AlarmKind.THRESHOLD:
                types.add(EventType.TELEMETRY.value)
            elif rule.kind is AlarmKind.HELD_OPEN:
                types.add(EventType.ACCESS.value)
            else:
                types.update([rule.event_type.value] if rule.event_type else [t.value for t in EventType])
        return frozenset(types)


class _LineLoader(yaml.SafeLoader):
    """Safe YAML whose mappings remember the line they start on (as `__line__`)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[str] = []

    def add(self, line: int, field: str, problem: str) -> None:
        self.found.append(f"{self.source}:{line}: {field}: {problem}")


_E = TypeVar("_E", bound=StrEnum)

_RULE_FIELDS = {
    "id",
    "version",
    "kind",
    "scope",
    "severity",
    "message",
    "metric",
    "space_type",
    "raise",
    "clear",
    "escalate",
    "silent_minutes",
    "open_minutes",
    "event_type",
}
# An alarm's severities, lowest first.
ALARM_SEVERITIES = (Severity.WARNING, Severity.CRITICAL)


def _rank(severity: Severity) -> int:
    return list(Severity).index(severity)


def _minutes(value: Any, line: int, field: str, problems: _Problems) -> timedelta | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(line, field, f"must be a number of minutes, not {value!r}")
        return None
    if value < 0:
        problems.add(line, field, f"must not be negative ({value})")
        return None
    return timedelta(minutes=value)


def _choice(enum: type[_E], value: Any, line: int, field: str, problems: _Problems) -> _E | None:
    try:
        return enum(value)
    except ValueError:
        problems.add(line, field, f"{value!r} is not one of {', '.join(member.value for member in enum)}")
        return None


def _threshold(spec: Any, line: int, field: str, problems: _Problems) -> Threshold | None:
    if not isinstance(spec, Mapping):
        problems.add(line, field, "must be a mapping such as {above: 1500, for_minutes: 5}")
        return None
    line = spec.get("__line__", line)
    directions = [direction for direction in Direction if direction.value in spec]
    unknown = set(spec) - {"above", "below", "for_minutes", "__line__"}
    if unknown:
        problems.add(line, field, f"unknown field(s) {', '.join(sorted(unknown))}")
    if len(directions) != 1:
        problems.add(line, field, "needs exactly one of above or below")
        return None
    direction = directions[0]
    value = spec[direction.value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(line, f"{field}.{direction.value}", f"must be a number, not {value!r}")
        return None
    hold = _minutes(spec.get("for_minutes", 0), line, f"{field}.for_minutes", problems)
    return None if hold is None else Threshold(direction, float(value), hold)


def _check_hysteresis(raise_when: Threshold, clear_when: Threshold, line: int, problems: _Problems) -> None:
    """The clear condition must be the raise condition's opposite, on the far side of (or at) the raise value."""
    if clear_when.direction is not raise_when.direction.opposite:
        problems.add(
            line,
            "clear",
            f"a rule raised {raise_when.direction.value} a value clears {raise_when.direction.opposite.value} one",
        )
        return
    if raise_when.direction is Direction.ABOVE:
        beyond = clear_when.value > raise_when.value
    else:
        beyond = clear_when.value < raise_when.value
    if beyond:
        problems.add(
            line,
            f"clear.{clear_when.direction.value}",
            f"{clear_when.value:g} lies beyond the raise value {raise_when.value:g}: it could clear while it holds",
        )


def _default_clear(raise_when: Threshold) -> Threshold:
    """Without a clear condition, the alarm clears on the first reading where the raise condition fails."""
    return Threshold(raise_when.direction.opposite, raise_when.value, timedelta(0))


def _rule(spec: Any, index: int, problems: _Problems) -> AlarmRule | None:
    if not isinstance(spec, Mapping):
        problems.add(0, f"rules[{index}]", "must be a mapping")
        return None
    line = spec.get("__line__", 0)
    before = len(problems.found)
    unknown = set(spec) - _RULE_FIELDS - {"__line__"}
    if unknown:
        problems.add(line, f"rules[{index}]", f"unknown field(s) {', '.join(sorted(unknown))}")
    for required in ("id", "kind", "scope", "severity", "message"):
        if required not in spec:
            problems.add(line, required, "is required")
    if len(problems.found) > before:
        return None
    rule_id, message = spec["id"], spec["message"]
    kind = _choice(AlarmKind, spec["kind"], line, "kind", problems)
    scope = _choice(Scope, spec["scope"], line, "scope", problems)
    severity = _choice(Severity, spec["severity"], line, "severity", problems)
    version = spec.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.add(line, "version", f"must be a positive whole number, not {version!r}")
    if severity is not None and severity not in ALARM_SEVERITIES:
        problems.add(line, "severity", "an alarm is a warning or critical")
    metric = spec.get("metric")
    raise_when = clear_when = None
    timeout = None
    if kind is AlarmKind.THRESHOLD:
        if metric not in METRICS:
            problems.add(line, "metric", f"{metric!r} is not a metric of the event contract ({', '.join(METRICS)})")
        raise_when = _threshold(spec.get("raise"), line, "raise", problems)
        clear_spec = spec.get("clear")
        if raise_when is not None:
            clear_when = (
                _default_clear(raise_when) if clear_spec is None else _threshold(clear_spec, line, "clear", problems)
            )
            if clear_when is not None:
                _check_hysteresis(raise_when, clear_when, line, problems)
    elif kind is not None:
        timeout_field = "silent_minutes" if kind is AlarmKind.NO_DATA else "open_minutes"
        for misplaced in ("raise", "clear", "metric"):
            if misplaced in spec:
                problems.add(line, misplaced, f"a {kind.value} rule has {timeout_field}, not {misplaced}")
        if scope is not None and scope is not Scope.DEVICE:
            problems.add(line, "scope", f"a {kind.value} rule watches one device: scope device")
        if timeout_field not in spec:
            problems.add(line, timeout_field, "is required")
        else:
            timeout = _minutes(spec[timeout_field], line, timeout_field, problems)
            if timeout is not None and not timeout:
                problems.add(line, timeout_field, "must be more than 0")
    event_type = None
    if "event_type" in spec:
        if kind is not AlarmKind.NO_DATA:
            problems.add(line, "event_type", "only a no_data rule chooses the events that show a device alive")
        event_type = _choice(EventType, spec["event_type"], line, "event_type", problems)
    escalation = None
    if "escalate" in spec:
        escalate = spec["escalate"]
        if not isinstance(escalate, Mapping) or set(escalate) - {"__line__"} != {"to", "after_minutes"}:
            problems.add(line, "escalate", "must be {to: critical, after_minutes: N}")
        else:
            to = _choice(Severity, escalate["to"], line, "escalate.to", problems)
            after = _minutes(escalate["after_minutes"], line, "escalate.after_minutes", problems)
            if to is not None and severity is not None and _rank(to) <= _rank(severity):
                problems.add(line, "escalate.to", f"{to.value} is not above the rule's severity {severity.value}")
            elif to is not None and after is not None:
                escalation = Escalation(to, after)
    if len(problems.found) > before or kind is None or scope is None or severity is None:
        return None
    return AlarmRule(
        rule_id=str(rule_id),
        version=version,
        kind=kind,
        scope=scope,
        severity=severity,
        message=str(message),
        line=line,
        metric=metric,
        space_type=str(spec.get("space_type", ANY_SPACE_TYPE)),
        raise_when=raise_when,
        clear_when=clear_when,
        escalation=escalation,
        timeout=timeout,
        event_type=event_type,
    )


def parse_alarm_rules(text: str, source: str = "alarm rules") -> AlarmRules:
    """The rules of a YAML rules file; AlarmRulesError lists every problem (`source:line: field: problem`)."""
    problems = _Problems(source)
    try:
        document = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise AlarmRulesError(f"{source}: not YAML: {error}") from error
    if not isinstance(document, Mapping) or not isinstance(document.get("rules"), Sequence):
        raise AlarmRulesError(f"{source}: needs `version: {RULES_FILE_VERSION}` and a list `rules`")
    version = document.get("version")
    if version != RULES_FILE_VERSION:
        problems.add(document["__line__"], "version", f"{version!r}: this platform reads version {RULES_FILE_VERSION}")
    rules = [_rule(spec, index, problems) for index, spec in enumerate(document["rules"])]
    seen: dict[str, int] = {}
    for rule in rules:
        if rule is None:
            continue
        if rule.rule_id in seen:
            problems.add(rule.line, "id", f"{rule.rule_id!r} is also the id of the rule on line {seen[rule.rule_id]}")
        seen[rule.rule_id] = rule.line
    if problems.found:
        raise AlarmRulesError("\n".join(problems.found))
    return AlarmRules(RULES_FILE_VERSION, tuple(rule for rule in rules if rule is not None))
