"""The faults `make faults` injects into the running hot path, and how each checks the platform's answer.

Each injection runs while the seeded load goes on; the supervisor (the Spark Operator's restart policy) starts
again a job that ended, unless the injection pauses it to see how the job ended. An injection returns what it
saw of the platform's refusal (FaultOutcome), or None where the stores' completeness is the whole check.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.enrich_bench import drop_database, throwaway_database
from bench.hotpath_pipeline import JOB_COMMANDS, BenchPipeline
from smartspaces import lake
from smartspaces.cassandra_tables import CHANGE_FEED_CHECKPOINTS, CHANGE_LOG, CHANGE_LOG_COMMITS
from smartspaces.config import PROJECT_ROOT, PostgresSettings, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.postgres import connect
from smartspaces.stack import local_stack
from smartspaces.stages.enrichment.reporting.postgres_store import REPORTING_LOCK_ID, swaps_waiting_for_the_lock
from smartspaces.stages.enrichment.service import WRITE_FAILED
from transformations.reporting_schemas import DIMENSION_TABLES, FACT_TABLES

# How long a server stays down, a killed job stays dead.
OUTAGE_S = 15.0
# The longest a job may take to refuse starting (a Spark session, then its check).
REFUSAL_LIMIT_S = 180.0
# How long the change feed that does not get the lease waits for it before it ends (changefeed.lease_wait_s).
LEASE_WAIT_S = 10.0
# The longest a one-off job (a replay, an enrichment run) may take beside the hot path on two cores.
ONE_OFF_JOB_LIMIT_S = 900.0
# The replay starts this long before the change feed stopped: it may read again what was read (idempotent).
REPLAY_MARGIN_S = 60.0
# The lake's file system while the ingest runs, and what is left free of it to fill the disk.
LAKE_DISK = "1g"
LAKE_FREE_WHEN_FULL_KIB = 64
# The nightly enrichment's window in the scenario: today, which the live load fills.
ENRICH_WINDOW = ["--days", "1"]


@dataclass
class FaultOutcome:
    """What a fault's injection saw of the platform's own answer to it."""

    held: bool = True
    note: str = ""


class Supervisor(threading.Thread):
    """Starts again a job whose process ended, as the operator's restartPolicy would."""

    def __init__(self, pipeline: BenchPipeline) -> None:
        super().__init__(daemon=True, name="faults-supervisor")
        self.pipeline = pipeline
        self.stopping = threading.Event()
        self.paused = threading.Event()
        self.restarts: Counter[str] = Counter()

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            if self.paused.is_set():
                continue
            for name in ("ingest", "changefeed"):
                service = self.pipeline.services.get(name)
                if service is not None and service.process.poll() is not None:
                    self.restarts[name] += 1
                    print(f"faults: {name} ended (exit {service.process.returncode}); starting it again", flush=True)
                    try:
                        self.pipeline.restart_service(name)
                    except RuntimeError as error:  # what it needs is still down: the next round tries again
                        print(f"faults: {name} did not start: {str(error)[-300:]}", flush=True)


def restart_server(name: str) -> Callable[[BenchPipeline, Supervisor], None]:
    def inject(pipeline: BenchPipeline, _: Supervisor) -> None:
        local_stack.down(pipeline.settings, (name,))
        time.sleep(OUTAGE_S)
        local_stack.up(pipeline.settings, (name,))

    return inject


def kill_job(name: str) -> Callable[[BenchPipeline, Supervisor], None]:
    def inject(pipeline: BenchPipeline, supervisor: Supervisor) -> None:
        supervisor.paused.set()
        try:
            os.killpg(pipeline.services[name].process.pid, signal.SIGKILL)
            pipeline.services[name].process.wait()
            time.sleep(OUTAGE_S)
            supervisor.restarts[name] += 1
            pipeline.restart_service(name)
        finally:
            supervisor.paused.clear()

    return inject


def wait_for_exit(process: subprocess.Popen[bytes], limit_s: float) -> int | None:
    try:
        return process.wait(limit_s)
    except subprocess.TimeoutExpired:
        return None


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def shortened(line: str, limit: int = 300) -> str:
    """A job's line for the results: the project's folder as '.', a lease holder's host and pid left out."""
    line = re.sub(r"held by \S+ \(", "held by <host:pid> (", line.replace(str(PROJECT_ROOT), "."))
    return line if len(line) <= limit else line[: limit - 3] + "..."


def delete_ingest_checkpoints(pipeline: BenchPipeline, supervisor: Supervisor) -> FaultOutcome:
    """The ingest killed and its checkpoints deleted: it must refuse to read the topic again on its own, and
    started with --new-checkpoints it must write nothing twice and skip nothing."""
    supervisor.paused.set()
    try:
        service = pipeline.services["ingest"]
        os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait()
        lake_settings = load_settings("local", environ={**os.environ, **pipeline.epoch.environment}).lake
        shutil.rmtree(lake.checkpoints(lake_settings))
        args, _ = JOB_COMMANDS["ingest"]
        pipeline.restart_service("ingest", wait=False)
        refused = pipeline.services["ingest"]
        code = wait_for_exit(refused.process, REFUSAL_LIMIT_S)
        said = last_line(refused.log_since(0))
        held = code == 2 and "--new-checkpoints" in said
        supervisor.restarts["ingest"] += 2
        pipeline.restart_service("ingest", args=[*args, "--new-checkpoints"])
        return FaultOutcome(held, f"without --new-checkpoints: exit {code}: {shortened(said)}")
    finally:
        supervisor.paused.clear()


def start_two_changefeeds(pipeline: BenchPipeline, supervisor: Supervisor) -> FaultOutcome:
    """The change feed stopped, then two processes of its consumer started at once: one must hold the lease and
    go on, the other end within its lease wait naming the holder."""
    supervisor.paused.set()
    try:
        overrides = {"SMARTSPACES__CHANGEFEED__LEASE_WAIT_S": str(LEASE_WAIT_S)}
        pipeline.stop_changefeed()
        args, _ = JOB_COMMANDS["changefeed"]
        pipeline.restart_service("changefeed", overrides, wait=False)
        second_log = pipeline.work_dir / "changefeed-second.log"
        with second_log.open("wb") as log:
            second = subprocess.Popen(
                [sys.executable, *args],
                cwd=PROJECT_ROOT,
                env={**os.environ, **pipeline.epoch.environment, **overrides},
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        first = pipeline.services["changefeed"].process
        deadline = time.monotonic() + REFUSAL_LIMIT_S + LEASE_WAIT_S
        while first.poll() is None and second.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(OUTAGE_S)  # the winner keeps going; the loser has ended
        ended = [p for p in (first, second) if p.poll() is not None]
        loser_said = ""
        if ended == [second]:
            loser_said = last_line(second_log.read_text(errors="replace"))
        elif ended == [first]:
            loser_said = last_line(pipeline.services["changefeed"].log_since(0))
        held = len(ended) == 1 and ended[0].returncode == 2 and "is held by" in loser_said
        # Whichever won, the supervised process is the consumer from here on: the second one stops.
        if second.poll() is None:
            second.send_signal(signal.SIGINT)
            wait_for_exit(second, 60)
        supervisor.restarts["changefeed"] += 1
        pipeline.restart_service("changefeed")
        return FaultOutcome(held, f"{len(ended)} of 2 ended, saying: {shortened(loser_said)}")
    finally:
        supervisor.paused.clear()


def run_once(
    pipeline: BenchPipeline, name: str, args: list[str], extra: dict[str, str] | None = None
) -> tuple[int | None, str]:
    """A one-off job (a replay, an enrichment run) on the epoch's stores; its exit code and its log."""
    log_path = pipeline.work_dir / f"{name}.log"
    with log_path.open("ab") as log:
        offset = log.tell()
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=PROJECT_ROOT,
            env={**os.environ, **pipeline.epoch.environment, **(extra or {})},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        code = wait_for_exit(process, ONE_OFF_JOB_LIMIT_S)
        if code is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with log_path.open("rb") as log:
        log.seek(offset)
        return code, log.read().decode(errors="replace")


def line_with(text: str, needle: str) -> str:
    """The last line of text that holds needle (a job's own message among Spark's shutdown lines), or ''."""
    return next((line for line in reversed(text.splitlines()) if needle in line), "")


def consumer_positions(pipeline: BenchPipeline) -> dict[str, int]:
    """The change feed's committed position per change-log writer."""
    keyspace, consumer = pipeline.epoch.keyspace, pipeline.settings.changefeed.consumer
    cluster = cassandra_cluster(pipeline.settings.cassandra)
    try:
        rows = cluster.connect().execute(
            f"SELECT source, position FROM {CHANGE_FEED_CHECKPOINTS.qualified(keyspace)} WHERE consumer = %s",
            (consumer,),
        )
        return {row.source: int(row.position) for row in rows if row.source is not None}
    finally:
        cluster.shutdown()


def wait_for_a_position(pipeline: BenchPipeline, limit_s: float) -> bool:
    """True once the change feed has committed a batch of a writer (a consumer that has read the log before)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if any(position >= 0 for position in consumer_positions(pipeline).values()):
            return True
        time.sleep(1.0)
    return False


def expire_unread_batches(pipeline: BenchPipeline) -> tuple[int, int]:
    """Deletes the change-log batches the change feed has not read, all but each writer's newest (as the log's
    7-day TTL would had the feed been down a week); returns (batches, events) expired."""
    keyspace, positions = pipeline.epoch.keyspace, consumer_positions(pipeline)
    cluster = cassandra_cluster(pipeline.settings.cassandra)
    try:
        session = cluster.connect()
        markers: dict[str, list[tuple[int, int]]] = {}
        for row in session.execute(f"SELECT writer_id, batch_id, events FROM {CHANGE_LOG_COMMITS.qualified(keyspace)}"):
            if row.batch_id > positions.get(row.writer_id, -1):
                markers.setdefault(row.writer_id, []).append((row.batch_id, row.events or 0))
        batches = events = 0
        for writer_id, unread in markers.items():
            for batch_id, count in sorted(unread)[:-1]:
                for table in (CHANGE_LOG_COMMITS, CHANGE_LOG):
                    session.execute(
                        f"DELETE FROM {table.qualified(keyspace)} WHERE writer_id = %s AND batch_id = %s",
                        (writer_id, batch_id),
                    )
                batches, events = batches + 1, events + count
        return batches, events
    finally:
        cluster.shutdown()


def expire_unread_change_log(pipeline: BenchPipeline, supervisor: Supervisor) -> FaultOutcome:
    """The change feed down while change-log batches expire unread: started again it must stop naming the gap
    (never skip it), and the runbook (replay the period from bronze, then --accept-gap once) must bring every
    critical event of the expired batches to Cassandra and Redis."""
    supervisor.paused.set()
    try:
        # A consumer that has read the log before: a new one starts where the log starts, and sees no gap.
        if not wait_for_a_position(pipeline, REFUSAL_LIMIT_S):
            return FaultOutcome(False, "the change feed committed no batch before the fault")
        pipeline.stop_changefeed()
        stopped_at = datetime.now(UTC)
        time.sleep(OUTAGE_S)  # the ingest goes on committing batches no one reads
        batches, events = expire_unread_batches(pipeline)
        pipeline.restart_service("changefeed", wait=False)
        refused = pipeline.services["changefeed"]
        code = wait_for_exit(refused.process, REFUSAL_LIMIT_S)
        said = line_with(refused.log_since(0), "change log gap")
        commit = re.search(r"\(committed (\S+)\)", said)
        if commit is None:
            supervisor.restarts["changefeed"] += 1
            pipeline.restart_service("changefeed")
            return FaultOutcome(False, f"{batches} batches expired; the change feed ended with {code}, no gap named")
        replay_from = (stopped_at - timedelta(seconds=REPLAY_MARGIN_S)).isoformat(timespec="seconds")
        replay = ["-m", "jobs.ingest", "--replay-from", replay_from, "--replay-to", commit.group(1)]
        replayed, _ = run_once(pipeline, "replay", replay)
        accepted, _ = run_once(pipeline, "accept-gap", [*JOB_COMMANDS["changefeed"][0], "--once", "--accept-gap"])
        supervisor.restarts["changefeed"] += 2
        pipeline.restart_service("changefeed")
        held = code == 2 and replayed == 0 and accepted == 0
        return FaultOutcome(
            held,
            f"{batches} batches ({events} events) expired unread; started again, exit {code}: "
            f"{shortened(said[said.index('change log gap') :], 260)}; replay exit {replayed}, "
            f"--once --accept-gap exit {accepted}",
        )
    finally:
        supervisor.paused.clear()


def lake_root(pipeline: BenchPipeline) -> Path:
    return Path(pipeline.epoch.environment["SMARTSPACES__LAKE__ROOT"])


def mount_lake_disk(pipeline: BenchPipeline) -> None:
    """The epoch's lake (the registry already in it) moved onto a file system of its own, before the jobs start."""
    if os.geteuid() != 0:
        raise RuntimeError("the full-disk scenario mounts a small file system over the lake: it needs root")
    root = lake_root(pipeline)
    aside = root.with_name(f"{root.name}-before-mount")
    root.rename(aside)
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={LAKE_DISK}", "tmpfs", str(root)], check=True)
    shutil.copytree(aside, root, dirs_exist_ok=True)
    shutil.rmtree(aside)


def unmount_lake_disk(pipeline: BenchPipeline) -> None:
    subprocess.run(["umount", "--lazy", str(lake_root(pipeline))], check=False)


def fill_lake_disk(pipeline: BenchPipeline, supervisor: Supervisor) -> FaultOutcome:
    """The lake's disk full under the running ingest: it must end naming the folder and lake.root, and started
    again once there is space, write the failed batch whole and nothing twice (the runner audits bronze)."""
    supervisor.paused.set()
    try:
        root, ingest = lake_root(pipeline), pipeline.services["ingest"]
        offset = ingest.log_size()
        used_kib = shutil.disk_usage(root).used // 1024
        subprocess.run(["mount", "-o", f"remount,size={used_kib + LAKE_FREE_WHEN_FULL_KIB}k", str(root)], check=True)
        code = wait_for_exit(ingest.process, REFUSAL_LIMIT_S)
        said = line_with(ingest.log_since(offset), "is full")
        time.sleep(OUTAGE_S)
        subprocess.run(["mount", "-o", f"remount,size={LAKE_DISK}", str(root)], check=True)
        supervisor.restarts["ingest"] += 1
        pipeline.restart_service("ingest")
        held = code == 1 and f"the disk of {root} (lake.root) is full" in said
        return FaultOutcome(held, f"ingest exit {code}: {shortened(said[said.find('the disk of') :], 200)}")
    finally:
        supervisor.paused.clear()


def crash_postgres(settings: Settings) -> None:
    """SIGKILL to the stack's postmaster and every backend at once, as a power cut: crash recovery follows."""
    (server,) = local_stack.servers(settings, ("postgres",))
    if not server.process.kill():
        raise RuntimeError("PostgreSQL is not running")


def reporting_content(pg: PostgresSettings) -> dict[str, tuple[int, str]]:
    """Each reporting table's rows and a digest of them."""
    content = {}
    with connect(pg) as connection:
        for table in (*FACT_TABLES, *DIMENSION_TABLES):
            row = connection.execute(
                f"SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') "
                f'FROM reporting."{table.name}" AS t'
            ).fetchone()
            content[table.name] = (int(row[0]), str(row[1])) if row else (0, "")
    return content


def latest_run(pg: PostgresSettings) -> tuple[str, str]:
    with connect(pg) as connection:
        row = connection.execute(
            "SELECT verdict, coalesce(failure, '') FROM reporting.enrichment_runs ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
    return (str(row[0]), str(row[1])) if row else ("", "")


def wait_for_swap_waiting(pg: PostgresSettings, running: Callable[[], bool], limit_s: float) -> bool:
    """True once a session waits for the reporting lock (a run whose staging tables are filled)."""
    deadline = time.monotonic() + limit_s
    with connect(pg, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            if swaps_waiting_for_the_lock(watcher):
                return True
            if not running():
                return False
            time.sleep(0.2)
    return False


def crash_postgres_between_staging_and_swap(pipeline: BenchPipeline, _supervisor: Supervisor) -> FaultOutcome:
    """An enrichment run of today written; a second run's staging tables filled, then PostgreSQL crashes
    before its swap (held back by the reporting lock, which the bench takes): the window must keep the first
    run's rows, the run be recorded failed and exit WRITE_FAILED, and a third run write the window."""
    database = f"faults_{pipeline.run}"
    pg = throwaway_database(pipeline.settings, database).postgres
    extra = {"SMARTSPACES__POSTGRES__DATABASE": database}
    try:
        first, _ = run_once(pipeline, "enrich", ["-m", "jobs.enrich", *ENRICH_WINDOW], extra)
        before = reporting_content(pg)
        other_run = connect(pg, autocommit=True)
        other_run.execute("SELECT pg_advisory_lock(%s)", (REPORTING_LOCK_ID,))
        outcome: dict[str, Any] = {}

        def second_run() -> None:
            outcome["code"], outcome["log"] = run_once(pipeline, "enrich", ["-m", "jobs.enrich", *ENRICH_WINDOW], extra)

        second = threading.Thread(target=second_run, daemon=True)
        second.start()
        staged = wait_for_swap_waiting(pg, second.is_alive, ONE_OFF_JOB_LIMIT_S)
        crash_postgres(pipeline.settings)
        with contextlib.suppress(psycopg.Error):
            other_run.close()
        time.sleep(3)
        local_stack.up(pipeline.settings, ("postgres",))
        second.join(ONE_OFF_JOB_LIMIT_S)
        refused = line_with(outcome.get("log", ""), "lost staged rows")
        kept = reporting_content(pg) == before
        verdict, failure = latest_run(pg)
        third, _ = run_once(pipeline, "enrich", ["-m", "jobs.enrich", *ENRICH_WINDOW], extra)
        after_verdict, _ = latest_run(pg)
        written = sum(rows for rows, _ in reporting_content(pg).values())
        held = (
            first == 0
            and staged
            and outcome.get("code") == WRITE_FAILED
            and bool(refused)
            and kept
            and verdict == "failed"
            and "lost staged rows" in failure
            and third == 0
            and after_verdict != "failed"
        )
        facts = sum(before[table.name][0] for table in FACT_TABLES)
        return FaultOutcome(
            held,
            f"first run exit {first} ({facts} fact rows); second run, PostgreSQL crashed before its swap: exit "
            f"{outcome.get('code')}, window {'unchanged' if kept else 'CHANGED'}, recorded {verdict}: "
            f"{shortened(refused[refused.find('PostgreSQL lost') :], 120)}; third run exit {third}, "
            f"recorded {after_verdict}, {written} reporting rows",
        )
    finally:
        drop_database(pipeline.settings, database)
