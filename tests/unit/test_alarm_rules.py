"""A rules file is refused at start-up with every problem's line and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from transformations.alarms.rules import AlarmKind, AlarmRulesError, Direction, Scope, parse_alarm_rules

RULES_FILE = Path(__file__).parents[2] / "conf" / "reference" / "alarm_rules.yaml"

CO2_RULE = """\
version: 1
rules:
  - id: co2_high
    kind: threshold
    scope: space
    metric: co2
    raise: {above: 1500, for_minutes: 5}
    clear: {below: 1200, for_minutes: 10}
    severity: warning
    escalate: {to: critical, after_minutes: 30}
    message: CO2 high
"""


def problems(text: str) -> str:
    with pytest.raises(AlarmRulesError) as refused:
        parse_alarm_rules(text, "rules.yaml")
    return str(refused.value)


def test_the_projects_rules_file_is_valid() -> None:
    rules = parse_alarm_rules(RULES_FILE.read_text(encoding="utf-8"))
    assert {rule.kind for rule in rules.rules} == set(AlarmKind)


def test_a_threshold_rule_keeps_its_raise_and_clear_conditions() -> None:
    (rule,) = parse_alarm_rules(CO2_RULE).rules
    assert (rule.scope, rule.line, rule.version) == (Scope.SPACE, 3, 1)
    assert rule.raise_when is not None and rule.clear_when is not None and rule.escalation is not None
    assert (rule.raise_when.direction, rule.raise_when.value, rule.raise_when.hold) == (
        Direction.ABOVE,
        1500.0,
        timedelta(minutes=5),
    )
    assert (rule.clear_when.direction, rule.clear_when.value, rule.clear_when.hold) == (
        Direction.BELOW,
        1200.0,
        timedelta(minutes=10),
    )
    assert rule.escalation.after == timedelta(minutes=30)


def test_a_clear_value_beyond_the_raise_value_is_refused_with_its_line() -> None:
    text = CO2_RULE.replace("below: 1200", "below: 1600")
    assert problems(text) == (
        "rules.yaml:3: clear.below: 1600 lies beyond the raise value 1500: it could clear while it holds"
    )


def test_a_clear_in_the_raise_direction_is_refused() -> None:
    assert "rules.yaml:3: clear: a rule raised above a value clears below one" in problems(
        CO2_RULE.replace("below: 1200", "above: 1200")
    )


def test_an_unknown_metric_is_refused_with_its_line() -> None:
    assert problems(CO2_RULE.replace("metric: co2", "metric: radon")).startswith(
        "rules.yaml:3: metric: 'radon' is not a metric of the event contract"
    )


def test_a_negative_duration_is_refused_with_its_line() -> None:
    assert problems(CO2_RULE.replace("for_minutes: 5", "for_minutes: -5")) == (
        "rules.yaml:7: raise.for_minutes: must not be negative (-5)"
    )


def test_every_problem_of_a_file_is_listed() -> None:
    second = CO2_RULE.split("rules:\n", 1)[1].replace("co2_high", "offline").replace("kind: threshold", "kind: no_data")
    found = problems(CO2_RULE.replace("severity: warning", "severity: loud") + second).splitlines()
    assert found == [
        "rules.yaml:3: severity: 'loud' is not one of info, warning, critical",
        "rules.yaml:12: raise: a no_data rule has silent_minutes, not raise",
        "rules.yaml:12: clear: a no_data rule has silent_minutes, not clear",
        "rules.yaml:12: metric: a no_data rule has silent_minutes, not metric",
        "rules.yaml:12: scope: a no_data rule watches one device: scope device",
        "rules.yaml:12: silent_minutes: is required",
    ]


def test_an_escalation_must_raise_the_severity() -> None:
    assert problems(CO2_RULE.replace("to: critical", "to: warning")) == (
        "rules.yaml:3: escalate.to: warning is not above the rule's severity warning"
    )


def test_a_duplicate_rule_id_is_refused() -> None:
    text = CO2_RULE + CO2_RULE.split("rules:\n", 1)[1]
    assert problems(text) == "rules.yaml:12: id: 'co2_high' is also the id of the rule on line 3"


def test_an_unknown_field_is_refused() -> None:
    assert problems(CO2_RULE.replace("    message:", "    priority: 1\n    message:")) == (
        "rules.yaml:3: rules[0]: unknown field(s) priority"
    )
