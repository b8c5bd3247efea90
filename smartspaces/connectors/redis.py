"""Redis: a client from settings, and a pipelined writer that runs inside Spark's foreachPartition."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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


def write_per_partition(
    rows: DataFrame,
    settings: RedisSettings,
    write: Callable[[Any, list[Row]], Iterable[str]],
    finish: Callable[[Any, set[str]], None] | None = None,
) -> None:
    """Runs write(pipeline, chunk) on the executors, one connection per partition and one pipelined round trip
    per PIPELINE_ROWS rows; then finish(pipeline, keys) once with every key the partition's writes returned
    (completeness markers go last, after everything they vouch for)."""

    def write_partition(partition: Iterable[Row]) -> None:
        client = redis_client(settings)
        touched: set[str] = set()
        try:
            chunk: list[Row] = []
            for row in partition:
                chunk.append(row)
                if len(chunk) == PIPELINE_ROWS:
                    pipeline = client.pipeline(transaction=False)
                    touched.update(write(pipeline, chunk))
                    pipeline.execute()
                    chunk = []
            pipeline = client.pipeline(transaction=False)
            touched.update(write(pipeline, chunk))
            if finish is not None:
                finish(pipeline, touched)
            pipeline.execute()
        finally:
            client.close()

    rows.foreachPartition(write_partition)


def write_hashes(rows: DataFrame, settings: RedisSettings, key_template: str, ttl_s: int) -> None:
    """Writes each row as a hash at key_template.format(**row), expiring after ttl_s.

    Idempotent: HSET replaces the fields, so writing the same row twice leaves one entry.
    """

    def write(pipeline: Any, chunk: list[Row]) -> Iterable[str]:
        keys = []
        for row in chunk:
            fields: dict[Any, Any] = {name: "" if value is None else str(value) for name, value in row.asDict().items()}
            keys.append(key_template.format(**fields))
            pipeline.hset(keys[-1], mapping=fields)
            pipeline.expire(keys[-1], ttl_s)
        return keys

    write_per_partition(rows, settings, write)
