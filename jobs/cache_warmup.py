"""Cache warm-up: loads recent critical events and the latest readings from Cassandra into Redis.

For a cold or flushed cache: the same key layout as the change feed's streaming loader and the API's
fill-on-miss.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from smartspaces.config import Settings
from smartspaces.entrypoint import job_parser, run_job
from smartspaces.stages.cache.warmup import warm_up_cache


def parser() -> argparse.ArgumentParser:
    parser = job_parser("cache-warmup", __doc__)
    parser.add_argument("--hours", type=int, help="hours of critical events to load (default: cache.warmup_hours)")
    return parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    return warm_up_cache(settings, args.hours)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
