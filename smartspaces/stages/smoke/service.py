"""The smoke flow: readings → Kafka → Spark → Delta bronze and Cassandra → PostgreSQL summary and Redis latest.

Proves every connection of the platform end to end and prints what each stage holds afterwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import functions as F

from smartspaces.cassandra_tables import SMOKE_READINGS
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import read_cassandra, write_cassandra
from smartspaces.connectors.delta import lake_path, write_delta
from smartspaces.connectors.kafka import read_kafka, write_kafka
from smartspaces.connectors.postgres import read_jdbc, write_jdbc
from smartspaces.connectors.redis import redis_client, write_hashes
from smartspaces.session import spark_session
from transformations.events import with_event_day
from transformations.kafka_messages import parse_json_messages, to_kafka_messages
from transformations.redis_keys import SMOKE_DEVICE_LATEST
from transformations.schemas import SMOKE_READING
from transformations.smoke import latest_by_device, summarize_by_device, synthesize_readings

SUMMARY_TABLE = "smoke.device_summary"


@dataclass(frozen=True)
class SmokeOptions:
    readings: int = 600
    devices: int = 6
    topic: str = "smoke.readings"
    redis_ttl_s: int = 86_400
    run_id: str | None = None


def run_smoke(settings: Settings, options: SmokeOptions) -> int:
    """Runs the flow; 0 when every stage holds exactly what was sent, 1 otherwise."""
    run_id = options.run_id or uuid.uuid4().hex[:12]
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=options.readings)
    keyspace = settings.cassandra.keyspace
    counts: dict[str, int] = {"sent": options.readings}

    with spark_session(settings, "smartspaces-smoke") as spark:
        readings = spark.range(options.readings).transform(synthesize_readings(run_id, start, options.devices))
        write_kafka(readings.transform(to_kafka_messages("device_id")), settings.kafka, options.topic)

        messages = read_kafka(spark, settings.kafka, options.topic)
        parsed = messages.transform(parse_json_messages(SMOKE_READING))
        counts["kafka: messages that are not readings"] = parsed.where(F.col("run_id").isNull()).count()
        received = parsed.where(F.col("run_id") == run_id).transform(with_event_day).cache()
        counts["kafka: read back"] = received.count()

        write_delta(
            received.withColumn("ingest_date", F.current_date()),
            lake_path(settings.lake, "smoke", "bronze"),
            partition_by=("ingest_date",),
        )
        write_cassandra(received, keyspace, SMOKE_READINGS.name)
        stored = read_cassandra(spark, keyspace, SMOKE_READINGS.name).where(F.col("run_id") == run_id).cache()
        counts["cassandra: read back"] = stored.count()

        summary = stored.transform(summarize_by_device)
        write_jdbc(summary, settings.postgres, SUMMARY_TABLE)
        summary_query = f"(SELECT * FROM {SUMMARY_TABLE} WHERE run_id = '{run_id}') AS run_summary"
        summary_rows = read_jdbc(spark, settings.postgres, summary_query)
        counts["postgres: readings summarised"] = summary_rows.agg(F.sum("readings")).collect()[0][0] or 0

        latest = stored.transform(latest_by_device)
        write_hashes(latest, settings.redis, SMOKE_DEVICE_LATEST, options.redis_ttl_s)
        # One row per device: small enough to bring to the driver.
        keys = [SMOKE_DEVICE_LATEST.format(device_id=row.device_id) for row in latest.select("device_id").collect()]
        counts["redis: device keys"] = int(redis_client(settings.redis).exists(*keys)) if keys else 0

    expected = {
        **dict.fromkeys(
            ("kafka: read back", "cassandra: read back", "postgres: readings summarised"), options.readings
        ),
        "redis: device keys": min(options.devices, options.readings),
    }
    print(f"smoke run {run_id}: {options.readings} readings from {options.devices} devices")
    for stage, count in counts.items():
        mark = (
            "" if stage not in expected else ("  ok" if count == expected[stage] else f"  EXPECTED {expected[stage]}")
        )
        print(f"  {stage:<40} {count:>8}{mark}")
    return 0 if all(counts[stage] == value for stage, value in expected.items()) else 1
