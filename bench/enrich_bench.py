"""The enrichment benchmark: a small and a large event set enriched end to end, and PostgreSQL write paths.

For each size: events are loaded straight into a fresh keyspace (bench.event_loader, not timed), the
campus's reference drop is merged into a fresh lake, then `jobs.enrich` runs as its own process over the
loaded days, writing into a throwaway PostgreSQL database; its wall time and the peak RSS of its Spark
driver JVM are measured. The scaling ratio is large time / small time (no worse than linear: ≤ size ratio).
Then bench.postgres_write_bench times the store's JDBC staging path against psycopg COPY of the same rows.
Writes bench/results/enrich.json and enrich.md.
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
from typing import Any
from zoneinfo import ZoneInfo

from bench.ingest_bench import RESULTS, load_reference
from bench.postgres_write_bench import COPY_PATH, STORE_PATH
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


def enrich_size(settings: Settings, events: int, days: int, buildings: int, run: str, database: str) -> dict[str, Any]:
    """Loads `events` events, merges the reference drop, and times one enrichment of the loaded days."""
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
    with progress.step(f"enrich bench: enrich {label} events"):
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
        processes = {"enrich_process_tree": process.pid, **({"spark_driver_jvm": driver} if driver else {})}
        try:
            with ResourceSampler(processes) as sampler:
                lines: list[str] = []
                assert process.stdout is not None
                progress.relay_lines(process.stdout, lines)
                process.wait()
                output = "".join(lines)
        finally:
            drop_keyspace(settings, keyspace)
        seconds = time.monotonic() - started
    if process.returncode not in (0, 3):
        raise RuntimeError(f"enrich failed ({process.returncode}):\n{output[-4000:]}")
    summary = [
        line for line in output.splitlines() if line.startswith(("enrichment run", "data quality", "fact_", "dim_"))
    ]
    return {
        "events": events,
        "load": loaded,
        "window": window,
        "exit_code": process.returncode,
        "seconds": round(seconds, 1),
        "events_per_s": round(events / seconds),
        "resources": sampler.report(),
        "job_summary": summary,
    }


def jdbc_against_copy(rows: int, database: str) -> dict[str, Any]:
    out = WORK / f"postgres-{uuid.uuid4().hex[:8]}.json"
    with progress.step("enrich bench: JDBC against COPY"):
        run_job(
            "bench.postgres_write_bench",
            ["--rows", str(rows), "--repeat", "2", "--json", str(out)],
            {"SMARTSPACES__POSTGRES__DATABASE": database},
        )
    return dict(json.loads(out.read_text()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7, help="local days of events, ending yesterday")
    parser.add_argument("--buildings", type=int, default=10)
    parser.add_argument("--pg-rows", type=int, default=300_000, help="rows of the JDBC against COPY comparison")
    args = parser.parse_args(argv)
    settings = load_settings("local")
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    database = f"bench_enrich_{run}"
    WORK.mkdir(parents=True, exist_ok=True)
    throwaway_database(settings, database)
    try:
        small = enrich_size(settings, args.small, args.days, args.buildings, run, database)
        print(json.dumps(small, indent=2), flush=True)
        large = enrich_size(settings, args.large, args.days, args.buildings, run, database)
        postgres = jdbc_against_copy(args.pg_rows, database)
    finally:
        drop_database(settings, database)
    driver_rss = large["resources"].get("spark_driver_jvm", {}).get("peak_rss_mb")
    result = {
        "run": run,
        "events_small": args.small,
        "events_large": args.large,
        "seconds_small": small["seconds"],
        "seconds_large": large["seconds"],
        "scaling_ratio": round(large["seconds"] / small["seconds"], 2),
        "size_ratio": round(args.large / args.small, 2),
        "driver_peak_rss_mb": driver_rss,
        "jdbc_rows_per_s": postgres["rows_per_s"][STORE_PATH],
        "copy_rows_per_s": postgres["rows_per_s"][COPY_PATH],
        "jdbc_to_copy": postgres["jdbc_to_copy"],
        "small": small,
        "large": large,
        "postgres": postgres,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "enrich.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps({key: value for key, value in result.items() if key not in ("small", "large", "postgres")}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
