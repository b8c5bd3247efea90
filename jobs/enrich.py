"""Enriches a window of stored events into the reporting star schema in PostgreSQL, behind a quality gate.

Reads the window's events from Cassandra (only its partitions), attributes each to the space its device
was in at the time (SCD2 registry in the lake), builds the facts and dimensions, checks them with Great
Expectations and, if the gate passes, replaces the window in PostgreSQL in one transaction. Re-running a
window recomputes it whole. Events no registry version places in a space go to a lake quarantine.
With --catch-up (the nightly schedule), the window spans every recent day not written since it last received
events: a missed or failed night, late events, a replayed period (0 and nothing done when there is none).
Exit codes: 0 written, 3 stopped by the quality gate (PostgreSQL unchanged), 4 write refused (see the
run's failure), 2 bad arguments (a window older than the critical events' 30 days needs --past-critical-ttl).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from smartspaces.config import Settings
from smartspaces.entrypoint import JobSetupError, job_parser, run_job
from smartspaces.stages.enrichment.catch_up import catch_up_window
from smartspaces.stages.enrichment.quality.checks import check_severity_names
from smartspaces.stages.enrichment.service import run_enrichment
from smartspaces.stages.enrichment.window_args import (
    add_backfill_argument,
    add_window_arguments,
    check_critical_events_kept,
    window_from_arguments,
)


def parser() -> argparse.ArgumentParser:
    parser = job_parser("enrich", __doc__)
    add_window_arguments(parser)
    add_backfill_argument(parser)
    return parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    check_severity_names(settings.enrichment.quality)  # a misspelt check name fails now, not after the work
    started = datetime.now(UTC)
    try:
        window = window_from_arguments(args, settings.enrichment.time_zone, started)
        if window is None:  # --catch-up
            window = catch_up_window(settings, started)
        if window is None:
            print("catch-up: every day that can still receive events is written and up to date")
            return 0
        if not args.past_critical_ttl:
            check_critical_events_kept(window, started)
    except ValueError as error:
        raise JobSetupError(str(error)) from error
    return run_enrichment(settings, window, started)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
