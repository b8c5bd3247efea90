"""Alarms (as the change feed and the read API stored them) → fact_alarm rows, with response times."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transformations.conform import conform_to
from transformations.local_time import local_date_of
from transformations.reporting_schemas import FACT_ALARM


def minutes_between(start: str, end: str) -> Column:
    """Minutes from start to end (null while end is unknown), to the millisecond."""
    return (F.unix_millis(F.col(end)) - F.unix_millis(F.col(start))) / 60_000.0


def alarm_facts(time_zone: str) -> Callable[[DataFrame], DataFrame]:
    """Rows of the alarms table → the fact: the raise's local day, minutes to acknowledge and to clear."""

    def transform(alarms: DataFrame) -> DataFrame:
        return (
            alarms.withColumn("alarm_id", F.col("alarm_id").cast("string"))
            .withColumn("local_date", local_date_of(F.col("raised_at"), time_zone))
            .withColumn("minutes_to_acknowledge", minutes_between("raised_at", "acknowledged_at"))
            .withColumn("minutes_to_clear", minutes_between("raised_at", "cleared_at"))
            .transform(conform_to(FACT_ALARM))
        )

    return transform
