"""Hot-path benchmark: a device's critical event from produce to Redis and to the read API, at sustained load.

The ingest and the change feed run as in production: two long-running Spark applications on the local stack,
started once and warmed up until their micro-batches stop getting faster (a new JVM's keep getting faster for
minutes while it compiles the hot code; a long-running job's have settled); the read API serves from the same
Redis database. A producer sends the simulator's realistic mix in real time (event times follow the wall
clock), plus a known share of forced doors, each of which fires exactly one critical event. For every critical
event: seconds from its Kafka timestamp (produce) to its appearance in Redis (keyspace notifications), and for
a sample to the read API answering it.

Steps, each `--step-s` seconds of producing:
1. capacity: the highest rate the two streams sustain (the step runs its whole length with no forced door
   taking over 30 s, every forced door reaches Redis, and the p99 of the last 30 s is at most 1.5 x that of
   the first 30 s: the lag does not grow), searched geometrically, then bisected;
2. 25 % and 50 % of that capacity, each after an untimed lead-in of LEAD_IN_S at its rate (with, per stream,
   the median seconds of each part of its micro-batches, and the machine's busy cores);
3. the change feed stopped: the ingest's capacity alone (produce -> Cassandra write), searched the same way;
4. the floor: a plain confluent-kafka consumer that writes each message to Cassandra and Redis at once
   (bench.hotpath_floor), at the 25 % rate.

Writes bench/results/hotpath.json, hotpath.md and hotpath.png. Run with `make bench-hotpath`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.hotpath_pipeline import DRAIN_LIMIT_S, BenchPipeline, StepResult, start_bench_run
from bench.hotpath_report import plot_latency, summary
from bench.ingest_bench import RESULTS
from bench.resources import percentiles, write_results
from smartspaces import progress

TARGETS = {
    "e2e_p99_s_at_25": ("<=", 3.0),
    "e2e_p99_s_at_50": ("<=", 6.0),
    "drain_s_at_50": ("<=", DRAIN_LIMIT_S),
    "lag_growth_at_50": ("<=", 1.5),
}
# Ratios the issue sets between fields of the same run.
FLOOR_FACTOR = 10.0
CAPACITY_VS_INGEST_ALONE = 0.6
MIN_CRITICAL_EVENTS = 100
# The search stops when the bracket [sustained, failed] is this tight.
BRACKET = 1.15
# Untimed seconds at a measured step's rate before it: the step follows the capacity search, whose last trial
# overloaded the streams, and its figures are those of the streams running at its rate, not recovering.
LEAD_IN_S = 30.0


@dataclass
class Search:
    """A capacity search: each trial's rate and whether it was sustained."""

    trials: list[dict[str, Any]]
    capacity: float
    bracketed: bool


def search_capacity(
    pipeline: BenchPipeline, start_rate: float, step_s: float, max_trials: int, ingest_only: bool
) -> Search:
    """Geometric steps (x1.5) from start_rate until the sustained/failed bracket is found, then bisection."""
    trials: list[dict[str, Any]] = []
    sustained, failed = 0.0, math.inf
    rate = start_rate
    stage = "ingest alone" if ingest_only else "pipeline"
    while len(trials) < max_trials:
        name = f"hotpath bench: {stage} trial {len(trials) + 1}/{max_trials} at {rate:.0f} events/s"
        with progress.step(name) as trial:
            result = pipeline.run_step(rate, step_s, ingest_only=ingest_only)
            outcome = "sustained" if result.sustained else "not sustained"
            trial.detail = f"{outcome} ({result.verdict})"
        trials.append(result.trial_summary())
        print(f"hotpath: {stage} at {rate:.0f} events/s: {outcome} ({result.verdict})", flush=True)
        if result.sustained:
            sustained = rate
        else:
            failed = rate
            pipeline.recover(result)
        if failed / max(sustained, 1e-9) <= BRACKET:
            break
        if failed == math.inf:
            rate = rate * 1.5
        elif sustained == 0.0:
            rate = rate / 1.5
            if rate < pipeline.min_rate:
                break
        else:
            rate = math.sqrt(sustained * failed)
    # A search whose every trial was sustained found a lower bound, not the capacity.
    return Search(trials, round(sustained, 1), bracketed=failed != math.inf)


def latency_figures(values: list[float]) -> dict[str, float | None]:
    """p50, p95, p99 and max in seconds (None when nothing was measured)."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    return {**percentiles(values), "max": round(max(values), 3)}


def step_fields(result: StepResult, label: str) -> dict[str, Any]:
    e2e = latency_figures(result.e2e_latencies())
    api = latency_figures(result.api_latencies())
    fields = {
        f"rate_{label}_events_per_s": round(result.rate, 1),
        f"e2e_p50_s_at_{label}": e2e.get("p50"),
        f"e2e_p99_s_at_{label}": e2e.get("p99"),
        f"e2e_max_s_at_{label}": e2e.get("max"),
        f"api_p50_s_at_{label}": api.get("p50"),
        f"api_p99_s_at_{label}": api.get("p99"),
        f"api_samples_at_{label}": len(result.api_latencies()),
        f"api_errors_at_{label}": result.api_errors,
        f"drain_s_at_{label}": result.drain_s,
        f"lag_growth_at_{label}": result.lag_growth,
        f"critical_events_at_{label}": len(result.e2e_latencies()),
        f"forced_doors_sent_at_{label}": result.forced_doors_sent,
        f"forced_doors_in_redis_at_{label}": result.forced_doors_seen,
        f"ingest_store_p99_s_at_{label}": percentiles(result.ingest_latencies()).get("p99"),
        f"busy_cores_at_{label}": result.busy_cores,
    }
    for stream, seconds in result.batch_seconds.items():
        stream_percentiles = percentiles(seconds)
        fields[f"{stream}_batch_p50_s_at_{label}"] = stream_percentiles.get("p50")
        fields[f"{stream}_batch_p99_s_at_{label}"] = stream_percentiles.get("p99")
        fields[f"{stream}_batches_at_{label}"] = len(seconds)
    for stream, parts in result.batch_parts_s.items():
        fields.update({f"{stream}_{part}_p50_s_at_{label}": value for part, value in parts.items()})
    return fields


def verdicts(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with the measured value and whether it is met (None: not measured)."""
    checks: dict[str, tuple[Any, str, float]] = {
        name: (result.get(name), op, bound) for name, (op, bound) in TARGETS.items()
    }
    floor = result.get("floor_p99_s")
    checks["e2e_p99_s_at_25_vs_floor"] = (
        None if floor is None or result.get("e2e_p99_s_at_25") is None else result["e2e_p99_s_at_25"] / floor,
        "<=",
        FLOOR_FACTOR,
    )
    alone = result.get("ingest_alone_events_per_s") or 0
    checks["capacity_vs_ingest_alone"] = (
        result["capacity_events_per_s"] / alone if alone else None,
        ">=",
        CAPACITY_VS_INGEST_ALONE,
    )
    for label in ("25", "50"):
        checks[f"critical_events_at_{label}"] = (result.get(f"critical_events_at_{label}"), ">", MIN_CRITICAL_EVENTS)
    return {
        name: {
            "value": None if value is None else round(value, 3),
            "target": f"{op} {bound:g}",
            "met": None
            if value is None
            else (value <= bound if op == "<=" else value >= bound if op == ">=" else value > bound),
        }
        for name, (value, op, bound) in checks.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--step-s", type=float, default=120.0, help="seconds of producing per step")
    parser.add_argument("--start-rate", type=float, default=400.0, help="first rate of the capacity search")
    parser.add_argument("--max-trials", type=int, default=6, help="trials per capacity search")
    parser.add_argument("--ingest-alone-trials", type=int, default=3, help="trials of the ingest-alone search")
    parser.add_argument("--forced-door-fraction", type=float, default=0.01)
    args = parser.parse_args(argv)
    settings, run = start_bench_run()
    started = time.monotonic()
    result: dict[str, Any] = {
        "run": run,
        "cores": os.cpu_count(),
        "step_s": args.step_s,
        "forced_door_fraction": args.forced_door_fraction,
    }
    with BenchPipeline(settings, run, args.forced_door_fraction) as pipeline:
        with progress.step("hotpath bench: start the services"):
            pipeline.start(changefeed=True)
        pipeline.warm_up()
        capacity = search_capacity(pipeline, args.start_rate, args.step_s, args.max_trials, ingest_only=False)
        result["capacity_events_per_s"] = capacity.capacity
        result["capacity_trials"] = capacity.trials
        result["capacity_is_lower_bound"] = not capacity.bracketed
        steps: dict[str, StepResult] = {}
        if capacity.capacity > 0:
            for label, share in (("25", 0.25), ("50", 0.5)):
                with progress.step(f"hotpath bench: {label} % of capacity") as measuring:
                    pipeline.run_step(capacity.capacity * share, LEAD_IN_S, ingest_only=False)
                    steps[label] = pipeline.run_step(capacity.capacity * share, args.step_s, ingest_only=False)
                    measuring.detail = steps[label].verdict
                result.update(step_fields(steps[label], label))
                print(f"hotpath: {label} % step: {steps[label].verdict}", flush=True)
        pipeline.stop_changefeed()
        # The ingest alone sustains at least what the pipeline does: the search starts there.
        alone = search_capacity(
            pipeline, max(capacity.capacity, args.start_rate), args.step_s, args.ingest_alone_trials, ingest_only=True
        )
        result["ingest_alone_events_per_s"] = alone.capacity
        result["ingest_alone_trials"] = alone.trials
        result["ingest_alone_is_lower_bound"] = not alone.bracketed
        pipeline.stop_jobs()
        floor_rate = capacity.capacity * 0.25 if capacity.capacity else pipeline.min_rate
        with progress.step(f"hotpath bench: floor at {floor_rate:.0f} events/s"):
            floor = pipeline.measure_floor(floor_rate, args.step_s)
        result.update({f"floor_{name}_s": value for name, value in latency_figures(floor).items()})
        result["floor_rate_events_per_s"] = round(floor_rate, 1)
        result["warm_ups"] = pipeline.warm_ups
    result["targets"] = verdicts(result)
    result["seconds"] = round(time.monotonic() - started)
    plot_latency(steps, RESULTS / "hotpath.png")
    write_results(RESULTS, "hotpath", result, summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
