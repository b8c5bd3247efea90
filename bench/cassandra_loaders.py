"""The two baselines of the ingest benchmark, both writing to a copy of events_by_device_day.

- plain consumer: what a team would otherwise write: confluent-kafka consumer, json parsing, the contract's
  required-field check, cassandra-driver with concurrent asynchronous writes.
- raw ceiling: cassandra-driver writing pre-parsed rows with high concurrency, no Kafka at all.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from confluent_kafka import Consumer

from smartspaces import progress
from smartspaces.config import CassandraSettings, KafkaSettings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.stages.simulator.producer import SimulationOptions, generate_messages

INSERT = (
    "INSERT INTO {table} (device_id, day, event_time, event_id, schema_version, event_type, metric, value, unit, "
    "severity, code, attributes, kafka_topic, kafka_partition, kafka_offset, ingest_time) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
REQUIRED = ("schema_version", "event_id", "device_id", "event_type", "event_time")
# The raw ceiling writes its rows in chunks of this many; the parent reads the rows written this often.
RAW_CHUNK_ROWS = 20_000
RAW_PROGRESS_S = 1.0
Row = tuple[object, ...]


def event_row(payload: bytes, topic: str, partition: int, offset: int, timestamp_ms: int) -> Row | None:
    """A payload as a table row, or None when it is not a usable event (the baseline only counts those)."""
    try:
        event = json.loads(payload)
        if not isinstance(event, dict) or any(event.get(key) is None for key in REQUIRED):
            return None
        event_time = datetime.fromisoformat(event["event_time"]).astimezone(UTC)
        return (
            event["device_id"],
            event_time.date(),
            event_time,
            uuid.UUID(event["event_id"]),
            event["schema_version"],
            event["event_type"],
            event.get("metric"),
            event.get("value"),
            event.get("unit"),
            event.get("severity"),
            event.get("code"),
            event.get("attributes"),
            topic,
            partition,
            offset,
            datetime.fromtimestamp(timestamp_ms / 1000, UTC),
        )
    except (ValueError, TypeError, KeyError):
        return None


def write_rows(session: Session, table: str, rows: Iterable[Row], concurrency: int) -> int:
    prepared = session.prepare(INSERT.format(table=table))
    batch = list(rows)
    results = execute_concurrent_with_args(session, prepared, batch, concurrency=concurrency, raise_on_first_error=True)
    return len(results)


def consume(kafka: KafkaSettings, topic: str, expected: int, idle_timeout_s: float = 15.0) -> Iterator[list[Row]]:
    """Chunks of rows from every message of the topic, until `expected` messages were read or it goes idle."""
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": f"bench-plain-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.max.bytes": 52_428_800,
        }
    )
    consumer.subscribe([topic])
    seen, last_message = 0, time.monotonic()
    try:
        while seen < expected and time.monotonic() - last_message < idle_timeout_s:
            messages = consumer.consume(num_messages=5000, timeout=1.0)
            if not messages:
                continue
            last_message = time.monotonic()
            rows = []
            for message in messages:
                if message.error():
                    continue
                seen += 1
                row = event_row(
                    message.value() or b"",
                    message.topic() or topic,
                    message.partition() or 0,
                    message.offset() or 0,
                    message.timestamp()[1],
                )
                if row is not None:
                    rows.append(row)
            yield rows
    finally:
        consumer.close()


def plain_consumer_load(
    kafka: KafkaSettings, topic: str, expected: int, session: Session, table: str
) -> tuple[int, float]:
    """Loads the topic into the table the way a hand-written consumer would; returns (rows, seconds)."""
    with progress.step("plain consumer load", total=expected, unit="rows") as loading:
        started, written = time.monotonic(), 0
        for rows in consume(kafka, topic, expected):
            written += write_rows(session, table, rows, concurrency=256)
            loading.update(written)
        return written, time.monotonic() - started


def _raw_writer(job: tuple[SimulationOptions, CassandraSettings, str, int, int, Any, Any]) -> tuple[int, float]:
    """One writer process: parses its share of the events, waits for the others, then writes and times it
    (its rows written so far in loaded[worker] after each chunk, for the progress)."""
    options, cassandra, table, worker, workers, start_line, loaded = job
    rows = [
        row
        for index, message in enumerate(generate_messages(options))
        if index % workers == worker and (row := event_row(message.value, options.topic, 0, index, 0)) is not None
    ]
    cluster = cassandra_cluster(cassandra)
    try:
        session = cluster.connect()
        start_line.wait()
        started = time.monotonic()
        written = 0
        for start in range(0, len(rows), RAW_CHUNK_ROWS):
            written += write_rows(session, table, rows[start : start + RAW_CHUNK_ROWS], concurrency=512)
            loaded[worker] = written
        return written, time.monotonic() - started
    finally:
        cluster.shutdown()


def raw_ceiling_load(options: SimulationOptions, cassandra: CassandraSettings, table: str) -> tuple[int, float]:
    """Pre-parsed rows written with high concurrency by one process per core (the Python driver holds the
    GIL, so one process would measure the driver, not Cassandra); returns (rows, seconds of the slowest)."""
    workers = os.cpu_count() or 1
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager, progress.step("raw ceiling load", total=options.count, unit="rows") as loading:
        start_line = manager.Barrier(workers)
        loaded = manager.dict()
        with context.Pool(workers) as pool:
            jobs = [(options, cassandra, table, w, workers, start_line, loaded) for w in range(workers)]
            running = pool.map_async(_raw_writer, jobs)
            while not running.ready():
                running.wait(RAW_PROGRESS_S)
                loading.update(sum(loaded.values()))
            results = running.get()
        loading.update(sum(rows for rows, _ in results))
    return sum(rows for rows, _ in results), max(seconds for _, seconds in results)
