"""Reference data drops: what each table holds, which rows are rejected and why, and what the read side gets.

A drop is a full snapshot of spaces and devices. Rows without their key or a required column, with a key
twice in the drop, or (devices) in a space the registry does not have are set apart with a reason instead
of being merged into the registry's history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from transformations.scd2 import IS_CURRENT, VALID_TO, latest_versions
from transformations.schemas import DEVICE_HISTORY, DEVICE_REFERENCE, SPACE_HISTORY, SPACE_REFERENCE

REASON = "reason"
# A rejected row is recorded once per drop: its table, the drop's effective time, its reason and its content.
REJECT_KEY_COLUMNS = ("reference_table", "effective_at", "reason", "row_json")


class RejectReason(StrEnum):
    """Why a drop's row was not merged (besides missing_<column>: a required column is null)."""

    MISSING_KEY = "missing_key"
    DUPLICATE_KEY = "duplicate_key"
    UNKNOWN_SPACE = "unknown_space"


def missing(column: str) -> str:
    """The reason of a row whose required column is null."""
    return f"missing_{column}"


@dataclass(frozen=True)
class ReferenceTable:
    """A table of the registry: its drop's name and schema, its key, what a row needs, and its history."""

    # The drop's file (<name>.csv or .parquet), its JDBC table, and the read side's Cassandra table.
    name: str
    drop_schema: StructType
    history_schema: StructType
    key: str
    required: tuple[str, ...]
    # A drop column that retires the key at the time it holds (not an attribute: it closes the history).
    retired_column: str | None = None
    # A column naming the space a row is in, which must be a space of the registry.
    space_column: str | None = None

    @property
    def attributes(self) -> tuple[str, ...]:
        """The columns whose change opens a new version."""
        return tuple(c for c in self.drop_schema.fieldNames() if c not in (self.key, self.retired_column))


SPACES = ReferenceTable("spaces", SPACE_REFERENCE, SPACE_HISTORY, "space_id", ("building_id", "space_type"))
DEVICES = ReferenceTable(
    "devices", DEVICE_REFERENCE, DEVICE_HISTORY, "device_id", ("space_id", "device_type"), "retired_at", "space_id"
)
# In loading order: a device's space is checked against the spaces loaded just before.
REFERENCE_TABLES = (SPACES, DEVICES)


def with_reference_verdict(key: str, required: tuple[str, ...]) -> Callable[[DataFrame], DataFrame]:
    """Adds `reason`: missing_key, missing_<column>, duplicate_key (a key twice in one drop), or null."""

    def transform(drop: DataFrame) -> DataFrame:
        occurrences = F.count("*").over(Window.partitionBy(key))
        checks = [(F.col(key).isNull() | (F.trim(key) == ""), RejectReason.MISSING_KEY.value)]
        checks += [(F.col(column).isNull(), missing(column)) for column in required]
        checks += [(occurrences > 1, RejectReason.DUPLICATE_KEY.value)]
        return drop.withColumn(REASON, F.coalesce(*[F.when(failed, F.lit(reason)) for failed, reason in checks]))

    return transform


def flag_unknown_spaces(spaces: DataFrame, column: str = "space_id") -> Callable[[DataFrame], DataFrame]:
    """Sets `reason` to unknown_space on rows not rejected yet whose `column` is not a space_id of `spaces`."""

    def transform(rows: DataFrame) -> DataFrame:
        known = spaces.select(F.col("space_id").alias("_known_space")).distinct()
        joined = rows.join(F.broadcast(known), rows[column] == known["_known_space"], "left")
        unknown = F.col(REASON).isNull() & F.col("_known_space").isNull()
        reason = F.when(unknown, F.lit(RejectReason.UNKNOWN_SPACE.value)).otherwise(F.col(REASON))
        return joined.select(*[c for c in rows.columns if c != REASON], reason.alias(REASON))

    return transform


def with_drop_verdict(table: ReferenceTable, spaces: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """A drop of `table` with `reason` (null: to merge); rows in a space are checked against `spaces`."""

    def transform(drop: DataFrame) -> DataFrame:
        checked = drop.transform(with_reference_verdict(table.key, table.required))
        if table.space_column:
            checked = checked.transform(flag_unknown_spaces(spaces, table.space_column))
        return checked

    return transform


def reference_rejects(table: ReferenceTable, effective_at: datetime) -> Callable[[DataFrame], DataFrame]:
    """The rejected rows of a checked drop as REFERENCE_REJECT rows: table, key, reason, drop time, row as JSON."""

    def transform(checked: DataFrame) -> DataFrame:
        row = F.to_json(F.struct(*table.drop_schema.fieldNames()), {"ignoreNullFields": "false"})
        return checked.where(F.col(REASON).isNotNull()).select(
            F.lit(table.name).alias("reference_table"),
            F.col(table.key).cast("string").alias("key"),
            F.col(REASON),
            F.lit(effective_at).alias("effective_at"),
            row.alias("row_json"),
        )

    return transform


def registry_rows(table: ReferenceTable) -> Callable[[DataFrame], DataFrame]:
    """The read side's registry from a history: each key's newest version in the drop's columns.

    Keys without an open version keep their row, so their ids stay known to the read API; a device's row
    then says when it was retired (its retirement time, or when it left the drops).
    """

    def transform(history: DataFrame) -> DataFrame:
        newest = history.transform(latest_versions(table.key))
        if table.retired_column:
            retired = F.when(~F.col(IS_CURRENT), F.coalesce(table.retired_column, VALID_TO))
            newest = newest.withColumn(table.retired_column, retired.otherwise(F.col(table.retired_column)))
        return newest.select(*table.drop_schema.fieldNames())

    return transform
