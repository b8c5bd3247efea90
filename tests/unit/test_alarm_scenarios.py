"""Each alarm scenario gives exactly its expected alarms, live (arrival batches, a moving watermark) and on replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smartspaces.stages.simulator.campus import Campus, build_campus
from smartspaces.stages.simulator.events import Event
from smartspaces.stages.simulator.scenarios import SCENARIOS, ScenarioRun
from transformations.alarms.lifecycle import Alarm, AlarmEvaluator, Reading
from transformations.alarms.rules import AlarmRules, parse_alarm_rules

RULES_FILE = Path(__file__).parents[2] / "conf" / "reference" / "alarm_rules.yaml"
END = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
# How far the live watermark trails the newest event time.
GRACE = timedelta(minutes=1)


@pytest.fixture(scope="module")
def rules() -> AlarmRules:
    return parse_alarm_rules(RULES_FILE.read_text(encoding="utf-8"), str(RULES_FILE))


@pytest.fixture(scope="module")
def campus() -> Campus:
    return build_campus(2, seed=1, now=END - timedelta(days=1))


def reading(event: Event, campus: Campus) -> Reading:
    device = next(d for d in campus.devices if d.device_id == event["device_id"])
    space = campus.spaces_by_id[device.space_id]
    return Reading(
        event_time=datetime.fromisoformat(event["event_time"]),
        event_id=event["event_id"],
        device_id=device.device_id,
        space_id=space.space_id,
        building_id=space.building_id,
        space_type=space.space_type,
        event_type=event["event_type"],
        metric=event.get("metric"),
        value=event.get("value"),
        code=event.get("code"),
    )


def live(run: ScenarioRun, rules: AlarmRules, campus: Campus) -> list[Alarm]:
    """Batch after batch in arrival order, the watermark following the newest event time, then to the end."""
    evaluator = AlarmEvaluator(rules)
    alarms: dict[str, Alarm] = {}
    for batch in run.batches:
        readings = [reading(event, campus) for event in batch]
        evaluator.apply(readings)
        evaluator.advance_to(max(r.event_time for r in readings) - GRACE)
        alarms.update({alarm.alarm_id: alarm for alarm in evaluator.take_changes()[0]})
    evaluator.advance_to(run.end)
    alarms.update({alarm.alarm_id: alarm for alarm in evaluator.take_changes()[0]})
    return sorted(alarms.values(), key=lambda alarm: alarm.raised_at)


def replay(run: ScenarioRun, rules: AlarmRules, campus: Campus) -> list[Alarm]:
    """Every event at once, in event-time order, then to the end."""
    evaluator = AlarmEvaluator(rules)
    evaluator.apply([reading(event, campus) for event in reversed(list(run.events()))])
    evaluator.advance_to(run.end)
    return sorted(evaluator.take_changes()[0], key=lambda alarm: alarm.raised_at)


def as_expected(alarm: Alarm, run: ScenarioRun) -> tuple[object, ...]:
    return (
        alarm.rule_id,
        alarm.source_id,
        alarm.severity,
        alarm.raised_at,
        alarm.cleared_at,
        alarm.escalated_at,
        alarm.peak_value,
    )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_produces_exactly_its_alarms_live_and_on_replay(name: str, rules: AlarmRules, campus: Campus) -> None:
    run = SCENARIOS[name].place(campus, END)
    expected = [
        (
            e.rule_id,
            e.source_id,
            e.severity,
            run.at(e.raised_at_min),
            run.at(e.cleared_at_min),
            run.at(e.escalated_at_min),
            e.peak_value,
        )
        for e in run.expected
    ]
    live_alarms, replayed = live(run, rules, campus), replay(run, rules, campus)
    assert [as_expected(alarm, run) for alarm in live_alarms] == expected
    assert replayed == live_alarms


def test_all_scenarios_together_give_the_union_of_their_alarms(rules: AlarmRules, campus: Campus) -> None:
    runs = [scenario.place(campus, END) for scenario in SCENARIOS.values()]
    together = ScenarioRun("all", min(r.start for r in runs), tuple(b for r in runs for b in r.batches), (), END)
    separately = sorted((alarm for r in runs for alarm in replay(r, rules, campus)), key=lambda a: a.alarm_id)
    assert sorted(replay(together, rules, campus), key=lambda a: a.alarm_id) == separately


def test_flapping_without_hysteresis_would_raise_many_alarms(rules: AlarmRules, campus: Campus) -> None:
    """The flapping scenario's one alarm is the hysteresis's doing: clearing at the raise value gives many."""
    no_hysteresis = RULES_FILE.read_text(encoding="utf-8").replace(
        "raise: {above: 26, for_minutes: 10}\n    clear: {below: 25, for_minutes: 10}",
        "raise: {above: 26}\n    clear: {below: 26}",
    )
    run = SCENARIOS["temperature_flapping"].place(campus, END)
    alarms = replay(run, parse_alarm_rules(no_hysteresis), campus)
    # One for minutes 10-25, then one for each odd minute from 27 to 83 (26.3 °C), cleared the next (25.7 °C).
    assert len([alarm for alarm in alarms if alarm.rule_id == "office_too_warm"]) == 1 + 29


def test_alarm_ids_are_the_same_on_every_run(rules: AlarmRules, campus: Campus) -> None:
    run = SCENARIOS["escalation"].place(campus, END)
    assert [a.alarm_id for a in replay(run, rules, campus)] == [a.alarm_id for a in live(run, rules, campus)]
    assert [a.alarm_id for a in replay(run, rules, campus)] == [a.alarm_id for a in replay(run, rules, campus)]


def test_a_reprocessed_batch_changes_nothing(rules: AlarmRules, campus: Campus) -> None:
    run = SCENARIOS["co2_excursion"].place(campus, END)
    evaluator = AlarmEvaluator(rules)
    readings = [reading(event, campus) for event in run.events()]
    evaluator.apply(readings)
    evaluator.take_changes()
    evaluator.apply(readings)
    assert evaluator.take_changes() == ([], {}) and evaluator.skipped == len(readings) * 2
