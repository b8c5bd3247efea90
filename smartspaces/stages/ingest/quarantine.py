"""The quarantine of bad messages: staged by each micro-batch, moved into its Delta table every few seconds.

A Delta commit in every micro-batch with bad input (nearly every batch of real traffic) took a fifth of the
ingest's micro-batch on two cores (docs/hot-path.md, profile 15). A micro-batch instead writes its quarantined
messages to a folder of their own in the lake's staging area, as durable as the table beside it, and a
flusher moves the staged folders into the table every `ingest.quarantine_flush_interval_s`: one Delta commit
for all of them, off the path from a device to the change feed.

Idempotent whatever fails when: a micro-batch that fails or runs again writes its folder again under the
same name; a folder is moved only once its writer finished it (Spark's `_SUCCESS` marker), so a flush never
reads half a write; and the move deletes the folders after its commit. The move is a plain append when
nothing it holds can be in the table already, else a merge that inserts only the messages whose Kafka
coordinates the table lacks (the merge took 3.4 s of the lake's pool every 10 s at 413 events/s, the append
a fraction of that): a merge for a run's first move (a stopped run may have moved a folder and not deleted
it), after a move that failed (its commit may have landed), and for a folder its writer marked as possibly
moved before (`MERGE_SUFFIX`: a run's first micro-batch may repeat one a stopped run had begun).
"""

from __future__ import annotations

import json
import logging
import threading
import time

from delta import exceptions as delta_errors
from pyspark import inheritable_thread_target
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces.connectors.delta import insert_new_rows, lake_file, write_delta

logger = logging.getLogger(__name__)

QUARANTINE_KEYS = ("kafka_topic", "kafka_partition", "kafka_offset")
PARTITION_COLUMNS = ("ingest_date",)
# Spark's file writer marks a folder it finished with this file, last.
FINISHED_MARKER = "_SUCCESS"
# Marks a staged folder whose messages may be in the table already: it moves by merge.
MERGE_SUFFIX = ".merge"
# Another writer's commit to the table while a move read it (a replay from bronze inserting its own bad
# messages): the move is tried again, with the table's new state. Delta raises one class per kind of
# conflict (ConcurrentAppendException, ...), with no base of their own in Python.
CONCURRENT_COMMITS: tuple[type[Exception], ...] = tuple(
    getattr(delta_errors, name) for name in dir(delta_errors) if name.startswith(("Concurrent", "DeltaConcurrent"))
)
MOVE_ATTEMPTS = 3


class QuarantineFlushError(RuntimeError):
    """Staged quarantined messages could not be moved into the quarantine table (they stay staged).

    concurrent: the table kept changing under the move (another writer's commits), which a later move may
    not meet; anything else (a full disk, refused credentials) needs someone to act."""

    def __init__(self, message: str, concurrent: bool) -> None:
        super().__init__(message)
        self.concurrent = concurrent


def kafka_coordinates_within(records: DataFrame) -> str | None:
    """A condition on the quarantine (target.*) that holds for every row with the records' Kafka coordinates:
    their arrival dates (the table's partitions) and the span of their offsets (files' statistics), so that
    inserting them reads the files of those messages' days and offsets, not the whole table."""
    span = records.agg(
        F.collect_set("ingest_date").alias("dates"),
        F.min("kafka_offset").alias("low"),
        F.max("kafka_offset").alias("high"),
    ).first()  # one row: collected on purpose
    if span is None or not span["dates"]:
        return None
    dates = ", ".join(f"DATE'{day.isoformat()}'" for day in sorted(span["dates"]))
    return f"target.ingest_date IN ({dates}) AND target.kafka_offset BETWEEN {span['low']} AND {span['high']}"


def insert_quarantined(records: DataFrame, table: str) -> None:
    """Inserts the quarantine records whose Kafka coordinates the table lacks: writing them again changes nothing."""
    within = kafka_coordinates_within(records)
    insert_new_rows(records, table, QUARANTINE_KEYS, partition_by=PARTITION_COLUMNS, within=within)


class QuarantineStaging:
    """A staging folder of the lake (local or abfss://, through Hadoop's file system) for one quarantine table."""

    def __init__(self, spark: SparkSession, folder: str, table: str) -> None:
        self.spark = spark
        self.folder = folder.rstrip("/")
        self.table = table
        # What this object cannot know: whether a stopped run, or its own failed move, committed some folder.
        self._merge_next = True

    def stage(self, records: DataFrame, name: str, may_be_moved: bool) -> None:
        """Writes a micro-batch's quarantine records as the folder `name` (replaced if it exists).

        may_be_moved: the records may be in the table already (a micro-batch a stopped run had begun).
        """
        folder = f"{self.folder}/{name}{MERGE_SUFFIX if may_be_moved else ''}"
        # A batch's few bad messages: one file.
        records.coalesce(1).write.mode("overwrite").parquet(folder)

    def staged(self) -> tuple[list[str], list[str]]:
        """The staged folders: those their writer finished, and the others (being written, or abandoned)."""
        file_system, folder = lake_file(self.spark, self.folder)
        if not file_system.exists(folder):
            return [], []
        folders = [status.getPath().toString() for status in file_system.listStatus(folder) if status.isDirectory()]
        _, pattern = lake_file(self.spark, f"{self.folder}/*/{FINISHED_MARKER}")
        markers = file_system.globStatus(pattern) or []
        finished = {status.getPath().getParent().toString() for status in markers}
        return sorted(finished), sorted(set(folders) - finished)

    def flush(self, discard_unfinished: bool = False) -> int:
        """Moves every finished folder into the table in one commit, then deletes them; returns how many.

        discard_unfinished: also deletes the folders no writer finished, which only a stopped run leaves
        (its micro-batch runs again and stages anew); never while the ingest's streams run.
        """
        started = time.monotonic()
        finished, unfinished = self.staged()
        if discard_unfinished:
            self._delete(unfinished)
        if not finished:
            return 0
        by_merge = self._merge_next or any(folder.endswith(MERGE_SUFFIX) for folder in finished)
        self._merge_next = True  # until this move is committed and its folders deleted
        for attempt in range(1, MOVE_ATTEMPTS + 1):
            try:
                records = self.spark.read.parquet(*finished)
                if by_merge:
                    # Two folders may hold one message (a batch staged again by a run on new checkpoints).
                    insert_quarantined(records.dropDuplicates(list(QUARANTINE_KEYS)), self.table)
                else:
                    write_delta(records, self.table, partition_by=PARTITION_COLUMNS)
                break
            except CONCURRENT_COMMITS as error:
                if attempt == MOVE_ATTEMPTS:
                    raise self._failure(finished, error, concurrent=True) from error
            except Exception as error:
                raise self._failure(finished, error, concurrent=False) from error
        self._delete(finished)
        self._merge_next = False
        logger.info(
            json.dumps(
                {
                    "event": "quarantine_flushed",
                    "folders": len(finished),
                    "merged": by_merge,
                    "seconds": round(time.monotonic() - started, 3),
                }
            )
        )
        return len(finished)

    def _failure(self, finished: list[str], error: Exception, concurrent: bool) -> QuarantineFlushError:
        return QuarantineFlushError(
            f"moving {len(finished)} staged folder(s) of quarantined messages from {self.folder} into the "
            f"quarantine table {self.table} failed (they stay staged, and move with the next flush): {error}",
            concurrent,
        )

    def _delete(self, folders: list[str]) -> None:
        for folder in folders:
            file_system, path = lake_file(self.spark, folder)
            file_system.delete(path, True)


class QuarantineFlusher:
    """Flushes a staging area every interval_s from a thread of its own, in a scheduler pool of its own.

    A flush that failed ends the thread; `raise_failure` raises its error (the ingest's next micro-batch calls
    it, so the stream stops with it). One that kept meeting other writers' commits is logged and tried again
    at the next interval. `stop` ends the thread and flushes what is left.
    """

    def __init__(self, staging: QuarantineStaging, interval_s: float, pool: str) -> None:
        self.staging = staging
        self.interval_s = interval_s
        self.pool = pool
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: QuarantineFlushError | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(
            target=inheritable_thread_target(self._run), name="quarantine-flush", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        self.staging.spark.sparkContext.setLocalProperty("spark.scheduler.pool", self.pool)
        while not self._stopping.wait(self.interval_s):
            try:
                self.staging.flush()
            except QuarantineFlushError as failure:
                if not failure.concurrent:
                    self._failure = failure
                    return
                logger.warning(str(failure))

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def stop(self, flush: bool) -> None:
        """Ends the thread (after the flush it is running, if any). With flush, raises its failure or moves
        what is still staged; without (a run that is failing), what is staged moves at the next start."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if flush:
            self.raise_failure()
            self.staging.flush()
