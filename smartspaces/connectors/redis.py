"""Redis: a client from settings, and a pipelined writer that runs inside Spark's foreachPartition."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis
from pyspark.sql import DataFrame, Row

from smartspaces.config import RedisSettings

# Rows sent to Redis per pipeline round trip.
PIPELINE_ROWS = 500


def redis_client(settings: RedisSettings) -> redis.Redis:
    return redis.Redis(
        host=settings.host,
        port=settings.port,
        db=settings.db,
        ssl=settings.ssl,
        password=settings.password.get_secret_value() if settings.password else None,
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.socket_timeout_s,
        decode_responses=True,
    )


def write_hashes(rows: DataFrame, settings: RedisSettings, key_template: str, ttl_s: int) -> None:
    """Writes each row as a hash at key_template.format(**row), expiring after ttl_s.

    Idempotent: HSET replaces the fields, so writing the same row twice leaves one entry.
    Runs on the executors, one connection and pipelined round trips per partition.
    """

    def write_partition(partition: Iterable[Row]) -> None:
        client = redis_client(settings)
        try:
            pipeline = client.pipeline(transaction=False)
            for count, row in enumerate(partition, start=1):
                fields: dict[Any, Any] = {
                    name: "" if value is None else str(value) for name, value in row.asDict().items()
                }
                key = key_template.format(**fields)
                pipeline.hset(key, mapping=fields)
                pipeline.expire(key, ttl_s)
                if count % PIPELINE_ROWS == 0:
                    pipeline.execute()
            pipeline.execute()
        finally:
            client.close()

    rows.foreachPartition(write_partition)
