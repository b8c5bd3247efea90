"""Change feed end to end: events → Kafka → ingest → change log → change-feed job → Cassandra and Redis."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs import cache_warmup, changefeed, ingest
from smartspaces.config import PROJECT_ROOT, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.stages.cache.critical_events import critical_keys
from tests.integration.changefeed_fixtures import FIRST_HALF, SECOND_HALF, Campus, write_reference
from tests.integration.ingest_fixtures import read_report
from tests.integration.reference_fixtures import MergedDrops
from tests.integration.serving_fixtures import PrivateRedis
from transformations.redis_keys import (
    COMPLETE_FIELD,
    DEVICE_LATEST,
    SPACE_CRITICAL_COMPLETE,
    SPACE_CRITICAL_EVENTS,
    SPACE_CRITICAL_INDEX,
    SPACE_LATEST,
)


def query(settings: Settings, cql: str) -> list[tuple[object, ...]]:
    cluster = cassandra_cluster(settings.cassandra)
    try:
        return sorted(tuple(row) for row in cluster.connect(settings.cassandra.keyspace).execute(cql, timeout=60))
    finally:
        cluster.shutdown()


def committed_positions(settings: Settings) -> list[tuple[object, ...]]:
    """Every committed (source, position); the partition's lease alone (static columns) has no source."""
    return [row for row in query(settings, "SELECT source, position FROM change_feed_checkpoints") if row[0]]


def stored_critical(settings: Settings) -> set[tuple[str, str, str, datetime]]:
    rows = query(settings, "SELECT space_id, rule_id, source_event_id, event_time FROM critical_events_by_space")
    return {(str(space), str(rule), str(source), time_) for space, rule, source, time_ in rows}  # type: ignore[misc]


def cached_critical(settings: Settings, space_id: str) -> set[tuple[str, str]]:
    client = redis_client(settings.redis)
    ids = client.zrange(SPACE_CRITICAL_INDEX.format(space_id=space_id), 0, -1)
    events = client.hgetall(SPACE_CRITICAL_EVENTS.format(space_id=space_id))
    assert sorted(ids) == sorted(events), "the index and the events hash disagree"
    return {(json.loads(event)["rule_id"], json.loads(event)["source_event_id"]) for event in events.values()}


def cached_latest(settings: Settings, key: str) -> dict[str, float]:
    fields: dict[str, str] = redis_client(settings.redis).hgetall(key)  # type: ignore[assignment]
    return {metric: json.loads(value)["value"] for metric, value in fields.items() if not metric.startswith("_")}


def ingest_half(campus: Campus, half: list) -> None:  # type: ignore[type-arg]
    campus.send(half)
    assert ingest.main(["--drain"]) == 0


def assert_all_effects(settings: Settings, campus: Campus) -> None:
    expected = campus.expected_critical(FIRST_HALF + SECOND_HALF)
    assert stored_critical(settings) == expected
    for space_id in ("s-office", "s-lobby"):
        assert cached_critical(settings, space_id) == {
            (rule, source) for space, rule, source, _ in expected if space == space_id
        }
    latest = {"co2": 800.0, "temperature": 40.0, "occupancy": 6.0}
    assert query(settings, "SELECT device_id, metric, value FROM device_latest") == sorted(
        [("co2-1", "co2", 800.0), ("temp-1", "temperature", 40.0), ("occ-1", "occupancy", 6.0)]
    )
    assert query(settings, "SELECT space_id, metric, value FROM space_latest") == sorted(
        ("s-office", metric, value) for metric, value in latest.items()
    )
    assert cached_latest(settings, DEVICE_LATEST.format(device_id="co2-1")) == {"co2": 800.0}
    assert cached_latest(settings, SPACE_LATEST.format(space_id="s-office")) == latest


def test_threshold_crossings_become_exactly_the_expected_critical_events_and_latest_values_without_tombstones(
    feed_settings: Settings, tmp_path: Path, merged_drops: MergedDrops
) -> None:
    merged_drops.load(feed_settings, write_reference(tmp_path / "reference"))
    campus = Campus(feed_settings)
    ingest_half(campus, FIRST_HALF)
    assert changefeed.main(["--once"]) == 0
    # Only what the first half can show: the rules that need the second half have not fired yet.
    assert stored_critical(feed_settings) == campus.expected_critical(FIRST_HALF)
    ingest_half(campus, SECOND_HALF)
    assert changefeed.main(["--once"]) == 0
    assert_all_effects(feed_settings, campus)
    # A forced door's critical event has no metric, value or unit: none of them is written as a tombstone.
    reads = read_report(feed_settings, "SELECT * FROM critical_events_by_space")
    assert reads and all(read.endswith(" live rows and 0 tombstone cells") for read in reads), reads


def test_replayed_ingest_batches_have_no_duplicate_effect(
    feed_settings: Settings, tmp_path: Path, merged_drops: MergedDrops
) -> None:
    merged_drops.load(feed_settings, write_reference(tmp_path / "reference"))
    campus = Campus(feed_settings)
    started = datetime.now(UTC) - timedelta(minutes=1)
    ingest_half(campus, FIRST_HALF)
    ingest_half(campus, SECOND_HALF)
    assert changefeed.main(["--once"]) == 0
    assert_all_effects(feed_settings, campus)
    # Two replays from bronze: two new change-log writers deliver every event twice more.
    period = [started.isoformat(), (datetime.now(UTC) + timedelta(minutes=1)).isoformat()]
    for _ in range(2):
        assert ingest.main(["--replay-from", period[0], "--replay-to", period[1]]) == 0
    assert len(query(feed_settings, "SELECT DISTINCT writer_id FROM change_log_commits")) == 3
    assert changefeed.main(["--once"]) == 0
    assert_all_effects(feed_settings, campus)


def test_a_change_feed_killed_between_processing_and_commit_loses_and_duplicates_nothing(
    feed_settings: Settings, tmp_path: Path, merged_drops: MergedDrops
) -> None:
    merged_drops.load(feed_settings, write_reference(tmp_path / "reference"))
    campus = Campus(feed_settings)
    ingest_half(campus, FIRST_HALF)
    job = HoldingFeed(hold_s=300)
    os.killpg(job.process.pid, signal.SIGKILL)
    job.process.wait(timeout=60)
    # Processed, not committed: the effects are there, the checkpoint is not.
    assert stored_critical(feed_settings) == campus.expected_critical(FIRST_HALF)
    assert committed_positions(feed_settings) == []

    ingest_half(campus, SECOND_HALF)
    assert changefeed.main(["--once"]) == 0
    assert_all_effects(feed_settings, campus)


def test_warm_up_refills_a_flushed_cache_with_the_same_layout(
    feed_settings: Settings, tmp_path: Path, merged_drops: MergedDrops
) -> None:
    merged_drops.load(feed_settings, write_reference(tmp_path / "reference"))
    campus = Campus(feed_settings)
    ingest_half(campus, FIRST_HALF + SECOND_HALF)
    assert changefeed.main(["--once"]) == 0
    client = redis_client(feed_settings.redis)
    device_key = DEVICE_LATEST.format(device_id="co2-1")
    # The streaming loader never claims completeness: only a fill from Cassandra can.
    assert not client.hexists(device_key, COMPLETE_FIELD)
    client.flushdb()
    assert cache_warmup.main(["--hours", "3"]) == 0
    assert_all_effects(feed_settings, campus)
    assert client.hexists(device_key, COMPLETE_FIELD)
    # 6 critical events in the window, fewer than the 50 kept: older ones may exist, so not complete.
    assert not client.exists(SPACE_CRITICAL_COMPLETE.format(space_id="s-office"))


def test_with_redis_hung_the_feed_goes_on_and_drops_what_it_left_stale_when_redis_answers(
    feed_settings: Settings,
    tmp_path: Path,
    merged_drops: MergedDrops,
    private_redis: PrivateRedis,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SMARTSPACES__REDIS__PORT", str(private_redis.port))
    monkeypatch.setenv("SMARTSPACES__REDIS__DB", "0")
    settings = load_settings("local")
    merged_drops.load(settings, write_reference(tmp_path / "reference"))
    campus = Campus(settings)
    ingest_half(campus, FIRST_HALF)
    assert changefeed.main(["--once"]) == 0
    # The warm-up marks the device's hash complete, as a read's fill does: a value an outage could leave stale.
    assert cache_warmup.main(["--hours", "3"]) == 0
    client = redis_client(settings.redis)
    device_key = DEVICE_LATEST.format(device_id="co2-1")
    assert cached_latest(settings, device_key) == {"co2": 1250.0} and client.hexists(device_key, COMPLETE_FIELD)

    os.kill(private_redis.process.pid, signal.SIGSTOP)  # Redis hangs: connections open, no answers
    try:
        capfd.readouterr()
        ingest_half(campus, SECOND_HALF)
        assert changefeed.main(["--once"]) == 0
        outage = capfd.readouterr().err
        # Cassandra has every critical event and reading of the outage; Redis owes its keys.
        assert stored_critical(settings) == campus.expected_critical(FIRST_HALF + SECOND_HALF)
        assert ("co2-1", "co2", 800.0) in query(settings, "SELECT device_id, metric, value FROM device_latest")
        owed = {str(key) for (key,) in query(settings, "SELECT redis_key FROM change_feed_cache_debt")}
        assert {device_key, *critical_keys("s-office"), *critical_keys("s-lobby")} <= owed
    finally:
        os.kill(private_redis.process.pid, signal.SIGCONT)
    assert f"redis at 127.0.0.1:{private_redis.port} failed" in outage
    assert "(settings redis.host, redis.port)" in outage

    # Redis answers again: the next run, with no new change, drops every owed key and forgets the debt.
    assert changefeed.main(["--once"]) == 0
    assert (
        f"redis at 127.0.0.1:{private_redis.port} answers again: dropped the {len(owed)} keys" in capfd.readouterr().err
    )
    assert query(settings, "SELECT redis_key FROM change_feed_cache_debt") == []
    assert client.exists(*owed) == 0


class HoldingFeed:
    """The change-feed job in a process of its own, processing one micro-batch and then holding before its
    commit for hold_s; returns once it holds. Its stderr lines are kept."""

    def __init__(self, hold_s: float, **environment: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jobs.changefeed", "--once", "--hold-before-commit-s", str(hold_s)],
            cwd=PROJECT_ROOT,
            env={**os.environ, **environment},
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        holding = threading.Event()

        def watch() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.lines.append(line)
                if "changefeed_holding_before_commit" in line:
                    holding.set()

        threading.Thread(target=watch, daemon=True).start()
        assert holding.wait(timeout=300), "the change-feed job never reached its commit"

    @property
    def owner(self) -> str:
        return f"{socket.gethostname()}:{self.process.pid}"


def test_a_second_consumer_process_waits_for_the_lease_then_ends_naming_its_holder(
    feed_settings: Settings,
    tmp_path: Path,
    merged_drops: MergedDrops,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    merged_drops.load(feed_settings, write_reference(tmp_path / "reference"))
    campus = Campus(feed_settings)
    ingest_half(campus, FIRST_HALF)
    first = HoldingFeed(hold_s=300, SMARTSPACES__CHANGEFEED__LEASE_S="300")
    try:
        monkeypatch.setenv("SMARTSPACES__CHANGEFEED__LEASE_WAIT_S", "2")
        capfd.readouterr()
        assert changefeed.main(["--once"]) == 2
        refused = capfd.readouterr().err
    finally:
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=60)
    assert f"change feed consumer 'critical-events' is held by {first.owner}" in refused
    assert "changefeed.lease_s" in refused and "changefeed.consumer" in refused
    # The second process changed nothing: the first's batch is processed, and no position was committed.
    assert committed_positions(feed_settings) == []


def test_a_process_paused_past_its_lease_cannot_commit_after_another_took_over(
    feed_settings: Settings, tmp_path: Path, merged_drops: MergedDrops, capfd: pytest.CaptureFixture[str]
) -> None:
    merged_drops.load(feed_settings, write_reference(tmp_path / "reference"))
    campus = Campus(feed_settings)
    ingest_half(campus, FIRST_HALF)
    # The first process's lease lasts 2 s; it holds before its commit for far longer (a long GC pause, say).
    first = HoldingFeed(hold_s=12, SMARTSPACES__CHANGEFEED__LEASE_S="2")
    time.sleep(3)
    capfd.readouterr()
    assert changefeed.main(["--once"]) == 0  # takes the expired lease, processes and commits the batch
    took_over = capfd.readouterr().err
    assert first.process.wait(timeout=120) == 3
    assert f"took over the expired lease of {first.owner}" in took_over
    assert any("lost its lease to another one" in line for line in first.lines)
    assert stored_critical(feed_settings) == campus.expected_critical(FIRST_HALF)
    committed = committed_positions(feed_settings)
    assert len(committed) == 1
    # What the second committed is what the first would have: the next batch carries on from it.
    ingest_half(campus, SECOND_HALF)
    assert changefeed.main(["--once"]) == 0
    assert_all_effects(feed_settings, campus)


def test_change_log_batches_that_expired_unread_stop_the_feed_until_the_gap_is_accepted(
    feed_settings: Settings, tmp_path: Path, merged_drops: MergedDrops, capfd: pytest.CaptureFixture[str]
) -> None:
    merged_drops.load(feed_settings, write_reference(tmp_path / "reference"))
    campus = Campus(feed_settings)
    ingest_half(campus, FIRST_HALF)
    assert changefeed.main(["--once"]) == 0
    ingest_half(campus, SECOND_HALF[:4])
    ingest_half(campus, SECOND_HALF[4:])
    markers = query(feed_settings, "SELECT writer_id, batch_id, previous_batch_id FROM change_log_commits")
    writer = str(markers[0][0])
    assert [(batch, previous) for _, batch, previous in markers] == [(0, -1), (1, 0), (2, 1)]
    # Batch 1 expires before the feed reads it (the log's 7-day TTL, forced here): its marker and rows go.
    query(feed_settings, f"DELETE FROM change_log_commits WHERE writer_id = '{writer}' AND batch_id = 1")
    query(feed_settings, f"DELETE FROM change_log WHERE writer_id = '{writer}' AND batch_id = 1")

    capfd.readouterr()
    assert changefeed.main(["--once"]) == 2
    refused = capfd.readouterr().err
    assert f"change log gap: writer {writer}: this consumer read up to batch 0" in refused
    assert "batches 1..1 expired (the change log keeps 7 days) before they were read" in refused
    assert committed_positions(feed_settings) == [(writer, "0")]
    # The operator replays the period from bronze (a new writer), then accepts the gap: the feed goes on.
    assert changefeed.main(["--once", "--accept-gap"]) == 0
    assert "accepted: change log gap" in capfd.readouterr().err
    assert committed_positions(feed_settings) == [(writer, "2")]
