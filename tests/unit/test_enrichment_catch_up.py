"""The catch-up's choice of days: missed nights, late events after the last written run, nothing twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from smartspaces.stages.enrichment.catch_up import WrittenRun, candidate_days, due_days
from transformations.report_window import ReportWindow

ZONE = "Europe/Amsterdam"
NOW = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)  # 03:30 in Amsterdam, 20 November
DAYS = [date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19)]


def run_of(first: date, last: date, started: datetime) -> WrittenRun:
    window = ReportWindow.of_days(first, last, ZONE)
    return WrittenRun(window.start, window.end, started)


def night_after(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 1, 30, tzinfo=UTC) + timedelta(days=1)


def every_night_written() -> list[WrittenRun]:
    return [run_of(day, day, night_after(day)) for day in DAYS]


def test_the_candidates_are_the_days_that_can_still_receive_events_up_to_yesterday() -> None:
    days = candidate_days(NOW, ZONE, timedelta(days=7))
    assert days[0] == date(2026, 11, 12)  # 7 days of lateness reach into the 13th, whose day began on the 12th
    assert days[-1] == date(2026, 11, 19)
    assert len(days) == 8
    assert candidate_days(NOW, ZONE, timedelta(hours=1)) == [date(2026, 11, 18), date(2026, 11, 19)]


def test_every_day_written_and_nothing_received_since_is_not_due() -> None:
    received = {datetime(2026, 11, 18, 10, tzinfo=UTC): night_after(date(2026, 11, 18)) - timedelta(hours=3)}
    assert due_days(DAYS, ZONE, every_night_written(), received) == []


def test_a_missed_or_failed_night_is_due() -> None:
    runs = [
        run for run in every_night_written() if run.window_start != ReportWindow.of_days(DAYS[1], DAYS[1], ZONE).start
    ]
    assert due_days(DAYS, ZONE, runs, {}) == [DAYS[1]]


def test_a_day_that_received_events_after_its_run_is_due() -> None:
    late = {datetime(2026, 11, 17, 9, tzinfo=UTC): night_after(date(2026, 11, 18)) + timedelta(minutes=1)}
    assert due_days(DAYS, ZONE, every_night_written(), late) == [DAYS[0]]


def test_a_later_run_over_several_days_covers_the_late_events_before_it() -> None:
    late = {datetime(2026, 11, 17, 9, tzinfo=UTC): night_after(date(2026, 11, 18)) + timedelta(minutes=1)}
    rerun = run_of(DAYS[0], DAYS[2], night_after(DAYS[2]))
    assert due_days(DAYS, ZONE, [*every_night_written(), rerun], late) == []


def test_a_run_of_part_of_a_day_does_not_cover_it() -> None:
    first = ReportWindow.of_days(DAYS[0], DAYS[0], ZONE)
    hours = WrittenRun(first.start, first.start + timedelta(hours=3), night_after(DAYS[0]))
    assert due_days(DAYS[:1], ZONE, [hours], {}) == [DAYS[0]]


def test_the_local_day_decides_which_day_an_hour_belongs_to() -> None:
    # 23:00 UTC on the 17th is midnight in Amsterdam: the 18th's first hour.
    late = {datetime(2026, 11, 17, 23, tzinfo=UTC): night_after(DAYS[2]) + timedelta(hours=1)}
    assert due_days(DAYS, ZONE, every_night_written(), late) == [DAYS[1]]
