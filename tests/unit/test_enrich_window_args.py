"""The enrichment's window arguments: a window past the critical events' time to live needs saying so; the
catch-up finds its window in the stores."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs import enrich
from smartspaces.stages.enrichment.window_args import check_critical_events_kept, window_from_arguments
from transformations.report_window import ReportWindow

NOW = datetime(2026, 12, 3, 6, tzinfo=UTC)
ZONE = "Europe/Amsterdam"


def window_starting(hours_ago: int) -> ReportWindow:
    start = NOW - timedelta(hours=hours_ago)
    return ReportWindow(start, start + timedelta(hours=1), ZONE)


def test_a_window_inside_the_critical_events_30_days_is_enriched() -> None:
    check_critical_events_kept(window_starting(30 * 24 - 1), NOW)
    check_critical_events_kept(window_starting(30 * 24), NOW)


def test_a_window_starting_before_them_is_refused_naming_the_table_and_the_flag() -> None:
    with pytest.raises(ValueError) as refused:
        check_critical_events_kept(window_starting(30 * 24 + 1), NOW)

    message = str(refused.value)
    assert "critical_events_by_space keeps critical events 30 days" in message
    assert "reporting.fact_critical_event" in message
    assert message.endswith("or pass --past-critical-ttl to replace them anyway")


def test_the_job_exits_2_before_any_work_and_runs_with_the_flag_past_its_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    old_day = (datetime.now(UTC) - timedelta(days=40)).date().isoformat()

    assert enrich.main(["--date", old_day]) == 2

    assert "--past-critical-ttl" in capsys.readouterr().err
    window = enrich.parser().parse_args(["--date", old_day, "--past-critical-ttl"])
    assert window.past_critical_ttl is True


def test_catch_up_leaves_the_window_to_the_stores_and_takes_no_end() -> None:
    now = datetime.now(UTC)
    assert window_from_arguments(enrich.parser().parse_args(["--catch-up"]), ZONE, now) is None
    for extra in (["--to", "2026-03-12"], ["--end", "2026-03-10T12:00+01:00"]):
        with pytest.raises(ValueError, match="go"):
            window_from_arguments(enrich.parser().parse_args(["--catch-up", *extra]), ZONE, now)


def test_the_job_imports_great_expectations_only_to_run_the_gate() -> None:
    """Its import takes seconds: `--help` and a catch-up with nothing to do start without it."""
    probe = "import sys, jobs.enrich; print('great_expectations' in sys.modules)"
    project = Path(__file__).resolve().parents[2]
    imported = subprocess.run(
        [sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, timeout=120, check=True
    )
    assert imported.stdout.strip() == "False"
