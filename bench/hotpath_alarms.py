"""What the alarm rules cost the hot path: the same load with the change feed's alarms on and off, alternated.

The ingest, the change feed and the read API run as in `make bench-hotpath` (bench.hotpath_pipeline). At one
fixed rate (default: the 25 % step's rate of the committed `make bench-hotpath` results), each round runs a
step with the alarm rules (`conf/reference/alarm_rules.yaml`) and a step without them
(`changefeed.alarm_rules_file` unset), in alternating order, the change feed restarted before each and warmed up
as `make bench-hotpath` warms its jobs (until its micro-batches stop getting faster), then led in at the rate as
its steps are. Reported per variant: the critical
events' produce → Redis latency (p50, p99), the change feed's micro-batch seconds (p50, p99) and, with alarms,
the seconds of each micro-batch spent in the alarm lifecycle (its writes included); and the ratios on/off.

Writes bench/results/hotpath-alarms.json and .md. Run with `make bench-hotpath-alarms`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.hotpath_bench import LEAD_IN_S
from bench.hotpath_pipeline import BenchPipeline, start_bench_run
from bench.ingest_bench import RESULTS
from bench.resources import percentiles, write_results
from smartspaces import progress

VARIANTS: dict[str, dict[str, str]] = {
    "alarms_on": {},
    "alarms_off": {"SMARTSPACES__CHANGEFEED__ALARM_RULES_FILE": "null"},
}
# The rate without --rate: the hot-path benchmark's 25 % step, from its committed results.
HOTPATH_RESULTS = RESULTS / "hotpath.json"


def committed_rate_25() -> float:
    try:
        return float(json.loads(HOTPATH_RESULTS.read_text())["rate_25_events_per_s"])
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise SystemExit(
            f"no 25 % rate in {HOTPATH_RESULTS} ({error}): run `make bench-hotpath` first, or pass --rate"
        ) from error


def _alarm_seconds(log: str) -> list[float]:
    return [
        float(entry["alarms_s"])
        for line in log.splitlines()
        if '"changefeed_batch"' in line
        for entry in [json.loads(line[line.index("{") :])]
        if entry.get("changes")
    ]


def _figures(values: list[float]) -> dict[str, float | None]:
    found = percentiles(values) if values else {}
    return {"p50": found.get("p50"), "p99": found.get("p99")}


def summary(result: dict[str, Any]) -> str:
    lines = [
        "# Hot path with and without alarms",
        "",
        f"Run {result['run']} on {result['cores']} cores: {result['rounds']} rounds at {result['rate']:g} events/s,",
        f"{result['step_s']:g} s of producing per step, alarm rules on and off in alternating order (the change",
        "feed restarted and warmed up before each step). Latency: a critical event in Redis minus its Kafka timestamp.",
        "",
        "| measure | alarms on | alarms off | on / off |",
        "| --- | --- | --- | --- |",
    ]
    for name in ("e2e_p50_s", "e2e_p99_s", "changefeed_batch_p50_s", "changefeed_batch_p99_s"):
        on, off = result["alarms_on"][name], result["alarms_off"][name]
        ratio = result["ratios"].get(name)
        lines.append(f"| `{name}` | {on} | {off} | {'' if ratio is None else ratio} |")
    alarms = result["alarms_on"]
    lines += [
        "",
        f"Alarm lifecycle per micro-batch (alarms on): p50 {alarms['alarms_p50_s']} s, "
        f"p99 {alarms['alarms_p99_s']} s, over {alarms['changefeed_batches']} micro-batches.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rate", type=float, help="events per second (default: the 25 %% step's of bench/results/hotpath.json)"
    )
    parser.add_argument("--step-s", type=float, default=90.0, help="seconds of producing per step")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of one step per variant")
    parser.add_argument("--forced-door-fraction", type=float, default=0.01)
    args = parser.parse_args(argv)
    rate = args.rate if args.rate is not None else committed_rate_25()
    settings, run = start_bench_run()
    started = time.monotonic()
    collected: dict[str, dict[str, list[float]]] = {name: {"e2e": [], "batch": [], "alarms": []} for name in VARIANTS}
    with BenchPipeline(settings, run, args.forced_door_fraction) as pipeline:
        with progress.step("alarms bench: start the services"):
            pipeline.start(changefeed=True)
        # Every step's warm-up (below) warms the ingest too.
        for round_number in range(args.rounds):
            order = list(VARIANTS) if round_number % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                with progress.step(f"alarms bench: round {round_number + 1}, {name}") as measuring:
                    pipeline.restart_changefeed(VARIANTS[name])
                    # A new JVM's micro-batches keep getting faster for minutes (bench.hotpath_pipeline).
                    pipeline.warm_up()
                    pipeline.run_step(rate, LEAD_IN_S, ingest_only=False)
                    offset = pipeline.services["changefeed"].log_size()
                    step = pipeline.run_step(rate, args.step_s, ingest_only=False)
                    measuring.detail = step.verdict
                collected[name]["e2e"] += step.e2e_latencies()
                collected[name]["batch"] += step.batch_seconds.get("changefeed", [])
                if name == "alarms_on":
                    collected[name]["alarms"] += _alarm_seconds(pipeline.services["changefeed"].log_since(offset))
                print(f"alarms bench: round {round_number + 1}, {name}: {step.verdict}", flush=True)
        warm_ups = pipeline.warm_ups
    result: dict[str, Any] = {
        "run": run,
        "cores": os.cpu_count(),
        "rate": rate,
        "step_s": args.step_s,
        "rounds": args.rounds,
    }
    for name, values in collected.items():
        e2e, batch, alarms = _figures(values["e2e"]), _figures(values["batch"]), _figures(values["alarms"])
        result[name] = {
            "e2e_p50_s": e2e["p50"],
            "e2e_p99_s": e2e["p99"],
            "critical_events": len(values["e2e"]),
            "changefeed_batch_p50_s": batch["p50"],
            "changefeed_batch_p99_s": batch["p99"],
            "changefeed_batches": len(values["batch"]),
            "alarms_p50_s": alarms["p50"],
            "alarms_p99_s": alarms["p99"],
        }
    result["ratios"] = {
        name: round(result["alarms_on"][name] / result["alarms_off"][name], 3)
        for name in ("e2e_p50_s", "e2e_p99_s", "changefeed_batch_p50_s", "changefeed_batch_p99_s")
        if result["alarms_on"][name] and result["alarms_off"][name]
    }
    # Each step's warm-up slices (verdict and batch p50s), in the order the steps ran.
    result["warm_ups"] = warm_ups
    result["seconds"] = round(time.monotonic() - started)
    write_results(RESULTS, "hotpath-alarms", result, summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
