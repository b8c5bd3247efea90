"""Streaming ingest: Kafka → validation → Cassandra (good events), Delta quarantine (bad), Delta bronze (all).

Modes: a continuous stream with a processing-time trigger (default), --drain to process what Kafka holds
now and stop (availableNow: backfills, tests, the demo), and --replay-from/--replay-to to re-ingest a
period from the bronze archive with the same checks and idempotent writes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from smartspaces.config import Settings
from smartspaces.entrypoint import JobSetupError, job_parser, run_job
from smartspaces.instants import utc_instant
from smartspaces.stages.ingest.service import IngestMode, run_ingest


def parser() -> argparse.ArgumentParser:
    parser = job_parser("ingest", __doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--drain", action="store_true", help="process what Kafka holds now, then stop")
    mode.add_argument("--replay-from", type=utc_instant, help="replay bronze from this time (ISO 8601, UTC if naive)")
    parser.add_argument("--replay-to", type=utc_instant, help="replay bronze up to this time (exclusive)")
    parser.add_argument("--run-for-s", type=float, help="stop a continuous stream after this many seconds")
    parser.add_argument(
        "--new-checkpoints",
        action="store_true",
        help="start the streams on empty checkpoints over a used archive (after a lost or reset checkpoint): "
        "the topic is read again and the lake's writes skip messages already there",
    )
    return parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    if (args.replay_from is None) != (args.replay_to is None):
        raise JobSetupError("--replay-from and --replay-to go together")
    mode = IngestMode(args.drain, args.replay_from, args.replay_to, args.run_for_s, args.new_checkpoints)
    return run_ingest(settings, mode)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
