"""Reads every section of the status from the stores themselves, at once, without Spark.

Each reader opens one short-lived client through the connectors, asks a few bounded questions and closes it;
a store that does not answer turns its section into one line naming the server and its settings, and the
other sections still render. The readers run side by side, so the status takes as long as the slowest store.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from string import Formatter
from typing import Any

import psycopg
import redis
from cassandra import DriverException, InvalidRequest
from cassandra.cluster import NoHostAvailable, Session
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from redis.backoff import NoBackoff
from redis.retry import Retry

from smartspaces import lake
from smartspaces.cassandra_tables import CHANGE_FEED_CHECKPOINTS, CHANGE_LOG_COMMITS, NO_BATCH
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.kafka_admin import client_config
from smartspaces.connectors.postgres import connect
from smartspaces.connectors.redis import redis_client
from smartspaces.instants import as_utc
from smartspaces.stack import local_stack
from smartspaces.stack.process import StackError
from smartspaces.status.sections import (
    FAILED_VERDICT,
    ChangeFeedSection,
    EnrichmentRunSummary,
    EnrichmentSection,
    MissedExpectation,
    RedisSection,
    ServersSection,
    SourcePosition,
    StatusReport,
    StreamProgress,
    StreamsSection,
    Unavailable,
    WriterBacklog,
    writer_backlog,
)
from smartspaces.status.stream_checkpoints import KafkaOffsets, StreamCheckpoint, read_checkpoints, waiting_messages
from transformations import redis_keys

# Seconds a status waits for a server that does not answer: it must answer in a second or two.
CONNECT_TIMEOUT_S = 2.0
# Commit markers counted per change-log writer: beyond it the backlog is reported as "at least".
PENDING_BATCH_CAP = 10_000
# Redis keys examined per SCAN call, and in all: beyond the cap the family counts cover the first keys only.
REDIS_SCAN_COUNT = 1000
REDIS_SCAN_CAP = 100_000
# The layouts whose keys are counted, by the name the status shows.
KEY_FAMILIES = {
    "critical index": redis_keys.SPACE_CRITICAL_INDEX,
    "critical events": redis_keys.SPACE_CRITICAL_EVENTS,
    "critical complete": redis_keys.SPACE_CRITICAL_COMPLETE,
    "critical served": redis_keys.SPACE_CRITICAL_SERVED,
    "device latest": redis_keys.DEVICE_LATEST,
    "space latest": redis_keys.SPACE_LATEST,
    "smoke latest": redis_keys.SMOKE_DEVICE_LATEST,
}
# What the clients' errors say when a server is unreachable, in the status's words (the first found is said).
KNOWN_REASONS = (
    "connection refused",
    "timed out",
    "timeout",
    "all broker connections are down",
    "name or service not known",
    "no route to host",
    "authentication failed",
)
LATEST_RUN = """
SELECT run_id::text, window_start, window_end, time_zone, started_at, finished_at, verdict, rows_written, data_docs
FROM reporting.v_enrichment_runs {where}
ORDER BY started_at DESC, run_id LIMIT 1
"""
MISSED_EXPECTATIONS = """
SELECT table_name, column_name, expectation, severity FROM reporting.v_data_quality
WHERE run_id = %s AND success = false ORDER BY severity, table_name, column_name, expectation
"""


def collect_status(settings: Settings, now: datetime | None = None) -> StatusReport:
    """Every section, read side by side; now (default: the current time) is when the ages are taken."""
    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="status") as pool:
        servers = pool.submit(read_servers, settings)
        streams = pool.submit(read_streams, settings)
        change_feed = pool.submit(read_change_feed, settings)
        enrichment = pool.submit(read_enrichment, settings)
        cache = pool.submit(read_redis, settings)
        return StatusReport(
            environment=settings.environment,
            checked_at=now or datetime.now(UTC),
            servers=servers.result(),
            streams=streams.result(),
            change_feed=change_feed.result(),
            enrichment=enrichment.result(),
            redis=cache.result(),
        )


def error_text(error: BaseException, width: int = 60) -> str:
    """An error in a few words: the known reason it names (connection refused, timed out, ...), else its first
    line cut to width (the clients' messages repeat the address and the call, which the status already says)."""
    if isinstance(error, NoHostAvailable) and error.errors:
        error = next(iter(error.errors.values()))
    if isinstance(error, KafkaException):
        text = str(error.args[0].str())
    else:
        text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    reason = next((known for known in KNOWN_REASONS if known in text.lower()), None)
    if reason:
        return reason
    return text if len(text) <= width else text[: width - 3] + "..."


# Servers ------------------------------------------------------------------------------------------------------


def read_servers(settings: Settings) -> ServersSection:
    """local_stack.status of each server, asked side by side (a server that does not answer costs its timeout once)."""
    try:
        names = [server.name for server in local_stack.servers_in_use(settings)]
    except StackError as error:
        return ServersSection(note=str(error))
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="status-server") as pool:
        reports = pool.map(lambda name: local_stack.status(settings, (name,)), names)
        return ServersSection(tuple(server for report in reports for server in report))


# Streams ------------------------------------------------------------------------------------------------------


def checkpoints_root(settings: Settings) -> str:
    """The folder of every query's checkpoint."""
    return lake.checkpoints(settings.lake)


def read_streams(settings: Settings) -> StreamsSection:
    root = checkpoints_root(settings)
    if "://" in root and not root.startswith("file://"):
        return StreamsSection(root, not_read=f"the lake is not a local folder ({root}): checkpoints not read")
    checkpoints = read_checkpoints(Path(root.removeprefix("file://")))
    partitions = {partition for checkpoint in checkpoints for partition in (checkpoint.consumed or {})}
    latest: KafkaOffsets | None = None
    kafka_unavailable = None
    if partitions:
        try:
            latest = latest_offsets(settings, partitions)
        except KafkaException as error:
            address = settings.kafka.bootstrap_servers
            kafka_unavailable = Unavailable("kafka", error_text(error), address, "kafka.bootstrap_servers")
    return StreamsSection(
        checkpoints=root,
        streams=tuple(stream_progress(checkpoint, latest) for checkpoint in checkpoints),
        kafka_unavailable=kafka_unavailable,
    )


def stream_progress(checkpoint: StreamCheckpoint, latest: KafkaOffsets | None) -> StreamProgress:
    """A checkpoint's last micro-batch, and the messages Kafka holds beyond it (None without Kafka's offsets)."""
    batch, uncommitted = checkpoint.last_committed, checkpoint.uncommitted
    return StreamProgress(
        stream=checkpoint.stream,
        query_id=checkpoint.query_id,
        last_batch=batch.batch_id if batch else None,
        triggered_at=batch.triggered_at if batch else None,
        committed_at=checkpoint.committed_at,
        messages=checkpoint.messages,
        duration_s=checkpoint.duration_s,
        waiting_messages=(
            waiting_messages(checkpoint.consumed, latest) if latest is not None and checkpoint.consumed else None
        ),
        uncommitted_batch=uncommitted.batch_id if uncommitted else None,
        uncommitted_since=uncommitted.triggered_at if uncommitted else None,
    )


def latest_offsets(settings: Settings, partitions: Iterable[tuple[str, int]]) -> KafkaOffsets:
    """Each partition's end offset (the next offset a producer writes); a partition Kafka does not know is left out.

    A consumer that joins no group: it only asks for watermarks."""
    quiet = logging.getLogger("smartspaces.status.kafka")
    quiet.setLevel(logging.CRITICAL)
    config = {**client_config(settings.kafka), "group.id": "smartspaces-status", "enable.auto.commit": False}
    consumer = Consumer(config, logger=quiet)
    latest: KafkaOffsets = {}
    try:
        for topic, partition in sorted(partitions):
            try:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=CONNECT_TIMEOUT_S, cached=False
                )
            except KafkaException as error:
                if error.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise
                continue
            latest[(topic, partition)] = high
    finally:
        consumer.close()
    return latest


# Change feed --------------------------------------------------------------------------------------------------


def read_change_feed(settings: Settings) -> ChangeFeedSection:
    cassandra, feed = settings.cassandra, settings.changefeed
    cluster = cassandra_cluster(cassandra)
    cluster.connect_timeout = CONNECT_TIMEOUT_S
    try:
        session = cluster.connect()
        positions = consumer_positions(session, cassandra.keyspace, feed.consumer)
        writers: tuple[WriterBacklog, ...] = ()
        if feed.backend == "cassandra":
            # Change-log positions are batch ids; a position of another backend's (a switch) counts as none.
            read = {p.source: int(p.position) for p in positions if p.position.lstrip("-").isdigit()}
            writers = tuple(
                writer_backlog(
                    writer_id,
                    read.get(writer_id),
                    last_commit(session, cassandra.keyspace, writer_id),
                    commits_after(session, cassandra.keyspace, writer_id, read.get(writer_id, NO_BATCH)),
                    PENDING_BATCH_CAP,
                )
                for writer_id in change_log_writers(session, cassandra.keyspace)
            )
        return ChangeFeedSection(feed.consumer, feed.backend, tuple(positions), writers)
    except InvalidRequest as error:
        # The server answered: the keyspace or a table is missing.
        message = str(error).split('message="')[-1].rstrip('"')
        unavailable = Unavailable("cassandra", f"{message}: `smartspaces schema apply`")
        return ChangeFeedSection(feed.consumer, feed.backend, unavailable=unavailable)
    except (NoHostAvailable, DriverException) as error:
        address = f"{cassandra.host}:{cassandra.port}"
        unavailable = Unavailable("cassandra", error_text(error), address, "cassandra.host, cassandra.port")
        return ChangeFeedSection(feed.consumer, feed.backend, unavailable=unavailable)
    finally:
        cluster.shutdown()


def consumer_positions(session: Session, keyspace: str, consumer: str) -> list[SourcePosition]:
    rows = session.execute(
        f"SELECT source, position, updated_at FROM {CHANGE_FEED_CHECKPOINTS.qualified(keyspace)} WHERE consumer = %s",
        (consumer,),
    )
    # A partition holding only the consumer's lease (static columns) gives a row without a source.
    return [SourcePosition(row.source, row.position, as_utc(row.updated_at)) for row in rows if row.source is not None]


def change_log_writers(session: Session, keyspace: str) -> list[str]:
    rows = session.execute(f"SELECT DISTINCT writer_id FROM {CHANGE_LOG_COMMITS.qualified(keyspace)}")
    return sorted(row.writer_id for row in rows)


def _marker(row: Any) -> tuple[int, datetime, int]:
    """A commit marker as (batch, committed at, events); the driver returns times naive in UTC."""
    return row.batch_id, row.committed_at.replace(tzinfo=UTC), row.events or 0


def last_commit(session: Session, keyspace: str, writer_id: str) -> tuple[int, datetime, int] | None:
    row = session.execute(
        f"SELECT batch_id, committed_at, events FROM {CHANGE_LOG_COMMITS.qualified(keyspace)} "
        "WHERE writer_id = %s ORDER BY batch_id DESC LIMIT 1",
        (writer_id,),
    ).one()
    return _marker(row) if row else None


def commits_after(session: Session, keyspace: str, writer_id: str, batch_id: int) -> list[tuple[int, datetime, int]]:
    """The writer's commit markers after batch_id, oldest first, at most PENDING_BATCH_CAP + 1."""
    rows = session.execute(
        f"SELECT batch_id, committed_at, events FROM {CHANGE_LOG_COMMITS.qualified(keyspace)} "
        f"WHERE writer_id = %s AND batch_id > %s LIMIT {PENDING_BATCH_CAP + 1}",
        (writer_id, batch_id),
    )
    return [_marker(row) for row in rows]


# Enrichment ---------------------------------------------------------------------------------------------------


def read_enrichment(settings: Settings) -> EnrichmentSection:
    pg = settings.postgres
    try:
        with connect(pg) as connection:
            latest = latest_run(connection)
            if latest is None:
                return EnrichmentSection()
            missed = tuple(MissedExpectation(*row) for row in connection.execute(MISSED_EXPECTATIONS, (latest.run_id,)))
            last_written = latest_run(connection, written_only=True) if latest.verdict == FAILED_VERDICT else None
            return EnrichmentSection(latest, missed, last_written)
    except psycopg.errors.UndefinedTable as error:
        reason = f"{error_text(error)} in database {pg.database}: `smartspaces schema apply`"
        return EnrichmentSection(unavailable=Unavailable("postgres", reason))
    except psycopg.Error as error:
        address = f"{pg.host}:{pg.port}"
        return EnrichmentSection(
            unavailable=Unavailable("postgres", error_text(error), address, "postgres.host, postgres.port")
        )


def latest_run(connection: psycopg.Connection[Any], written_only: bool = False) -> EnrichmentRunSummary | None:
    """The newest run by start time; written_only: the newest whose facts were written (not failed)."""
    where = "WHERE verdict <> %s" if written_only else ""
    row = connection.execute(LATEST_RUN.format(where=where), (FAILED_VERDICT,) if written_only else ()).fetchone()
    if row is None:
        return None
    run_id, window_start, window_end, time_zone, started_at, finished_at, verdict, rows_written, data_docs = row
    return EnrichmentRunSummary(
        run_id=run_id,
        window_start=window_start.astimezone(UTC),
        window_end=window_end.astimezone(UTC),
        time_zone=time_zone,
        started_at=started_at.astimezone(UTC),
        finished_at=finished_at.astimezone(UTC),
        verdict=verdict,
        rows_written={table: int(rows) for table, rows in (rows_written or {}).items()},
        data_docs=data_docs,
    )


# Redis --------------------------------------------------------------------------------------------------------


def key_pattern(template: str) -> re.Pattern[str]:
    """A key layout (`smartspaces:v1:space:{space_id}:latest`) as a regular expression of its keys."""
    parts = [
        re.escape(literal) + (".+" if name is not None else "") for literal, name, _, _ in Formatter().parse(template)
    ]
    return re.compile("".join(parts))


FAMILY_PATTERNS = {name: key_pattern(template) for name, template in KEY_FAMILIES.items()}


def count_key_families(keys: Iterable[str]) -> tuple[dict[str, int], int]:
    """Keys per family of KEY_FAMILIES (every family listed, 0 included), and the keys of none."""
    counts = dict.fromkeys(FAMILY_PATTERNS, 0)
    other = 0
    for key in keys:
        family = next((name for name, pattern in FAMILY_PATTERNS.items() if pattern.fullmatch(key)), None)
        if family is None:
            other += 1
        else:
            counts[family] += 1
    return counts, other


def read_redis(settings: Settings) -> RedisSection:
    cache = settings.redis
    client = redis_client(cache)
    # One attempt: redis-py retries a refused connection ten times with backoff, seconds a status cannot wait.
    client.set_retry(Retry(NoBackoff(), 0))
    try:
        keys = int(client.dbsize())
        expiring = int(client.info("keyspace").get(f"db{cache.db}", {}).get("expires", 0))
        scanned: set[str] = set()
        capped = False
        for key in client.scan_iter(count=REDIS_SCAN_COUNT):
            if len(scanned) >= REDIS_SCAN_CAP:
                capped = True
                break
            scanned.add(key)
        families, other = count_key_families(scanned)
        return RedisSection(cache.db, keys, expiring, families, other, capped)
    except redis.exceptions.NoPermissionError as error:
        # It answered: the user (an ACL user of one part of the platform) may not count keys.
        refused = f"user {cache.username or 'default'} may not count the keys (DBSIZE, INFO, SCAN): {error}"
        return RedisSection(cache.db, unavailable=Unavailable("redis", f"{refused} (redis.username)"))
    except redis.RedisError as error:
        address = f"{cache.host}:{cache.port}"
        return RedisSection(
            cache.db, unavailable=Unavailable("redis", error_text(error), address, "redis.host, redis.port")
        )
    finally:
        client.close()
