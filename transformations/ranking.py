"""Rows ranked within their key: the first rows of each key in a given order, or the newest ones.

Written once here instead of a `row_number()` window at every place that wants "the newest row per key".
The choice is deterministic only when the order is total within a key: end it with a unique column (an id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

# Added and dropped again; a name no input column is expected to have.
_RANK = "__rank_in_key"


def first_by(
    keys: str | Sequence[str], order: Column | Sequence[Column], count: int = 1
) -> Callable[[DataFrame], DataFrame]:
    """The first `count` rows of each key in `order` (all rows of a key that has fewer), columns unchanged.

    order: sort columns compared in turn, as given (`F.col("t").desc()`, `F.col("id")`; Spark puts nulls first
    in an ascending order and last in a descending one unless the column says otherwise).
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    partition = [keys] if isinstance(keys, str) else list(keys)
    ordering = [order] if isinstance(order, Column) else list(order)

    def transform(rows: DataFrame) -> DataFrame:
        in_key = Window.partitionBy(*partition).orderBy(*ordering)
        return rows.withColumn(_RANK, F.row_number().over(in_key)).where(F.col(_RANK) <= count).drop(_RANK)

    return transform


def newest_by(
    keys: str | Sequence[str], order: str | Sequence[str], count: int = 1
) -> Callable[[DataFrame], DataFrame]:
    """The newest `count` rows of each key: greatest first on each column of `order` in turn, nulls last.

    `newest_by("device_id", ("event_time", "event_id"))` keeps each device's latest event, the greater id
    breaking a tie on time.
    """
    columns = [order] if isinstance(order, str) else list(order)
    return first_by(keys, [F.col(column).desc_nulls_last() for column in columns], count)
