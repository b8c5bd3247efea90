"""The ingest job end to end: simulator → Kafka → ingest → Cassandra, quarantine and bronze, with exact counts."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import ingest, reference
from smartspaces import lake
from smartspaces.config import PROJECT_ROOT, Settings
from smartspaces.connectors.delta import read_delta, table_properties
from smartspaces.connectors.kafka_admin import client_config, topic_timestamp_type
from smartspaces.stages.simulator.campus import DEVICES_FILE
from smartspaces.stages.simulator.producer import SimulationOptions, SimulationReport, run_simulation
from tests.integration.ingest_fixtures import cassandra_rows


def simulate(settings: Settings, reference_dir: Path, count: int, seed: int, live: bool = False) -> SimulationReport:
    """Sends `count` events with every kind of bad input, duplicates and late events; loads its registry.
    live: fresh event ids (the same seed's campus), so a second sending is new events."""
    options = SimulationOptions(
        count=count,
        seed=seed,
        buildings=1,
        bad_fraction=0.004,
        duplicate_fraction=0.03,
        late_fraction=0.03,
        topic=settings.ingest.topic,
        reference_dir=reference_dir,
        now=datetime.now(UTC),
        live=live,
    )
    report = run_simulation(options, settings.kafka)
    assert report.delivery_failures == 0
    assert reference.main(["--drop", str(reference_dir)]) == 0
    return report


def quarantine_counts(spark: SparkSession, settings: Settings) -> dict[str, int]:
    rows = read_delta(spark, lake.quarantined_events(settings.lake)).groupBy("reason").count().collect()
    return {row.reason: row["count"] for row in rows}


def assert_stored_exactly(spark: SparkSession, settings: Settings, *reports: SimulationReport) -> None:
    """Every good event of the sendings once in Cassandra, every bad message once in the quarantine, every
    message once in bronze."""
    bad = Counter[str]()
    for report in reports:
        bad.update({reason: n for reason, n in report.bad_by_reason.items() if n})
    assert len(cassandra_rows(settings)) == sum(report.good_distinct for report in reports)
    assert quarantine_counts(spark, settings) == dict(bad)
    assert read_delta(spark, lake.bronze_events(settings.lake)).count() == sum(report.sent_total for report in reports)


def test_drained_ingest_stores_every_good_event_once_and_quarantines_every_bad_one(
    spark: SparkSession, ingest_settings: Settings, tmp_path: Path
) -> None:
    report = simulate(ingest_settings, tmp_path / "reference", count=4000, seed=11)
    assert report.duplicates > 0 and report.late > 0 and len([n for n in report.bad_by_reason.values() if n]) >= 12
    assert ingest.main(["--drain"]) == 0
    assert_stored_exactly(spark, ingest_settings, report)
    archive, quarantine = lake.bronze_events(ingest_settings.lake), lake.quarantined_events(ingest_settings.lake)
    intervals = {table_properties(spark, table).get("delta.checkpointInterval") for table in (archive, quarantine)}
    assert intervals == {"100"}


def test_replaying_a_period_from_bronze_gives_the_same_content(
    spark: SparkSession, ingest_settings: Settings, tmp_path: Path
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=1)
    report = simulate(ingest_settings, tmp_path / "reference", count=1500, seed=12)
    assert ingest.main(["--drain"]) == 0
    columns = "device_id, day, event_time, event_id, value, kafka_offset, ingest_time"
    before = cassandra_rows(ingest_settings, columns)
    period = [started.isoformat(), (datetime.now(UTC) + timedelta(minutes=1)).isoformat()]
    assert ingest.main(["--replay-from", period[0], "--replay-to", period[1]]) == 0
    assert cassandra_rows(ingest_settings, columns) == before
    assert_stored_exactly(spark, ingest_settings, report)


def test_a_killed_stream_resumes_without_losing_or_duplicating_events(
    spark: SparkSession, ingest_settings: Settings, tmp_path: Path
) -> None:
    report = simulate(ingest_settings, tmp_path / "reference", count=6000, seed=13)
    # Small micro-batches, so the kill lands in the middle of the stream.
    environment = {**os.environ, "SMARTSPACES__INGEST__MAX_OFFSETS_PER_TRIGGER": "400"}
    stream = subprocess.Popen(
        [sys.executable, "-m", "jobs.ingest"],
        cwd=PROJECT_ROOT,
        env=environment,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    batches_done = threading.Semaphore(0)

    def watch_batches() -> None:
        assert stream.stderr is not None
        for line in stream.stderr:
            if '"event": "ingest_batch"' in line:
                batches_done.release()

    threading.Thread(target=watch_batches, daemon=True).start()
    deadline = time.monotonic() + 300
    for _ in range(3):
        assert batches_done.acquire(timeout=max(deadline - time.monotonic(), 1)), "the stream made no progress"
    os.killpg(stream.pid, signal.SIGKILL)  # the driver and its JVM, mid-stream
    stream.wait(timeout=60)
    assert len(cassandra_rows(ingest_settings)) < report.good_distinct, "the stream finished before the kill"

    assert ingest.main(["--drain"]) == 0
    assert_stored_exactly(spark, ingest_settings, report)


def test_a_lost_checkpoint_is_refused_unless_told_then_nothing_is_written_twice_or_skipped(
    spark: SparkSession, ingest_settings: Settings, tmp_path: Path
) -> None:
    first = simulate(ingest_settings, tmp_path / "reference", count=1500, seed=14)
    assert ingest.main(["--drain"]) == 0
    shutil.rmtree(lake.checkpoints(ingest_settings.lake))
    # Starting over would read the topic again: refused (exit 2) until asked for, and nothing written meanwhile.
    assert ingest.main(["--drain"]) == 2
    assert_stored_exactly(spark, ingest_settings, first)
    assert ingest.main(["--drain", "--new-checkpoints"]) == 0
    assert_stored_exactly(spark, ingest_settings, first)
    # The new checkpoints' batch ids start over at 0: later batches are not taken for ones the lake holds.
    second = simulate(ingest_settings, tmp_path / "reference", count=1000, seed=14, live=True)
    assert ingest.main(["--drain"]) == 0
    assert_stored_exactly(spark, ingest_settings, first, second)


def test_arrival_is_the_brokers_time_so_a_device_whose_clock_runs_ahead_is_quarantined(
    spark: SparkSession, ingest_settings: Settings, tmp_path: Path
) -> None:
    report = simulate(ingest_settings, tmp_path / "reference", count=200, seed=15)
    with (tmp_path / "reference" / DEVICES_FILE).open() as devices:
        device = next(row["device_id"] for row in csv.DictReader(devices) if row["device_type"] == "temperature")
    # The device's clock is an hour ahead: its event time and the producer's timestamp both say so.
    ahead = datetime.now(UTC) + timedelta(hours=1)
    body = {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "device_id": device,
        "event_time": ahead.isoformat(),
        "event_type": "telemetry",
        "metric": "temperature",
        "value": 21.5,
        "unit": "celsius",
    }
    producer = Producer(client_config(ingest_settings.kafka))
    producer.produce(
        ingest_settings.ingest.topic, key=device, value=json.dumps(body), timestamp=int(ahead.timestamp() * 1000)
    )
    assert producer.flush(30) == 0
    admin = AdminClient(client_config(ingest_settings.kafka))
    assert topic_timestamp_type(admin, ingest_settings.ingest.topic) == "LogAppendTime"

    assert ingest.main(["--drain"]) == 0
    expected = Counter({reason: n for reason, n in report.bad_by_reason.items() if n})
    expected["event_time_in_future"] += 1
    assert quarantine_counts(spark, ingest_settings) == dict(expected)
    assert len(cassandra_rows(ingest_settings)) == report.good_distinct
    arrived = read_delta(spark, lake.bronze_events(ingest_settings.lake)).agg(F.max("timestamp")).first()
    assert arrived is not None and arrived[0] < datetime.now() + timedelta(minutes=5)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system for the lake needs root")
def test_a_full_lake_disk_is_named_with_its_setting_and_nothing_is_half_written(
    spark: SparkSession, ingest_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake_root = Path(ingest_settings.lake.root)
    lake_root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(lake_root)], check=True)
    try:
        report = simulate(ingest_settings, tmp_path / "reference", count=3000, seed=15)
        # The registry is in; the events' archive and the streams' checkpoints find 64 KiB free.
        used_kib = shutil.disk_usage(lake_root).used // 1024
        subprocess.run(["mount", "-o", f"remount,size={used_kib + 64}k", str(lake_root)], check=True)
        capsys.readouterr()
        assert ingest.main(["--drain"]) == 1
        assert f"the disk of {lake_root} (lake.root) is full" in capsys.readouterr().err
        # Space again: the failed batches are written whole, nothing twice.
        subprocess.run(["mount", "-o", "remount,size=256m", str(lake_root)], check=True)
        assert ingest.main(["--drain"]) == 0
        assert_stored_exactly(spark, ingest_settings, report)
    finally:
        subprocess.run(["umount", "--lazy", str(lake_root)], check=False)
