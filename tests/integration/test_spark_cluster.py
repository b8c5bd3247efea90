"""The same jobs on a Spark standalone cluster (a master, two workers, executors in JVMs of their own) store
exactly what they store in local mode, from the same messages."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from pyspark.sql import SparkSession

from smartspaces.bootstrap.cassandra import apply_cassandra
from smartspaces.config import PostgresSettings, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.stack import spark_cluster
from smartspaces.stack.process import descendants
from tests.integration.cluster_driver import SEPARATOR
from tests.integration.ingest_fixtures import (
    drop_keyspace,
    migrated_tables,
    wait_until_spark_sees,
)
from tests.integration.reporting_fixtures import REPORTING_TABLES, snapshot

# Runs jobs given as [module, arguments...], in order.
JobsRunner = Callable[[list[list[str]]], None]
# Redis databases of the two runs, used by no other test.
LOCAL_REDIS_DB, CLUSTER_REDIS_DB = 10, 11
# Tables of the jobs' own bookkeeping, named after the run (the ingest query's id writes the change log and its
# commits; the change feed's lease and checkpoints name the process), not results.
BOOKKEEPING_TABLES = frozenset({"change_log", "change_log_commits", "change_feed_checkpoints", "schema_migrations"})
# Columns of the moment of processing (when a rule fired, when an hour last received an event), which differ
# between any two runs; every other column is compared.
PROCESSING_TIMES = frozenset({"detected_at", "last_received", "updated_at"})


def cassandra_content(settings: Settings) -> dict[str, list[tuple[tuple[str, Any], ...]]]:
    """Every row of every result table of the keyspace, as sorted (column, value) pairs, processing times left out."""
    cluster = cassandra_cluster(settings.cassandra)
    try:
        session = cluster.connect()
        keyspace = settings.cassandra.keyspace
        tables = [
            row.table_name
            for row in session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,)
            )
            if row.table_name not in BOOKKEEPING_TABLES
        ]
        return {
            table: sorted(
                tuple((name, value) for name, value in row._asdict().items() if name not in PROCESSING_TIMES)
                for row in session.execute(f"SELECT * FROM {keyspace}.{table}", timeout=60)
            )
            for table in tables
        }
    finally:
        cluster.shutdown()


def reporting_content(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """The reporting schema's rows, processing times left out, measures to 12 significant digits: the last bits
    of a sum or an average depend on the order in which Spark adds the terms, which no two runs share."""
    content = snapshot(settings.postgres)
    kept = {
        table.name: [index for index, name in enumerate(table.schema.fieldNames()) if name not in PROCESSING_TIMES]
        for table in REPORTING_TABLES
    }
    return {
        name: [tuple(significant(row[index]) for index in kept[name]) for row in rows] for name, rows in content.items()
    }


def significant(value: Any) -> Any:
    return float(f"{value:.12g}") if isinstance(value, float) else value


@pytest.fixture(scope="module")
def cluster_master(running_stack: Settings) -> Iterator[str]:
    """The cluster of `smartspaces cluster up`, stopped at the end if this module started it."""
    was_running = all(server.state == "running" for server in spark_cluster.status(running_stack))
    spark_cluster.up(running_stack)
    yield spark_cluster.master_url(running_stack)
    if not was_running:
        spark_cluster.down(running_stack)


def jobs_in_one_driver_process(environment: dict[str, str]) -> JobsRunner:
    """Runs the jobs in a Python process of their own, as spark-submit's driver: it starts the session."""

    def run(jobs: list[list[str]]) -> None:
        arguments = [argument for job in jobs for argument in (*job, SEPARATOR)]
        finished = subprocess.run(
            [sys.executable, "-m", "tests.integration.cluster_driver", *arguments],
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert finished.returncode == 0, f"{jobs} failed:\n{finished.stderr[-4000:]}"

    return run


def jobs_in_this_process(jobs: list[list[str]]) -> None:
    """Runs the jobs' mains in the suite's process: they use the suite's local[2] session."""
    for module, *arguments in jobs:
        assert importlib.import_module(module).main(arguments) == 0, f"{module} {arguments}"


def redis_content(client: redis.Redis) -> dict[str, Any]:
    """Every key with its value, whatever its type (TTLs left out: they count down from each run's write)."""
    readers: dict[str, Callable[[str], Any]] = {
        "string": client.get,
        "hash": client.hgetall,
        "list": lambda key: client.lrange(key, 0, -1),
        "set": lambda key: sorted(client.smembers(key)),
        "zset": lambda key: client.zrange(key, 0, -1, withscores=True),
    }
    keys: list[str] = sorted(client.scan_iter(count=1000))
    return {key: readers[str(client.type(key))](key) for key in keys}


class PipelineRun:
    """One run of reference → ingest → change feed → enrichment, with a keyspace, lake and Redis database of its own."""

    def __init__(self, overrides: dict[str, str], redis_db: int, topic: str, lake: Path, database: str) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.overrides = {
            **overrides,
            "SMARTSPACES__POSTGRES__DATABASE": database,
            "SMARTSPACES__CASSANDRA__KEYSPACE": f"test_cluster_{suffix}",
            "SMARTSPACES__INGEST__TOPIC": topic,
            "SMARTSPACES__LAKE__ROOT": str(lake),
            "SMARTSPACES__REDIS__DB": str(redis_db),
        }
        self.settings = load_settings("local", environ={**os.environ, **self.overrides})
        self.redis = redis_client(self.settings.redis)

    def __enter__(self) -> PipelineRun:
        self.redis.flushdb()
        apply_cassandra(self.settings.cassandra)
        return self

    def __exit__(self, *_: object) -> None:
        drop_keyspace(self.settings)
        self.redis.flushdb()
        self.redis.close()

    def run(self, jobs: JobsRunner, drop: Path, effective_at: datetime, window: list[str]) -> dict[str, Any]:
        """Runs the pipeline; returns what it stored in Cassandra and Redis, and the reporting schema's content."""
        jobs(
            [
                ["jobs.reference", "--drop", str(drop), "--effective-at", effective_at.isoformat()],
                ["jobs.ingest", "--drain"],
                ["jobs.changefeed", "--once"],
                ["jobs.enrich", *window],
            ]
        )
        return {
            "cassandra": cassandra_content(self.settings),
            "redis": redis_content(self.redis),
            "postgres": reporting_content(self.settings),
        }


def test_the_cluster_runs_a_master_and_two_workers_each_in_a_jvm_of_its_own(
    cluster_master: str, running_stack: Settings
) -> None:
    report = spark_cluster.status(running_stack)
    assert [(server.name, server.state) for server in report] == [
        ("spark-master", "running"),
        ("spark-worker-1", "running"),
        ("spark-worker-2", "running"),
    ]
    pids = {server.pid for server in report}
    assert len(pids) == 3
    assert not pids & {child for pid in pids if pid for child in descendants(pid)}, "a daemon started another"
    assert report[0].answer.startswith("Spark master, 2 worker(s) alive")
    assert cluster_master == "spark://127.0.0.1:7077"


def test_the_pipeline_on_the_cluster_stores_exactly_what_local_mode_stores_from_the_same_messages(
    cluster_master: str,
    running_stack: Settings,
    reporting_pg: PostgresSettings,
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = f"test.cluster_{uuid.uuid4().hex[:8]}"
    drop, summary = tmp_path / "drop", tmp_path / "sent.json"
    jobs_in_this_process(
        [
            [
                "jobs.simulate",
                *("--topic", topic, "--count", "1000", "--seed", "17", "--span-minutes", "90"),
                *("--bad-fraction", "0.002", "--duplicate-fraction", "0.01", "--late-fraction", "0.01"),
                *("--forced-door-fraction", "0.01", "--reference-dir", str(drop), "--summary-out", str(summary)),
            ]
        ]
    )
    # One window and one effective moment for both runs, so that nothing depends on when each ran.
    effective_at = datetime.now(UTC) - timedelta(days=1)
    today = datetime.now(ZoneInfo(running_stack.enrichment.time_zone)).date()
    window = ["--date", str(today - timedelta(days=1)), "--to", str(today)]

    with PipelineRun({}, LOCAL_REDIS_DB, topic, tmp_path / "local", reporting_pg.database) as local:
        for name, value in local.overrides.items():
            monkeypatch.setenv(name, value)
        wait_until_spark_sees(
            spark, local.settings.cassandra.keyspace, *migrated_tables(local.settings.cassandra.keyspace)
        )
        in_local_mode = local.run(jobs_in_this_process, drop, effective_at, window)
    with PipelineRun(
        {"SMARTSPACES__SPARK__MASTER": cluster_master},
        CLUSTER_REDIS_DB,
        topic,
        tmp_path / "cluster",
        reporting_pg.database,
    ) as cluster:
        on_the_cluster = cluster.run(
            jobs_in_one_driver_process({**os.environ, **cluster.overrides}), drop, effective_at, window
        )

    sent = json.loads(summary.read_text())
    assert len(in_local_mode["cassandra"]["events_by_device_day"]) == sent["good_distinct"]
    assert len(in_local_mode["cassandra"]["event_ids"]) == sent["good_distinct"]
    assert len(in_local_mode["cassandra"]["critical_events_by_space"]) >= sent["forced_doors"] > 0
    assert in_local_mode["redis"]
    assert in_local_mode["postgres"]["fact_space_metric_hourly"]
    assert on_the_cluster["cassandra"] == in_local_mode["cassandra"]
    assert on_the_cluster["redis"] == in_local_mode["redis"]
    assert on_the_cluster["postgres"] == in_local_mode["postgres"]
