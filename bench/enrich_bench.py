"""The enrichment benchmark: a small and a large event set enriched end to end, its read floor, PostgreSQL writes.

For each size: events are loaded straight into a fresh keyspace (bench.event_loader, not timed), the
campus's reference drop is merged into a fresh lake, then `jobs.enrich` runs as its own process over the
loaded days, writing into a throwaway PostgreSQL database; its wall time and the peak RSS of its Spark
driver JVM are measured. bench.read_floor, also its own process, reads the same window's events from
Cassandra as the job does and nothing else: the floor of the job (target: enrichment ≤ 1.5 times the floor at
the large size). The job and the floor alternate --rounds times, each first in every other round, and the
size's times are the medians of its runs (each run and each round's ratio listed too): the machine moves the
floor by tens of seconds from one run to the next. The scaling ratio is large time / small time (no worse than
linear: ≤ size ratio), the RSS ratio large / small of the highest peaks (target ≤ 1.1: the driver's memory
does not grow with events). Then bench.postgres_write_bench times the store's COPY writer against one
process's binary COPY of the same rows (target ≥ 0.7), and Spark's JDBC writer beside them. Writes
bench/results/enrich.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from bench.ingest_bench import RESULTS, load_reference
from bench.postgres_write_bench import COPY_PATH, JDBC_PATH, STORE_PATH
from bench.resources import ResourceSampler
from smartspaces import progress
from smartspaces.bootstrap.postgres import apply_postgres
from smartspaces.config import PROJECT_ROOT, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.postgres import connect
from smartspaces.stack.process import descendants

WORK = PROJECT_ROOT / ".local-stack" / "bench" / "enrich"


def java_descendant(pid: int, timeout_s: float = 120) -> int | None:
    """The Spark driver JVM below the job's Python process, once it has started."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in descendants(pid):
            try:
                # The JVM that runs SparkSubmit, not the short-lived launcher before it.
                if b"org.apache.spark.deploy.SparkSubmit" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return child
            except OSError:
                continue
        time.sleep(0.2)
    return None


def throwaway_database(settings: Settings, name: str) -> Settings:
    """A new PostgreSQL database with the migrations applied: the bench never touches the real reporting data."""
    with connect(settings.postgres, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    bench = settings.model_copy(update={"postgres": settings.postgres.model_copy(update={"database": name})})
    apply_postgres(bench.postgres)
    return bench


def drop_database(settings: Settings, name: str) -> None:
    with connect(settings.postgres, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_keyspace(settings: Settings, keyspace: str) -> None:
    with cassandra_cluster(settings.cassandra) as cluster, cluster.connect() as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)


def run_job(module: str, args: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs a module as its own process, relaying its progress lines; its output is in the result."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **environment, **progress.child_environment()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[str] = []
    relaying = threading.Thread(target=progress.relay_lines, args=(process.stderr, errors), daemon=True)
    relaying.start()
    assert process.stdout is not None
    output = process.stdout.read()
    process.wait()
    relaying.join()
    result = subprocess.CompletedProcess(process.args, process.returncode, output, "".join(errors))
    if result.returncode != 0:
        raise RuntimeError(
            f"{module} {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def enrich_size(
    settings: Settings, events: int, days: int, buildings: int, run: str, database: str, rounds: int
) -> dict[str, Any]:
    """Loads `events` events, merges the reference drop, then times the enrichment of the loaded days and its floor
    in `rounds` alternated rounds; the size's figures are the medians, each run listed beside them."""
    label = f"{events // 1000}k"
    keyspace = f"bench_enrich_{label}_{run}"
    folder = WORK / run / label
    environment = {
        "SMARTSPACES__CASSANDRA__KEYSPACE": keyspace,
        "SMARTSPACES__LAKE__ROOT": str(folder / "lake"),
        "SMARTSPACES__POSTGRES__DATABASE": database,
        "SMARTSPACES__ENRICHMENT__QUALITY__DATA_DOCS_DIR": str(folder / "data-docs"),
    }
    reference_dir = folder / "reference"
    with progress.step(f"enrich bench: load {label} events"):
        load = run_job(
            "bench.event_loader",
            [
                "--events",
                str(events),
                "--days",
                str(days),
                "--buildings",
                str(buildings),
                "--keyspace",
                keyspace,
                "--reference-dir",
                str(reference_dir),
            ],
            {},
        )
        loaded = json.loads(load.stdout[load.stdout.index("{") :])
        # The registry is valid from before the events: each device's first version reaches back.
        load_reference(reference_dir, environment)
    zone = ZoneInfo(settings.enrichment.time_zone)
    today = datetime.now(UTC).astimezone(zone).date()
    window = ["--date", str(today - timedelta(days=days)), "--to", str(today - timedelta(days=1))]
    jobs: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    try:
        for round_number in range(1, rounds + 1):
            # Each goes first in every other round: neither always runs on the machine the other has warmed
            # (Cassandra's caches, the page cache) or always after the other's load on it.
            job_first = round_number % 2 == 1
            for is_job in (job_first, not job_first):
                step = f"enrich bench: {'enrich' if is_job else 'read floor of'} {label} events, round {round_number}"
                with progress.step(step):
                    if is_job:
                        jobs.append(timed_enrichment(window, environment))
                    else:
                        floors.append(timed_floor(window, environment))
    finally:
        drop_keyspace(settings, keyspace)
    seconds = median(job["seconds"] for job in jobs)
    floor_s = median(floor["read_floor_s"] for floor in floors)
    return {
        "events": events,
        "load": loaded,
        "window": window,
        "rounds": rounds,
        "exit_code": max(job["exit_code"] for job in jobs),
        "seconds": round(seconds, 1),
        "events_per_s": round(events / seconds),
        # The floor process's wall time, and within it the read alone (after the session and the registry).
        "read_floor_s": round(floor_s, 1),
        "read_floor_read_s": median(floor["read_floor_read_s"] for floor in floors),
        "read_floor_rows": floors[0]["read_floor_rows"],
        "runs_s": [job["seconds"] for job in jobs],
        "read_floor_runs_s": [floor["read_floor_s"] for floor in floors],
        # Each round's own ratio, in the order the rounds ran.
        "round_ratios": [
            round(job["seconds"] / floor["read_floor_s"], 2) for job, floor in zip(jobs, floors, strict=True)
        ],
        # The run whose driver peaked highest: the memory targets are judged on the worst run, not a median.
        "resources": max(jobs, key=lambda job: peak_rss(job, "spark_driver_jvm") or 0.0)["resources"],
        "job_summary": jobs[-1]["summary"],
    }


def timed_enrichment(window: list[str], environment: dict[str, str]) -> dict[str, Any]:
    """One run of jobs.enrich as its own process: its wall time, exit code, the peak RSS and CPU of its Spark
    driver JVM (alone, with the job's Python process, with the Python workers), the lines of its summary."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs.enrich", *window],
        cwd=PROJECT_ROOT,
        env={**os.environ, **environment, **progress.child_environment()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    driver = java_descendant(process.pid)
    # The driver JVM alone, and with the job's Python process: what a driver pod holds (the Python
    # workers the JVM starts belong to the executor, in a pod of their own on Kubernetes).
    alone = {"spark_driver_jvm": (driver,), "driver_jvm_and_python": (driver, process.pid)} if driver else {}
    trees = {"enrich_process_tree": process.pid, **({"spark_driver_jvm_tree": driver} if driver else {})}
    with ResourceSampler(trees, alone=alone) as sampler:
        lines: list[str] = []
        assert process.stdout is not None
        progress.relay_lines(process.stdout, lines)
        process.wait()
        output = "".join(lines)
    seconds = time.monotonic() - started
    if process.returncode not in (0, 3):
        raise RuntimeError(f"enrich failed ({process.returncode}):\n{output[-4000:]}")
    summary = [
        line for line in output.splitlines() if line.startswith(("enrichment run", "data quality", "fact_", "dim_"))
    ]
    return {
        "seconds": round(seconds, 1),
        "exit_code": process.returncode,
        "resources": sampler.report(),
        "summary": summary,
    }


def timed_floor(window: list[str], environment: dict[str, str]) -> dict[str, Any]:
    """One run of bench.read_floor as its own process: its wall time, and within it the read's and the rows."""
    started = time.monotonic()
    output = run_job("bench.read_floor", window, environment).stdout
    seconds = time.monotonic() - started
    floor = json.loads(output[output.index("{") :])
    return {"read_floor_s": round(seconds, 1), "read_floor_read_s": floor["read_s"], "read_floor_rows": floor["rows"]}


def store_against_copy(rows: int, database: str) -> dict[str, Any]:
    out = WORK / f"postgres-{uuid.uuid4().hex[:8]}.json"
    with progress.step("enrich bench: the store's writer against COPY"):
        run_job(
            "bench.postgres_write_bench",
            ["--rows", str(rows), "--repeat", "2", "--json", str(out)],
            {"SMARTSPACES__POSTGRES__DATABASE": database},
        )
    return dict(json.loads(out.read_text()))


def peak_rss(size: dict[str, Any], processes: str) -> float | None:
    peak = size["resources"].get(processes, {}).get("peak_rss_mb")
    return float(peak) if peak is not None else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7, help="local days of events, ending yesterday")
    parser.add_argument("--buildings", type=int, default=10)
    parser.add_argument("--pg-rows", type=int, default=300_000, help="rows of the PostgreSQL write comparison")
    parser.add_argument("--rounds", type=int, default=3, help="job and floor runs per size, alternated")
    args = parser.parse_args(argv)
    settings = load_settings("local")
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    database = f"bench_enrich_{run}"
    WORK.mkdir(parents=True, exist_ok=True)
    throwaway_database(settings, database)
    try:
        small = enrich_size(settings, args.small, args.days, args.buildings, run, database, args.rounds)
        print(json.dumps(small, indent=2), flush=True)
        large = enrich_size(settings, args.large, args.days, args.buildings, run, database, args.rounds)
        postgres = store_against_copy(args.pg_rows, database)
    finally:
        drop_database(settings, database)
    driver_rss = peak_rss(large, "spark_driver_jvm")
    small_rss = peak_rss(small, "spark_driver_jvm")
    result = {
        "run": run,
        "events_small": args.small,
        "events_large": args.large,
        "seconds_small": small["seconds"],
        "seconds_large": large["seconds"],
        "scaling_ratio": round(large["seconds"] / small["seconds"], 2),
        "size_ratio": round(args.large / args.small, 2),
        "read_floor_s_small": small["read_floor_s"],
        "read_floor_s_large": large["read_floor_s"],
        "large_to_read_floor": round(large["seconds"] / large["read_floor_s"], 2),
        "rounds": args.rounds,
        "large_to_read_floor_rounds": large["round_ratios"],
        # The driver JVM alone (the manifest's driver heap and overhead are for it); beside it the job's Python
        # process, and the JVM with the Python workers it starts (executor work, done in-process locally).
        "driver_peak_rss_mb": driver_rss,
        "driver_peak_rss_mb_small": small_rss,
        "rss_ratio": round(driver_rss / small_rss, 2) if driver_rss and small_rss else None,
        "driver_jvm_and_python_peak_rss_mb": peak_rss(large, "driver_jvm_and_python"),
        "driver_jvm_with_python_workers_peak_rss_mb": peak_rss(large, "spark_driver_jvm_tree"),
        "store_write_rows_per_s": postgres["rows_per_s"][STORE_PATH],
        "copy_rows_per_s": postgres["rows_per_s"][COPY_PATH],
        "store_to_copy": postgres["store_to_copy"],
        "jdbc_rows_per_s": postgres["rows_per_s"][JDBC_PATH],
        "jdbc_to_copy": postgres["jdbc_to_copy"],
        "small": small,
        "large": large,
        "postgres": postgres,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    # Paths in the jobs' output are the checkout's: the results name them from the project's root.
    text = json.dumps(result, indent=2).replace(f"{PROJECT_ROOT}/", "")
    (RESULTS / "enrich.json").write_text(text + "\n")
    print(
        json.dumps({key: value for key, value in result.items() if key not in ("small", "large", "postgres")}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
