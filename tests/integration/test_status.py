"""`smartspaces status` against the running stack: a real Spark checkpoint on a topic of the test's own, change-log
markers and a consumer position in the test's keyspace, runs in the module's reporting database, keys in Redis db 3.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from cassandra.cluster import Session
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from psycopg.types.json import Jsonb
from pyspark.sql import SparkSession

from smartspaces import lake
from smartspaces.cassandra_tables import CHANGE_FEED_CHECKPOINTS, CHANGE_LOG_COMMITS
from smartspaces.cli import main
from smartspaces.config import PostgresSettings, Settings, load_settings
from smartspaces.connectors.kafka import kafka_options
from smartspaces.connectors.kafka_admin import client_config, ensure_topic
from smartspaces.connectors.postgres import connect
from smartspaces.connectors.redis import redis_client
from smartspaces.stack import local_stack
from smartspaces.status.collect import collect_status
from smartspaces.status.sections import (
    ChangeFeedSection,
    EnrichmentRunSummary,
    EnrichmentSection,
    MissedExpectation,
    RedisSection,
    SourcePosition,
    Unavailable,
    WriterBacklog,
)
from tests.integration.serving_fixtures import free_port
from transformations import redis_keys

INGEST_WRITER = f"ingest:{uuid.uuid4()}"
REPLAY_WRITER = f"replay:{uuid.uuid4()}"
FAILED_RUN = str(uuid.uuid4())
PASSED_RUN = str(uuid.uuid4())
WINDOW_START = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
WINDOW_END = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)


@pytest.fixture
def status_settings(
    serving_settings: Settings, store: PostgresSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The test's keyspace and Redis db 3, the module's reporting database, a lake and a Kafka topic of its own
    (set in the environment too, so `smartspaces status` sees them)."""
    topic = f"test.status_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SMARTSPACES__LAKE__ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("SMARTSPACES__POSTGRES__DATABASE", store.database)
    monkeypatch.setenv("SMARTSPACES__INGEST__TOPIC", topic)
    settings = load_settings("local")
    ensure_topic(settings.kafka, topic, 1)
    yield settings
    admin = AdminClient(client_config(settings.kafka))  # kept while the deletion runs: a dropped client aborts it
    admin.delete_topics([topic])[topic].result(30)


def send(settings: Settings, count: int) -> None:
    producer = Producer(client_config(settings.kafka))
    for number in range(count):
        producer.produce(settings.ingest.topic, key=f"d{number}", value=b"{}")
    assert producer.flush(30) == 0


def run_stream_once(spark: SparkSession, settings: Settings, stream: str) -> str:
    """A streaming query on the test's topic, drained once (availableNow) into Spark's noop sink; its id."""
    query = (
        spark.readStream.format("kafka")
        .options(**kafka_options(settings.kafka))
        .option("subscribe", settings.ingest.topic)
        .option("startingOffsets", "earliest")
        .load()
        .writeStream.queryName(stream)
        .format("noop")
        .option("checkpointLocation", lake.checkpoint(settings.lake, stream))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)
    return str(query.id)


def write_change_log(session: Session, settings: Settings, now: datetime) -> None:
    """The ingest writer's batches 0-4, of which the consumer has read up to 1; a replay's batch 0, not read."""
    commits = session.prepare(
        f"INSERT INTO {CHANGE_LOG_COMMITS.qualified(settings.cassandra.keyspace)} "
        "(writer_id, batch_id, events, committed_at) VALUES (?, ?, ?, ?)"
    )
    for batch_id, minutes_ago, events in ((0, 30, 10), (1, 20, 11), (2, 12, 12), (3, 5, 13), (4, 2, 14)):
        session.execute(commits, (INGEST_WRITER, batch_id, events, now - timedelta(minutes=minutes_ago)))
    session.execute(commits, (REPLAY_WRITER, 0, 5, now - timedelta(minutes=1)))
    session.execute(
        f"INSERT INTO {CHANGE_FEED_CHECKPOINTS.qualified(settings.cassandra.keyspace)} "
        "(consumer, source, position, updated_at) VALUES (%s, %s, %s, %s)",
        (settings.changefeed.consumer, INGEST_WRITER, "1", now - timedelta(minutes=11)),
    )


def write_runs(pg: PostgresSettings, now: datetime) -> None:
    """A passed run a day ago, and a failed one of the same window an hour ago with one expectation missed."""
    runs: tuple[tuple[str, datetime, str, dict[str, int]], ...] = (
        (PASSED_RUN, now - timedelta(hours=25), "passed", {"fact_space_daily": 114, "dim_device": 428}),
        (FAILED_RUN, now - timedelta(hours=1), "failed", {}),
    )
    with connect(pg) as connection:
        for run_id, started, verdict, written in runs:
            connection.execute(
                "INSERT INTO reporting.enrichment_runs (run_id, window_start, window_end, time_zone, started_at, "
                "finished_at, verdict, rows_written) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    run_id,
                    WINDOW_START,
                    WINDOW_END,
                    "Europe/Amsterdam",
                    started,
                    started + timedelta(minutes=5),
                    verdict,
                    Jsonb(written),
                ),
            )
        connection.execute(
            "INSERT INTO reporting.dq_results (run_id, expectation, table_name, column_name, severity, success, "
            "observed, window_start, window_end, checked_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                FAILED_RUN,
                "expect_column_values_to_not_be_null",
                "fact_space_daily",
                "space_id",
                "fail",
                False,
                "3 null values",
                WINDOW_START,
                WINDOW_END,
                now - timedelta(hours=1),
            ),
        )


def write_cache(settings: Settings) -> None:
    """A space's critical list and a device's latest readings (expiring), and a key of no platform layout."""
    client: redis.Redis = redis_client(settings.redis)
    client.zadd(redis_keys.SPACE_CRITICAL_INDEX.format(space_id="s-1"), {"e1": 1})
    client.hset(redis_keys.SPACE_CRITICAL_EVENTS.format(space_id="s-1"), "e1", "{}")
    client.hset(redis_keys.DEVICE_LATEST.format(device_id="co2-1"), "co2", "{}")
    client.expire(redis_keys.DEVICE_LATEST.format(device_id="co2-1"), 3600)
    client.set("someone:else", "1")
    client.close()


@pytest.fixture
def platform(status_settings: Settings, session: Session, spark: SparkSession) -> tuple[Settings, datetime, str]:
    """Every store holding known rows: 3 messages read by a real query and 2 more sent after it; the time after."""
    send(status_settings, 3)
    query_id = run_stream_once(spark, status_settings, "ingest")
    send(status_settings, 2)
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)  # whole seconds, after the commit
    write_change_log(session, status_settings, now)
    write_runs(status_settings.postgres, now)
    write_cache(status_settings)
    return status_settings, now, query_id


def expected_change_feed(settings: Settings, now: datetime) -> ChangeFeedSection:
    return ChangeFeedSection(
        consumer=settings.changefeed.consumer,
        backend="cassandra",
        positions=(SourcePosition(INGEST_WRITER, "1", now - timedelta(minutes=11)),),
        writers=(
            WriterBacklog(INGEST_WRITER, 1, 4, now - timedelta(minutes=2), 3, 39, now - timedelta(minutes=12)),
            WriterBacklog(REPLAY_WRITER, None, 0, now - timedelta(minutes=1), 1, 5, now - timedelta(minutes=1)),
        ),
    )


def run_summary(run_id: str, started: datetime, verdict: str, written: dict[str, int]) -> EnrichmentRunSummary:
    return EnrichmentRunSummary(
        run_id,
        WINDOW_START,
        WINDOW_END,
        "Europe/Amsterdam",
        started,
        started + timedelta(minutes=5),
        verdict,
        written,
        None,
    )


def test_the_status_reads_each_stage_from_its_store(platform: tuple[Settings, datetime, str]) -> None:
    settings, now, query_id = platform

    report = collect_status(settings, now)

    # An optional server (MySQL) is listed only while it runs, which another module's test may make it do.
    default_servers = [server for server in report.servers.servers if server.name not in local_stack.OPTIONAL_NAMES]
    assert [(server.name, server.state) for server in default_servers] == [
        ("cassandra", "running"),
        ("kafka", "running"),
        ("postgres", "running"),
        ("redis", "running"),
    ]
    [stream] = report.streams.streams
    assert (stream.stream, stream.query_id, stream.last_batch, stream.messages, stream.waiting_messages) == (
        "ingest",
        query_id,
        0,
        3,
        2,
    )
    assert stream.triggered_at and stream.committed_at and stream.triggered_at <= stream.committed_at <= now
    assert report.change_feed == expected_change_feed(settings, now)
    assert report.enrichment == EnrichmentSection(
        latest=run_summary(FAILED_RUN, now - timedelta(hours=1), "failed", {}),
        missed=(MissedExpectation("fact_space_daily", "space_id", "expect_column_values_to_not_be_null", "fail"),),
        last_written=run_summary(
            PASSED_RUN, now - timedelta(hours=25), "passed", {"fact_space_daily": 114, "dim_device": 428}
        ),
    )
    assert report.redis == RedisSection(
        db=3,
        keys=4,
        keys_with_ttl=1,
        families={
            "critical index": 1,
            "critical events": 1,
            "critical complete": 0,
            "critical served": 0,
            "device latest": 1,
            "space latest": 0,
            "smoke latest": 0,
        },
        other_keys=1,
    )
    assert report.problems == [
        f"change feed: writer ingest:{INGEST_WRITER[7:15]} has 3 batch(es) (39 events) not read, "
        "the oldest committed 12m00s ago",
        f"enrichment: the latest run ({FAILED_RUN[:8]}) failed its quality gate, 1 fail-level expectation(s) "
        "missed; its window's reports were not updated",
    ]


def test_a_store_that_does_not_answer_is_one_line_and_the_other_sections_still_read(
    platform: tuple[Settings, datetime, str],
) -> None:
    settings, now, _ = platform
    redis_port, postgres_port = free_port(), free_port()
    elsewhere = settings.model_copy(
        update={
            "redis": settings.redis.model_copy(update={"port": redis_port}),
            "postgres": settings.postgres.model_copy(update={"port": postgres_port}),
        }
    )

    report = collect_status(elsewhere, now)

    assert report.redis == RedisSection(
        3, unavailable=Unavailable("redis", "connection refused", f"127.0.0.1:{redis_port}", "redis.host, redis.port")
    )
    assert report.enrichment == EnrichmentSection(
        unavailable=Unavailable(
            "postgres", "connection refused", f"127.0.0.1:{postgres_port}", "postgres.host, postgres.port"
        )
    )
    assert report.change_feed == expected_change_feed(settings, now)
    # The stack's processes run, but not on these ports: named once each, as the servers section sees them.
    assert report.problems[:2] == [
        f"postgres is starting (postgresql://smartspaces@127.0.0.1:{postgres_port}/{settings.postgres.database}): "
        "its process runs but does not answer",
        f"redis is starting (redis://127.0.0.1:{redis_port}/3): its process runs but does not answer",
    ]


@pytest.mark.usefixtures("platform")
def test_the_command_prints_one_screen_or_json_and_exits_1_when_something_needs_attention(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    redis_port = free_port()
    monkeypatch.setenv("SMARTSPACES__REDIS__PORT", str(redis_port))

    assert main(["status"]) == 1
    screen = capsys.readouterr().out
    assert main(["status", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)

    down = f"redis is not answering at 127.0.0.1:{redis_port} (redis.host, redis.port): connection refused"
    assert f"redis (db 3)\n  {down}\n" in screen
    assert "\nneeds attention:\n" in screen
    assert document["redis"]["unavailable"] == {
        "server": "redis",
        "reason": "connection refused",
        "address": f"127.0.0.1:{redis_port}",
        "keys": "redis.host, redis.port",
    }
    assert (document["ok"], document["change_feed"]["writers"][0]["pending_batches"]) == (False, 3)
