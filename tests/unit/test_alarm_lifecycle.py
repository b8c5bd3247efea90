"""The alarm lifecycle's edges: late readings against decisions already made, and the state's round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from transformations.alarms.lifecycle import AlarmEvaluator, Reading, SourceState
from transformations.alarms.rules import parse_alarm_rules

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
RULES = parse_alarm_rules("""
version: 1
rules:
  - id: door_held_open
    kind: held_open
    scope: device
    open_minutes: 5
    severity: warning
    escalate: {to: critical, after_minutes: 15}
    message: Door held open
""")


def door(minute: float, code: str) -> Reading:
    return Reading(
        event_time=T0 + timedelta(minutes=minute),
        event_id=f"e{minute:05.1f}",
        device_id="door-1",
        space_id="lobby",
        building_id="b1",
        space_type="lobby",
        event_type="access",
        code=code,
    )


def test_a_reading_older_than_an_escalation_already_made_is_not_applied_and_is_counted() -> None:
    evaluator = AlarmEvaluator(RULES)
    evaluator.apply([door(0, "held_open")])
    evaluator.advance_to(T0 + timedelta(minutes=30))  # raised at 5, escalated at 20
    # The door's `closed` at minute 10 arrives after the escalation was published: it cannot undo it.
    evaluator.apply([door(10, "closed")])
    (alarm,) = evaluator.take_changes()[0]
    assert (alarm.severity, alarm.escalated_at, alarm.cleared_at) == ("critical", T0 + timedelta(minutes=20), None)
    assert (evaluator.too_late, evaluator.skipped) == (1, 0)
    evaluator.apply([door(31, "closed")])
    (cleared,) = evaluator.take_changes()[0]
    assert cleared.cleared_at == T0 + timedelta(minutes=31)


def test_a_reading_after_a_timer_raise_but_before_the_watermark_still_counts() -> None:
    evaluator = AlarmEvaluator(RULES)
    evaluator.apply([door(0, "held_open")])
    evaluator.advance_to(T0 + timedelta(minutes=9))  # raised at 5, nothing escalated yet
    evaluator.apply([door(7, "closed")])
    (alarm,) = evaluator.take_changes()[0]
    assert (alarm.raised_at, alarm.cleared_at, alarm.escalated_at) == (
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=7),
        None,
    )
    assert evaluator.too_late == 0


def test_the_state_survives_its_json_round_trip() -> None:
    evaluator = AlarmEvaluator(RULES)
    evaluator.apply([door(0, "held_open")])
    evaluator.advance_to(T0 + timedelta(minutes=6))
    states = evaluator.take_changes()[1]
    stored = {key: SourceState.from_json(json.loads(json.dumps(state.to_json()))) for key, state in states.items()}
    assert stored == states
    # Evaluation goes on from the stored state exactly as from the live one.
    resumed = AlarmEvaluator(RULES, stored)
    resumed.apply([door(8, "closed")])
    evaluator.apply([door(8, "closed")])
    assert resumed.take_changes() == evaluator.take_changes()
