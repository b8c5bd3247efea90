"""Enrichment windows in the campus's time zone, across a daylight-saving change."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from transformations.report_window import ReportWindow

ZONE = "Europe/Amsterdam"


def test_yesterday_is_the_previous_local_day_from_local_midnight_to_local_midnight() -> None:
    # 23:30 UTC on 14 January is already the 15th in Amsterdam, so yesterday is the 14th.
    window = ReportWindow.yesterday(datetime(2026, 1, 14, 23, 30, tzinfo=UTC), ZONE)
    assert (window.start, window.end) == (datetime(2026, 1, 13, 23, tzinfo=UTC), datetime(2026, 1, 14, 23, tzinfo=UTC))
    assert window.whole_local_days == (date(2026, 1, 14),)
    assert window.utc_days() == (date(2026, 1, 13), date(2026, 1, 14))


def test_the_day_clocks_go_forward_has_23_hours() -> None:
    window = ReportWindow.of_days(date(2026, 3, 29), date(2026, 3, 29), ZONE)
    assert window.end - window.start == datetime(2026, 1, 1, 23) - datetime(2026, 1, 1)
    assert window.whole_local_days == (date(2026, 3, 29),)


def test_a_window_of_hours_covers_no_whole_day_and_its_previous_window_has_the_same_length() -> None:
    window = ReportWindow.last_hours(6, datetime(2026, 1, 15, 12, 40, tzinfo=UTC), ZONE)
    assert (window.start, window.end) == (datetime(2026, 1, 15, 6, tzinfo=UTC), datetime(2026, 1, 15, 12, tzinfo=UTC))
    assert window.whole_local_days == ()
    previous = window.previous()
    assert (previous.start, previous.end) == (datetime(2026, 1, 15, 0, tzinfo=UTC), window.start)


def test_last_days_ends_with_today() -> None:
    window = ReportWindow.last_days(2, datetime(2026, 1, 15, 12, tzinfo=UTC), ZONE)
    assert window.whole_local_days == (date(2026, 1, 14), date(2026, 1, 15))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 1, 15, 6, tzinfo=UTC), datetime(2026, 1, 15, 6, tzinfo=UTC)),
        (datetime(2026, 1, 15, 6, 30, tzinfo=UTC), datetime(2026, 1, 15, 7, tzinfo=UTC)),
        (datetime(2026, 1, 15, 6), datetime(2026, 1, 15, 7)),
    ],
)
def test_empty_unaligned_or_naive_windows_are_refused(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError):
        ReportWindow(start, end, ZONE)
