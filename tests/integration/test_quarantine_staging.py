"""The quarantine's staging: a micro-batch's folder moves into the table once, whatever stops when."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from delta.exceptions import ConcurrentAppendException
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from smartspaces.connectors.delta import read_delta
from smartspaces.stages.ingest import quarantine
from smartspaces.stages.ingest.quarantine import QuarantineFlusher, QuarantineFlushError, QuarantineStaging

pytestmark = pytest.mark.integration

ARRIVED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SCHEMA = (
    "kafka_topic string, kafka_partition int, kafka_offset bigint, kafka_timestamp timestamp, payload string, "
    "reason string, ingest_date date"
)


def records(spark: SparkSession, *offsets: int) -> DataFrame:
    rows = [("events", 0, offset, ARRIVED, f"bad {offset}", "not_json", ARRIVED.date()) for offset in offsets]
    return spark.createDataFrame(rows, SCHEMA)


def table_rows(spark: SparkSession, staging: QuarantineStaging) -> list[tuple[int, str]]:
    table = read_delta(spark, staging.table)
    return sorted((row.kafka_offset, row.payload) for row in table.select("kafka_offset", "payload").collect())


@pytest.fixture
def staging(spark: SparkSession, tmp_path: Path) -> QuarantineStaging:
    return QuarantineStaging(spark, str(tmp_path / "_staging" / "quarantine"), str(tmp_path / "quarantine"))


def test_staged_folders_move_into_the_table_in_one_flush_and_are_deleted(
    spark: SparkSession, staging: QuarantineStaging
) -> None:
    assert staging.flush() == 0  # nothing staged, no folder yet: no table either
    staging.stage(records(spark, 1, 2), "query-0", may_be_moved=False)
    staging.stage(records(spark, 5), "query-1", may_be_moved=False)

    assert staging.flush() == 2
    assert table_rows(spark, staging) == [(1, "bad 1"), (2, "bad 2"), (5, "bad 5")]
    assert staging.staged() == ([], [])
    assert staging.flush() == 0


def test_a_batch_staged_again_replaces_its_folder_and_after_a_move_inserts_nothing_twice(
    spark: SparkSession, staging: QuarantineStaging
) -> None:
    staging.stage(records(spark, 1), "query-0", may_be_moved=False)
    staging.stage(records(spark, 1), "query-0", may_be_moved=False)  # the batch ran again before a flush
    staging.flush()
    # Run again after its folder moved: a restart's first batch, which the stopped run had begun.
    staging.stage(records(spark, 1), "query-0", may_be_moved=True)
    staging.stage(records(spark, 1, 3), "query-1", may_be_moved=False)
    staging.flush()

    assert table_rows(spark, staging) == [(1, "bad 1"), (3, "bad 3")]


def last_operation(spark: SparkSession, staging: QuarantineStaging) -> str:
    [last] = DeltaTable.forPath(spark, staging.table).history(1).collect()
    return str(last["operation"])


def test_a_move_appends_unless_its_messages_may_be_in_the_table_already(
    spark: SparkSession, staging: QuarantineStaging
) -> None:
    staging.stage(records(spark, 1), "query-0", may_be_moved=False)
    staging.flush()  # makes the table
    restarted = QuarantineStaging(spark, staging.folder, staging.table)
    restarted.stage(records(spark, 2), "query-1", may_be_moved=False)
    restarted.flush()
    assert last_operation(spark, staging) == "MERGE"  # a run's first move: a stopped run may have moved a folder
    restarted.stage(records(spark, 3), "query-2", may_be_moved=False)
    restarted.flush()
    assert last_operation(spark, staging) == "WRITE"
    restarted.stage(records(spark, 3, 4), "query-2", may_be_moved=True)
    restarted.flush()
    assert last_operation(spark, staging) == "MERGE"
    assert table_rows(spark, staging) == [(1, "bad 1"), (2, "bad 2"), (3, "bad 3"), (4, "bad 4")]


def test_a_folder_its_writer_has_not_finished_stays_until_a_start_discards_it(
    spark: SparkSession, staging: QuarantineStaging
) -> None:
    staging.stage(records(spark, 1), "query-0", may_be_moved=False)
    staging.stage(records(spark, 2), "query-1", may_be_moved=False)
    unfinished = f"{staging.folder}/query-1"
    Path(unfinished, "_SUCCESS").unlink()  # as a writer stopped before it committed leaves it

    assert staging.flush() == 1
    assert table_rows(spark, staging) == [(1, "bad 1")]
    assert Path(unfinished).is_dir()  # a running stream may still be writing it

    assert staging.flush(discard_unfinished=True) == 0
    assert not Path(unfinished).exists()
    assert table_rows(spark, staging) == [(1, "bad 1")]


def test_a_failed_move_keeps_the_folders_names_the_table_and_stops_the_flusher(
    spark: SparkSession, staging: QuarantineStaging, tmp_path: Path
) -> None:
    staging.stage(records(spark, 1), "query-0", may_be_moved=False)
    # A file where the table's folder should be: the move cannot write there.
    Path(staging.table).write_text("not a table")
    flusher = QuarantineFlusher(staging, interval_s=0.05, pool="lake")
    flusher.start()
    with pytest.raises(QuarantineFlushError, match=f"quarantine table {staging.table}"):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the thread's flush has failed
            flusher.raise_failure()
            time.sleep(0.05)
    with pytest.raises(QuarantineFlushError, match="they stay staged"):
        flusher.stop(flush=True)
    assert staging.staged()[0] == [f"file:{staging.folder}/query-0"]

    Path(staging.table).unlink()
    flusher.stop(flush=False)  # a failing run's stop moves nothing and raises nothing
    staging.flush()
    assert table_rows(spark, staging) == [(1, "bad 1")]


def test_a_move_that_meets_another_writers_commit_is_tried_again_and_the_flusher_keeps_going(
    spark: SparkSession, staging: QuarantineStaging, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging.stage(records(spark, 1), "query-0", may_be_moved=False)
    conflicts = iter([True, True, False] + [True] * 3 + [False])
    real_insert = quarantine.insert_quarantined

    def insert(records: DataFrame, table: str) -> None:
        if next(conflicts):  # a replay's commit landed between this move's read and its commit
            raise ConcurrentAppendException("Files were added to partition [ingest_date=2026-03-01]", "")
        real_insert(records, table)

    monkeypatch.setattr(quarantine, "insert_quarantined", insert)
    assert staging.flush() == 1  # the third attempt commits
    assert table_rows(spark, staging) == [(1, "bad 1")]

    staging.stage(records(spark, 2), "query-1", may_be_moved=True)  # moved by merge
    with pytest.raises(QuarantineFlushError, match="Files were added") as failed:
        staging.flush()  # three conflicts in a row
    assert failed.value.concurrent
    flusher = QuarantineFlusher(staging, interval_s=0.05, pool="lake")
    flusher.start()
    flusher.stop(flush=True)  # no failure kept; the move then commits
    assert table_rows(spark, staging) == [(1, "bad 1"), (2, "bad 2")]
