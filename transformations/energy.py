"""Energy used, from cumulative meter readings (kWh since the meter was installed or last reset).

Consumption between two readings of one meter is the difference of the readings. A reading lower than
the one before means the counter was reset (meter swapped, or rolled over): the energy since then is the
new reading itself, counted from zero. A gap in the readings loses nothing, since the counter keeps
counting; its consumption lands on the reading that ends the gap.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

ENERGY_METRIC = "energy"


def energy_consumption() -> Callable[[DataFrame], DataFrame]:
    """Energy readings (device_id, event_time, event_id, value, ...) → each with `consumed_kwh` since the one before.

    A meter's first reading has no consumption (null): nothing is known of what came before it. Readers
    give each meter one reading before the window so that its first reading in the window has one.
    """

    def transform(events: DataFrame) -> DataFrame:
        readings = events.where((F.col("metric") == ENERGY_METRIC) & F.col("value").isNotNull())
        # event_id breaks ties between two readings of one instant, so the order is the same on every run.
        previous = F.lag("value").over(Window.partitionBy("device_id").orderBy("event_time", "event_id"))
        consumed = (
            F.when(previous.isNull(), F.lit(None))
            .when(F.col("value") >= previous, F.col("value") - previous)
            .otherwise(F.col("value"))
        )
        return readings.withColumn("consumed_kwh", consumed.cast("double"))

    return transform
