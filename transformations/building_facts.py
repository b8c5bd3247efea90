"""Facts per building and day, rolled up from the spaces' day measures and hourly occupancy."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transformations.conform import conform_to
from transformations.reporting_schemas import FACT_BUILDING_DAILY
from transformations.space_facts import OCCUPANCY

BUILDING_DAY = ("building_id", "local_date")


def _ratio(numerator: Column, denominator: Column) -> Column:
    return F.when(denominator > 0, numerator / denominator)


def building_peak_occupancy(hourly: DataFrame) -> DataFrame:
    """The most people in a building at once: per hour, the sum of its spaces' hourly peaks; then the day's largest.

    Summing each space's daily peak instead would add peaks that happened at different times.
    """
    per_hour = (
        hourly.where(F.col("metric") == OCCUPANCY)
        .groupBy(*BUILDING_DAY, "hour_start")
        .agg(F.sum("value_max").alias("people"))
    )
    return per_hour.groupBy(*BUILDING_DAY).agg(F.max("people").alias("peak_occupancy"))


def building_daily(measures: DataFrame, hourly: DataFrame) -> DataFrame:
    """Space day measures (space_facts.space_day_measures) → fact_building_daily for the same days."""
    judged_occupancy = F.when(F.col("avg_occupancy").isNotNull(), F.col("capacity"))
    rolled = measures.groupBy(*BUILDING_DAY).agg(
        F.countDistinct("space_id").alias("spaces"),
        F.sum("capacity").alias("capacity"),
        _ratio(F.sum("avg_occupancy"), F.sum(judged_occupancy)).alias("avg_utilisation"),
        F.sum("energy_kwh").alias("energy_kwh"),
        F.sum("occupied_hours").alias("occupied_space_hours"),
        _ratio(F.sum("temperature_comfortable_hours"), F.sum("temperature_judged_hours")).alias(
            "temperature_comfort_share"
        ),
        _ratio(F.sum("co2_comfortable_hours"), F.sum("co2_judged_hours")).alias("co2_comfort_share"),
        *[
            F.sum(F.coalesce(F.col(f"{severity}_events"), F.lit(0))).alias(f"{severity}_events")
            for severity in ("critical", "warning", "info")
        ],
    )
    with_peak = rolled.join(building_peak_occupancy(hourly), list(BUILDING_DAY), "left")
    return with_peak.transform(conform_to(FACT_BUILDING_DAILY))
