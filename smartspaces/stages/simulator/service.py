"""The simulator as a job: options from the command line and the settings, a run, and its report."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from smartspaces import lake
from smartspaces.config import Settings
from smartspaces.entrypoint import JobSetupError
from smartspaces.stages.simulator.campus import Campus, build_campus
from smartspaces.stages.simulator.producer import (
    ReferenceChange,
    SimulationOptions,
    SimulationReport,
    next_reference_dir,
    resolved,
    run_simulation,
    scenario_runs,
)
from smartspaces.stages.simulator.scenarios import SCENARIOS, ExpectedAlarm

DEFAULT_COUNT = 10_000
# Where scenarios are placed to count or list their events: their script does not depend on the campus.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@cache
def _placement_campus() -> Campus:
    return build_campus(2, seed=1, now=EPOCH)


def simulation_options(args: argparse.Namespace, settings: Settings) -> SimulationOptions:
    """The options of a run from the command line, with defaults from the settings."""
    reference_dir = args.reference_dir
    if reference_dir is None:
        landing = lake.reference_landing(settings.lake)
        if "://" in landing:
            raise JobSetupError(f"the lake ({landing}) is not a local folder: give --reference-dir")
        reference_dir = Path(landing)
    scenarios = tuple(SCENARIOS) if "all" in args.scenario else tuple(args.scenario)
    count = args.count if args.count is not None or args.duration_s is not None else DEFAULT_COUNT
    if scenarios and args.count is None and args.duration_s is None:
        count = 0  # the scenarios alone
    change = None
    if args.reference_change_at is not None:
        change = ReferenceChange(args.reference_change_at, args.moved, args.added, args.retired)
    return SimulationOptions(
        count=count,
        duration_s=args.duration_s,
        rate=args.rate,
        buildings=args.buildings,
        seed=args.seed,
        bad_fraction=args.bad_fraction,
        duplicate_fraction=args.duplicate_fraction,
        late_fraction=args.late_fraction,
        forced_door_fraction=args.forced_door_fraction,
        live=args.live,
        topic=args.topic or settings.ingest.topic,
        reference_dir=reference_dir,
        partitions=args.partitions,
        payload_bytes=args.payload_bytes,
        limits=settings.ingest,
        reference_change=change,
        next_reference_dir=args.next_reference_dir,
        scenarios=scenarios,
        span_s=args.span_minutes * 60,
    )


def summary_table(report: SimulationReport) -> str:
    """What was sent, by category, as a small text table."""
    rows = [
        ("good, in order", report.good_distinct - report.late),
        ("good, late (1-6 h, within the span)", report.late),
        ("duplicates", report.duplicates),
        *[(f"bad: {reason}", count) for reason, count in report.bad_by_reason.items()],
        ("total sent", report.sent_total),
        ("delivery failures", report.delivery_failures),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{'category':<{width}}  {'messages':>10}"]
    lines += [f"{label:<{width}}  {count:>10}" for label, count in rows]
    return "\n".join(lines)


def later_drop_summary(options: SimulationOptions, report: SimulationReport) -> str:
    """Where the later drop is, when it takes effect, and which devices it changes."""
    assert options.reference_change is not None
    at = options.reference_change.at.isoformat()
    changed = report.changed_devices
    lines = [f"later reference drop, effective {at}, in {next_reference_dir(options)}"]
    lines += [f"  moved {device}: {before} -> {after}" for device, (before, after) in changed["moved"].items()]
    lines += [f"  added {device}" for device in changed["added"]]
    lines += [f"  retired {device}" for device in changed["retired"]]
    return "\n".join(lines)


def scenario_list() -> str:
    """Every scenario with its description and the alarms it must produce (minutes after its start)."""
    lines = []
    for scenario in SCENARIOS.values():
        lines.append(f"{scenario.name}: {scenario.description}")
        for alarm in scenario.place(_placement_campus(), EPOCH).expected:
            lines.append("  " + expected_line(alarm))
    return "\n".join(lines)


def expected_line(alarm: ExpectedAlarm, start: datetime | None = None) -> str:
    """`co2_high on b01-f1-s02: warning, raised 15, cleared 40` (minutes after start, or times)."""

    def when(minutes: float | None) -> str:
        if minutes is None:
            return "-"
        return f"{minutes:g} min" if start is None else (start + timedelta(minutes=minutes)).isoformat()

    escalated = f", escalated {when(alarm.escalated_at_min)}" if alarm.escalated_at_min is not None else ""
    return (
        f"{alarm.rule_id} on {alarm.source_id}: {alarm.severity}, raised {when(alarm.raised_at_min)}"
        f"{escalated}, cleared {when(alarm.cleared_at_min)}"
    )


def simulate(args: argparse.Namespace, settings: Settings) -> int:
    """Runs the simulation the arguments describe; 1 when a message could not be delivered."""
    if args.list_scenarios:
        print(scenario_list())
        return 0
    # `now` fixed once: the scenarios printed are the ones sent.
    options = resolved(simulation_options(args, settings))
    report = run_simulation(options, settings.kafka)
    if options.scenarios:
        print("alarms these scenarios must produce:")
        for run in scenario_runs(options):
            print("\n".join(f"  {run.name}: {expected_line(alarm, run.start)}" for alarm in run.expected))
    print(summary_table(report))
    rate = report.sent_total / report.seconds if report.seconds else 0.0
    print(
        f"to topic {options.topic} in {report.seconds:.1f} s ({rate:.0f} messages/s); "
        f"reference drop in {options.reference_dir}"
    )
    if options.reference_change is not None:
        print(later_drop_summary(options, report))
    if args.summary_out:
        args.summary_out.parent.mkdir(parents=True, exist_ok=True)
        args.summary_out.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0 if report.delivery_failures == 0 else 1
