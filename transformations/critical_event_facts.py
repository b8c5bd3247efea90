"""Critical events (as the change feed stored them per space) → fact_critical_event rows."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transformations.conform import conform_to
from transformations.local_time import local_date_of
from transformations.point_in_time import attach_space_attributes
from transformations.ranking import first_by
from transformations.reporting_schemas import FACT_CRITICAL_EVENT


def newest_per_critical_event(critical_events: DataFrame) -> DataFrame:
    """One row per critical_event_id: the newest, when a device sent one event id twice with different times.

    Ids derive from the rule and the source event id, so a re-sent event id gives the same critical event
    id at another time (another Cassandra row); the fact's key is the id alone.
    """
    # The newest time and detection first; the space (ascending) breaks what is left of a tie.
    newest_first = (F.col("event_time").desc(), F.col("detected_at").desc(), F.col("space_id"))
    return critical_events.transform(first_by("critical_event_id", newest_first))


def critical_event_facts(spaces: DataFrame, time_zone: str) -> Callable[[DataFrame], DataFrame]:
    """Rows of critical_events_by_space → the fact, with the building of the space at the event's time."""

    def transform(critical_events: DataFrame) -> DataFrame:
        located = (
            newest_per_critical_event(critical_events)
            .transform(attach_space_attributes(spaces))
            .withColumn("local_date", local_date_of(F.col("event_time"), time_zone))
        )
        return located.transform(conform_to(FACT_CRITICAL_EVENT))

    return transform
