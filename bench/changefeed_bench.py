"""Change-feed benchmark: lag from a stored event to its critical event in Redis, and the cache loader's speed.

1. Lag: the simulator produces at a steady rate while the ingest (1 s trigger) and the change-feed job
   (its micro-batch interval) stream. A poller sees each critical event appear in Redis (every 50 ms);
   lag = that moment minus the Cassandra write time of the source event's row. p50/p95/p99.
2. Loader: N latest readings (one Redis key each) written by the Spark cache loader (whole Arrow batches
   per partition, ENTRIES_PER_CALL readings per EVALSHA of the newer-wins script, pipelined), in the same
   run as (a) `redis-benchmark -P 16` running that script with the same number of keys and arguments per
   call (its calls/s times the keys per call = keys/s) and (b) a plain Python loop over the same rows
   (update_latest per reading: the same script with one key per call, pipelined every 1000 readings).
   The loader and the loop are each timed after an untimed first run (the loader's first also starts the
   Python workers: reported apart), LOADER_RUNS times each, as redis-benchmark is run: medians, with every
   run's figure beside them (a single two-second load moved by ±10 % from run to run on 2 cores). Keys/s and
   the ratios; `--loader-only` runs this part alone and keeps the lag figures of their run.

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
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from statistics import median
from typing import Any

import redis
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bench.ingest_bench import RESULTS, bench_environment, fresh_keyspace, load_reference
from bench.resources import percentiles, write_results
from smartspaces import progress
from smartspaces.config import PROJECT_ROOT, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.session import spark_session
from smartspaces.stages.cache.latest_readings import READING_FIELDS, UPDATE_SCRIPT, update_args, update_latest
from smartspaces.stages.cache.loaders import cached_columns, load_latest_readings
from smartspaces.stages.cache.pipelining import ENTRIES_PER_CALL
from smartspaces.stages.simulator.producer import SimulationOptions, run_simulation
from transformations.redis_keys import DEVICE_LATEST

BENCH_REDIS_DB = 9
POLL_S = 0.05
# The loader part's own database (flushed between its measurements).
LOADER_REDIS_DB = 11
# redis-benchmark's pipeline depth, and its random key range: wide enough that every key is new, as the
# loader's are.
REDIS_BENCHMARK_PIPELINE = 16
REDIS_BENCHMARK_KEYSPACE = 1_000_000_000
# The plain Python loop's pipeline: one round trip per this many readings.
PLAIN_PIPELINE_ROWS = 1000
# Timed runs of each loader and of redis-benchmark: their medians are compared.
LOADER_RUNS = 5


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
    producer = SimulationOptions(
        count=int(rate * seconds),
        rate=rate,
        seed=7,
        buildings=2,
        topic=topic,
        now=datetime.now(UTC),
        reference_dir=reference_dir,
    )
    # The campus's reference drop first (with one event), so both jobs know every device.
    with progress.step("changefeed bench: reference drop"):
        run_simulation(replace(producer, count=1, rate=0.0), settings.kafka)
        load_reference(reference_dir, environment)
    watcher = CriticalEventWatcher(
        lag_settings.model_copy(update={"redis": settings.redis.model_copy(update={"db": BENCH_REDIS_DB})})
    )
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
    with progress.step("changefeed bench: the jobs start"):
        time.sleep(30)  # both JVMs started and idle before the first event
    with progress.step(f"changefeed bench: lag at {rate:g} events/s") as measuring:
        run_simulation(producer, settings.kafka)
        measuring.detail = "waiting for the jobs to end"
        logs = [job.communicate()[1] for job in jobs]
        watcher.stopping.set()
        watcher.join()
        measuring.detail = f"{len(watcher.first_seen)} critical events seen"
    for job, log in zip(jobs, logs, strict=True):
        if job.returncode != 0:
            raise RuntimeError(f"{job.args!r} failed:\n{log[-3000:]}")
    seen = list(watcher.first_seen.values())
    with progress.step(
        "changefeed bench: source write times", total=len(seen), unit="events", show_rate=False
    ) as looking_up:
        written = source_write_times(lag_settings, [event for _, event in seen])
        looking_up.update(len(seen))
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


def bench_readings(spark: SparkSession, keys: int) -> DataFrame:
    """One co2 reading per device, `keys` devices: one latest-readings key each."""
    return spark.range(keys).select(
        F.format_string("bench-device-%07d", "id").alias("device_id"),
        F.lit("bench-space").alias("space_id"),
        F.lit("co2").alias("metric"),
        (F.col("id") % 2000).cast("double").alias("value"),
        F.lit("ppm").alias("unit"),
        F.current_timestamp().alias("event_time"),
        F.expr("uuid()").alias("event_id"),
    )


def plain_python_load(client: redis.Redis, rows: list[dict[str, Any]], ttl_s: int) -> None:
    """The baseline a developer would write first: a loop over the rows, the same Lua script once per reading
    (update_latest, one key per EVALSHA), on a pipeline executed every PLAIN_PIPELINE_ROWS readings."""
    pipeline = client.pipeline(transaction=False)
    for number, row in enumerate(rows, 1):
        update_latest(pipeline, DEVICE_LATEST.format(device_id=row["device_id"]), row, ttl_s)
        if number % PLAIN_PIPELINE_ROWS == 0:
            pipeline.execute()
            pipeline = client.pipeline(transaction=False)
    pipeline.execute()


def redis_benchmark(settings: Settings, requests: int, command: list[str]) -> float:
    """Requests per second of `redis-benchmark -P 16` (50 clients, its default) running `command`."""
    benchmark = subprocess.run(
        [
            "redis-benchmark",
            "-h",
            settings.redis.host,
            "-p",
            str(settings.redis.port),
            "--dbnum",
            str(LOADER_REDIS_DB),
            "-n",
            str(requests),
            "-P",
            str(REDIS_BENCHMARK_PIPELINE),
            "-r",
            str(REDIS_BENCHMARK_KEYSPACE),
            "-q",
            "--csv",
            *command,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    # The last line is "<command>","<rps>",<6 latencies>; the command may hold commas, so split from the right.
    return float(benchmark.stdout.strip().splitlines()[-1].rsplit(",", 7)[1].strip('"'))


def scripted_benchmark_command(client: redis.Redis, reading: dict[str, Any], ttl_s: int) -> list[str]:
    """EVALSHA of the loader's own script with ENTRIES_PER_CALL random keys, each with `reading`'s arguments:
    the call the loader sends, with the same number of keys and arguments."""
    sha = client.script_load(UPDATE_SCRIPT.script)
    keys = [DEVICE_LATEST.format(device_id="bench-__rand_int__") for _ in range(ENTRIES_PER_CALL)]
    args = [str(arg) for arg in update_args(reading)] * ENTRIES_PER_CALL
    return ["EVALSHA", sha, str(ENTRIES_PER_CALL), *keys, str(ttl_s), *args]


def timed_load(client: redis.Redis, load: Callable[[], None], step: progress.Step | None = None) -> float:
    """Seconds the load took into the empty database (its keys stay for the caller to check)."""
    client.flushdb()
    started = time.monotonic()
    load()
    seconds = time.monotonic() - started
    if step is not None:
        step.advance()
    return seconds


def measure_loader(settings: Settings, keys: int) -> dict[str, Any]:
    """The Spark loader, the plain Python loop and redis-benchmark running the loader's script, in one run."""
    loader_redis = settings.redis.model_copy(update={"db": LOADER_REDIS_DB})
    client = redis_client(loader_redis)
    client.flushdb()
    with spark_session(settings, "smartspaces-bench-loader") as spark:
        readings = bench_readings(spark, keys).persist()
        readings.count()

        def load() -> None:
            load_latest_readings(readings, DEVICE_LATEST, "device_id", loader_redis, settings.cache, complete=False)

        # The first load also starts the Python workers and warms the JVM: reported apart, like the first
        # write of the PostgreSQL benchmark.
        with progress.step("changefeed bench: Spark cache loader, untimed first load", total=keys, unit="keys"):
            cold_s = timed_load(client, load)
        with progress.step("changefeed bench: Spark cache loader", total=LOADER_RUNS, unit="runs") as loading:
            loader_runs = [timed_load(client, load, loading) for _ in range(LOADER_RUNS)]
        # The same rows in the driver for the plain loop (a benchmark's input, not a job's: collected on purpose).
        rows = [row.asDict() for row in cached_columns(readings, READING_FIELDS).collect()]
        readings.unpersist()
    loader_written = client.dbsize()
    sample = [DEVICE_LATEST.format(device_id=row["device_id"]) for row in rows[:: max(len(rows) // 100, 1)]]
    loader_sample = [client.hgetall(key) for key in sample]
    with progress.step("changefeed bench: plain Python loop, untimed first run", total=len(rows), unit="keys"):
        plain = partial(plain_python_load, client, rows, settings.cache.latest_ttl_s)
        timed_load(client, plain)
    with progress.step("changefeed bench: plain Python loop", total=LOADER_RUNS, unit="runs") as looping:
        plain_runs = [timed_load(client, plain, looping) for _ in range(LOADER_RUNS)]
    plain_written = client.dbsize()
    if plain_written != loader_written or [client.hgetall(key) for key in sample] != loader_sample:
        raise RuntimeError("the loader and the plain Python loop left different keys")
    client.flushdb()
    script = scripted_benchmark_command(client, rows[0], settings.cache.latest_ttl_s)
    with progress.step(
        "changefeed bench: redis-benchmark, the loader's script", total=LOADER_RUNS, unit="runs"
    ) as scripted:
        script_runs = []
        for _ in range(LOADER_RUNS):
            script_runs.append(redis_benchmark(settings, max(keys // ENTRIES_PER_CALL, 1), script))
            scripted.advance()
    client.flushdb()
    with progress.step("changefeed bench: redis-benchmark, SETs"):
        sets_per_s = redis_benchmark(settings, keys, ["SET", "key:__rand_int__", "xxx"])
    client.flushdb()
    client.close()
    loader_s, plain_s, script_calls_per_s = median(loader_runs), median(plain_runs), median(script_runs)
    loader_keys_per_s = loader_written / loader_s
    plain_keys_per_s = plain_written / plain_s
    # Each scripted call updates ENTRIES_PER_CALL keys: calls/s x keys per call = keys/s, as the loaders count.
    script_keys_per_s = script_calls_per_s * ENTRIES_PER_CALL
    return {
        "loader_keys": loader_written,
        "loader_runs": LOADER_RUNS,
        "loader_seconds": round(loader_s, 3),
        "loader_seconds_each_run": [round(seconds, 3) for seconds in loader_runs],
        "loader_keys_per_s": round(loader_keys_per_s),
        "loader_cold_keys_per_s": round(loader_written / cold_s),
        "loader_keys_per_script_call": ENTRIES_PER_CALL,
        "plain_python_loader_seconds": round(plain_s, 3),
        "plain_python_loader_seconds_each_run": [round(seconds, 3) for seconds in plain_runs],
        "plain_python_loader_keys_per_s": round(plain_keys_per_s),
        "redis_benchmark_pipeline": REDIS_BENCHMARK_PIPELINE,
        "redis_benchmark_script_calls_per_s": round(script_calls_per_s),
        "redis_benchmark_script_calls_per_s_each_run": [round(calls) for calls in script_runs],
        "redis_benchmark_script_per_s": round(script_keys_per_s),
        "redis_benchmark_sets_per_s": round(sets_per_s),
        "loader_to_redis_benchmark_script": round(loader_keys_per_s / script_keys_per_s, 3),
        "loader_to_plain_python_loader": round(loader_keys_per_s / plain_keys_per_s, 3),
        "loader_to_redis_benchmark_sets": round(loader_keys_per_s / sets_per_s, 3),
    }


def lag_summary(result: dict[str, Any]) -> str:
    return (
        f"Lag from a source event's Cassandra write to its critical event in Redis, producing "
        f"{result['lag_rate_events_per_s']} events/s for {result['lag_seconds_produced']} s, change-feed "
        f"interval {result['changefeed_interval_s']} s ({result['critical_events_seen']} critical events): "
        f"p50 {result['lag_p50_s']} s, p95 {result['lag_p95_s']} s, p99 {result['lag_p99_s']} s; "
        f"{result['changefeed_batches']} micro-batches of {result['changefeed_batch_mean_s']} s on average"
        f" (run {result.get('lag_run', result['run'])})."
    )


def loader_summary(result: dict[str, Any]) -> str:
    return (
        f"Cache loader (latest readings, one key each, {result['loader_keys_per_script_call']} keys per script "
        f"call): {result['loader_keys']} keys in {result['loader_seconds']} s = {result['loader_keys_per_s']} "
        f"keys/s (its first load, which also starts the Python workers: {result['loader_cold_keys_per_s']} keys/s; "
        f"each load and loop is timed after an untimed first run; medians of {result['loader_runs']} runs of each, "
        f"as of redis-benchmark's).\n\n"
        f"- redis-benchmark -P {result['redis_benchmark_pipeline']} running the same script with the same keys "
        f"and arguments per call: {result['redis_benchmark_script_calls_per_s']} calls/s x "
        f"{result['loader_keys_per_script_call']} keys = {result['redis_benchmark_script_per_s']} keys/s; "
        f"loader ratio {result['loader_to_redis_benchmark_script']} (target >= 0.5).\n"
        f"- Plain Python loop (update_latest per reading, one key per call, pipelined): "
        f"{result['plain_python_loader_keys_per_s']} keys/s; loader ratio "
        f"{result['loader_to_plain_python_loader']} (target >= 1.0).\n"
        f"- redis-benchmark -P {result['redis_benchmark_pipeline']} SETs: {result['redis_benchmark_sets_per_s']}/s; "
        f"loader ratio {result['loader_to_redis_benchmark_sets']}."
    )


def summary(result: dict[str, Any]) -> str:
    heading = ["# Change-feed benchmark", "", f"Run {result['run']} on {result['cores']} cores.", ""]
    return "\n".join([*heading, lag_summary(result), "", loader_summary(result), ""])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=300.0, help="events/s produced while measuring the lag")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to produce")
    parser.add_argument("--interval-s", type=float, default=1.0, help="the change feed's micro-batch interval")
    parser.add_argument("--loader-keys", type=int, default=200_000)
    parser.add_argument(
        "--loader-only", action="store_true", help="measure the loader alone; the lag figures stay those of their run"
    )
    args = parser.parse_args(argv)
    settings = load_settings("local")
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    result: dict[str, Any] = {"run": run, "cores": os.cpu_count()}
    result.update(measure_loader(settings, args.loader_keys))
    if args.loader_only:
        previous = json.loads((RESULTS / "changefeed.json").read_text())
        lag = {name: value for name, value in previous.items() if name.startswith(("lag_", "changefeed_"))}
        result.update({**lag, "critical_events_seen": previous["critical_events_seen"]})
        result.setdefault("lag_run", previous["run"])
    else:
        result.update(measure_lag(settings, run, args.rate, args.seconds, args.interval_s))
        result["lag_run"] = run
    write_results(RESULTS, "changefeed", result, summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
