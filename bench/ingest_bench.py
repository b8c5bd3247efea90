"""Ingest benchmark: Spark ingest against a hand-written consumer and a raw Cassandra ceiling, in one run.

1. Throughput: N events (about 400 bytes each) are put in Kafka once; then, into three identical fresh
   tables: the Spark ingest (drain), the plain consumer (confluent-kafka + cassandra-driver, concurrent
   async writes), and the raw ceiling (cassandra-driver, pre-parsed rows, no Kafka). Events/s and ratios.
2. Latency: a producer at half the measured Spark rate while the ingest streams with a 1 s trigger;
   latency = Cassandra's write time of a row minus the event's Kafka timestamp (its produce time).
3. Resources: peak RSS of the Spark driver (the ingest process with its JVM), CPU share of each process.

Writes bench/results/ingest.json and ingest.md. Run with `make bench-ingest` (EVENTS=1000000 by default).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cassandra_loaders import plain_consumer_load, raw_ceiling_load
from bench.resources import ResourceSampler, percentiles
from smartspaces import progress
from smartspaces.bootstrap.cassandra import apply_cassandra
from smartspaces.cassandra_tables import EVENTS
from smartspaces.config import PROJECT_ROOT, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.stack import local_stack
from smartspaces.stages.simulator.producer import SimulationOptions, run_simulation

RESULTS = PROJECT_ROOT / "bench" / "results"
TABLE = EVENTS.name
TRIGGER_S = 1.0
# The name of the benchmark's progress steps.
PHASE = "ingest bench"


def bench_environment(run: str, lake_root: Path, keyspace: str, topic: str) -> dict[str, str]:
    return {
        "SMARTSPACES__CASSANDRA__KEYSPACE": keyspace,
        "SMARTSPACES__INGEST__TOPIC": topic,
        "SMARTSPACES__LAKE__ROOT": str(lake_root / run),
    }


def run_ingest(
    environment: dict[str, str], args: list[str], settings: Settings
) -> tuple[float, float, dict[str, dict[str, float]]]:
    """Runs the ingest job as its own process, relaying its progress; returns (seconds processing, seconds wall,
    resources)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs.ingest", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **environment, **progress.child_environment()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    servers = {s.name: s.pid for s in local_stack.status(settings, ("cassandra", "kafka")) if s.pid}
    with ResourceSampler({"spark_ingest": process.pid, **servers}) as sampler:
        lines: list[str] = []
        assert process.stderr is not None
        progress.relay_lines(process.stderr, lines)
        process.wait()
    log = "".join(lines)
    if process.returncode != 0:
        raise RuntimeError(f"ingest failed:\n{log[-3000:]}")
    wall = time.monotonic() - started
    triggers = [int(m) for m in re.findall(r'"triggerExecution": (\d+)', log)]
    return sum(triggers) / 1000, wall, sampler.report()


def load_reference(reference_dir: Path, environment: dict[str, str]) -> None:
    command = [sys.executable, "-m", "jobs.reference", "--drop", str(reference_dir)]
    subprocess.run(command, check=True, cwd=PROJECT_ROOT, env={**os.environ, **environment})


def fresh_keyspace(settings: Settings, name: str) -> Settings:
    copy = settings.model_copy(update={"cassandra": settings.cassandra.model_copy(update={"keyspace": name})})
    apply_cassandra(copy.cassandra)
    return copy


def latencies(settings: Settings) -> list[float]:
    """Seconds from produce (the Kafka timestamp kept as ingest_time) to the row's write in Cassandra."""
    cluster = cassandra_cluster(settings.cassandra)
    try:
        rows = cluster.connect().execute(
            f"SELECT ingest_time, writetime(event_type) AS written FROM {settings.cassandra.keyspace}.{TABLE}",
            timeout=120,
        )
        return [row.written / 1e6 - row.ingest_time.replace(tzinfo=UTC).timestamp() for row in rows]
    finally:
        cluster.shutdown()


def measure_latency(
    settings: Settings, lake: Path, run: str, reference_dir: Path, rate: int, args: argparse.Namespace
) -> list[float]:
    """Produce → Cassandra seconds of every event sent at `rate` while the ingest streams with a 1 s trigger."""
    with progress.step(f"{PHASE} 5/6: latency while streaming"):
        latency_keyspace = f"bench_latency_{run}"
        latency_settings = fresh_keyspace(settings, latency_keyspace)
        latency_topic = f"bench.latency_{run}"
        latency_env = bench_environment("latency", lake, latency_keyspace, latency_topic)
        latency_env["SMARTSPACES__INGEST__TRIGGER_INTERVAL_S"] = str(TRIGGER_S)
        # The same seed and size as the loaded campus, so every device is in the registry.
        producer = SimulationOptions(
            count=int(rate * args.latency_seconds),
            rate=rate,
            seed=42,
            buildings=4,
            topic=latency_topic,
            now=datetime.now(UTC),
            payload_bytes=400,
        )
        load_reference(reference_dir, latency_env)
        stream = subprocess.Popen(
            [sys.executable, "-m", "jobs.ingest", "--run-for-s", str(args.latency_seconds + 60)],
            cwd=PROJECT_ROOT,
            env={**os.environ, **latency_env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(40)  # the stream's JVM starts and reaches the topic's end before the clock starts
        run_simulation(producer, settings.kafka)
        stream.wait()
    with progress.step(f"{PHASE} 6/6: latencies from Cassandra", unit="rows") as reading:
        lags = latencies(latency_settings)
        reading.update(len(lags))
    return lags


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument(
        "--latency-only",
        type=int,
        metavar="RATE",
        help="only the latency phase, at RATE events/s (an A/B of two versions at one load); prints, writes nothing",
    )
    parser.add_argument(
        "--drain-only",
        action="store_true",
        help="only the Spark ingest's drain of the events (an A/B of two versions); prints, writes nothing",
    )
    args = parser.parse_args(argv)
    settings = load_settings("local")
    local_stack.up(settings)
    run = uuid.uuid4().hex[:8]
    lake_root = PROJECT_ROOT / ".local-stack" / "bench"
    reference_dir = lake_root / run / "reference"
    topic = f"bench.events_{run}"

    # The events, once, in Kafka (400-byte events: the simulator pads attributes to that size).
    options = SimulationOptions(
        count=args.events,
        seed=42,
        buildings=4,
        topic=topic,
        reference_dir=reference_dir,
        now=datetime.now(UTC),
        payload_bytes=400,
    )
    with progress.step(f"{PHASE} 1/6: events into Kafka"):
        loaded = run_simulation(options, settings.kafka)
    events = loaded.sent_total

    if args.latency_only:
        lags = sorted(measure_latency(settings, lake_root / run, run, reference_dir, args.latency_only, args))
        print(
            json.dumps(
                {
                    "latency_rate_events_per_s": args.latency_only,
                    "latency_rows": len(lags),
                    **{f"latency_{name}_s": value for name, value in percentiles(lags).items()},
                }
            )
        )
        return 0

    # 1. Spark ingest.
    with progress.step(f"{PHASE} 2/6: Spark ingest (drain)") as ingesting:
        spark_keyspace = f"bench_spark_{run}"
        fresh_keyspace(settings, spark_keyspace)
        spark_env = bench_environment("spark", lake_root / run, spark_keyspace, topic)
        load_reference(reference_dir, spark_env)
        processing_s, wall_s, resources = run_ingest(spark_env, ["--drain"], settings)
        ingesting.detail = f"{events / processing_s:.0f} events/s"
    if args.drain_only:
        drained = {"events": events, "spark_events_per_s": round(events / processing_s, 1), "wall_s": round(wall_s, 1)}
        print(json.dumps(drained))
        return 0

    # 2. Plain consumer and raw ceiling, into identical tables.
    with progress.step(f"{PHASE} 3/6: plain consumer"):
        plain = fresh_keyspace(settings, f"bench_plain_{run}")
        cluster = cassandra_cluster(settings.cassandra)
        session = cluster.connect()
        plain_rows, plain_s = plain_consumer_load(
            settings.kafka, topic, events, session, f"{plain.cassandra.keyspace}.{TABLE}"
        )
        cluster.shutdown()
    with progress.step(f"{PHASE} 4/6: raw ceiling"):
        raw = fresh_keyspace(settings, f"bench_raw_{run}")
        raw_rows, raw_s = raw_ceiling_load(options, settings.cassandra, f"{raw.cassandra.keyspace}.{TABLE}")

    spark_rate = events / processing_s
    # 3. Latency at half the measured Spark rate, streaming with a 1 s trigger.
    rate = max(1, int(spark_rate / 2))
    lags = sorted(measure_latency(settings, lake_root / run, run, reference_dir, rate, args))

    result = {
        "events": events,
        "event_bytes_avg": loaded.bytes_sent / max(loaded.sent_total, 1),
        "spark_events_per_s": round(spark_rate, 1),
        "spark_wall_s_including_start": round(wall_s, 1),
        "plain_consumer_events_per_s": round(plain_rows / plain_s, 1),
        "raw_ceiling_events_per_s": round(raw_rows / raw_s, 1),
        "ratio_spark_to_plain": round(spark_rate / (plain_rows / plain_s), 2),
        "ratio_spark_to_raw_ceiling": round(spark_rate / (raw_rows / raw_s), 2),
        "trigger_s": TRIGGER_S,
        "latency_rate_events_per_s": rate,
        "latency_rows": len(lags),
        **{f"latency_{name}_s": value for name, value in percentiles(lags).items()},
        "driver_peak_rss_mb": resources.get("spark_ingest", {}).get("peak_rss_mb"),
        "resources": resources,
        "machine": {"cores": os.cpu_count()},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "ingest.md").write_text(summary(result))
    print(json.dumps(result, indent=2))
    return 0


def summary(result: dict[str, Any]) -> str:
    """The results as a short markdown page."""
    loaders = [
        ("Spark ingest (validation, quarantine, bronze, Cassandra)", result["spark_events_per_s"], 1.0),
        (
            "Plain consumer (confluent-kafka + cassandra-driver, async)",
            result["plain_consumer_events_per_s"],
            result["ratio_spark_to_plain"],
        ),
        (
            "Raw Cassandra ceiling (pre-parsed rows, no Kafka)",
            result["raw_ceiling_events_per_s"],
            result["ratio_spark_to_raw_ceiling"],
        ),
    ]
    cpu = ", ".join(f"{name} {usage['cpu_share_cores']}" for name, usage in result["resources"].items())
    lines = [
        "# Ingest benchmark",
        "",
        f"{result['events']} events (~{result['event_bytes_avg']:.0f} bytes each) already in Kafka, "
        f"{result['machine']['cores']} cores, measured {result['measured_at']}.",
        "",
        "| Loader | events/s | Spark ÷ loader |",
        "| --- | --- | --- |",
        *[f"| {name} | {rate} | {ratio} |" for name, rate, ratio in loaders],
        "",
        f"Latency at {result['latency_rate_events_per_s']} events/s with a {result['trigger_s']} s trigger "
        f"({result['latency_rows']} rows): p50 {result['latency_p50_s']} s, p95 {result['latency_p95_s']} s, "
        f"p99 {result['latency_p99_s']} s.",
        "",
        f"Spark driver peak RSS {result['driver_peak_rss_mb']} MiB. CPU share (cores busy): {cpu}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
