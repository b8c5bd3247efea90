"""Samples processes while a benchmark runs: peak resident memory and CPU share of each."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import quantiles
from typing import Any

from smartspaces.stack.process import descendants

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def machine_cpu_seconds() -> tuple[float, float]:
    """The machine's busy and total CPU seconds since boot, all cores together (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    # user nice system idle iowait irq softirq steal: idle and iowait are the time no work ran.
    total = sum(fields)
    return (total - fields[3] - fields[4]) / _TICKS, total / _TICKS


def busy_cores(before: tuple[float, float], after: tuple[float, float]) -> float:
    """How many of the machine's cores were busy, on average, between two machine_cpu_seconds() readings."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return round(busy / total * (os.cpu_count() or 1), 2) if total > 0 else 0.0


@dataclass
class ProcessUsage:
    peak_rss_mib: float = 0.0
    cpu_seconds: float = 0.0


@dataclass
class ResourceSampler:
    """Samples named processes (and their descendants) every interval until stopped; the named groups of `alone`
    are sampled without their descendants (a Spark driver JVM apart from the Python workers it starts)."""

    processes: dict[str, int]
    interval_s: float = 0.5
    alone: dict[str, tuple[int, ...]] = field(default_factory=dict)
    usage: dict[str, ProcessUsage] = field(default_factory=dict)
    _start_cpu: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _started: float = 0.0
    _elapsed: float = 0.0

    def __enter__(self) -> ResourceSampler:
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _members(self, pid: int) -> list[int]:
        return [pid, *descendants(pid)]

    def _groups(self) -> dict[str, list[int]]:
        trees = {name: self._members(pid) for name, pid in self.processes.items()}
        return {**trees, **{name: list(pids) for name, pids in self.alone.items()}}

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, members in self._groups().items():
                usage = self.usage.setdefault(name, ProcessUsage())
                for member in members:
                    self._start_cpu.setdefault(member, _cpu_seconds(member))
                usage.peak_rss_mib = max(usage.peak_rss_mib, sum(_rss_mib(member) for member in members))
                usage.cpu_seconds = max(
                    usage.cpu_seconds, sum(_cpu_seconds(m) - self._start_cpu.get(m, 0.0) for m in members)
                )
            self._stop.wait(self.interval_s)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._elapsed = time.monotonic() - self._started

    def report(self) -> dict[str, dict[str, float]]:
        """Per process: peak RSS (MiB) and CPU share (cores busy on average over the sampled time)."""
        return {
            name: {
                "peak_rss_mb": round(usage.peak_rss_mib, 1),
                "cpu_share_cores": round(usage.cpu_seconds / self._elapsed, 2) if self._elapsed else 0.0,
            }
            for name, usage in self.usage.items()
        }


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of values (seconds), rounded to the millisecond; zeros when there is nothing."""
    if len(values) < 2:
        only = values[0] if values else 0.0
        return {"p50": round(only, 3), "p95": round(only, 3), "p99": round(only, 3)}
    # Inclusive: the values are the whole population measured, so no percentile can exceed the largest one.
    cut = quantiles(values, n=100, method="inclusive")
    return {"p50": round(cut[49], 3), "p95": round(cut[94], 3), "p99": round(cut[98], 3)}


def write_results(results: Path, stem: str, result: dict[str, Any], markdown: str) -> None:
    """bench/results/<stem>.json and <stem>.md, and the summary printed."""
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (results / f"{stem}.md").write_text(markdown)
    print(markdown)
