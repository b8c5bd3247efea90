"""Slowly changing dimensions, type 2: a full-snapshot drop compared with a history → the versions to merge.

A history holds every version of every key: valid from `valid_from` (inclusive) to `valid_to` (exclusive;
null while the version is open), `is_current` marking the open one; a key has at most one open version.
The versions to merge are keyed by (key, valid_from): closing a version rewrites its row, opening one adds
a row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transformations.ranking import newest_by

VALID_FROM, VALID_TO, IS_CURRENT = "valid_from", "valid_to", "is_current"
VERSION_COLUMNS = (VALID_FROM, VALID_TO, IS_CURRENT)
CHANGE = "change"

# Prefixes of the two sides of the comparison: the open version (old) and the drop's row (new).
_OLD, _NEW = "_old_", "_new_"
_KNOWN_KEY, _HELD_KEY = "_known_key", "_held_key"


class VersionChange(StrEnum):
    """What a row of the versions to merge does to the history."""

    # A version with a new valid_from (usually open; closed already for a key first seen retired).
    OPENED = "opened"
    # An open version given its valid_to.
    CLOSED = "closed"


def version_changes(
    history: DataFrame,
    drop: DataFrame,
    key: str,
    attributes: Sequence[str],
    as_of: datetime,
    retired_column: str | None = None,
    held_keys: DataFrame | None = None,
) -> DataFrame:
    """The versions that make `history` reflect `drop`, a full snapshot effective at `as_of`.

    - a key in the drop without an open version (new, or back after it left): a version opens at as_of;
    - a key whose tracked attributes changed (compared null-safely): its open version closes at as_of and a
      new one opens at as_of (a version that itself opened at as_of is replaced instead: same valid_from);
    - a key whose attributes did not change: nothing;
    - a key with an open version that the drop does not list: its version closes at as_of (retired), unless
      the key is in `held_keys` (its row was rejected from this drop, so the drop says nothing about it);
    - a row whose `retired_column` is set: the open version closes at that time (never before it opened)
      and records it; a key without an open version stays closed, and a key never seen before gets one
      version from as_of, closed at once.

    Applying the same drop again gives no rows. Returns the history's columns plus `change` (VersionChange).
    """
    columns = history.columns
    retired = [retired_column] if retired_column else []
    at = F.lit(as_of)
    old = history.where(F.col(IS_CURRENT)).select([F.col(c).alias(_OLD + c) for c in columns])
    new = drop.select([F.col(c).alias(_NEW + c) for c in (key, *attributes, *retired)])
    known = history.select(F.col(key).alias(_KNOWN_KEY)).distinct()
    pairs = old.join(new, F.col(_OLD + key) == F.col(_NEW + key), "full_outer").join(
        known, F.col(_NEW + key) == F.col(_KNOWN_KEY), "left"
    )
    if held_keys is not None:
        held = held_keys.select(F.col(key).alias(_HELD_KEY)).where(F.col(_HELD_KEY).isNotNull()).distinct()
        pairs = pairs.join(held, F.col(_OLD + key) == F.col(_HELD_KEY), "left")
    else:
        pairs = pairs.withColumn(_HELD_KEY, F.lit(None).cast("string"))

    has_old, has_new = F.col(_OLD + key).isNotNull(), F.col(_NEW + key).isNotNull()
    retired_at = F.col(_NEW + retired_column) if retired_column else F.lit(None).cast("timestamp")
    retiring = has_new & retired_at.isNotNull()
    same = reduce(lambda a, b: a & b, [F.col(_OLD + c).eqNullSafe(F.col(_NEW + c)) for c in attributes], F.lit(True))
    changed = has_old & has_new & ~retiring & ~same

    def closed(valid_to: Column, retired_value: Column | None = None) -> list[Column]:
        replaced = {VALID_TO: valid_to, IS_CURRENT: F.lit(False)}
        if retired_column and retired_value is not None:
            replaced[retired_column] = retired_value
        return [replaced.get(c, F.col(_OLD + c)).alias(c) for c in columns] + [F.lit(VersionChange.CLOSED.value)]

    def opened(valid_to: Column, is_current: bool) -> list[Column]:
        replaced = {VALID_FROM: at, VALID_TO: valid_to, IS_CURRENT: F.lit(is_current)}
        return [replaced.get(c, F.col(_NEW + c)).alias(c) for c in columns] + [F.lit(VersionChange.OPENED.value)]

    no_end = F.lit(None).cast("timestamp")
    versions = [
        pairs.where(changed & (F.col(_OLD + VALID_FROM) < at)).select(*closed(at)),
        pairs.where(has_old & ~has_new & F.col(_HELD_KEY).isNull()).select(*closed(at)),
        pairs.where(has_old & retiring).select(*closed(F.greatest(retired_at, F.col(_OLD + VALID_FROM)), retired_at)),
        pairs.where(has_new & ~retiring & (~has_old | changed)).select(*opened(no_end, is_current=True)),
        pairs.where(retiring & ~has_old & F.col(_KNOWN_KEY).isNull()).select(
            *opened(F.greatest(retired_at, at), is_current=False)
        ),
    ]
    return reduce(DataFrame.unionAll, versions).toDF(*columns, CHANGE)


def change_counts(changes: DataFrame, drop: DataFrame, key: str) -> DataFrame:
    """One row: versions opened, versions closed, and keys of the drop left unchanged."""
    by_change = changes.agg(
        *[F.count(F.when(F.col(CHANGE) == change.value, 1)).alias(change.value) for change in VersionChange]
    )
    unchanged = drop.select(key).join(changes.select(key), key, "left_anti").agg(F.count("*").alias("unchanged"))
    return by_change.crossJoin(unchanged)


def current_versions(history: DataFrame) -> DataFrame:
    """The open version of each key (a key retired or absent from the last drop has none)."""
    return history.where(F.col(IS_CURRENT))


def latest_versions(key: str) -> Callable[[DataFrame], DataFrame]:
    """The newest version of each key: the open one, or the last closed one of a key that has none.

    (key, valid_from) is the history's key, so the newest valid_from is one version.
    """
    return newest_by(key, VALID_FROM)


def versions_after(history: DataFrame, as_of: datetime) -> DataFrame:
    """Versions that open after `as_of`: a drop effective before them would rewrite the history out of order."""
    return history.where(F.col(VALID_FROM) > F.lit(as_of))
