"""Simulates a campus's devices: writes its reference drop and sends good, late, duplicate and bad events to Kafka.

Every good event comes from a device of the drop; each bad kind is sent at --bad-fraction of the messages
and is meant to be quarantined with its own reason. Prints what was sent by category.

With --reference-change-at, the campus changes at that time (devices moved within their building, added,
retired): events after it come from the changed campus, whose drop (effective at that time) is written to
--next-reference-dir. Load the first drop, then the second with --effective-at set to that time.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from smartspaces import lake
from smartspaces.config import Settings, load_settings
from smartspaces.stages.simulator.producer import (
    ReferenceChange,
    SimulationOptions,
    SimulationReport,
    next_reference_dir,
    run_simulation,
)

DEFAULT_COUNT = 10_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smartspaces run simulate", description=__doc__)
    parser.add_argument("--env", help="configuration environment (default: $SMARTSPACES_ENV or local)")
    parser.add_argument("--rate", type=float, default=0.0, help="messages per second (default 0: as fast as possible)")
    parser.add_argument("--count", type=int, help=f"messages to send (default {DEFAULT_COUNT} without --duration-s)")
    parser.add_argument("--duration-s", type=float, help="send for this many seconds (with --count: whichever first)")
    parser.add_argument("--buildings", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bad-fraction", type=float, default=0.0, help="share of messages of EACH of the 13 bad kinds")
    parser.add_argument("--duplicate-fraction", type=float, default=0.0)
    parser.add_argument("--late-fraction", type=float, default=0.0)
    parser.add_argument(
        "--forced-door-fraction", type=float, default=0.0, help="share of messages that are forced doors (critical)"
    )
    parser.add_argument("--live", action="store_true", help="event times follow the wall clock (a real-time stream)")
    parser.add_argument("--topic", help="Kafka topic (default: the ingest's topic, ingest.topic, 'events' locally)")
    parser.add_argument("--partitions", type=int, default=3, help="partitions of the topic if it is created")
    parser.add_argument("--payload-bytes", type=int, help="pad good events to about this many bytes")
    parser.add_argument("--reference-dir", type=Path, help="where spaces.csv and devices.csv go "
                        "(default: <lake root>/landing/reference)")  # fmt: skip
    parser.add_argument("--summary-out", type=Path, help="write the report as JSON to this file")
    parser.add_argument("--reference-change-at", type=utc_instant, help="ISO 8601 time at which the campus changes "
                        "and a later drop takes effect (no offset: UTC)")  # fmt: skip
    parser.add_argument("--moved", type=int, default=3, help="devices moved within their building at the change")
    parser.add_argument("--added", type=int, default=3, help="devices added at the change")
    parser.add_argument("--retired", type=int, default=2, help="devices retired at the change")
    parser.add_argument(
        "--next-reference-dir", type=Path, help="where the later drop goes (default: <reference-dir>/next)"
    )
    return parser.parse_args(argv)


def utc_instant(value: str) -> datetime:
    """An ISO 8601 time; without an offset it is taken as UTC."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def simulation_options(args: argparse.Namespace, settings: Settings) -> SimulationOptions:
    """The options of a run from the command line, with defaults from the settings."""
    reference_dir = args.reference_dir
    if reference_dir is None:
        landing = lake.reference_landing(settings.lake)
        if "://" in landing:
            raise SystemExit(f"the lake ({landing}) is not a local folder: give --reference-dir")
        reference_dir = Path(landing)
    count = args.count if args.count is not None or args.duration_s is not None else DEFAULT_COUNT
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
    )


def summary_table(report: SimulationReport) -> str:
    """What was sent, by category, as a small text table."""
    rows = [
        ("good, in order", report.good_distinct - report.late),
        ("good, late (1-6 h)", report.late),
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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings(args.env)
    options = simulation_options(args, settings)
    report = run_simulation(options, settings.kafka)
    print(summary_table(report))
    rate = report.sent_total / report.seconds if report.seconds else 0.0
    print(f"to topic {options.topic} in {report.seconds:.1f} s ({rate:.0f} messages/s); "
          f"reference drop in {options.reference_dir}")  # fmt: skip
    if options.reference_change is not None:
        print(later_drop_summary(options, report))
    if args.summary_out:
        args.summary_out.parent.mkdir(parents=True, exist_ok=True)
        args.summary_out.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0 if report.delivery_failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
