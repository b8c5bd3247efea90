"""Redis: a client from settings, and a writer that runs inside Spark over whole Arrow batches per partition."""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import redis
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from redis.driver_info import DriverInfo

if TYPE_CHECKING:
    # Only for the hints: the Python workers never import the config (and pydantic with it).
    from smartspaces.config import RedisSettings

# Commands per pipelined round trip for writers of plain commands (write_hashes).
PIPELINE_ROWS = 4000

RowBatches = Iterator[list[dict[str, Any]]]


def connection_options(settings: RedisSettings) -> dict[str, Any]:
    """redis.Redis's keyword arguments: plain values that a Spark task can carry without the settings model."""
    return {
        "host": settings.host,
        "port": settings.port,
        "db": settings.db,
        "ssl": settings.ssl,
        **tls_options(settings),
        "username": settings.username,
        "password": settings.password.get_secret_value() if settings.password else None,
        "socket_timeout": settings.socket_timeout_s,
        "socket_connect_timeout": settings.socket_timeout_s,
        "decode_responses": True,
        # Resolved here, once: redis.Redis would otherwise look its own version up in the package metadata on
        # every construction, a scan of sys.path that costs a Spark task (its path holds pyspark's zips)
        # more than writing thousands of keys.
        "driver_info": DriverInfo(),
    }


def tls_options(settings: RedisSettings) -> dict[str, Any]:
    """With TLS, the server's certificate is required and checked (its CA, and the host name unless told not to)."""
    if not settings.ssl:
        return {}
    return {
        "ssl_cert_reqs": "required",
        "ssl_ca_certs": str(settings.ssl_ca_certs) if settings.ssl_ca_certs else None,
        "ssl_check_hostname": settings.ssl_check_hostname,
    }


def redis_client(settings: RedisSettings) -> redis.Redis:
    return client_from_options(connection_options(settings))


def client_from_options(options: dict[str, Any]) -> redis.Redis:
    """A client from connection_options(...): over TLS, its connections share one SSL context (see below)."""
    if not options.get("ssl"):
        return redis.Redis(**options)
    kwargs = {key: value for key, value in options.items() if key != "ssl"}
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=SharedContextSSLConnection, **kwargs))


@functools.cache
def tls_context(ca_certs: str | None, check_hostname: bool) -> ssl.SSLContext:
    """One context per process and CA: the CA's certificates (the system's when None), the peer always verified."""
    context = ssl.create_default_context(cafile=ca_certs)
    context.check_hostname = check_hostname
    return context


class SharedContextSSLConnection(redis.SSLConnection):
    """redis-py's TLS connection with the process's context for its CA, instead of a new one per connection.

    redis-py builds a context for every connection and loads the system's CA store into it even when given the
    CA: 18 ms of CPU of a 23 ms connection (cProfile: set_default_verify_paths, 20 connections to a local TLS
    Redis). Every Spark task that writes Redis opens a connection, and the read API opens a pool's worth at once.
    """

    def _wrap_socket_with_ssl(self, sock: socket.socket) -> ssl.SSLSocket:
        context = tls_context(self.ca_certs, self.check_hostname)
        return context.wrap_socket(sock, server_hostname=self.host)


def write_per_partition(
    rows: DataFrame, settings: RedisSettings, write: Callable[[redis.Redis, RowBatches], None]
) -> int:
    """Runs write(client, batches) once per partition on the executors, with one connection, over the partition's
    rows as dicts, one list per Arrow batch (spark.sql.execution.arrow.maxRecordsPerBatch rows); returns the
    number of rows. No shuffle here: a caller that needs a key's rows in one partition repartitions first.

    Whole Arrow batches (mapInArrow) instead of rows: no pickled Row per row. The writes run when the one
    summed count comes back to the driver.
    """
    options = connection_options(settings)

    def write_partition(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        counted = 0

        def row_batches() -> RowBatches:
            nonlocal counted
            for batch in batches:
                counted += batch.num_rows
                yield batch_rows(batch)

        client = client_from_options(options)
        try:
            write(client, row_batches())
        finally:
            client.close()
        yield pa.RecordBatch.from_arrays([pa.array([counted], pa.int64())], names=["rows"])

    totals = rows.mapInArrow(write_partition, "rows long").agg(F.sum("rows")).collect()  # one row
    return int(totals[0][0] or 0)


def batch_rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """The batch's rows as dicts of Python values (None for nulls), converted a column at a time."""
    names = batch.schema.names
    return [dict(zip(names, values, strict=True)) for values in zip(*map(column_values, batch.columns), strict=True)]


def column_values(column: pa.Array) -> list[Any]:
    """A column as Python values: strings and numbers through NumPy (many times faster than to_pylist's scalars)."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        values: list[Any] = column.to_numpy(zero_copy_only=False).tolist()  # nulls come out as None
        return values
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        return column.to_pylist()  # type: ignore[no-any-return]
    if not column.null_count:
        return column.to_numpy(zero_copy_only=False).tolist()  # type: ignore[no-any-return]
    # Filled first, so an integer column with nulls stays integers (NumPy would make it float with NaN).
    values = column.fill_null(False if pa.types.is_boolean(kind) else 0).to_numpy(zero_copy_only=False).tolist()
    for position, is_null in enumerate(column.is_null().to_numpy(zero_copy_only=False).tolist()):
        if is_null:
            values[position] = None
    return values


def write_hashes(rows: DataFrame, settings: RedisSettings, key_template: str, ttl_s: int) -> None:
    """Writes each row as a hash at key_template.format(**row), expiring after ttl_s.

    Idempotent: HSET replaces the fields, so writing the same row twice leaves one entry.
    """

    def write(client: redis.Redis, batches: RowBatches) -> None:
        for batch in batches:
            for start in range(0, len(batch), PIPELINE_ROWS // 2):
                pipeline = client.pipeline(transaction=False)
                for row in batch[start : start + PIPELINE_ROWS // 2]:
                    fields = {name: hash_field(value) for name, value in row.items()}
                    key = key_template.format(**fields)
                    pipeline.hset(key, mapping=fields)  # type: ignore[arg-type]
                    pipeline.expire(key, ttl_s)
                pipeline.execute()

    write_per_partition(rows, settings, write)


def hash_field(value: Any) -> str:
    """A hash field's text: str(value), times as naive UTC (Spark's session zone), nulls empty."""
    if value is None:
        return ""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return str(value.astimezone(UTC).replace(tzinfo=None))
    return str(value)
