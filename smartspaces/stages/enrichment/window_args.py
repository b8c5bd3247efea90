"""The window of an enrichment run, from its command line (default: yesterday in the campus's time zone)."""

from __future__ import annotations

import argparse
from datetime import date, datetime

from transformations.report_window import ReportWindow


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--date", type=date.fromisoformat, help="a local day, YYYY-MM-DD (with --to: the first day)")
    group.add_argument("--days", type=int, help="the last N local days, today included")
    group.add_argument("--hours", type=int, help="the last N whole hours (hourly facts only)")
    group.add_argument("--start", type=datetime.fromisoformat, help="ISO 8601 with an offset, on a whole hour")
    parser.add_argument("--to", type=date.fromisoformat, help="with --date: the last local day, included")
    parser.add_argument("--end", type=datetime.fromisoformat, help="with --start: the end, excluded")


def window_from_arguments(args: argparse.Namespace, time_zone: str, now: datetime) -> ReportWindow:
    """The window the arguments name; raises ValueError (with the reason) when they do not make one."""
    if args.to is not None and args.date is None:
        raise ValueError("--to goes with --date")
    if (args.start is None) != (args.end is None):
        raise ValueError("--start and --end go together")
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
