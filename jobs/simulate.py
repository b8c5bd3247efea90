"""Simulates a campus's devices: writes its reference drop and sends good, late, duplicate and bad events to Kafka.

Every good event comes from a device of the drop; each bad kind is sent at --bad-fraction of the messages
and is meant to be quarantined with its own reason. Prints what was sent by category.

With --reference-change-at, the campus changes at that time (devices moved within their building, added,
retired): events after it come from the changed campus, whose drop (effective at that time) is written to
--next-reference-dir. Load the first drop, then the second with --effective-at set to that time.

With --scenario, sends scripted alarm scenarios (--list-scenarios lists them with the alarms each must
produce) from the campus's devices, all ending now, and prints the alarms they must produce.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from smartspaces.entrypoint import job_parser, run_job
from smartspaces.instants import utc_instant
from smartspaces.stages.simulator.service import DEFAULT_COUNT, simulate


def parser() -> argparse.ArgumentParser:
    parser = job_parser("simulate", __doc__)
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
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="send a scripted alarm scenario before the random mix (repeatable; 'all': every one; alone: no --count)",
    )
    parser.add_argument("--list-scenarios", action="store_true", help="list the scenarios and their alarms, and exit")
    parser.add_argument(
        "--span-minutes",
        type=float,
        default=24 * 60,
        help="event times spread over this many minutes before now (default a day); shorter is denser per device",
    )
    parser.add_argument("--live", action="store_true", help="event times follow the wall clock (a real-time stream)")
    parser.add_argument("--topic", help="Kafka topic (default: the ingest's topic, ingest.topic, 'events' locally)")
    parser.add_argument("--partitions", type=int, default=3, help="partitions of the topic if it is created")
    parser.add_argument("--payload-bytes", type=int, help="pad good events to about this many bytes")
    parser.add_argument(
        "--reference-dir",
        type=Path,
        help="where spaces.csv and devices.csv go (default: <lake root>/landing/reference)",
    )
    parser.add_argument("--summary-out", type=Path, help="write the report as JSON to this file")
    parser.add_argument(
        "--reference-change-at",
        type=utc_instant,
        help="ISO 8601 time at which the campus changes and a later drop takes effect (no offset: UTC)",
    )
    parser.add_argument("--moved", type=int, default=3, help="devices moved within their building at the change")
    parser.add_argument("--added", type=int, default=3, help="devices added at the change")
    parser.add_argument("--retired", type=int, default=2, help="devices retired at the change")
    parser.add_argument(
        "--next-reference-dir", type=Path, help="where the later drop goes (default: <reference-dir>/next)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(parser(), simulate, argv)


if __name__ == "__main__":
    sys.exit(main())
