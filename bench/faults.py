"""`make faults`: the hot path under faults, each scenario against the real local stack with a seeded load.

Each scenario starts the read API, the ingest and the change feed on a keyspace, topic and Redis database of
their own, sends the simulator's mix (duplicates and forced doors included, no bad input) at RATE events/s,
injects its fault while the load runs, stops the load when the fault is over, and waits until every store
is complete. A job that ends (a server it needs went away) is started again, as the Spark Operator's restart
policy does. Then, from the stores themselves:

- every valid event id in the topic is in `events_by_device_day` exactly once (`lost`, `duplicated`);
- every forced door (each fires exactly one critical event) is in `critical_events_by_space` and in Redis;
- `recovered_s`: from the fault's end until both hold (or RECOVERY_LIMIT_S, and the scenario fails).

Two scenarios also check how the platform refuses (`held`, and `note` says what it printed): the ingest's
checkpoints deleted (the ingest refuses to start over on its own, then is started with --new-checkpoints),
and two change-feed processes of one consumer started at once (one holds the lease, the other ends naming it).

Writes bench/results/faults.json (and .md); exits 1 when a scenario lost or doubled anything.
The other failures the platform handles (expired change-log rows, PostgreSQL lost between staging and swap, a
second run holding the reporting lock, a full disk) are drills of the test suite; docs/operations.md names
each with its test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from bench.hotpath_pipeline import BENCH_REDIS_DB, JOB_COMMANDS, BenchPipeline, start_bench_run
from bench.hotpath_probes import FORCED_CODE
from smartspaces import lake, progress
from smartspaces.cassandra_tables import CRITICAL_EVENTS, EVENTS
from smartspaces.config import PROJECT_ROOT, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.kafka_admin import client_config
from smartspaces.connectors.redis import redis_client
from smartspaces.stack import local_stack
from smartspaces.stages.cache.critical_events import critical_keys
from smartspaces.stages.simulator.producer import SimulationReport, run_simulation

RESULTS = PROJECT_ROOT / "bench" / "results"
RATE = 50.0
# Load before the fault, and the longest a scenario may take to be complete again after it.
BEFORE_FAULT_S = 20.0
RECOVERY_LIMIT_S = 300.0
# How long a server stays down, a killed job stays dead.
OUTAGE_S = 15.0
POLL_S = 2.0
FORCED_DOOR_FRACTION = 0.01
# The longest a job may take to refuse starting (a Spark session, then its check).
REFUSAL_LIMIT_S = 180.0
# How long the change feed that does not get the lease waits for it before it ends (changefeed.lease_wait_s).
LEASE_WAIT_S = 10.0


@dataclass
class ScenarioResult:
    scenario: str
    events_sent: int
    # Distinct event ids among them (the simulator resends some: duplicates the stores must hold once).
    event_ids_sent: int
    events_stored_once: int
    lost: int
    duplicated: int
    critical_events_expected: int
    critical_events_in_redis: int
    critical_events_in_cassandra: int
    recovered_s: float | None
    passed: bool
    fault_s: float
    restarts: dict[str, int]
    # Whether the platform refused as it should during the fault (True where the scenario checks nothing more).
    held: bool = True
    note: str = ""


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


SCENARIOS: dict[str, Callable[[BenchPipeline, Supervisor], FaultOutcome | None]] = {
    "kafka_broker_killed_and_restarted": restart_server("kafka"),
    "cassandra_killed_and_restarted_mid_ingest": restart_server("cassandra"),
    "redis_killed_during_the_change_feed": restart_server("redis"),
    "ingest_sigkilled_mid_stream": kill_job("ingest"),
    "changefeed_sigkilled_mid_batch": kill_job("changefeed"),
    "ingest_checkpoints_deleted": delete_ingest_checkpoints,
    "two_changefeed_consumers_started_at_once": start_two_changefeeds,
}


@dataclass
class Expected:
    event_ids: set[str]
    forced_doors: set[str]


def expected_from_topic(settings: Settings, topic: str) -> Expected:
    """Every valid event id in the topic, and those of the forced doors (read back from Kafka)."""
    consumer = Consumer(
        {**client_config(settings.kafka), "group.id": f"faults-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
    )
    try:
        metadata = consumer.list_topics(topic, timeout=30)
        partitions = [TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions]
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=30)[1] for tp in partitions}
        consumer.assign(partitions)
        event_ids, forced, done = set(), set(), {p for p, end in ends.items() if end == 0}
        while len(done) < len(ends):
            for message in consumer.consume(num_messages=2000, timeout=1.0):
                if message.error():
                    continue
                payload = json.loads(message.value() or b"{}")
                event_ids.add(str(payload["event_id"]).lower())
                if payload.get("code") == FORCED_CODE:
                    forced.add(str(payload["event_id"]).lower())
                if (message.offset() or 0) + 1 >= ends[message.partition() or 0]:
                    done.add(message.partition() or 0)
        return Expected(event_ids, forced)
    finally:
        consumer.close()


@dataclass
class Stored:
    rows_per_id: Counter[str]
    forced_in_cassandra: set[str]
    forced_in_redis: set[str]


def stored_now(pipeline: BenchPipeline, expected: Expected) -> Stored:
    keyspace = pipeline.epoch.keyspace
    cluster = cassandra_cluster(pipeline.settings.cassandra)
    try:
        session = cluster.connect()
        rows = Counter(
            str(row.event_id)
            for row in session.execute(f"SELECT event_id FROM {EVENTS.qualified(keyspace)}", timeout=60)
        )
        critical = [
            row
            for row in session.execute(
                f"SELECT space_id, event_time, critical_event_id, source_event_id FROM "
                f"{CRITICAL_EVENTS.qualified(keyspace)}",
                timeout=60,
            )
            if str(row.source_event_id) in expected.forced_doors
        ]
    finally:
        cluster.shutdown()
    in_redis = set()
    client = redis_client(pipeline.settings.redis.model_copy(update={"db": BENCH_REDIS_DB}))
    keep = pipeline.settings.cache.critical_per_space
    for row in critical:
        index, events, _ = critical_keys(row.space_id)
        if client.hexists(events, str(row.critical_event_id)):
            in_redis.add(str(row.source_event_id))
            continue
        # Trimmed to the newest K by newer critical events of the space: that is the cache's contract.
        oldest_kept = client.zrange(index, 0, 0, withscores=True)
        event_ms = row.event_time.replace(tzinfo=UTC).timestamp() * 1000
        if client.zcard(index) >= keep and oldest_kept and event_ms < oldest_kept[0][1]:
            in_redis.add(str(row.source_event_id))
    return Stored(rows, {str(row.source_event_id) for row in critical}, in_redis)


def complete(expected: Expected, stored: Stored) -> bool:
    return (
        expected.event_ids <= stored.rows_per_id.keys()
        and expected.forced_doors <= stored.forced_in_cassandra
        and expected.forced_doors <= stored.forced_in_redis
    )


def run_scenario(settings: Settings, run: str, name: str) -> ScenarioResult:
    inject = SCENARIOS[name]
    with BenchPipeline(settings, f"{run}_{name[:12]}", FORCED_DOOR_FRACTION) as pipeline:
        with progress.step(f"faults: {name}: start the jobs"):
            pipeline.start(changefeed=True)
        supervisor = Supervisor(pipeline)
        supervisor.start()
        stop_load = threading.Event()
        report = SimulationReport()

        def load() -> None:
            nonlocal report
            # No bad input: every message of the topic is then an event the stores must hold once.
            options = replace(pipeline.options(RATE, BEFORE_FAULT_S + RECOVERY_LIMIT_S), bad_fraction=0.0)
            report = run_simulation(options, settings.kafka, stop_load)

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        time.sleep(BEFORE_FAULT_S)
        with progress.step(f"faults: {name}: the fault"):
            fault_started = time.monotonic()
            outcome = inject(pipeline, supervisor) or FaultOutcome()
            fault_ended = time.monotonic()
        stop_load.set()
        loader.join()
        expected = expected_from_topic(settings, pipeline.epoch.topic)
        recovered_s: float | None = None
        with progress.step(f"faults: {name}: until every store is complete"):
            while True:
                stored = stored_now(pipeline, expected)
                if complete(expected, stored):
                    recovered_s = round(time.monotonic() - fault_ended, 1)
                    break
                if time.monotonic() - fault_ended > RECOVERY_LIMIT_S:
                    break
                time.sleep(POLL_S)
        supervisor.stopping.set()
        supervisor.join(5)
    rows = stored.rows_per_id
    lost = len(expected.event_ids - rows.keys())
    duplicated = sum(count - 1 for event_id, count in rows.items() if count > 1)
    result = ScenarioResult(
        scenario=name,
        events_sent=report.sent_total,
        event_ids_sent=len(expected.event_ids),
        events_stored_once=sum(1 for event_id in expected.event_ids if rows.get(event_id) == 1),
        lost=lost,
        duplicated=duplicated,
        critical_events_expected=len(expected.forced_doors),
        critical_events_in_redis=len(expected.forced_doors & stored.forced_in_redis),
        critical_events_in_cassandra=len(expected.forced_doors & stored.forced_in_cassandra),
        recovered_s=recovered_s,
        passed=False,
        fault_s=round(fault_ended - fault_started, 1),
        restarts=dict(supervisor.restarts),
        held=outcome.held,
        note=outcome.note,
    )
    result.passed = (
        outcome.held
        and lost == 0
        and duplicated == 0
        and recovered_s is not None
        and result.critical_events_in_redis == result.critical_events_expected
        and result.critical_events_in_cassandra == result.critical_events_expected
    )
    print(f"faults: {json.dumps(asdict(result))}", flush=True)
    return result


def summary(results: list[dict[str, Any]], measured_at: str) -> str:
    lines = [
        "# Fault scenarios",
        "",
        f"Each at {RATE:g} events/s of the simulator's mix with {FORCED_DOOR_FRACTION:.0%} forced doors, "
        f"{BEFORE_FAULT_S:g} s of load before the fault, {OUTAGE_S:g} s of outage; measured {measured_at}.",
        "",
        "| scenario | sent | stored once | lost | duplicated | critical expected | in Redis | in Cassandra "
        "| recovered s | refused as it should | passed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['scenario']} | {r['events_sent']} | {r['events_stored_once']} | {r['lost']} | {r['duplicated']} "
            f"| {r['critical_events_expected']} | {r['critical_events_in_redis']} "
            f"| {r['critical_events_in_cassandra']} | {r['recovered_s']} | {r.get('held', True)} | {r['passed']} |"
        )
    notes = [f"- {r['scenario']}: {r['note']}" for r in results if r.get("note")]
    return "\n".join([*lines, *(["", *notes] if notes else [])]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="these scenarios alone")
    args = parser.parse_args(argv)
    settings, run = start_bench_run()
    results = []
    for name in args.only or list(SCENARIOS):
        try:
            results.append(asdict(run_scenario(settings, run, name)))
        finally:
            local_stack.up(settings)  # a scenario that failed midway leaves no server down for the next
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    if not args.only:
        RESULTS.mkdir(parents=True, exist_ok=True)
        document = {"measured_at": measured_at, "rate_events_per_s": RATE, "scenarios": results}
        (RESULTS / "faults.json").write_text(json.dumps(document, indent=2) + "\n")
        (RESULTS / "faults.md").write_text(summary(results, measured_at))
    print(summary(results, measured_at))
    return 0 if all(result["passed"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
