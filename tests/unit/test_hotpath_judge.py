"""A hot-path benchmark's trial is sustained only when its whole backlog drains within the drain target."""

from __future__ import annotations

import pytest

from bench.hotpath_pipeline import DRAIN_LIMIT_S, StepResult
from smartspaces.stages.simulator.producer import SimulationReport


def trial(drain_s: float, lag_growth: float | None, forced_doors_seen: int = 40, aborted: bool = False) -> StepResult:
    return StepResult(
        rate=3000.0,
        produced_s=120.0,
        report=SimulationReport(forced_doors=40),
        critical=[],
        api_served={},
        api_errors=0,
        ingest=[],
        forced_doors_seen=forced_doors_seen,
        drain_s=drain_s,
        lag_growth=lag_growth,
        batch_seconds={},
        batch_parts_s={},
        aborted=aborted,
        ingest_only=True,
        started=0.0,
    )


@pytest.mark.parametrize(
    ("result", "sustained", "problem"),
    [
        (trial(drain_s=0.0, lag_growth=1.1), True, None),
        (trial(drain_s=DRAIN_LIMIT_S, lag_growth=1.1), True, None),
        # A backlog built within the first 30 s and kept: the latency did not grow after, the drain tells.
        (trial(drain_s=29.0, lag_growth=1.27), False, "the backlog drained in 29 s > 10 s"),
        (trial(drain_s=0.0, lag_growth=1.6), False, "lag growth 1.6 > 1.5"),
        (trial(drain_s=0.0, lag_growth=None, forced_doors_seen=39), False, "39 of 40 forced doors arrived"),
        (trial(drain_s=0.0, lag_growth=1.0, aborted=True), False, "stopped early"),
    ],
)
def test_judge(result: StepResult, sustained: bool, problem: str | None) -> None:
    result.judge()
    assert result.sustained is sustained
    if problem is None:
        assert result.verdict == "no events"
    else:
        assert problem in result.verdict
