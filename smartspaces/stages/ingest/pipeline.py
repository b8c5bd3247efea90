"""What the ingest does with each micro-batch of Kafka messages, and how it runs: stream, drain, replay.

Two streaming queries on the topic in one application: `ingest` validates and stores (Cassandra, the change
log, the quarantine's staging) on a short trigger, and `bronze` archives every raw message to the lake on a
longer one, so the archive's Delta commits are not on the path from a device to the change feed; nor are the
quarantine's, which a thread makes every few seconds from what the micro-batches staged (quarantine.py). The
scheduler is fair and the lake's jobs run in a pool of their own, so a large archive job never queues the
ingest's.

Exactly-once effect on restart: each checkpoint replays an unfinished micro-batch with the same batch id.
Bronze appends are idempotent per batch id; a batch's staged quarantine is written again under the same name,
and moves into the table once (quarantine.py); Cassandra writes are upserts by primary key.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from datetime import UTC, datetime

from cassandra.cluster import Cluster, Session
from pyspark import inheritable_thread_target
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from smartspaces import lake
from smartspaces.cassandra_tables import EVENTS
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster, write_cassandra
from smartspaces.connectors.delta import (
    append_once,
    ensure_table_properties,
    holds_files,
    insert_new_rows,
    read_delta,
    table_version,
)
from smartspaces.connectors.kafka import kafka_options
from smartspaces.connectors.kafka_admin import ensure_topic
from smartspaces.entrypoint import JobSetupError
from smartspaces.received_hours import ReceivedHours, hours_of
from smartspaces.session import persisted, shuffle_partitions
from smartspaces.stages.ingest.change_log import write_change_batch
from smartspaces.stages.ingest.event_ids import (
    EventIdStore,
    Receipt,
    accepted_receipts,
    batch_counts,
    collect_batch,
    conflicting,
    first_receipts,
    later_copies,
    receipts_frame,
)
from smartspaces.stages.ingest.metrics import BatchCounts, ProgressLogger, RunTotals
from smartspaces.stages.ingest.quarantine import QuarantineFlusher, QuarantineStaging, insert_quarantined
from transformations.conflicting_duplicates import flag_conflicting_duplicates
from transformations.ingest import events_but_copies, quarantine_records
from transformations.validation import ValidationLimits, flag_unknown_devices, from_kafka_rows, validate_events

# A Kafka message's coordinates in the bronze archive (Spark's Kafka source columns).
BRONZE_KEYS = ("topic", "partition", "offset")
STREAM_NAME = "ingest"
BRONZE_STREAM_NAME = "bronze"
# The fair scheduler's pool of the lake's jobs: the archive's and the quarantine's moves (a local property of
# the thread that runs them).
LAKE_POOL = "lake"
# The archive and the quarantine take a commit every few seconds, and Delta writes its log's checkpoint inside
# every `checkpointInterval`-th commit (0.5 s and more under load, on the ingest's path: docs/hot-path.md,
# profile 12): every hundredth rather than Delta's every tenth. Tables this session creates take it from the
# session's defaults (service.ingest_spark_conf); tables made before, at the streams' start.
FREQUENT_APPEND_TABLE_PROPERTIES = {"delta.checkpointInterval": "100"}
# A replay is not a streaming batch: it has no batch id of its own.
REPLAY_BATCH_ID = -1


# What a batch without quarantined messages waits for.
_done: Future[None] = Future()
_done.set_result(None)


class RegistryMissingError(JobSetupError):
    """The device registry has not been loaded, so no event could be checked against it."""


class CheckpointResetError(JobSetupError):
    """A stream's checkpoint is empty while the archive already holds messages, and starting over was not asked."""


class EventIngest:
    def __init__(self, spark: SparkSession, settings: Settings) -> None:
        self.spark = spark
        self.settings = settings
        ingest = settings.ingest
        self.limits = ValidationLimits(ingest.max_payload_bytes, ingest.max_future_skew_s, ingest.max_lateness_s)
        self.totals = RunTotals()
        self.writer_id = f"{STREAM_NAME}:{ingest.topic}"
        self._cluster: Cluster | None = None
        self._session: Session | None = None
        self._event_id_store: EventIdStore | None = None
        self._received_hours: ReceivedHours | None = None
        # One thread records a batch's event ids while Spark writes its events.
        self._id_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-ids")
        # Another stages its quarantined messages meanwhile: nothing downstream waits for them.
        self._quarantine_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quarantine")
        self.quarantine_staging = QuarantineStaging(
            spark, lake.quarantine_staging(settings.lake), lake.quarantined_events(settings.lake)
        )
        self._quarantine_flusher = QuarantineFlusher(
            self.quarantine_staging, ingest.quarantine_flush_interval_s, LAKE_POOL
        )
        self._change_writer_id: str | None = None
        self._bronze_writer_id: str | None = None
        # Set when the streams start over on purpose on new checkpoints (check_checkpoints): the archive's
        # appends then insert only messages whose Kafka coordinates are new, since the topic is read again.
        self.deduplicate_lake_writes = False
        # The stream batch this object last stored whole, in this query run: the next one's quarantine cannot
        # have been staged before (Spark plans a batch only once the one before it committed).
        self._stored_through: int | None = None
        # The registry's device ids, kept between micro-batches with the version they were read at.
        self._known_devices: tuple[str | None, DataFrame] | None = None

    def cql_session(self) -> Session:
        """The Python driver session for the change log's commit markers, opened on first use."""
        if self._session is None:
            self._cluster = cassandra_cluster(self.settings.cassandra)
            self._session = self._cluster.connect()
        return self._session

    def finish(self) -> None:
        """After the streams stopped on their own (a drain, a timed run): moves what is still staged into the
        quarantine, or raises why the last move failed."""
        self._quarantine_flusher.stop(flush=True)

    def close(self) -> None:
        # A run that fails leaves its staged messages for the next start (start_streams) to move.
        self._quarantine_flusher.stop(flush=False)
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = self._session = None

    def _stream_id(self, name: str) -> str | None:
        query = next((query for query in self.spark.streams.active if query.name == name), None)
        return None if query is None else str(query.id)

    def change_writer_id(self, batch_id: int) -> str:
        """The change log's writer: the streaming query's id (kept in its checkpoint, so
        stable across restarts, new with a new checkpoint, whose batch ids start over, and distinct between two
        ingest jobs), or a new id for each replay from bronze."""
        if batch_id == REPLAY_BATCH_ID:
            return f"replay:{uuid.uuid4()}"
        if self._change_writer_id is None:
            query_id = self._stream_id(STREAM_NAME)
            # Without a running stream (a batch handed over directly, as in a notebook) the topic names the writer.
            self._change_writer_id = f"{STREAM_NAME}:{query_id}" if query_id else self.writer_id
        return self._change_writer_id

    def bronze_writer_id(self) -> str:
        """The archive's Delta transaction id: its query's id, so a new checkpoint (whose batch ids start over)
        can never be mistaken for batches the table already holds; the topic's id without a running stream."""
        if self._bronze_writer_id is None:
            query_id = self._stream_id(BRONZE_STREAM_NAME)
            self._bronze_writer_id = f"{BRONZE_STREAM_NAME}:{query_id}" if query_id else f"{self.writer_id}:bronze"
        return self._bronze_writer_id

    @staticmethod
    def change_batch_id(batch_id: int) -> int:
        return 0 if batch_id == REPLAY_BATCH_ID else batch_id

    def check_registry(self) -> None:
        from delta.tables import DeltaTable

        path = lake.device_registry(self.settings.lake)
        if not DeltaTable.isDeltaTable(self.spark, path):
            raise RegistryMissingError(f"no device registry at {path}: load one with `smartspaces run reference`")

    def known_devices(self) -> DataFrame:
        """The registry's device ids, cached until the registry has a new Delta commit (checked every batch
        with a listing, no Spark job), so its changes apply from the next batch."""
        path = lake.device_registry(self.settings.lake)
        version = table_version(self.spark, path)
        if self._known_devices is None or self._known_devices[0] != version:
            if self._known_devices is not None:
                self._known_devices[1].unpersist()
            # Every version: a moved or retired device stays known, so its late events are still accepted.
            devices = read_delta(self.spark, path).select("device_id").distinct().persist()
            self._known_devices = (version, devices)
        return self._known_devices[1]

    def verdicts(self, messages: DataFrame) -> DataFrame:
        """Kafka rows → one verdict per message."""
        return (
            messages.transform(from_kafka_rows)
            .transform(validate_events(self.limits))
            .transform(flag_unknown_devices(self.known_devices()))
        )

    def store(self, verdicts: DataFrame, batch_id: int) -> BatchCounts:
        """Writes accepted events to Cassandra and quarantined messages to the lake; returns the counts."""
        started = time.monotonic()
        keyspace = self.settings.cassandra.keyspace
        # A stream whose quarantine can no longer be moved stops, naming the table and the staging folder.
        self._quarantine_flusher.raise_failure()
        # Cleared until this batch is stored whole: after a failure, no batch is taken for a new one.
        previous, self._stored_through = self._stored_through, None
        # Each frame is kept for the several jobs that read it: the Kafka batch is read and validated once.
        with ExitStack() as kept:
            checked = kept.enter_context(persisted(verdicts))
            # One narrow job gives the valid events' receipts and every reason; counted from them at the driver.
            collected = collect_batch(checked)
            stored = self.event_id_store().received_before(receipt.event_id for receipt in collected.receipts)
            conflicts = conflicting(collected.receipts, stored)
            receipts = accepted_receipts(collected, conflicts)
            # Each id's first receipt is written, a later copy (in this batch, or after an earlier batch's) is
            # not: told apart here, from the receipts, so the rows are filtered instead of shuffled by id.
            copies = later_copies(receipts, stored)
            counts = batch_counts(batch_id, collected, conflicts, copies)
            counts.step_s["receipts"] = round(time.monotonic() - started, 3)
            verdicts = checked
            if conflicts:  # rare: the exact flagging of the rows, in Spark
                flagging = flag_conflicting_duplicates(receipts_frame(self.spark, stored.values()))
                verdicts = kept.enter_context(persisted(checked.transform(flagging)))
            # The batch's new ids are recorded beside the writes, from a thread of their own. In any
            # order: a replay of the batch finds its ids with the same content, and stores the events again.
            # An id stored before keeps the row of its first receipt; a new id's first receipt is no conflict.
            first = first_receipts(collected.receipts)
            new_ids = [first[event_id] for event_id in first.keys() - stored.keys()]
            # The hours of event time the batch stores events of: what the enrichment's catch-up re-enriches.
            hours = hours_of(receipt.event_time_us for receipt in receipts)
            recording = self._id_writer.submit(self.record_receipts, new_ids, hours, datetime.now(UTC))
            repeatable = previous is None or batch_id != previous + 1
            quarantining = self._start_quarantine(verdicts, batch_id, repeatable, counts)
            # Also when a write below fails: the frames it reads stay kept until it ends.
            kept.callback(wait, [quarantining])
            # Kept for both writes: the events table and the change log.
            accepted = kept.enter_context(persisted(verdicts.transform(events_but_copies(copies))))
            with counts.timing("events"):
                write_cassandra(accepted, keyspace, EVENTS.name, nulls_unset=True)
            if self.settings.changefeed.backend == "cassandra" and counts.accepted_events:
                # After the events themselves: the commit marker tells readers the batch is whole.
                writer_id, change_batch = self.change_writer_id(batch_id), self.change_batch_id(batch_id)
                with counts.timing("change_log"):
                    write_change_batch(
                        self.cql_session(), keyspace, writer_id, change_batch, accepted, counts.accepted_events
                    )
            # Before the batch ends: the next one is checked against these ids, and it is stored whole.
            recording.result()
            quarantining.result()
        counts.seconds = round(time.monotonic() - started, 3)
        if batch_id != REPLAY_BATCH_ID:
            self._stored_through = batch_id
        return counts

    def _start_quarantine(
        self, verdicts: DataFrame, batch_id: int, repeatable: bool, counts: BatchCounts
    ) -> Future[None]:
        """Stages the batch's quarantined messages (if any) from a thread of its own, timed in counts, in the
        batch's scheduler pool and job group (the local properties of the thread that calls this). A replay
        from bronze, a batch job, inserts them into the quarantine itself.

        repeatable: not the batch right after one this run stored whole, so perhaps one a stopped run had
        begun, whose quarantine it may have moved already (or the streams started over on new checkpoints)."""
        if not counts.quarantined:
            return _done

        def write_quarantine(records: DataFrame) -> None:
            with counts.timing("quarantine"):
                if batch_id == REPLAY_BATCH_ID:
                    insert_quarantined(records, self.quarantine_staging.table)
                else:
                    may_be_moved = repeatable or self.deduplicate_lake_writes
                    self.quarantine_staging.stage(records, self.staged_name(batch_id), may_be_moved)

        target = inheritable_thread_target(write_quarantine)
        return self._quarantine_writer.submit(target, verdicts.transform(quarantine_records))

    def record_receipts(self, new_ids: list[Receipt], hours: set[datetime], received_at: datetime) -> None:
        """The batch's new event ids, and the hours it stored events of."""
        self.event_id_store().record(new_ids)
        if hours:
            self.received_hours().record(hours, received_at)

    def received_hours(self) -> ReceivedHours:
        if self._received_hours is None:
            self._received_hours = ReceivedHours(self.cql_session(), self.settings.cassandra.keyspace)
        return self._received_hours

    def event_id_store(self) -> EventIdStore:
        if self._event_id_store is None:
            cassandra = self.settings.cassandra
            self._event_id_store = EventIdStore(
                self.spark, self.cql_session(), cassandra.keyspace, cassandra.connector_one_row_partitions
            )
        return self._event_id_store

    def staged_name(self, batch_id: int) -> str:
        """A stream batch's staging folder: the ingest query's id (the topic's name without a running stream)
        and the batch id, so a batch that runs again replaces its own folder."""
        return f"{self._stream_id(STREAM_NAME) or self.settings.ingest.topic}-{batch_id}"

    def flush_quarantine(self) -> int:
        """Moves the staged quarantined messages into the quarantine now; returns the folders moved."""
        return self.quarantine_staging.flush()

    def process_batch(self, messages: DataFrame, batch_id: int) -> None:
        """foreachBatch of the ingest query: validate and store."""
        counts = self.store(self.verdicts(messages), batch_id)
        counts.log()
        self.totals.add(counts)

    def archive_batch(self, messages: DataFrame, batch_id: int) -> None:
        """foreachBatch of the bronze query: every raw message, as received, in its pool of the scheduler."""
        self.spark.sparkContext.setLocalProperty("spark.scheduler.pool", LAKE_POOL)
        bronze = messages.withColumn("ingest_date", F.to_date("timestamp"))
        path = lake.bronze_events(self.settings.lake)
        if self.deduplicate_lake_writes:
            insert_new_rows(bronze, path, BRONZE_KEYS, partition_by=("ingest_date",))
        else:
            append_once(bronze, path, self.bronze_writer_id(), batch_id, ("ingest_date",))

    def _kafka_stream(self) -> DataFrame:
        ingest = self.settings.ingest
        return (
            self.spark.readStream.format("kafka")
            .options(**kafka_options(self.settings.kafka))
            .option("subscribe", ingest.topic)
            .option("startingOffsets", ingest.starting_offsets)
            .option("maxOffsetsPerTrigger", ingest.max_offsets_per_trigger)
            # Splits the topic's partitions into at least this many tasks, so every core has work.
            .option("minPartitions", shuffle_partitions(self.settings))
            .load()
        )

    def check_checkpoints(self, new_checkpoints: bool) -> None:
        """Refuses to start a stream on an empty checkpoint over an archive that already holds messages, unless
        `new_checkpoints` says it is on purpose; then the lake's writes of this run skip messages already there.

        An empty checkpoint over a used archive is a lost or deleted checkpoint (or one reset after Spark's
        failOnDataLoss): the stream would read the topic again from ingest.starting_offsets. Cassandra's
        writes are upserts and the change log's writer is the new query's id, so only the lake's appends
        could write a message twice; deduplicated by Kafka coordinates, they cannot.
        """
        archive = lake.bronze_events(self.settings.lake)
        if table_version(self.spark, archive) is None:
            return
        empty = [
            lake.checkpoint(self.settings.lake, name)
            for name in (STREAM_NAME, BRONZE_STREAM_NAME)
            if not holds_files(self.spark, f"{lake.checkpoint(self.settings.lake, name)}/offsets")
        ]
        if not empty:
            return
        if not new_checkpoints:
            raise CheckpointResetError(
                f"the stream checkpoint {' and '.join(empty)} is empty, but the bronze archive {archive} already "
                f"holds messages: the streams would read topic {self.settings.ingest.topic} again from "
                f"ingest.starting_offsets ({self.settings.ingest.starting_offsets}). If the checkpoint was lost or "
                "reset on purpose, run the ingest once with --new-checkpoints (messages already archived or "
                "quarantined are then not written again); docs/operations.md has the runbook"
            )
        self.deduplicate_lake_writes = True

    def start_streams(self, drain: bool, new_checkpoints: bool = False) -> list[StreamingQuery]:
        """Starts the ingest and the bronze queries: drain=True processes what Kafka holds now and stops
        (availableNow); otherwise each runs on its processing-time trigger. new_checkpoints: see
        check_checkpoints."""
        self.check_registry()
        self.check_checkpoints(new_checkpoints)
        for table in (lake.bronze_events(self.settings.lake), lake.quarantined_events(self.settings.lake)):
            ensure_table_properties(self.spark, table, FREQUENT_APPEND_TABLE_PROPERTIES)
        # What a stopped run staged and did not move; what it had begun to stage, its batch stages again.
        self.quarantine_staging.flush(discard_unfinished=True)
        # A new run's first batch may be one a stopped run had begun.
        self._stored_through = None
        ingest = self.settings.ingest
        # Spark's Kafka source fails on a topic that does not exist yet; devices may not have sent anything.
        ensure_topic(self.settings.kafka, ingest.topic, ingest.topic_partitions)
        self.spark.streams.addListener(ProgressLogger())
        queries = []
        for name, handle, interval_s in (
            (STREAM_NAME, self.process_batch, ingest.trigger_interval_s),
            (BRONZE_STREAM_NAME, self.archive_batch, ingest.bronze_trigger_interval_s),
        ):
            writer = (
                self._kafka_stream()
                .writeStream.queryName(name)
                .foreachBatch(handle)
                .option("checkpointLocation", lake.checkpoint(self.settings.lake, name))
            )
            trigger = {"availableNow": True} if drain else {"processingTime": f"{interval_s} seconds"}
            queries.append(writer.trigger(**trigger).start())
        self._quarantine_flusher.start()
        return queries

    def replay(self, start: datetime, end: datetime) -> BatchCounts:
        """Re-ingests the bronze messages that arrived in [start, end): same checks, same idempotent writes."""
        self.check_registry()
        bronze = read_delta(self.spark, lake.bronze_events(self.settings.lake))
        window = bronze.where(
            (F.col("ingest_date") >= F.lit(start.date()))
            & (F.col("ingest_date") <= F.lit(end.date()))
            & (F.col("timestamp") >= F.lit(start))
            & (F.col("timestamp") < F.lit(end))
        ).drop("ingest_date")
        counts = self.store(self.verdicts(window), REPLAY_BATCH_ID)
        counts.log()
        self.totals.add(counts)
        return counts
