"""Critical events (as the change feed stored them per space) → fact_critical_event rows."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transformations.point_in_time import attach_space_attributes
from transformations.reporting_schemas import FACT_CRITICAL_EVENT, conform_to
from transformations.space_facts import local_date_of


def critical_event_facts(spaces: DataFrame, time_zone: str) -> Callable[[DataFrame], DataFrame]:
    """Rows of critical_events_by_space → the fact, with the building of the space at the event's time."""

    def transform(critical_events: DataFrame) -> DataFrame:
        located = critical_events.transform(attach_space_attributes(spaces)).withColumn(
            "local_date", local_date_of(F.col("event_time"), time_zone)
        )
        return located.transform(conform_to(FACT_CRITICAL_EVENT))

    return transform
