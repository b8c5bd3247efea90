"""The binary COPY encoder against psycopg's own binary row format, value for value."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest
from psycopg import adapt, postgres
from psycopg._copy_base import format_row_binary  # the function psycopg's Copy.write_row uses
from psycopg.pq import Format

from smartspaces.connectors.postgres_binary import UnsupportedColumnError, encode_rows

TYPES = ("text", "uuid", "int4", "int8", "float8", "bool", "date", "timestamptz")
ARROW = pa.schema(
    [
        ("text", pa.string()),
        ("uuid", pa.string()),
        ("int4", pa.int32()),
        ("int8", pa.int64()),
        ("float8", pa.float64()),
        ("bool", pa.bool_()),
        ("date", pa.date32()),
        ("timestamptz", pa.timestamp("us", tz="UTC")),
    ]
)
ROWS: list[tuple[Any, ...]] = [
    ("plain", str(uuid.UUID(int=1)), 1, 2**40, 21.5, True, date(2026, 11, 23), datetime(2026, 11, 23, 9, tzinfo=UTC)),
    ("", None, None, None, None, None, None, None),
    (None, str(uuid.UUID(int=2**128 - 1)), -(2**31), -(2**63), math.nan, False, date(1999, 12, 31), None),
    ('q"u,o\nte ✓', None, 2**31 - 1, 2**63 - 1, math.inf, None, date(1970, 1, 1), datetime(1, 1, 1, tzinfo=UTC)),
    ("\\N", None, 0, 0, -math.inf, True, date(2000, 1, 1), datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
    ("x" * 70_000, None, 7, 7, -0.0, True, date(9999, 12, 31), datetime(2000, 1, 1, tzinfo=UTC)),
]


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


def test_rows_are_encoded_as_psycopg_encodes_them() -> None:
    batch = pa.RecordBatch.from_pylist([dict(zip(ARROW.names, row, strict=True)) for row in ROWS], ARROW)

    assert encode_rows(batch, TYPES) == psycopg_rows(ROWS, TYPES)


def test_a_sliced_batch_encodes_only_its_rows() -> None:
    batch = pa.RecordBatch.from_pylist([dict(zip(ARROW.names, row, strict=True)) for row in ROWS], ARROW)

    assert encode_rows(batch.slice(2, 3), TYPES) == psycopg_rows(ROWS[2:5], TYPES)


def test_narrower_arrow_numbers_are_widened_to_the_column_type() -> None:
    batch = pa.RecordBatch.from_pydict({"n": pa.array([1, None, -3], pa.int32())})

    assert encode_rows(batch, ["int8"]) == psycopg_rows([(1,), (None,), (-3,)], ["int8"])


def test_an_empty_batch_encodes_to_nothing() -> None:
    assert encode_rows(pa.RecordBatch.from_pylist([], ARROW), TYPES) == b""


def test_a_type_without_a_binary_encoding_is_refused_by_name() -> None:
    batch = pa.RecordBatch.from_pydict({"j": pa.array(['{"a": 1}'])})

    with pytest.raises(UnsupportedColumnError, match="jsonb"):
        encode_rows(batch, ["jsonb"])
