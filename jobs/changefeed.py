"""Change-feed processor: stored events → critical events (Cassandra, Redis) and latest readings (Cassandra, Redis).

Runs micro-batches every changefeed.interval_s; --once drains what is committed now and stops (tests,
backfills). The backend (the ingest's change log, or Cosmos DB's change feed) comes from the configuration.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from smartspaces.config import Settings
from smartspaces.entrypoint import job_parser, run_job
from smartspaces.stages.changefeed.service import run_changefeed


def parser() -> argparse.ArgumentParser:
    parser = job_parser("changefeed", __doc__)
    parser.add_argument("--once", action="store_true", help="process what is committed now, then stop")
    parser.add_argument("--run-for-s", type=float, help="stop after this many seconds")
    parser.add_argument(
        "--hold-before-commit-s", type=float, default=0.0, help="fault drills: wait this long before each commit"
    )
    parser.add_argument(
        "--accept-gap",
        action="store_true",
        help="go on past change-log batches that expired before they were read (after replaying them from bronze)",
    )
    return parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    return run_changefeed(settings, args.once, args.run_for_s, args.hold_before_commit_s, args.accept_gap)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
