"""The ingest's micro-batch: registry changes apply from the next batch; a replayed batch writes nothing twice;
an event id received again with other content is quarantined; a batch's new ids are recorded whole, whether few
(the driver's session) or many (the connector)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cassandra.util import Date
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces import lake
from smartspaces.cassandra_tables import EVENTS
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster, write_cassandra
from smartspaces.connectors.delta import read_delta, write_delta
from smartspaces.stages.ingest import pipeline as ingest_pipeline
from smartspaces.stages.ingest.event_ids import DRIVER_WRITE_LIMIT, EventIdStore, Receipt
from smartspaces.stages.ingest.pipeline import EventIngest
from tests.integration.ingest_fixtures import cassandra_rows, cassandra_table_rows, read_report

NOW = datetime.now(UTC).replace(microsecond=0)


def event(device_id: str) -> tuple[str, str]:
    event_id = str(uuid.uuid4())
    payload = {
        "schema_version": 1,
        "event_id": event_id,
        "device_id": device_id,
        "event_type": "telemetry",
        "metric": "temperature",
        "value": 21.5,
        "unit": "celsius",
        "event_time": NOW.isoformat(),
    }
    return event_id, json.dumps(payload)


def kafka_batch(spark: SparkSession, topic: str, messages: list[tuple[int, str, str]]) -> DataFrame:
    """Rows shaped like Spark's Kafka source: (offset, key, payload) on partition 0, arrived now."""
    return spark.createDataFrame(
        [
            (key.encode(), payload.encode(), topic, 0, offset, NOW.replace(tzinfo=None), 0)
            for offset, key, payload in messages
        ],
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp, timestampType int",
    )


def registry(spark: SparkSession, settings: Settings, devices: list[str]) -> None:
    rows = spark.createDataFrame([(device,) for device in devices], "device_id string")
    write_delta(rows, lake.device_registry(settings.lake), mode="overwrite")


def with_registry(spark: SparkSession, settings: Settings, *devices: str) -> tuple[Settings, str]:
    """The test's settings and topic, its registry holding the devices."""
    registry(spark, settings, list(devices))
    return settings, settings.ingest.topic


def test_a_device_added_to_the_registry_is_accepted_from_the_next_batch(
    spark: SparkSession, ingest_settings: Settings
) -> None:
    settings, topic = with_registry(spark, ingest_settings, "dev-1")
    ingest = EventIngest(spark, settings)
    (known_id, known), (early_id, early) = event("dev-1"), event("dev-9")
    ingest.process_batch(kafka_batch(spark, topic, [(0, "dev-1", known), (1, "dev-9", early)]), 0)

    registry(spark, settings, ["dev-1", "dev-9"])
    late_id, late = event("dev-9")
    ingest.process_batch(kafka_batch(spark, topic, [(2, "dev-9", late)]), 1)

    assert cassandra_rows(settings, "device_id, event_id") == sorted(
        [("dev-1", uuid.UUID(known_id)), ("dev-9", uuid.UUID(late_id))]
    )
    ingest.flush_quarantine()
    quarantine = read_delta(spark, lake.quarantined_events(settings.lake))
    assert [tuple(row) for row in quarantine.select("kafka_offset", "reason", "event_id").collect()] == [
        (1, "unknown_device", early_id)
    ]
    assert (ingest.totals.accepted_events, dict(ingest.totals.quarantined)) == (2, {"unknown_device": 1})


def test_an_events_empty_columns_are_left_unset_not_written_as_tombstones(
    spark: SparkSession, ingest_settings: Settings
) -> None:
    settings, topic = with_registry(spark, ingest_settings, "dev-1")
    _, telemetry = event("dev-1")  # no severity, code or attributes
    EventIngest(spark, settings).process_batch(kafka_batch(spark, topic, [(0, "dev-1", telemetry)]), 0)

    # Each tombstone is a cell every later read of the partition (the change feed's, the enrichment's) skips.
    day = NOW.date().isoformat()
    events = f"SELECT * FROM events_by_device_day WHERE device_id = 'dev-1' AND day = '{day}'"
    assert read_report(settings, events) == ["Read 1 live rows and 0 tombstone cells"]
    assert read_report(settings, "SELECT * FROM change_log") == ["Read 1 live rows and 0 tombstone cells"]


def test_a_replayed_micro_batch_writes_nothing_twice(spark: SparkSession, ingest_settings: Settings) -> None:
    settings, topic = with_registry(spark, ingest_settings, "dev-1")
    (first_id, first), (_, second) = event("dev-1"), event("dev-1")
    batch = kafka_batch(
        spark, topic, [(0, "dev-1", first), (1, "dev-1", "not json"), (2, "dev-1", first), (3, "dev-1", second)]
    )
    ingest = EventIngest(spark, settings)
    for _ in range(2):  # the second time: what a restart does with a batch that had not committed
        ingest.archive_batch(batch, 0)
        ingest.process_batch(batch, 0)

    ingest.flush_quarantine()
    stored = cassandra_rows(settings)
    assert len(stored) == 2
    assert (uuid.UUID(first_id),) in stored
    bronze = read_delta(spark, lake.bronze_events(settings.lake))
    assert bronze.count() == 4
    quarantine = read_delta(spark, lake.quarantined_events(settings.lake))
    assert [tuple(row) for row in quarantine.select("kafka_offset", "reason").collect()] == [(1, "not_json")]
    assert ingest.totals.duplicates == 2  # the repeated event_id, once per run of the batch
    assert bronze.where(F.col("offset") == 2).select(F.col("value").cast("string")).first() == (first,)


def test_a_batch_whose_events_fail_to_write_leaves_no_change_log_until_it_runs_again(
    spark: SparkSession, ingest_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, topic = with_registry(spark, ingest_settings, "dev-1")
    event_id, payload = event("dev-1")
    batch = kafka_batch(spark, topic, [(0, "dev-1", payload)])
    ingest = EventIngest(spark, settings)

    def events_fail(frame: DataFrame, keyspace: str, table: str, *, nulls_unset: bool = False) -> None:
        if table == EVENTS.name:
            raise RuntimeError("events write failed")
        write_cassandra(frame, keyspace, table, nulls_unset=nulls_unset)

    monkeypatch.setattr(ingest_pipeline, "write_cassandra", events_fail)
    with pytest.raises(RuntimeError, match="events write failed"):
        ingest.process_batch(batch, 0)
    # The change log follows the events: no reader is told of a batch whose events are not all stored.
    assert cassandra_table_rows(settings, "change_log", "event_id") == []
    assert cassandra_table_rows(settings, "change_log_commits", "batch_id") == []
    assert cassandra_rows(settings) == []

    monkeypatch.undo()
    ingest.process_batch(batch, 0)
    assert cassandra_table_rows(settings, "change_log_commits", "batch_id, events") == [(0, 1)]
    assert cassandra_rows(settings) == [(uuid.UUID(event_id),)]


def quarantined_offsets(spark: SparkSession, ingest: EventIngest) -> list[int]:
    """The quarantine's offsets once what the batches staged has moved into it."""
    ingest.flush_quarantine()
    quarantine = read_delta(spark, lake.quarantined_events(ingest.settings.lake))
    return sorted(row.kafka_offset for row in quarantine.select("kafka_offset").collect())


def test_each_batch_quarantines_its_bad_messages_once_whether_it_runs_again_before_or_after_they_moved(
    spark: SparkSession, ingest_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, topic = with_registry(spark, ingest_settings, "dev-1")
    batches = [
        kafka_batch(spark, topic, [(2 * number, "dev-1", event("dev-1")[1]), (2 * number + 1, "dev-1", "not json")])
        for number in range(4)
    ]
    ingest = EventIngest(spark, settings)
    first = ingest.store(ingest.verdicts(batches[0]), 0)
    ingest.process_batch(batches[1], 1)
    # A restart: the new run's first batch is the one the stopped run had begun (its staging not yet moved).
    restarted = EventIngest(spark, settings)
    restarted.process_batch(batches[1], 1)
    assert quarantined_offsets(spark, restarted) == [1, 3]
    restarted.process_batch(batches[1], 1)  # and again, after its staged messages moved
    assert quarantined_offsets(spark, restarted) == [1, 3]

    # The batch fails after its quarantine was staged (the recording of its ids), then runs again.
    def recording_fails(*_: object) -> None:
        raise RuntimeError("recording failed")

    monkeypatch.setattr(restarted, "record_receipts", recording_fails)
    with pytest.raises(RuntimeError, match="recording failed"):
        restarted.process_batch(batches[2], 2)
    monkeypatch.undo()
    restarted.process_batch(batches[2], 2)
    restarted.process_batch(batches[3], 3)

    assert quarantined_offsets(spark, restarted) == [1, 3, 5, 7]
    assert len(cassandra_rows(settings)) == 4
    # The batch's log says how long each of its steps took.
    assert set(first.step_s) == {"receipts", "events", "change_log", "quarantine"}
    assert all(seconds > 0 for seconds in first.step_s.values())


def test_a_copy_received_in_a_later_batch_leaves_the_stored_row_and_the_change_log_as_the_first_wrote_them(
    spark: SparkSession, ingest_settings: Settings
) -> None:
    settings, topic = with_registry(spark, ingest_settings, "dev-1")
    event_id, payload = event("dev-1")
    ingest = EventIngest(spark, settings)
    ingest.process_batch(kafka_batch(spark, topic, [(0, "dev-1", payload)]), 0)
    ingest.process_batch(kafka_batch(spark, topic, [(1, "dev-1", payload)]), 1)

    assert cassandra_rows(settings, "event_id, kafka_offset") == [(uuid.UUID(event_id), 0)]
    assert cassandra_table_rows(settings, "change_log", "event_id") == [(uuid.UUID(event_id),)]
    assert (ingest.totals.accepted_events, ingest.totals.duplicates) == (1, 1)


def test_an_id_received_again_with_other_content_is_quarantined_and_its_first_content_stored_once(
    spark: SparkSession, ingest_settings: Settings
) -> None:
    settings, topic = with_registry(spark, ingest_settings, "dev-1")
    event_id, original = event("dev-1")
    moved = json.dumps({**json.loads(original), "event_time": (NOW - timedelta(minutes=5)).isoformat()})
    changed = json.dumps({**json.loads(original), "value": 30.0})
    ingest = EventIngest(spark, settings)
    ingest.process_batch(kafka_batch(spark, topic, [(0, "dev-1", original), (1, "dev-1", moved)]), 0)
    # The next batch: other content (checked against the stored id), and the first content sent again.
    ingest.process_batch(kafka_batch(spark, topic, [(2, "dev-1", changed), (3, "dev-1", original)]), 1)

    assert cassandra_rows(settings, "event_id, event_time, value") == [
        (uuid.UUID(event_id), NOW.replace(tzinfo=None), 21.5)
    ]
    ingest.flush_quarantine()
    quarantine = read_delta(spark, lake.quarantined_events(settings.lake))
    quarantined = sorted(tuple(row) for row in quarantine.select("kafka_offset", "reason", "detail").collect())
    assert [(offset, reason) for offset, reason, _ in quarantined] == [
        (1, "conflicting_duplicate"),
        (2, "conflicting_duplicate"),
    ]
    assert all(detail.endswith(f"at {topic}/0/0; this message differs from it") for _, _, detail in quarantined)
    assert cassandra_table_rows(settings, "event_ids", "event_id, device_id, kafka_offset") == [
        (uuid.UUID(event_id), "dev-1", 0)
    ]
    # The first content stored once; sent again in the next batch, it is a plain duplicate.
    assert (ingest.totals.accepted_events, ingest.totals.duplicates) == (1, 1)
    # The hour of the stored content is marked received for the enrichment's catch-up, the conflicts' are not.
    hour = NOW.replace(minute=0, second=0, tzinfo=None)
    assert [row[:2] for row in cassandra_table_rows(settings, "received_hours", "day, hour, last_received")] == [
        (Date(hour.date()), hour)
    ]
    assert dict(ingest.totals.quarantined) == {"conflicting_duplicate": 2}


def receipts(count: int, offset0: int) -> list[Receipt]:
    event_time_us = int(NOW.timestamp() * 1_000_000) + 123_000  # Cassandra keeps milliseconds
    return [
        Receipt(str(uuid.uuid4()), -(offset0 + i), f"dev-{i % 7}", event_time_us + i * 1000, "t", i % 2, offset0 + i)
        for i in range(count)
    ]


def test_a_few_new_ids_and_many_are_recorded_alike(spark: SparkSession, ingest_settings: Settings) -> None:
    few, many = receipts(3, 0), receipts(DRIVER_WRITE_LIMIT + 500, 1_000)
    cluster = cassandra_cluster(ingest_settings.cassandra)
    try:
        cassandra = ingest_settings.cassandra
        store = EventIdStore(spark, cluster.connect(), cassandra.keyspace, cassandra.connector_one_row_partitions)
        assert (store.record(few), store.record(many)) == (len(few), len(many))  # the driver's session, the connector
        read_back = store.received_before(receipt.event_id for receipt in few + many)
    finally:
        cluster.shutdown()
    assert read_back == {receipt.event_id: receipt for receipt in few + many}
