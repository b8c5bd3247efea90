"""The smoke flow end to end: every store holds exactly what was sent."""

from __future__ import annotations

import uuid

from pyspark.sql import SparkSession

from jobs import smoke
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.postgres import connect
from smartspaces.connectors.redis import redis_client
from transformations.redis_keys import SMOKE_DEVICE_LATEST


def test_smoke_flow_lands_every_reading_in_every_store(spark: SparkSession, settings: Settings) -> None:
    run_id = f"test{uuid.uuid4().hex[:8]}"
    assert smoke.main(["--readings", "90", "--devices", "3", "--run-id", run_id]) == 0

    cluster = cassandra_cluster(settings.cassandra)
    try:
        rows = list(
            cluster.connect().execute(
                f"SELECT reading_id, device_id, value FROM {settings.cassandra.keyspace}.smoke_readings "
                "WHERE run_id = %s ALLOW FILTERING",
                (run_id,),
            )
        )
    finally:
        cluster.shutdown()
    assert sorted(row.reading_id for row in rows) == [f"{run_id}-{i:06d}" for i in range(90)]

    with connect(settings.postgres) as connection:
        summary = connection.execute(
            "SELECT device_id, readings FROM smoke.device_summary WHERE run_id = %s ORDER BY device_id", (run_id,)
        ).fetchall()
    assert summary == [("smoke-device-000", 30), ("smoke-device-001", 30), ("smoke-device-002", 30)]

    # Reading 89 is the newest, from device 89 % 3 = 2; its value is round(21 + 2 sin(8.9), 2).
    latest = redis_client(settings.redis).hgetall(SMOKE_DEVICE_LATEST.format(device_id="smoke-device-002"))
    assert (latest["reading_id"], latest["value"]) == (f"{run_id}-000089", "22.0")
