"""Rows shaped to a declared schema: exactly its columns, in its order and types, or an error naming what is missing."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType


class MissingColumnsError(ValueError):
    """Rows (a drop, a history, a fact) lack columns of the schema they should conform to."""


def conform_to(schema: StructType, derived: Mapping[str, Column] | None = None) -> Callable[[DataFrame], DataFrame]:
    """Selects exactly the schema's columns, in its order, cast to its types and named as it names them.

    A column is matched by name in any case (a JDBC table's or a CSV header's spelling), or computed by
    `derived`. Any other missing column fails here, naming it, rather than in the writer or the database.
    """
    computed = dict(derived or {})

    def transform(rows: DataFrame) -> DataFrame:
        if not computed and _fields(rows.schema) == _fields(schema):
            # Already its shape: a select of every column would change nothing, but planning it costs a writer
            # tens of milliseconds per table (its analysis matches the plan against every cached one).
            return rows
        by_lower = {column.lower(): column for column in rows.columns}
        # An exact match first: a case-sensitive session may hold names that differ only in case.
        found = {name: name if name in rows.columns else by_lower.get(name.lower()) for name in schema.fieldNames()}
        absent = [name for name, column in found.items() if column is None and name not in computed]
        if absent:
            raise MissingColumnsError(f"missing columns {', '.join(absent)} (has {', '.join(rows.columns)})")
        sources = {name: F.col(column) for name, column in found.items() if column is not None} | computed
        return rows.select([sources[field.name].cast(field.dataType).alias(field.name) for field in schema.fields])

    return transform


def _fields(schema: StructType) -> list[tuple[str, object]]:
    return [(field.name, field.dataType) for field in schema.fields]
