"""Progress of long work, on stderr: rich progress bars on a terminal, a few plain lines in a log, or nothing.

A piece of work is a step: it starts, may count what it has done (of a total when known), and ends with its
figures. `SMARTSPACES_PROGRESS` chooses the display: `auto` (the default: bars when stderr is a terminal,
plain lines otherwise), `bars`, `plain` or `off`. Plain lines are few: a step's start and end, and for long
work a line once another tenth of the total is done or `every_s` have passed, never one per item. Results
stay on stdout; progress never goes there.

    with progress.step("simulate", total=20_000, unit="messages") as sending:
        ...
        sending.update(sent)
        sending.detail = "0 delivery failures"

prints, off a terminal:

    [simulate] started: 20000 messages
    [simulate] 8192/20000 messages (41 %) in 2.0 s, 4096 messages/s
    [simulate] done in 4.9 s: 20000/20000 messages, 4082 messages/s; 0 delivery failures
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

from smartspaces.config import ConfigError

PROGRESS_VARIABLE = "SMARTSPACES_PROGRESS"
# A line of the plain display: `[step] started`, `[step] 10/20 ...`, `[step] running for ...`, `[step] done in ...`.
PLAIN_LINE = re.compile(r"^\[[^\[\]\n]+\] (?:started|running for |done in |failed after |\d)")
# How often the heartbeat looks for plain steps that have said nothing for `every_s`.
HEARTBEAT_S = 1.0

Clock = Callable[[], float]


class ProgressMode(StrEnum):
    AUTO = "auto"
    BARS = "bars"
    PLAIN = "plain"
    OFF = "off"


def progress_mode(environ: Mapping[str, str] | None = None, stream: TextIO | None = None) -> ProgressMode:
    """The display SMARTSPACES_PROGRESS asks for; `auto` is resolved: bars on a terminal, plain lines otherwise."""
    environ = os.environ if environ is None else environ
    value = environ.get(PROGRESS_VARIABLE, "").strip().lower() or ProgressMode.AUTO
    try:
        mode = ProgressMode(value)
    except ValueError:
        choices = ", ".join(mode.value for mode in ProgressMode)
        raise ConfigError(f"{PROGRESS_VARIABLE}={value!r}: expected one of {choices}") from None
    if mode != ProgressMode.AUTO:
        return mode
    stream = sys.stderr if stream is None else stream
    is_terminal = stream.isatty() and environ.get("TERM") != "dumb"
    return ProgressMode.BARS if is_terminal else ProgressMode.PLAIN


@dataclass(frozen=True)
class Throttle:
    """When the plain display writes a progress line: after `every_s`, or when another `every_fraction` of the
    total is done, but never sooner than `min_gap_s` after the step's previous line."""

    every_s: float = 10.0
    every_fraction: float = 0.1
    min_gap_s: float = 1.0


@dataclass(eq=False)
class Step:
    """One piece of work as it goes: what it has done (`completed` of `total` `unit`) and a short `detail`.

    Update it as often as is cheap for the work (the display decides what to show); `detail` is shown with
    the progress and at the end, so set it to the step's figures before the step ends."""

    name: str
    total: float | None
    unit: str
    show_rate: bool
    started_at: float
    completed: float = 0.0
    detail: str = ""
    # The reporter that shows the step, until the step ends.
    _reporter: ProgressReporter | None = field(default=None, repr=False)

    def advance(self, amount: float = 1) -> None:
        self.update(self.completed + amount)

    def update(self, completed: float | None = None, total: float | None = None, detail: str | None = None) -> None:
        if completed is not None:
            self.completed = completed
        if total is not None:
            self.total = total
        if detail is not None:
            self.detail = detail
        if self._reporter is not None:
            self._reporter._changed(self)

    def end(self, error: BaseException | None = None) -> None:
        """Ends the step now, before its block does (a step ends once: the block's end then changes nothing)."""
        if self._reporter is not None:
            self._reporter._ended(self, error)


class _Display(Protocol):
    def started(self, step: Step) -> None: ...
    def changed(self, step: Step) -> None: ...
    def finished(self, step: Step, error: BaseException | None) -> None: ...
    def echo(self, line: str) -> None: ...
    def tick(self) -> None: ...


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _counted(step: Step) -> str:
    """`8192/20000 messages`, `8192 messages`, or empty when the step counts nothing."""
    unit = f" {step.unit}" if step.unit else ""
    if step.total is not None:
        return f"{_number(step.completed)}/{_number(step.total)}{unit}"
    return f"{_number(step.completed)}{unit}" if step.completed or step.unit else ""


def _rate(step: Step, elapsed: float) -> str:
    if not step.show_rate or not step.completed or elapsed <= 0:
        return ""
    unit = step.unit or "items"
    rate = step.completed / elapsed
    # Slow steps (a few tables, each taking seconds) keep a decimal: "0 tables/s" would say nothing moved.
    return f"{rate:.1f} {unit}/s" if rate < 10 else f"{rate:.0f} {unit}/s"


def _with_detail(text: str, step: Step) -> str:
    return f"{text}; {step.detail}" if step.detail else text


def started_line(step: Step) -> str:
    unit = f" {step.unit}" if step.unit else ""
    total = f": {_number(step.total)}{unit}" if step.total is not None else ""
    return _with_detail(f"[{step.name}] started{total}", step)


def progress_line(step: Step, now: float) -> str:
    elapsed = now - step.started_at
    counted = _counted(step)
    if not counted:
        return _with_detail(f"[{step.name}] running for {_seconds(elapsed)}", step)
    share = f" ({int(100 * step.completed / step.total)} %)" if step.total else ""
    rate = _rate(step, elapsed)
    return _with_detail(f"[{step.name}] {counted}{share} in {_seconds(elapsed)}" + (f", {rate}" if rate else ""), step)


def finished_line(step: Step, now: float, error: BaseException | None) -> str:
    elapsed = now - step.started_at
    counted = _counted(step)
    if error is not None:
        at = f" at {counted}" if counted else ""
        return f"[{step.name}] failed after {_seconds(elapsed)}{at}: {type(error).__name__}"
    figures = ", ".join(part for part in (counted, _rate(step, elapsed)) if part)
    return _with_detail(f"[{step.name}] done in {_seconds(elapsed)}" + (f": {figures}" if figures else ""), step)


class _Silent:
    def started(self, step: Step) -> None:
        pass

    def changed(self, step: Step) -> None:
        pass

    def finished(self, step: Step, error: BaseException | None) -> None:
        pass

    def echo(self, line: str) -> None:
        pass

    def tick(self) -> None:
        pass


@dataclass
class _LineState:
    written_at: float
    tenths: int = 0


class _PlainLines:
    """One line per start and end, and throttled progress lines in between (see Throttle)."""

    def __init__(self, stream: TextIO | None, clock: Clock, throttle: Throttle) -> None:
        self._stream = stream
        self._clock = clock
        self._throttle = throttle
        self._open: dict[Step, _LineState] = {}

    def _write(self, line: str) -> None:
        # stderr as it is when writing (not when the display was made), so a redirected stderr gets the lines.
        stream = sys.stderr if self._stream is None else self._stream
        stream.write(line + "\n")
        stream.flush()

    def _tenths(self, step: Step) -> int:
        if not step.total:
            return 0
        # Rounded first: 0.3 / 0.1 is 2.9999999999999996 in floating point.
        return int(round(min(step.completed / step.total, 1.0) / self._throttle.every_fraction, 9))

    def started(self, step: Step) -> None:
        self._open[step] = _LineState(self._clock(), self._tenths(step))
        self._write(started_line(step))

    def changed(self, step: Step) -> None:
        state = self._open.get(step)
        if state is None:
            return
        now = self._clock()
        since = now - state.written_at
        tenths = self._tenths(step)
        # Work that is complete says so in its end line.
        is_complete = step.total is not None and step.completed >= step.total
        is_due = since >= self._throttle.every_s or (tenths > state.tenths and since >= self._throttle.min_gap_s)
        if is_due and not is_complete:
            self._open[step] = _LineState(now, max(tenths, state.tenths))
            self._write(progress_line(step, now))

    def tick(self) -> None:
        """A line for the newest open step when it has said nothing for `every_s` (work that updates rarely or
        never); the steps it runs within are still running, and say so in their own updates and end."""
        if not self._open:
            return
        now = self._clock()
        step, state = next(reversed(self._open.items()))
        if now - state.written_at >= self._throttle.every_s:
            self._open[step] = _LineState(now, max(self._tenths(step), state.tenths))
            self._write(progress_line(step, now))

    def finished(self, step: Step, error: BaseException | None) -> None:
        self._open.pop(step, None)
        self._write(finished_line(step, self._clock(), error))

    def echo(self, line: str) -> None:
        self._write(line)


class _Counts(ProgressColumn):
    """`done/total unit` of a step (its bar shows the share), `done unit` without a total."""

    def __init__(self) -> None:
        super().__init__(table_column=Column(no_wrap=True))

    def render(self, task: Task) -> Text:
        step: Step = task.fields["step"]
        return Text(_counted(step), style="progress.download")


class _Bars:
    """rich progress bars, one per open step; a finished step leaves its end line above the bars."""

    def __init__(self, console: Console, clock: Clock) -> None:
        self._clock = clock
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False, table_column=Column(no_wrap=True, overflow="ellipsis")),
            BarColumn(bar_width=20),
            _Counts(),
            TimeElapsedColumn(table_column=Column(no_wrap=True)),
            TimeRemainingColumn(table_column=Column(no_wrap=True)),
            # The detail gives way first on a narrow terminal.
            TextColumn("{task.fields[detail]}", markup=False, table_column=Column(no_wrap=True, overflow="ellipsis")),
            console=console,
            # Only a terminal's stdout is shown through the bars: stdout to a file or a pipe stays untouched.
            redirect_stdout=sys.stdout.isatty(),
            redirect_stderr=True,
        )
        self._tasks: dict[Step, TaskID] = {}
        self._rerouted: list[tuple[logging.StreamHandler[Any], TextIO]] = []

    def _show(self) -> None:
        """Starts the bars; log handlers writing to stderr write through them meanwhile (above the bars, instead
        of into them)."""
        stderr = sys.stderr
        self._progress.start()
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is stderr:
                handler.setStream(sys.stderr)
                self._rerouted.append((handler, stderr))

    def _hide(self) -> None:
        for handler, stream in self._rerouted:
            handler.setStream(stream)
        self._rerouted = []
        self._progress.stop()

    def started(self, step: Step) -> None:
        if not self._tasks:
            self._show()
        self._tasks[step] = self._progress.add_task(
            step.name, total=step.total, completed=int(step.completed), step=step, detail=step.detail
        )

    def changed(self, step: Step) -> None:
        task = self._tasks.get(step)
        if task is not None:
            self._progress.update(task, completed=step.completed, total=step.total, detail=step.detail)

    def finished(self, step: Step, error: BaseException | None) -> None:
        task = self._tasks.pop(step, None)
        if task is not None:
            self._progress.remove_task(task)
        self.echo(finished_line(step, self._clock(), error))
        if not self._tasks:
            self._hide()

    def echo(self, line: str) -> None:
        self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def tick(self) -> None:
        pass  # rich refreshes the bars on its own thread


class ProgressReporter:
    """Shows the steps of this process in one display; steps may nest or run on several threads at once."""

    def __init__(
        self,
        mode: ProgressMode,
        stream: TextIO | None = None,
        clock: Clock = time.monotonic,
        throttle: Throttle | None = None,
        console: Console | None = None,
        heartbeat: bool = True,
    ) -> None:
        """stream: where plain lines go (None: sys.stderr at each write); console: the bars' (default: stderr);
        heartbeat: a thread that writes a plain line for steps without updates for `throttle.every_s`."""
        self.mode = progress_mode({PROGRESS_VARIABLE: mode.value}, stream) if mode == ProgressMode.AUTO else mode
        self._clock = clock
        self._lock = threading.RLock()
        self._display: _Display
        if self.mode == ProgressMode.BARS:
            self._display = _Bars(console or (Console(file=stream) if stream else Console(stderr=True)), clock)
        elif self.mode == ProgressMode.PLAIN:
            self._display = _PlainLines(stream, clock, throttle or Throttle())
        else:
            self._display = _Silent()
        self._heartbeat = heartbeat and self.mode == ProgressMode.PLAIN
        self._open = 0
        self._stopping: threading.Event | None = None

    def start(self, name: str, total: float | None = None, unit: str = "", show_rate: bool = True) -> Step:
        """A step that runs until its `end()`; `step()` is the same as a block."""
        with self._lock:
            work = Step(name, total, unit, show_rate, self._clock(), _reporter=self)
            self._display.started(work)
            self._open += 1
            if self._open == 1 and self._heartbeat:
                self._start_heartbeat()
        return work

    @contextmanager
    def step(self, name: str, total: float | None = None, unit: str = "", show_rate: bool = True) -> Iterator[Step]:
        """A step from the block's start to its end (or its error, which is re-raised)."""
        work = self.start(name, total, unit, show_rate)
        try:
            yield work
        except BaseException as error:
            work.end(error)
            raise
        work.end()

    def _changed(self, work: Step) -> None:
        with self._lock:
            self._display.changed(work)

    def _ended(self, work: Step, error: BaseException | None) -> None:
        with self._lock:
            if work._reporter is None:
                return
            work._reporter = None
            self._display.finished(work, error)
            self._open -= 1
            if self._open == 0 and self._stopping is not None:
                self._stopping.set()
                self._stopping = None

    def relay(self, line: str) -> bool:
        """Shows a progress line another process wrote (a job the benchmark runs); False for its other lines."""
        line = line.rstrip("\n")
        if not PLAIN_LINE.match(line):
            return False
        with self._lock:
            self._display.echo(line)
        return True

    def relay_lines(self, lines: Iterable[str], kept: list[str]) -> None:
        """Relays the progress lines of a child's output and keeps every line (read to its end)."""
        for line in lines:
            kept.append(line)
            self.relay(line)

    def tick(self) -> None:
        """Writes the plain lines that are due by time alone (the heartbeat calls it every HEARTBEAT_S)."""
        with self._lock:
            self._display.tick()

    def _start_heartbeat(self) -> None:
        stopping = self._stopping = threading.Event()

        def beat() -> None:
            while not stopping.wait(HEARTBEAT_S):
                self.tick()

        threading.Thread(target=beat, name="progress-heartbeat", daemon=True).start()


_process_reporter: ProgressReporter | None = None
_process_lock = threading.Lock()


def reporter() -> ProgressReporter:
    """This process's reporter: one display for every step, made on first use from SMARTSPACES_PROGRESS."""
    global _process_reporter
    with _process_lock:
        if _process_reporter is None:
            _process_reporter = ProgressReporter(progress_mode())
        return _process_reporter


def step(name: str, total: float | None = None, unit: str = "", show_rate: bool = True) -> AbstractContextManager[Step]:
    """A step of this process's reporter (see ProgressReporter.step)."""
    return reporter().step(name, total, unit, show_rate)


def child_environment() -> dict[str, str]:
    """Environment for a child process whose output this process relays: plain lines, or none when quiet."""
    quiet = reporter().mode == ProgressMode.OFF
    return {PROGRESS_VARIABLE: (ProgressMode.OFF if quiet else ProgressMode.PLAIN).value}


def relay_lines(lines: Iterable[str], kept: list[str]) -> None:
    """Relays a child process's progress lines through this process's reporter (see ProgressReporter.relay_lines)."""
    reporter().relay_lines(lines, kept)
