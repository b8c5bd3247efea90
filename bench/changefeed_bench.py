"""Change-feed benchmark: lag from a stored event to its critical event in Redis, and the cache loader's speed.

1. Lag: the simulator produces at a steady rate while the ingest (1 s trigger) and the change-feed job
   (its micro-batch interval) stream. A poller sees each critical event appear in Redis (every 50 ms);
   lag = that moment minus the Cassandra write time of the source event's row. p50/p95/p99.
2. Loader: N latest readings (one Redis key each) written by the Spark cache loader (Lua newer-wins
   updates, pipelined per partition), against `redis-benchmark` pipelined SETs on the same server, in the
   same run: keys/s and their ratio.

Writes bench/results/changefeed.json and changefeed.md. Run with `make bench-changefeed`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import functions as F

from bench.ingest_bench import RESULTS, bench_environment, fresh_keyspace, load_reference
from bench.resources import percentiles
from smartspaces.cache.loaders import load_latest_readings
from smartspaces.config import PROJECT_ROOT, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.session import spark_session
from smartspaces.simulator.producer import SimulationOptions, run_simulation
from transformations.redis_keys import DEVICE_LATEST

BENCH_REDIS_DB = 9
POLL_S = 0.05


class CriticalEventWatcher(threading.Thread):
    """Polls Redis for critical events and records when each first appears (wall clock, seconds)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.client = redis_client(settings.redis)
        self.first_seen: dict[str, tuple[float, dict[str, Any]]] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            now = time.time()
            keys = list(self.client.scan_iter(match="smartspaces:v1:space:*:critical:events", count=1000))
            pipeline = self.client.pipeline(transaction=False)
            for key in keys:
                pipeline.hgetall(key)
            for events in pipeline.execute():
                for critical_id, body in events.items():
                    if critical_id not in self.first_seen:
                        self.first_seen[critical_id] = (now, json.loads(body))
            self.stopping.wait(POLL_S)


def source_write_times(settings: Settings, events: list[dict[str, Any]]) -> list[float | None]:
    """The Cassandra write time (seconds) of each critical event's source event row."""
    cluster = cassandra_cluster(settings.cassandra)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        select = session.prepare(
            "SELECT writetime(event_type) AS written FROM events_by_device_day "
            "WHERE device_id = ? AND day = ? AND event_time = ? AND event_id = ?"
        )
        times: list[float | None] = []
        for event in events:
            event_time = datetime.fromisoformat(event["event_time"])
            row = session.execute(
                select, (event["device_id"], event_time.date(), event_time, uuid.UUID(event["source_event_id"]))
            ).one()
            times.append(row.written / 1e6 if row else None)
        return times
    finally:
        cluster.shutdown()


def measure_lag(settings: Settings, run: str, rate: float, seconds: float, interval_s: float) -> dict[str, Any]:
    keyspace, topic = f"bench_feed_{run}", f"bench.feed_{run}"
    lag_settings = fresh_keyspace(settings, keyspace)
    lake_root = Path(settings.stack.data_dir if settings.stack else "/tmp") / "bench"
    environment = {
        **bench_environment("changefeed", lake_root / run, keyspace, topic),
        "SMARTSPACES__INGEST__TRIGGER_INTERVAL_S": "1",
        "SMARTSPACES__CHANGEFEED__INTERVAL_S": str(interval_s),
        "SMARTSPACES__REDIS__DB": str(BENCH_REDIS_DB),
    }
    reference_dir = lake_root / run / "reference"
    producer = SimulationOptions(count=int(rate * seconds), rate=rate, seed=7, buildings=2, topic=topic,
                                 now=datetime.now(UTC), reference_dir=reference_dir)  # fmt: skip
    # The campus's reference drop first (with one event), so both jobs know every device.
    run_simulation(replace(producer, count=1, rate=0.0), settings.kafka)
    load_reference(reference_dir, environment)
    watcher = CriticalEventWatcher(lag_settings.model_copy(
        update={"redis": settings.redis.model_copy(update={"db": BENCH_REDIS_DB})}))  # fmt: skip
    watcher.client.flushdb()
    watcher.start()
    jobs = [
        subprocess.Popen(
            [sys.executable, "-m", f"jobs.{job}", "--run-for-s", str(seconds + 90)],
            cwd=PROJECT_ROOT,
            env={**os.environ, **environment},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for job in ("ingest", "changefeed")
    ]
    time.sleep(30)  # both JVMs started and idle before the first event
    run_simulation(producer, settings.kafka)
    logs = [job.communicate()[1] for job in jobs]
    watcher.stopping.set()
    watcher.join()
    for job, log in zip(jobs, logs, strict=True):
        if job.returncode != 0:
            raise RuntimeError(f"{job.args!r} failed:\n{log[-3000:]}")
    seen = list(watcher.first_seen.values())
    written = source_write_times(lag_settings, [event for _, event in seen])
    lags = sorted(appeared - source for (appeared, _), source in zip(seen, written, strict=True) if source)
    batch_seconds = [float(s) for s in re.findall(r'"event": "changefeed_batch".*?"seconds": ([0-9.]+)', logs[1])]
    return {
        "lag_rate_events_per_s": rate,
        "lag_seconds_produced": seconds,
        "changefeed_interval_s": interval_s,
        "critical_events_seen": len(lags),
        **{f"lag_{name}_s": value for name, value in percentiles(lags).items()},
        "changefeed_batches": len(batch_seconds),
        "changefeed_batch_mean_s": round(sum(batch_seconds) / max(len(batch_seconds), 1), 3),
    }


def measure_loader(settings: Settings, keys: int) -> dict[str, Any]:
    bench_redis = settings.redis.model_copy(update={"db": BENCH_REDIS_DB})
    client = redis_client(bench_redis)
    client.flushdb()
    with spark_session(settings, "smartspaces-bench-loader") as spark:
        readings = (
            spark.range(keys)
            .select(
                F.format_string("bench-device-%07d", "id").alias("device_id"),
                F.lit("bench-space").alias("space_id"),
                F.lit("co2").alias("metric"),
                (F.col("id") % 2000).cast("double").alias("value"),
                F.lit("ppm").alias("unit"),
                F.current_timestamp().alias("event_time"),
                F.expr("uuid()").alias("event_id"),
            )
            .persist()
        )
        readings.count()
        started = time.monotonic()
        load_latest_readings(readings, DEVICE_LATEST, "device_id", bench_redis, settings.cache, complete=False)
        loader_s = time.monotonic() - started
        readings.unpersist()
    written = client.dbsize()
    client.flushdb()
    benchmark = subprocess.run(
        ["redis-benchmark", "-h", settings.redis.host, "-p", str(settings.redis.port), "--dbnum", str(BENCH_REDIS_DB),
         "-t", "set", "-n", str(keys), "-P", "64", "-r", str(keys), "-q", "--csv"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    client.flushdb()
    sets_per_s = float(benchmark.stdout.strip().splitlines()[-1].split(",")[1].strip('"'))
    loader_keys_per_s = written / loader_s
    return {
        "loader_keys": written,
        "loader_seconds": round(loader_s, 3),
        "loader_keys_per_s": round(loader_keys_per_s),
        "redis_benchmark_sets_per_s": round(sets_per_s),
        "loader_ratio": round(loader_keys_per_s / sets_per_s, 3),
    }


def summary(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            "# Change-feed benchmark",
            "",
            f"Run {result['run']} on {result['cores']} cores.",
            "",
            f"Lag from a source event's Cassandra write to its critical event in Redis, producing "
            f"{result['lag_rate_events_per_s']} events/s for {result['lag_seconds_produced']} s, change-feed "
            f"interval {result['changefeed_interval_s']} s ({result['critical_events_seen']} critical events): "
            f"p50 {result['lag_p50_s']} s, p95 {result['lag_p95_s']} s, p99 {result['lag_p99_s']} s; "
            f"{result['changefeed_batches']} micro-batches of {result['changefeed_batch_mean_s']} s on average.",
            "",
            f"Cache loader: {result['loader_keys']} keys in {result['loader_seconds']} s = "
            f"{result['loader_keys_per_s']} keys/s; redis-benchmark pipelined SETs: "
            f"{result['redis_benchmark_sets_per_s']}/s; ratio {result['loader_ratio']} (target >= 0.5).",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=300.0, help="events/s produced while measuring the lag")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to produce")
    parser.add_argument("--interval-s", type=float, default=1.0, help="the change feed's micro-batch interval")
    parser.add_argument("--loader-keys", type=int, default=200_000)
    args = parser.parse_args(argv)
    settings = load_settings("local")
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    result: dict[str, Any] = {"run": run, "cores": os.cpu_count()}
    result.update(measure_loader(settings, args.loader_keys))
    result.update(measure_lag(settings, run, args.rate, args.seconds, args.interval_s))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "changefeed.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "changefeed.md").write_text(summary(result))
    print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
