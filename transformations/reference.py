"""Reference data drops: rows without their key are set apart with a reason instead of being loaded."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def with_reference_verdict(key: str, required: tuple[str, ...]) -> Callable[[DataFrame], DataFrame]:
    """Adds `reason`: missing_key, missing_<column>, duplicate_key (a key twice in one drop), or null."""

    def transform(drop: DataFrame) -> DataFrame:
        occurrences = F.count("*").over(Window.partitionBy(key))
        checks = [(F.col(key).isNull() | (F.trim(key) == ""), "missing_key")]
        checks += [(F.col(column).isNull(), f"missing_{column}") for column in required]
        checks += [(occurrences > 1, "duplicate_key")]
        return drop.withColumn("reason", F.coalesce(*[F.when(failed, F.lit(reason)) for failed, reason in checks]))

    return transform
