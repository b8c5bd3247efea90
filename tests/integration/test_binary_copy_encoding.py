"""The JVM's binary COPY encoder (smartspaces.postgres.BinaryCopyWriter) against psycopg's binary rows, byte for byte,
and its refusals."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from psycopg import adapt, postgres
from psycopg._copy_base import format_row_binary  # the function psycopg's Copy.write_row uses
from psycopg.pq import Format
from pyspark.sql import DataFrame, SparkSession

from smartspaces.config import PostgresSettings
from smartspaces.connectors.jvm import java_strings, session_jvm
from smartspaces.connectors.postgres import PostgresUnavailableError, naming_the_server
from smartspaces.stages.enrichment.reporting.staging_copy import (
    CopyStatements,
    UnsupportedColumnError,
    binary_copy_writer,
)
from tests.integration.serving_fixtures import free_port

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"
TYPES = ("text", "uuid", "int4", "int8", "float8", "bool", "date", "timestamptz")
SCHEMA = (
    "text string, uuid string, int4 int, int8 bigint, float8 double, bool boolean, date date, timestamptz timestamp"
)
ROWS: list[tuple[Any, ...]] = [
    ("plain", str(uuid.UUID(int=1)), 1, 2**40, 21.5, True, date(2026, 11, 23), datetime(2026, 11, 23, 9, tzinfo=UTC)),
    ("", None, None, None, None, None, None, None),
    (None, str(uuid.UUID(int=2**128 - 1)), -(2**31), -(2**63), math.nan, False, date(1999, 12, 31), None),
    ('q"u,o\nte ✓', None, 2**31 - 1, 2**63 - 1, math.inf, None, date(1970, 1, 1), datetime(1, 1, 1, tzinfo=UTC)),
    ("\\N", None, 0, 0, -math.inf, True, date(2000, 1, 1), datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
    # Longer than the writer's buffer: it grows (on the driver) or is handed over in parts (in a task).
    ("x" * 300_000, None, 7, 7, -0.0, True, date(9999, 12, 31), datetime(2000, 1, 1, tzinfo=UTC)),
]
NO_STATEMENTS = CopyStatements(copy="", claim="", held="", record="")


def psycopg_rows(rows: Sequence[tuple[Any, ...]], types: Sequence[str]) -> bytes:
    transformer = adapt.Transformer()
    transformer.set_dumper_types([postgres.types[name].oid for name in types], Format.BINARY)
    out = bytearray()
    for row in rows:
        values = [
            uuid.UUID(value) if name == "uuid" and value is not None else value
            for value, name in zip(row, types, strict=True)
        ]
        format_row_binary(values, transformer, out)
    return bytes(out)


def jvm_encoded(rows: DataFrame, types: Sequence[str]) -> bytes:
    spark = rows.sparkSession
    writer = session_jvm(spark).smartspaces.postgres.BinaryCopyWriter
    return bytes(writer.encodeAll(rows._jdf, java_strings(spark, types)))


def test_rows_are_encoded_as_psycopg_encodes_them(spark: SparkSession) -> None:
    rows = spark.createDataFrame(ROWS, SCHEMA).coalesce(1)

    assert jvm_encoded(rows, TYPES) == SIGNATURE + psycopg_rows(ROWS, TYPES) + TRAILER


def test_integers_are_widened_to_a_bigint_column(spark: SparkSession) -> None:
    rows = spark.createDataFrame([(1,), (None,), (-3,)], "n int").coalesce(1)

    assert jvm_encoded(rows, ["int8"]) == SIGNATURE + psycopg_rows([(1,), (None,), (-3,)], ["int8"]) + TRAILER


def test_no_rows_encode_to_the_signature_and_the_trailer(spark: SparkSession) -> None:
    assert jvm_encoded(spark.createDataFrame([], SCHEMA), TYPES) == SIGNATURE + TRAILER


def test_a_type_without_a_binary_encoding_is_refused_by_name(spark: SparkSession, store: PostgresSettings) -> None:
    rows = spark.createDataFrame([('{"a": 1}',)], "j string")

    with pytest.raises(UnsupportedColumnError, match="column j: no binary COPY encoding for PostgreSQL type jsonb"):
        binary_copy_writer(rows, store, "t", NO_STATEMENTS, ("jsonb",))


def test_a_spark_type_that_is_not_the_columns_is_refused_by_name(spark: SparkSession, store: PostgresSettings) -> None:
    rows = spark.createDataFrame([(1,)], "n bigint")

    with pytest.raises(
        UnsupportedColumnError, match="column n: Spark type bigint is not copied as PostgreSQL type int4"
    ):
        binary_copy_writer(rows, store, "t", NO_STATEMENTS, ("int4",))


def test_a_server_that_refuses_the_tasks_connection_is_named_with_its_settings(
    spark: SparkSession, store: PostgresSettings
) -> None:
    closed = store.model_copy(update={"port": free_port()})
    rows = spark.createDataFrame([("a",)], "t string")
    writer = binary_copy_writer(rows, closed, "t", NO_STATEMENTS, ("text",))

    with (
        pytest.raises(
            PostgresUnavailableError, match=rf":{closed.port} \(postgres.host, postgres.port\) failed during"
        ),
        naming_the_server(closed, "the COPY into t"),
    ):
        writer.copy(rows._jdf)
