"""Progress of long work: plain lines that are few and readable in a log, bars on a terminal, nothing when off."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from smartspaces.config import ConfigError
from smartspaces.progress import PROGRESS_VARIABLE, ProgressMode, ProgressReporter, Throttle, progress_mode

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def plain_reporter(clock: FakeClock, out: io.StringIO) -> ProgressReporter:
    return ProgressReporter(ProgressMode.PLAIN, stream=out, clock=clock, heartbeat=False)


def test_a_counted_step_says_when_it_starts_and_ends_with_its_figures() -> None:
    clock, out = FakeClock(), io.StringIO()
    with plain_reporter(clock, out).step("simulate", total=20_000, unit="messages") as sending:
        clock.now += 0.5
        sending.update(20_000, detail="0 delivery failures")
    assert out.getvalue().splitlines() == [
        "[simulate] started: 20000 messages",
        "[simulate] done in 0.5 s: 20000/20000 messages, 40000 messages/s; 0 delivery failures",
    ]


def test_counted_work_writes_a_line_per_tenth_never_one_per_item() -> None:
    clock, out = FakeClock(), io.StringIO()
    with plain_reporter(clock, out).step("load", total=640, unit="rows") as loading:
        for row in range(1, 641):
            clock.now += 1 / 64  # 10 s in all: each tenth 1 s after the previous (Throttle.min_gap_s)
            loading.update(row)
    assert out.getvalue().splitlines() == [
        "[load] started: 640 rows",
        *[f"[load] {tenth * 64}/640 rows ({tenth * 10} %) in {tenth}.0 s, 64 rows/s" for tenth in range(1, 10)],
        "[load] done in 10.0 s: 640/640 rows, 64 rows/s",
    ]


def test_a_step_slower_than_ten_a_second_shows_its_rate_with_a_decimal() -> None:
    clock, out = FakeClock(), io.StringIO()
    with plain_reporter(clock, out).step("facts", total=7, unit="tables") as writing:
        clock.now += 24.0
        writing.update(7)
    assert out.getvalue().splitlines()[-1] == "[facts] done in 24.0 s: 7/7 tables, 0.3 tables/s"


def test_quick_work_writes_no_line_between_its_start_and_end() -> None:
    clock, out = FakeClock(), io.StringIO()
    with plain_reporter(clock, out).step("load", total=1000, unit="rows") as loading:
        for row in range(1, 1001):
            clock.now += 0.0005  # half a second in all: tenths closer than Throttle.min_gap_s
            loading.update(row)
    assert len(out.getvalue().splitlines()) == 2


def test_slow_work_writes_a_line_every_ten_seconds_between_tenths() -> None:
    clock, out = FakeClock(), io.StringIO()
    reporter = ProgressReporter(ProgressMode.PLAIN, stream=out, clock=clock, throttle=Throttle(), heartbeat=False)
    with reporter.step("drain", total=1_000_000, unit="messages") as draining:
        for second in range(1, 26):
            clock.now += 1.0
            draining.update(second * 1000)  # 0.1 % a second: no tenth is reached
    lines = out.getvalue().splitlines()
    assert lines[1:3] == [
        "[drain] 10000/1000000 messages (1 %) in 10.0 s, 1000 messages/s",
        "[drain] 20000/1000000 messages (2 %) in 20.0 s, 1000 messages/s",
    ]
    assert len(lines) == 4


def test_the_heartbeat_speaks_for_the_newest_step_that_said_nothing_for_ten_seconds() -> None:
    clock, out = FakeClock(), io.StringIO()
    reporter = plain_reporter(clock, out)
    with reporter.step("ingest bench 2/6: Spark ingest (drain)"), reporter.step("enrich: read") as reading:
        clock.now += 9.0
        reporter.tick()
        clock.now += 1.0
        reporter.tick()
        reporter.tick()
        reading.detail = "2 inputs"
    assert out.getvalue().splitlines() == [
        "[ingest bench 2/6: Spark ingest (drain)] started",
        "[enrich: read] started",
        "[enrich: read] running for 10.0 s",
        "[enrich: read] done in 10.0 s; 2 inputs",
        "[ingest bench 2/6: Spark ingest (drain)] done in 10.0 s",
    ]


def test_a_step_that_fails_says_where_it_stopped_and_the_error_goes_on() -> None:
    clock, out = FakeClock(), io.StringIO()
    with pytest.raises(RuntimeError), plain_reporter(clock, out).step("load", total=10, unit="rows") as loading:
        loading.advance(3)
        clock.now += 2.0
        raise RuntimeError("the node went away")
    assert out.getvalue().splitlines()[-1] == "[load] failed after 2.0 s at 3/10 rows: RuntimeError"


def test_steps_that_run_side_by_side_end_in_any_order_and_once() -> None:
    clock, out = FakeClock(), io.StringIO()
    reporter = plain_reporter(clock, out)
    with reporter.step("ingest drain: ingest", unit="messages") as ingest:
        with reporter.step("ingest drain: bronze", unit="messages") as bronze:
            clock.now += 3.0
            ingest.update(600)
            ingest.end()
            clock.now += 1.0
            bronze.update(600)
        ingest.update(700)  # after its end: no longer shown
    assert out.getvalue().splitlines() == [
        "[ingest drain: ingest] started",
        "[ingest drain: bronze] started",
        "[ingest drain: ingest] done in 3.0 s: 600 messages, 200 messages/s",
        "[ingest drain: bronze] done in 4.0 s: 600 messages, 150 messages/s",
    ]


def test_a_step_of_seconds_shows_its_figures_instead_of_a_rate() -> None:
    clock, out = FakeClock(), io.StringIO()
    with plain_reporter(clock, out).step("simulate", total=60, unit="s", show_rate=False) as sending:
        clock.now += 30.0
        sending.update(30, detail="12000 messages sent")
        clock.now += 30.5
        sending.update(60, detail="24000 messages sent")
    assert out.getvalue().splitlines() == [
        "[simulate] started: 60 s",
        "[simulate] 30/60 s (50 %) in 30.0 s; 12000 messages sent",
        "[simulate] done in 60.5 s: 60/60 s; 24000 messages sent",
    ]


def test_off_means_no_output_at_all() -> None:
    clock, out = FakeClock(), io.StringIO()
    reporter = ProgressReporter(ProgressMode.OFF, stream=out, clock=clock)
    with reporter.step("simulate", total=10, unit="messages") as sending:
        clock.now += 60.0
        sending.update(10)
        reporter.tick()
    reporter.relay("[ingest drain: ingest] started")
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("value", "stream", "mode"),
    [
        (None, Terminal(), ProgressMode.BARS),
        (None, io.StringIO(), ProgressMode.PLAIN),
        ("auto", io.StringIO(), ProgressMode.PLAIN),
        ("off", Terminal(), ProgressMode.OFF),
        ("Plain", Terminal(), ProgressMode.PLAIN),
        ("bars", io.StringIO(), ProgressMode.BARS),
    ],
)
def test_the_variable_chooses_the_display_and_auto_follows_the_terminal(
    value: str | None, stream: io.StringIO, mode: ProgressMode
) -> None:
    environ = {} if value is None else {PROGRESS_VARIABLE: value}
    assert progress_mode(environ, stream) == mode


def test_a_dumb_terminal_gets_plain_lines() -> None:
    assert progress_mode({"TERM": "dumb"}, Terminal()) == ProgressMode.PLAIN


def test_an_unknown_display_fails_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=f"{PROGRESS_VARIABLE}='quiet': expected one of auto, bars, plain, off"):
        progress_mode({PROGRESS_VARIABLE: "quiet"}, io.StringIO())


def test_a_childs_progress_lines_are_relayed_and_every_line_is_kept() -> None:
    clock, out = FakeClock(), io.StringIO()
    child = [
        "2026-11-25 10:00:00 INFO smartspaces.stages.ingest: {...}\n",
        "[ingest drain: ingest] started\n",
        "[ingest drain: ingest] 100000/300000 messages (33 %) in 20.0 s, 5000 messages/s; 1 micro-batch(es)\n",
        "[Stage 3:>   (0 + 2) / 2]\n",
        "[ingest drain: ingest] done in 61.0 s: 300000/300000 messages, 4918 messages/s; 3 micro-batch(es)\n",
    ]
    kept: list[str] = []
    plain_reporter(clock, out).relay_lines(child, kept)
    assert kept == child
    assert out.getvalue().splitlines() == [child[1].strip(), child[2].strip(), child[4].strip()]


def test_bars_on_a_terminal_show_nested_steps_and_leave_each_end_line() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    reporter = ProgressReporter(ProgressMode.BARS, console=console)
    assert reporter.mode == ProgressMode.BARS
    with reporter.step("ingest bench 1/6: events into Kafka"):
        with reporter.step("simulate", total=1000, unit="messages") as sending:
            sending.update(500, detail="half way")
            sending.advance(500)
        reporter.relay("[ingest drain: ingest] started")
    shown = ANSI.sub("", screen.getvalue())
    assert "[simulate] done in " in shown and ": 1000/1000 messages" in shown
    assert "[ingest drain: ingest] started" in shown
    assert "[ingest bench 1/6: events into Kafka] done in " in shown
