"""`smartspaces status` without servers: Spark checkpoint files, backlogs and lags, problems, the screen and JSON."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cassandra.cluster import NoHostAvailable

from smartspaces.stack.local_stack import ServerStatus
from smartspaces.status.collect import count_key_families, error_text, stream_progress
from smartspaces.status.render import render_json, render_text, window_text
from smartspaces.status.sections import (
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
    duration_text,
    writer_backlog,
)
from smartspaces.status.stream_checkpoints import (
    PlannedBatch,
    StreamCheckpoint,
    messages_between,
    read_checkpoint,
    read_checkpoints,
    waiting_messages,
)
from transformations import redis_keys

NOW = datetime(2026, 12, 2, 16, 45, 0, tzinfo=UTC)
QUERY_ID = "9364cf59-b899-4415-882a-088cfc8a7fcc"
WRITER = f"ingest:{QUERY_ID}"
# What Spark 4 writes in an offsets file's metadata line, shortened to the keys that matter here.
CONF = '"conf":{"spark.sql.shuffle.partitions":"4"}'


def at(minutes_before_now: float) -> datetime:
    return NOW - timedelta(minutes=minutes_before_now)


def write_offsets(folder: Path, batch_id: int, triggered_at: datetime, offsets: dict[str, dict[str, int]]) -> None:
    """offsets/N as Spark writes it: a version line, the batch's metadata, one line per source."""
    millis = int(triggered_at.timestamp() * 1000)
    metadata = f'{{"batchWatermarkMs":0,"batchTimestampMs":{millis},{CONF}}}'
    (folder / "offsets").mkdir(parents=True, exist_ok=True)
    (folder / "offsets" / str(batch_id)).write_text(f"v1\n{metadata}\n{json.dumps(offsets)}")


def write_commit(folder: Path, batch_id: int, committed_at: datetime) -> None:
    """commits/N as Spark writes it, dated committed_at (the only record of when the batch finished)."""
    (folder / "commits").mkdir(parents=True, exist_ok=True)
    path = folder / "commits" / str(batch_id)
    path.write_text('v1\n{"nextBatchWatermarkMs":0}')
    (folder / "commits" / f".{batch_id}.crc").write_bytes(b"crc")  # Spark's checksum files are not batches
    os.utime(path, (committed_at.timestamp(), committed_at.timestamp()))


def write_query(folder: Path, initial: dict[str, dict[str, int]]) -> None:
    """The query's id, and the Kafka source's initial offsets (sources/0/0)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metadata").write_text(json.dumps({"id": QUERY_ID}))
    (folder / "sources" / "0").mkdir(parents=True)
    (folder / "sources" / "0" / "0").write_text(f"v1\n{json.dumps(initial)}")


def ingest_checkpoint(root: Path) -> Path:
    """Batches 0 and 1 committed, batch 2 planned and not committed."""
    folder = root / "ingest"
    write_query(folder, {"events": {"0": 0, "1": 0}})
    write_offsets(folder, 0, at(30), {"events": {"0": 100, "1": 50}})
    write_commit(folder, 0, at(29))
    write_offsets(folder, 1, at(10), {"events": {"0": 130, "1": 90}})
    write_commit(folder, 1, at(10) + timedelta(seconds=4.5))
    write_offsets(folder, 2, at(2), {"events": {"0": 150, "1": 90}})
    return folder


# Spark checkpoints -------------------------------------------------------------------------------------------


def test_a_checkpoint_gives_the_last_committed_batch_its_messages_and_its_duration(tmp_path: Path) -> None:
    checkpoint = read_checkpoint(ingest_checkpoint(tmp_path))

    assert checkpoint == StreamCheckpoint(
        stream="ingest",
        query_id=QUERY_ID,
        last_committed=PlannedBatch(1, at(10), {("events", 0): 130, ("events", 1): 90}),
        committed_at=at(10) + timedelta(seconds=4.5),
        previous_end={("events", 0): 100, ("events", 1): 50},
        uncommitted=PlannedBatch(2, at(2), {("events", 0): 150, ("events", 1): 90}),
        consumed={("events", 0): 130, ("events", 1): 90},
    )
    assert (checkpoint.messages, checkpoint.duration_s) == (70, 4.5)


def test_the_first_batch_counts_its_messages_from_the_initial_offsets(tmp_path: Path) -> None:
    folder = tmp_path / "bronze"
    write_query(folder, {"events": {"0": 10}})
    write_offsets(folder, 0, at(5), {"events": {"0": 25}})
    write_commit(folder, 0, at(4))

    checkpoint = read_checkpoint(folder)

    assert (checkpoint.messages, checkpoint.duration_s, checkpoint.uncommitted) == (15, 60.0, None)


def test_a_query_that_committed_nothing_has_read_up_to_its_initial_offsets(tmp_path: Path) -> None:
    folder = tmp_path / "ingest"
    write_query(folder, {"events": {"0": 7}})
    write_offsets(folder, 0, at(1), {"events": {"0": 9}})

    checkpoint = read_checkpoint(folder)

    assert (checkpoint.last_committed, checkpoint.messages, checkpoint.consumed) == (None, None, {("events", 0): 7})
    assert checkpoint.uncommitted == PlannedBatch(0, at(1), {("events", 0): 9})


def test_only_folders_holding_a_query_are_read_as_checkpoints(tmp_path: Path) -> None:
    ingest_checkpoint(tmp_path)
    (tmp_path / "not-a-query").mkdir()

    assert [checkpoint.stream for checkpoint in read_checkpoints(tmp_path)] == ["ingest"]
    assert read_checkpoints(tmp_path / "missing") == []


def test_a_source_that_is_not_kafka_gives_no_message_count(tmp_path: Path) -> None:
    folder = tmp_path / "from_delta"
    (folder / "offsets").mkdir(parents=True)
    delta_offsets = '{"sourceVersion":1,"reservoirId":"r","reservoirVersion":3,"index":-1,"isStartingVersion":false}'
    for batch_id in (0, 1):
        (folder / "offsets" / str(batch_id)).write_text(
            f'v1\n{{"batchWatermarkMs":0,"batchTimestampMs":1796228821177,{CONF}}}\n{delta_offsets}'
        )
    write_commit(folder, 1, at(1))

    checkpoint = read_checkpoint(folder)

    assert (checkpoint.last_committed and checkpoint.last_committed.end_offsets, checkpoint.messages) == ({}, None)


def test_messages_between_needs_the_start_of_every_partition() -> None:
    assert messages_between({("t", 0): 5}, {("t", 0): 9}) == 4
    assert messages_between({("t", 0): 5}, {("t", 0): 9, ("t", 1): 3}) is None


def test_waiting_messages_are_kafkas_end_offsets_beyond_the_consumed_ones() -> None:
    consumed = {("events", 0): 130, ("events", 1): 90}
    # Partition 1 was recreated (its end is before what was consumed): nothing waits there.
    assert waiting_messages(consumed, {("events", 0): 135, ("events", 1): 12}) == 5
    assert waiting_messages(consumed, {}) == 0


def test_a_stream_shows_its_last_batch_and_the_messages_waiting(tmp_path: Path) -> None:
    checkpoint = read_checkpoint(ingest_checkpoint(tmp_path))

    progress = stream_progress(checkpoint, {("events", 0): 160, ("events", 1): 95})

    assert progress == StreamProgress(
        stream="ingest",
        query_id=QUERY_ID,
        last_batch=1,
        triggered_at=at(10),
        committed_at=at(10) + timedelta(seconds=4.5),
        messages=70,
        duration_s=4.5,
        waiting_messages=35,
        uncommitted_batch=2,
        uncommitted_since=at(2),
    )
    assert stream_progress(checkpoint, None).waiting_messages is None


# Backlogs, lags and what needs attention ----------------------------------------------------------------------


def test_a_writers_backlog_counts_the_batches_after_the_position_and_dates_the_oldest() -> None:
    pending = [(3, at(12), 40), (4, at(11), 2), (5, at(1), 7)]

    backlog = writer_backlog(WRITER, 2, (5, at(1), 7), pending, cap=10)

    assert backlog == WriterBacklog(WRITER, 2, 5, at(1), 3, 49, at(12))
    assert backlog.lag_s(NOW) == 12 * 60


def test_a_backlog_beyond_the_cap_is_counted_up_to_the_cap_and_said_to_be_more() -> None:
    pending = [(batch, at(20 - batch), 1) for batch in range(4)]

    backlog = writer_backlog(WRITER, None, (3, at(17), 1), pending, cap=3)

    assert (backlog.pending_batches, backlog.pending_events, backlog.capped) == (3, 3, True)


def test_a_writer_read_to_its_last_batch_has_no_lag() -> None:
    backlog = writer_backlog(WRITER, 5, (5, at(30), 7), [], cap=10)

    assert (backlog.pending_batches, backlog.oldest_pending_at, backlog.lag_s(NOW)) == (0, None, 0.0)


def progress(waiting: int | None, committed_minutes_ago: float | None) -> StreamProgress:
    committed = None if committed_minutes_ago is None else at(committed_minutes_ago)
    return StreamProgress("ingest", QUERY_ID, 1, committed, committed, 10, 1.0, waiting)


def test_a_stream_is_behind_when_messages_wait_and_nothing_was_committed_for_five_minutes() -> None:
    assert progress(waiting=120, committed_minutes_ago=6).problem(NOW) == (
        "stream ingest: 120 messages waiting in Kafka, last micro-batch committed 6m00s ago"
    )
    assert progress(waiting=120, committed_minutes_ago=None).problem(NOW) == (
        "stream ingest: 120 messages waiting in Kafka, no micro-batch committed yet"
    )


def test_an_idle_or_busy_stream_is_not_behind() -> None:
    assert progress(waiting=0, committed_minutes_ago=600).problem(NOW) is None  # idle: nothing to read
    assert progress(waiting=120, committed_minutes_ago=1).problem(NOW) is None  # committing as it goes
    assert progress(waiting=None, committed_minutes_ago=600).problem(NOW) is None  # unknown: Kafka is reported


def run(run_id: str, verdict: str, started_hours_ago: float) -> EnrichmentRunSummary:
    started = NOW - timedelta(hours=started_hours_ago)
    return EnrichmentRunSummary(
        run_id=run_id,
        window_start=datetime(2026, 11, 30, 23, 0, tzinfo=UTC),
        window_end=datetime(2026, 12, 2, 23, 0, tzinfo=UTC),
        time_zone="Europe/Amsterdam",
        started_at=started,
        finished_at=started + timedelta(minutes=5, seconds=11),
        verdict=verdict,
        rows_written={"fact_space_daily": 114, "dim_device": 428} if verdict != "failed" else {},
        data_docs=None,
    )


MISSED = (
    MissedExpectation("fact_space_daily", "space_id", "expect_column_values_to_not_be_null", "fail"),
    MissedExpectation("fact_space_daily", "", "row_count_vs_previous_window", "warn"),
)


def test_a_failed_quality_gate_and_an_old_run_need_attention() -> None:
    failed = EnrichmentSection(run("0b1c2d3e-0000-4000-8000-000000000001", "failed", 40), MISSED)

    assert failed.problems(NOW) == [
        "enrichment: the latest run (0b1c2d3e) failed its quality gate, 1 fail-level expectation(s) missed; "
        "its window's reports were not updated",
        "enrichment: the latest run started 1d16h ago",
    ]
    assert EnrichmentSection(run("a", "warned", 2)).problems(NOW) == []
    assert EnrichmentSection().problems(NOW) == ["enrichment: no run recorded yet: `smartspaces run enrich`"]


def server(name: str, state: str, endpoint: str, answer: str) -> ServerStatus:
    return ServerStatus(name, state, 100 if state != "stopped" else None, 10.0, endpoint, answer)


RUNNING = ServersSection(
    (
        server("cassandra", "running", "127.0.0.1:9042", "Cassandra 5.0.9"),
        server("kafka", "running", "127.0.0.1:9092", "Kafka 3.9.2, 1 broker(s), cluster yDVVaeS0Txmnhdb8_0G5Sw"),
        server("postgres", "running", "postgresql://smartspaces@127.0.0.1:5432/smartspaces", "PostgreSQL 15.18 (Deb)"),
        server("redis", "running", "redis://127.0.0.1:6379/0", "Redis 7.0.15"),
    )
)
STREAMS = StreamsSection(
    "/srv/lake/_checkpoints",
    (
        StreamProgress("bronze", None, 1, at(20), at(18), 20_000, 94.3, 0),
        StreamProgress("ingest", QUERY_ID, 2, at(20), at(16), 20_000, 194.2, 0, 3, at(1)),
    ),
)
FEED = ChangeFeedSection(
    "critical-events",
    "cassandra",
    (SourcePosition(WRITER, "2", at(12)),),
    (WriterBacklog(WRITER, 2, 2, at(16), 0, 0, None),),
)
REDIS = RedisSection(
    0,
    311,
    311,
    {
        "critical index": 27,
        "critical events": 27,
        "critical complete": 0,
        "critical served": 0,
        "device latest": 194,
        "space latest": 57,
        "smoke latest": 6,
    },
    0,
)


def report(**sections: object) -> StatusReport:
    parts: dict[str, object] = {
        "servers": RUNNING,
        "streams": STREAMS,
        "change_feed": FEED,
        "enrichment": EnrichmentSection(run("09b450a9-c64e-4f7a-bea4-664e6ed1d07b", "passed", 0.2)),
        "redis": REDIS,
        **sections,
    }
    return StatusReport("local", NOW, **parts)  # type: ignore[arg-type]


def test_a_server_down_is_named_once_though_sections_could_not_be_read() -> None:
    redis_down = Unavailable("redis", "connection refused", "127.0.0.1:6379", "redis.host, redis.port")
    servers = ServersSection(
        (*RUNNING.servers[:3], server("redis", "stopped", "redis://127.0.0.1:6379/0", "")),
    )

    assert report(servers=servers, redis=RedisSection(0, unavailable=redis_down)).problems == [
        "redis is stopped (redis://127.0.0.1:6379/0): `smartspaces stack up`"
    ]


def test_a_store_that_does_not_answer_without_a_local_stack_is_named_by_its_section() -> None:
    postgres_down = Unavailable("postgres", "timed out", "db.example.net:5432", "postgres.host, postgres.port")
    no_stack = ServersSection(note="the 'aks' environment has no local stack (no 'stack' section)")

    found = report(servers=no_stack, enrichment=EnrichmentSection(unavailable=postgres_down))

    assert (found.problems, found.ok) == (["enrichment: postgres is not answering at db.example.net:5432"], False)


def test_a_change_feed_behind_by_more_than_five_minutes_needs_attention() -> None:
    behind = ChangeFeedSection(
        "critical-events", "cassandra", writers=(WriterBacklog(WRITER, 2, 5, at(1), 3, 49, at(12), capped=True),)
    )

    assert report(change_feed=behind).problems == [
        "change feed: writer ingest:9364cf59 has >=3 batch(es) (49 events) not read, the oldest committed 12m00s ago"
    ]


# The screen and the JSON ------------------------------------------------------------------------------------


def test_the_screen_shows_every_section_aligned_and_says_all_is_well() -> None:
    assert render_text(report()) == "\n".join(
        [
            "smartspaces status: environment local, 2026-12-02 16:45:00 UTC",
            "",
            "servers",
            "  cassandra  running  127.0.0.1:9042                                       Cassandra 5.0.9",
            "  kafka      running  127.0.0.1:9092                                       Kafka 3.9.2",
            "  postgres   running  postgresql://smartspaces@127.0.0.1:5432/smartspaces  PostgreSQL 15.18",
            "  redis      running  redis://127.0.0.1:6379/0                             Redis 7.0.15",
            "",
            "streams (Spark checkpoints in /srv/lake/_checkpoints)",
            "  stream  batch  committed (UTC)         ago  messages   took  waiting in Kafka",
            "  bronze      1  2026-12-02 16:27:00  18m00s    20,000  1m34s                 0",
            "  ingest      2  2026-12-02 16:29:00  16m00s    20,000  3m14s                 0",
            "  ingest: batch 3 triggered 1m00s ago, not committed (running, or replayed at restart)",
            "",
            "change feed (consumer critical-events, cassandra backend)",
            "  writer           read  last  pending  events  oldest pending (UTC)  lag",
            "  ingest:9364cf59     2     2        0       0  -                       -",
            "  position last moved 2026-12-02 16:33:00 UTC (12m00s ago)",
            "",
            "enrichment (reporting.v_enrichment_runs)",
            "  latest run  09b450a9, started 2026-12-02 16:33:00 UTC (12m00s ago), took 5m11s",
            "  window      2026-12-01 .. 2026-12-02 (Europe/Amsterdam)",
            "  verdict     passed, 542 rows written",
            "",
            "redis (db 0)",
            "  keys       311, 311 with a TTL",
            "  by layout  critical index 27, critical events 27, critical complete 0, critical served 0,",
            "             device latest 194, space latest 57, smoke latest 6, other 0",
            "",
            "all up and fresh",
        ]
    )


def test_a_section_whose_server_is_down_says_so_in_one_line_and_the_rest_still_renders() -> None:
    cassandra_down = Unavailable("cassandra", "connection refused", "127.0.0.1:9042", "cassandra.host, cassandra.port")
    servers = ServersSection((server("cassandra", "stopped", "127.0.0.1:9042", ""), *RUNNING.servers[1:]))

    screen = render_text(
        report(
            servers=servers, change_feed=ChangeFeedSection("critical-events", "cassandra", unavailable=cassandra_down)
        )
    )

    assert screen.split("\n\n")[3:] == [
        "change feed (consumer critical-events, cassandra backend)\n"
        "  cassandra is not answering at 127.0.0.1:9042 (cassandra.host, cassandra.port): connection refused",
        "enrichment (reporting.v_enrichment_runs)\n"
        "  latest run  09b450a9, started 2026-12-02 16:33:00 UTC (12m00s ago), took 5m11s\n"
        "  window      2026-12-01 .. 2026-12-02 (Europe/Amsterdam)\n"
        "  verdict     passed, 542 rows written",
        "redis (db 0)\n"
        "  keys       311, 311 with a TTL\n"
        "  by layout  critical index 27, critical events 27, critical complete 0, critical served 0,\n"
        "             device latest 194, space latest 57, smoke latest 6, other 0",
        "needs attention:\n  - cassandra is stopped (127.0.0.1:9042): `smartspaces stack up`",
    ]


def test_a_failed_run_shows_what_it_missed_and_the_last_run_that_wrote_the_reports() -> None:
    failed = EnrichmentSection(
        run("0b1c2d3e-0000-4000-8000-000000000001", "failed", 1),
        MISSED,
        run("09b450a9-c64e-4f7a-bea4-664e6ed1d07b", "passed", 20),
    )

    section = render_text(report(enrichment=failed)).split("\n\n")[4]

    assert section == "\n".join(
        [
            "enrichment (reporting.v_enrichment_runs)",
            "  latest run    0b1c2d3e, started 2026-12-02 15:45:00 UTC (1h00m ago), took 5m11s",
            "  window        2026-12-01 .. 2026-12-02 (Europe/Amsterdam)",
            "  verdict       failed",
            "  missed        fail fact_space_daily.space_id expect_column_values_to_not_be_null",
            "                warn fact_space_daily row_count_vs_previous_window",
            "  last written  09b450a9, started 2026-12-01 20:45:00 UTC (20h00m ago), took 5m11s",
            "                2026-12-01 .. 2026-12-02 (Europe/Amsterdam)",
        ]
    )


def test_the_json_carries_every_section_the_derived_lags_and_the_verdict() -> None:
    behind = ChangeFeedSection(
        "critical-events", "cassandra", writers=(WriterBacklog(WRITER, 2, 5, at(1), 3, 49, at(12)),)
    )

    document = json.loads(json.dumps(render_json(report(change_feed=behind))))

    assert document["ok"] is False
    assert document["problems"] == [
        "change feed: writer ingest:9364cf59 has 3 batch(es) (49 events) not read, the oldest committed 12m00s ago"
    ]
    assert document["change_feed"] == {
        "consumer": "critical-events",
        "backend": "cassandra",
        "positions": [],
        "writers": [
            {
                "writer_id": WRITER,
                "read_batch": 2,
                "last_batch": 5,
                "last_committed_at": "2026-12-02T16:44:00+00:00",
                "pending_batches": 3,
                "pending_events": 49,
                "oldest_pending_at": "2026-12-02T16:33:00+00:00",
                "capped": False,
                "lag_s": 720.0,
            }
        ],
        "unavailable": None,
        "lag_s": 720.0,
    }
    assert document["streams"]["streams"][1] == {
        "stream": "ingest",
        "query_id": QUERY_ID,
        "last_batch": 2,
        "triggered_at": "2026-12-02T16:25:00+00:00",
        "committed_at": "2026-12-02T16:29:00+00:00",
        "messages": 20_000,
        "duration_s": 194.2,
        "waiting_messages": 0,
        "uncommitted_batch": 3,
        "uncommitted_since": "2026-12-02T16:44:00+00:00",
        "committed_age_s": 960.0,
    }


# Pieces -----------------------------------------------------------------------------------------------------


def test_redis_keys_are_counted_by_the_layouts_of_redis_keys() -> None:
    keys = [
        redis_keys.SPACE_CRITICAL_INDEX.format(space_id="s-1"),
        redis_keys.SPACE_CRITICAL_EVENTS.format(space_id="s-1"),
        redis_keys.SPACE_CRITICAL_COMPLETE.format(space_id="s-1"),
        redis_keys.SPACE_CRITICAL_SERVED.format(space_id="s-1"),
        redis_keys.SPACE_CRITICAL_INDEX.format(space_id="s-2"),
        redis_keys.DEVICE_LATEST.format(device_id="co2-1"),
        redis_keys.SPACE_LATEST.format(space_id="s-1"),
        "someone:else",
    ]

    assert count_key_families(keys) == (
        {
            "critical index": 2,
            "critical events": 1,
            "critical complete": 1,
            "critical served": 1,
            "device latest": 1,
            "space latest": 1,
            "smoke latest": 0,
        },
        1,
    )


def test_a_window_of_whole_local_days_reads_as_its_first_and_last_day() -> None:
    assert window_text(run("r", "passed", 1)) == "2026-12-01 .. 2026-12-02 (Europe/Amsterdam)"
    hours = EnrichmentRunSummary("r", at(120), at(60), "Europe/Amsterdam", at(1), NOW, "passed", {}, None)
    assert window_text(hours) == "2026-12-02 15:45 .. 2026-12-02 16:45 (Europe/Amsterdam)"


def test_durations_read_in_the_largest_units_that_matter() -> None:
    assert [duration_text(s) for s in (0.42, 12, 185, 7_800, 273_600)] == ["0.4s", "12s", "3m05s", "2h10m", "3d04h"]


def test_an_unreachable_server_is_said_in_a_few_words() -> None:
    refused = ConnectionRefusedError(111, "Tried connecting to [('127.0.0.1', 9042)]. Last error: Connection refused")

    assert error_text(NoHostAvailable("Unable to connect to any servers", {"127.0.0.1:9042": refused})) == (
        "connection refused"
    )
    assert error_text(RuntimeError("x" * 100), width=10) == "xxxxxxx..."
