"""`make faults`: the hot path under faults, each scenario against the real local stack with a seeded load.

Each scenario starts the read API, the ingest and the change feed on a keyspace, topic, lake and Redis
database of their own, sends the simulator's mix (duplicates and forced doors included, no bad input) at RATE
events/s, injects its fault while the load runs (bench/fault_injections.py), stops the load when the fault is
over, and waits until every store is complete. A job that ends (a server it needs went away) is started
again, as the Spark Operator's restart policy does. Then, from the stores themselves:

- every valid event id in the topic is in `events_by_device_day` exactly once (`lost`, `duplicated`);
- every forced door (each fires exactly one critical event) is in `critical_events_by_space` and in Redis;
- `recovered_s`: from the fault's end until both hold (or RECOVERY_LIMIT_S, and the scenario fails).

Most scenarios also check how the platform refused or recovered (`held`, and `note` says what it printed):
the ingest's checkpoints deleted, two change-feed processes of one consumer, change-log batches expired
unread (the feed stops naming the gap; the runbook's replay and --accept-gap bring the rest), PostgreSQL
crashed between an enrichment's staging fill and its swap (the window kept, the run recorded failed, the next
run written), and the lake's disk full (the ingest ends naming lake.root; bronze is then read whole and holds
every message once).

Writes bench/results/faults.json (and .md); with --only, replaces those scenarios' entries and keeps the
others (each entry has its own measured_at). Exits 1 when a scenario lost or doubled anything or did not hold.
"""

from __future__ import annotations

import argparse
import json
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

from bench.fault_injections import (
    OUTAGE_S,
    FaultOutcome,
    Supervisor,
    crash_postgres_between_staging_and_swap,
    delete_ingest_checkpoints,
    expire_unread_change_log,
    fill_lake_disk,
    kill_job,
    line_with,
    mount_lake_disk,
    restart_server,
    run_once,
    start_two_changefeeds,
    unmount_lake_disk,
)
from bench.hotpath_pipeline import BENCH_REDIS_DB, BenchPipeline, start_bench_run
from bench.hotpath_probes import FORCED_CODE
from smartspaces import progress
from smartspaces.cassandra_tables import CRITICAL_EVENTS, EVENTS
from smartspaces.config import PROJECT_ROOT, Settings
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
POLL_S = 2.0
FORCED_DOOR_FRACTION = 0.01


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


@dataclass(frozen=True)
class Scenario:
    inject: Callable[[BenchPipeline, Supervisor], FaultOutcome | None]
    # The lake on a file system of its own for the scenario (mounted before the jobs start), and bronze audited.
    lake_disk_of_its_own: bool = False


SCENARIOS: dict[str, Scenario] = {
    "kafka_broker_killed_and_restarted": Scenario(restart_server("kafka")),
    "cassandra_killed_and_restarted_mid_ingest": Scenario(restart_server("cassandra")),
    "redis_killed_during_the_change_feed": Scenario(restart_server("redis")),
    "ingest_sigkilled_mid_stream": Scenario(kill_job("ingest")),
    "changefeed_sigkilled_mid_batch": Scenario(kill_job("changefeed")),
    "ingest_checkpoints_deleted": Scenario(delete_ingest_checkpoints),
    "two_changefeed_consumers_started_at_once": Scenario(start_two_changefeeds),
    "change_log_rows_expired_before_read": Scenario(expire_unread_change_log),
    "postgres_killed_between_staging_and_swap": Scenario(crash_postgres_between_staging_and_swap),
    "lake_disk_full": Scenario(fill_lake_disk, lake_disk_of_its_own=True),
}


@dataclass
class Expected:
    event_ids: set[str]
    forced_doors: set[str]
    # Every message of the topic (what bronze archives).
    messages: int


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
        return Expected(event_ids, forced, sum(ends.values()))
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
        index, events, _, _ = critical_keys(row.space_id)
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


def audit_bronze(pipeline: BenchPipeline, expected: Expected, outcome: FaultOutcome) -> FaultOutcome:
    """Once bronze's slower trigger has archived the last messages: Delta reads it whole (no commit half
    written), and it holds each of the topic's messages once."""
    time.sleep(2 * pipeline.settings.ingest.bronze_trigger_interval_s)
    code, log = run_once(pipeline, "bronze-audit", ["-m", "bench.bronze_audit"])
    counted = line_with(log, '{"rows"')
    bronze = json.loads(counted) if counted else {}
    whole = code == 0 and bronze.get("rows") == bronze.get("coordinates") == expected.messages
    return FaultOutcome(
        outcome.held and whole,
        f"{outcome.note}; bronze read whole: {bronze.get('rows')} rows, {bronze.get('coordinates')} distinct "
        f"Kafka coordinates, of the topic's {expected.messages} messages",
    )


def run_scenario(settings: Settings, run: str, name: str) -> ScenarioResult:
    scenario = SCENARIOS[name]
    with BenchPipeline(settings, f"{run}_{name[:12]}", FORCED_DOOR_FRACTION) as pipeline:
        if scenario.lake_disk_of_its_own:
            mount_lake_disk(pipeline)
        try:
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
                outcome = scenario.inject(pipeline, supervisor) or FaultOutcome()
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
            if scenario.lake_disk_of_its_own:
                with progress.step(f"faults: {name}: bronze read whole"):
                    outcome = audit_bronze(pipeline, expected, outcome)
            supervisor.stopping.set()
            supervisor.join(5)
        finally:
            if scenario.lake_disk_of_its_own:
                pipeline.stop_jobs()
                unmount_lake_disk(pipeline)
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


def summary(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Fault scenarios",
        "",
        f"Each at {RATE:g} events/s of the simulator's mix with {FORCED_DOOR_FRACTION:.0%} forced doors, "
        f"{BEFORE_FAULT_S:g} s of load before the fault, {OUTAGE_S:g} s of outage.",
        "",
        "| scenario | measured | sent | stored once | lost | duplicated | critical expected | in Redis "
        "| in Cassandra | recovered s | held | passed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['scenario']} | {r.get('measured_at', '')} | {r['events_sent']} | {r['events_stored_once']} "
            f"| {r['lost']} | {r['duplicated']} | {r['critical_events_expected']} | {r['critical_events_in_redis']} "
            f"| {r['critical_events_in_cassandra']} | {r['recovered_s']} | {r.get('held', True)} | {r['passed']} |"
        )
    notes = [f"- {r['scenario']}: {r['note']}" for r in results if r.get("note")]
    return "\n".join([*lines, *(["", *notes] if notes else [])]) + "\n"


def recorded_with(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The committed results with these replacing their scenarios' entries, in the suite's order."""
    path = RESULTS / "faults.json"
    document = json.loads(path.read_text()) if path.exists() else {"scenarios": []}
    # Results of a whole run written before each entry carried its own time: the run's.
    previous = [{"measured_at": document.get("measured_at"), **entry} for entry in document["scenarios"]]
    by_name = {entry["scenario"]: entry for entry in [*previous, *results] if entry["scenario"] in SCENARIOS}
    return [by_name[name] for name in SCENARIOS if name in by_name]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), help="these scenarios alone")
    args = parser.parse_args(argv)
    settings, run = start_bench_run()
    results = []
    for name in args.only or list(SCENARIOS):
        try:
            measured = asdict(run_scenario(settings, run, name))
            results.append({"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), **measured})
        finally:
            local_stack.up(settings)  # a scenario that failed midway leaves no server down for the next
    recorded = recorded_with(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {"rate_events_per_s": RATE, "scenarios": recorded}
    (RESULTS / "faults.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / "faults.md").write_text(summary(recorded))
    print(summary(results))
    return 0 if all(result["passed"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
