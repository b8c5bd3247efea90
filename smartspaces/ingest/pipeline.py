"""What the ingest does with each micro-batch of Kafka messages, and how it runs: stream, drain, replay.

Exactly-once effect on restart: the checkpoint replays an unfinished micro-batch with the same batch id;
bronze and quarantine appends are idempotent per batch id, and Cassandra writes are upserts by primary
key. A replay from bronze has no batch id: its quarantine rows are inserted only where their Kafka
coordinates are new.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

from cassandra.cluster import Cluster, Session
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from smartspaces import lake
from smartspaces.changefeed.change_log import write_change_batch
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster, write_cassandra
from smartspaces.connectors.delta import append_once, insert_new_rows, read_delta
from smartspaces.connectors.kafka import kafka_options
from smartspaces.connectors.kafka_admin import ensure_topic
from smartspaces.ingest.metrics import BatchCounts, ProgressLogger, RunTotals
from smartspaces.session import shuffle_partitions
from transformations.ingest import accepted_events, counts_by_reason, quarantine_records
from transformations.validation import ValidationLimits, flag_unknown_devices, from_kafka_rows, validate_events

EVENTS_TABLE = "events_by_device_day"
QUARANTINE_KEYS = ("kafka_topic", "kafka_partition", "kafka_offset")
STREAM_NAME = "ingest"
# A replay is not a streaming batch: it has no batch id of its own.
REPLAY_BATCH_ID = -1


class RegistryMissingError(RuntimeError):
    """The device registry has not been loaded, so no event could be checked against it."""


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
        self._change_writer_id: str | None = None

    def cql_session(self) -> Session:
        """The Python driver session for the change log's commit markers, opened on first use."""
        if self._session is None:
            self._cluster = cassandra_cluster(self.settings.cassandra)
            self._session = self._cluster.connect()
        return self._session

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = self._session = None

    def change_writer_id(self, batch_id: int) -> str:
        """The change log's writer: the streaming query's id (kept in its checkpoint, so stable across
        restarts and distinct between two ingest jobs), or a new id for each replay from bronze."""
        if batch_id == REPLAY_BATCH_ID:
            return f"replay:{uuid.uuid4()}"
        if self._change_writer_id is None:
            query = next((query for query in self.spark.streams.active if query.name == STREAM_NAME), None)
            # Without a running stream (a batch handed over directly, as in a notebook) the topic names the writer.
            self._change_writer_id = f"{STREAM_NAME}:{query.id}" if query else self.writer_id
        return self._change_writer_id

    @staticmethod
    def change_batch_id(batch_id: int) -> int:
        return 0 if batch_id == REPLAY_BATCH_ID else batch_id

    def check_registry(self) -> None:
        from delta.tables import DeltaTable

        path = lake.device_registry(self.settings.lake)
        if not DeltaTable.isDeltaTable(self.spark, path):
            raise RegistryMissingError(f"no device registry at {path}: load one with `smartspaces run reference`")

    def verdicts(self, messages: DataFrame) -> DataFrame:
        """Kafka rows → one verdict per message. The registry is read afresh, so its changes apply next batch."""
        # Every version: a moved or retired device stays known, so its late events are still accepted.
        registry = read_delta(self.spark, lake.device_registry(self.settings.lake))
        return (
            messages.transform(from_kafka_rows)
            .transform(validate_events(self.limits))
            .transform(flag_unknown_devices(registry))
        )

    def store(self, verdicts: DataFrame, batch_id: int) -> BatchCounts:
        """Writes accepted events to Cassandra and quarantined messages to the lake; returns the counts."""
        started = time.monotonic()
        verdicts = verdicts.persist()
        try:
            # Counted first (from the cached verdicts): a batch without bad input skips the quarantine commit.
            counts = BatchCounts(batch_id)
            for row in counts_by_reason(verdicts).collect():  # one row per reason: small
                counts.messages += row.messages
                if row.reason is None:
                    counts.accepted_events, counts.duplicates = row.distinct_events, row.messages - row.distinct_events
                else:
                    counts.quarantined[row.reason] = row.messages
            accepted = verdicts.transform(accepted_events)
            write_cassandra(accepted, self.settings.cassandra.keyspace, EVENTS_TABLE)
            if self.settings.changefeed.backend == "cassandra" and counts.accepted_events:
                # After the events themselves: the commit marker tells readers the batch is whole.
                writer_id, change_batch = self.change_writer_id(batch_id), self.change_batch_id(batch_id)
                write_change_batch(self.cql_session(), self.settings.cassandra.keyspace, writer_id, change_batch,
                                   accepted, counts.accepted_events)  # fmt: skip
            if counts.quarantined:
                self.quarantine(verdicts.transform(quarantine_records), batch_id)
        finally:
            verdicts.unpersist()
        counts.seconds = round(time.monotonic() - started, 3)
        return counts

    def quarantine(self, records: DataFrame, batch_id: int) -> None:
        """Stream batches append once per batch id; a replay (no batch id) inserts only new coordinates."""
        path = lake.quarantined_events(self.settings.lake)
        if batch_id == REPLAY_BATCH_ID:
            insert_new_rows(records, path, QUARANTINE_KEYS, partition_by=("ingest_date",))
        else:
            append_once(records, path, f"{self.writer_id}:quarantine", batch_id, ("ingest_date",))

    def process_batch(self, messages: DataFrame, batch_id: int) -> None:
        """foreachBatch: archive the raw messages to bronze, then validate and store them."""
        messages = messages.persist()
        try:
            bronze = messages.withColumn("ingest_date", F.to_date("timestamp"))
            append_once(bronze, lake.bronze_events(self.settings.lake), f"{self.writer_id}:bronze", batch_id,
                        ("ingest_date",))  # fmt: skip
            counts = self.store(self.verdicts(messages), batch_id)
        finally:
            messages.unpersist()
        counts.log()
        self.totals.add(counts)

    def start_stream(self, drain: bool) -> StreamingQuery:
        """Starts the stream: drain=True processes what Kafka holds now and stops (availableNow)."""
        self.check_registry()
        ingest = self.settings.ingest
        # Spark's Kafka source fails on a topic that does not exist yet; devices may not have sent anything.
        ensure_topic(self.settings.kafka, ingest.topic, ingest.topic_partitions)
        self.spark.streams.addListener(ProgressLogger())
        source = (
            self.spark.readStream.format("kafka")
            .options(**kafka_options(self.settings.kafka))
            .option("subscribe", ingest.topic)
            .option("startingOffsets", ingest.starting_offsets)
            .option("maxOffsetsPerTrigger", ingest.max_offsets_per_trigger)
            # Splits the topic's partitions into at least this many tasks, so every core has work.
            .option("minPartitions", shuffle_partitions(self.settings))
            .load()
        )
        writer = (
            source.writeStream.queryName(STREAM_NAME)
            .foreachBatch(self.process_batch)
            .option("checkpointLocation", lake.checkpoint(self.settings.lake, STREAM_NAME))
        )
        trigger = {"availableNow": True} if drain else {"processingTime": f"{ingest.trigger_interval_s} seconds"}
        return writer.trigger(**trigger).start()

    def replay(self, start: datetime, end: datetime) -> BatchCounts:
        """Re-ingests the bronze messages that arrived in [start, end): same checks, same idempotent writes."""
        self.check_registry()
        bronze = read_delta(self.spark, lake.bronze_events(self.settings.lake))
        window = bronze.where(
            (F.col("ingest_date") >= F.lit(start.date())) & (F.col("ingest_date") <= F.lit(end.date()))
            & (F.col("timestamp") >= F.lit(start)) & (F.col("timestamp") < F.lit(end))
        ).drop("ingest_date")  # fmt: skip
        counts = self.store(self.verdicts(window), REPLAY_BATCH_ID)
        counts.log()
        self.totals.add(counts)
        return counts
