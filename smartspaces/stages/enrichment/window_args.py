"""The window of an enrichment run, from its command line (default: yesterday in the campus's time zone)."""

from __future__ import annotations

import argparse
from datetime import date, datetime

from smartspaces.cassandra_tables import CRITICAL_EVENTS
from transformations.report_window import ReportWindow

PAST_CRITICAL_TTL = "--past-critical-ttl"
CATCH_UP = "--catch-up"


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--date", type=date.fromisoformat, help="a local day, YYYY-MM-DD (with --to: the first day)")
    group.add_argument("--days", type=int, help="the last N local days, today included")
    group.add_argument("--hours", type=int, help="the last N whole hours (hourly facts only)")
    group.add_argument("--start", type=datetime.fromisoformat, help="ISO 8601 with an offset, on a whole hour")
    group.add_argument(
        CATCH_UP,
        action="store_true",
        help="every recent day not written since it last received events (missed nights, late events); "
        "the nightly schedule's window",
    )
    parser.add_argument("--to", type=date.fromisoformat, help="with --date: the last local day, included")
    parser.add_argument("--end", type=datetime.fromisoformat, help="with --start: the end, excluded")


def add_backfill_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        PAST_CRITICAL_TTL,
        action="store_true",
        help="enrich a window older than the critical events' time to live (their facts are then replaced by "
        "what Cassandra still holds, which is nothing)",
    )


def window_from_arguments(args: argparse.Namespace, time_zone: str, now: datetime) -> ReportWindow | None:
    """The window the arguments name, None for CATCH_UP (its window is found in the stores); raises ValueError
    (with the reason) when they do not make one."""
    if args.to is not None and args.date is None:
        raise ValueError("--to goes with --date")
    if (args.start is None) != (args.end is None):
        raise ValueError("--start and --end go together")
    if args.catch_up:
        return None
    if args.date is not None:
        return ReportWindow.of_days(args.date, args.to or args.date, time_zone)
    if args.days is not None:
        if args.days < 1:
            raise ValueError("--days must be at least 1")
        return ReportWindow.last_days(args.days, now, time_zone)
    if args.hours is not None:
        if args.hours < 1:
            raise ValueError("--hours must be at least 1")
        return ReportWindow.last_hours(args.hours, now, time_zone)
    if args.start is not None:
        return ReportWindow(args.start, args.end, time_zone)
    return ReportWindow.yesterday(now, time_zone)


def check_critical_events_kept(window: ReportWindow, now: datetime) -> None:
    """Raises ValueError when the window starts before the oldest critical event Cassandra still keeps.

    A run replaces the window's critical-event facts (and the daily facts' critical counts) with what
    critical_events_by_space holds; past its time to live that is nothing, and PostgreSQL's facts are then the
    only copy. A backfill of such a window must say so (PAST_CRITICAL_TTL)."""
    ttl = CRITICAL_EVENTS.ttl
    if ttl is None or window.start >= now - ttl:
        return
    raise ValueError(
        f"the window starts {window.start.isoformat()}, more than {ttl.days} days ago: {CRITICAL_EVENTS.name} "
        f"keeps critical events {ttl.days} days (its default_time_to_live), so this run would replace the "
        "window's rows of reporting.fact_critical_event and the critical counts of its daily facts with what "
        f"is left. Those facts in PostgreSQL are now their only copy. Enrich a window of the last {ttl.days} "
        f"days, or pass {PAST_CRITICAL_TTL} to replace them anyway"
    )
