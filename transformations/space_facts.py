"""Facts per space: statistics per hour and metric, and the daily picture (occupancy, energy, comfort, alerts).

Inputs are attributed events (transformations.point_in_time): each has the space_id, building_id and
capacity valid at its time. Hours are UTC hours; `local_date` and `local_hour` are in the campus's zone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transformations.conform import conform_to
from transformations.contract import EventType
from transformations.local_time import local_date_of, utc_hour_start
from transformations.reporting_schemas import FACT_SPACE_DAILY, FACT_SPACE_METRIC_HOURLY

OCCUPANCY, TEMPERATURE, CO2 = "occupancy", "temperature", "co2"
# The column of a row's telemetry values, as a list (transformations.event_digest keeps them so).
VALUES = "values"
SPACE_DAY = ("space_id", "local_date")


@dataclass(frozen=True)
class ComfortBand:
    """Comfortable when the hour's average temperature is within [low, high] and its CO2 at most co2_max."""

    temperature_low_c: float
    temperature_high_c: float
    co2_max_ppm: float


def space_metric_hourly(time_zone: str) -> Callable[[DataFrame], DataFrame]:
    """Attributed events → per space, UTC hour and metric: readings, min, max, average and exact p95."""

    def transform(events: DataFrame) -> DataFrame:
        values = events.where(F.col("value").isNotNull()).withColumn(VALUES, F.array("value"))
        return values.transform(space_metric_hourly_of_lists(time_zone))

    return transform


def space_metric_hourly_of_lists(time_zone: str) -> Callable[[DataFrame], DataFrame]:
    """Attributed rows that each carry telemetry values in a list (`values`: an event's one value, or a digest
    row's, transformations.event_digest) → the hourly facts, as space_metric_hourly.

    The lists are aggregated as they are: a week's digest holds millions of values, and one row per value
    (then a percentile's map of them per group, sorted when the groups outgrow its hash map) took most of
    the facts' time.
    """

    def transform(rows: DataFrame) -> DataFrame:
        telemetry = rows.where(
            (F.col("event_type") == EventType.TELEMETRY.value) & F.col("space_id").isNotNull() & (F.size(VALUES) > 0)
        )
        hourly = (
            telemetry.withColumn("hour_start", utc_hour_start(F.col("event_time")))
            .groupBy("space_id", "building_id", "metric", "unit", "hour_start")
            .agg(
                F.sum(F.size(VALUES)).alias("readings"),
                # sort_array, not array_sort: the latter's comparator is a lambda, evaluated for each
                # comparison (three times the time on 141 000 lists of 70 values).
                F.sort_array(F.flatten(F.collect_list(VALUES))).alias("sorted_values"),
            )
        )
        local = F.from_utc_timestamp("hour_start", time_zone)
        # Each statistic from the sorted values, so that the same values give the same doubles in whatever order
        # they were read: a sum's last bits depend on its order, and min, max and the sort keep whichever of
        # -0.0 and 0.0 (equal to Spark) came first; adding 0.0 turns -0.0 into 0.0.
        values = F.col("sorted_values")
        total = F.aggregate(values, F.lit(0.0), lambda running, value: running + value)
        statistics = {
            "local_date": F.to_date(local),
            "local_hour": F.hour(local),
            "value_min": F.element_at(values, 1) + F.lit(0.0),
            "value_max": F.element_at(values, -1) + F.lit(0.0),
            "value_avg": total / F.col("readings") + F.lit(0.0),
            "value_p95": exact_percentile(values, 0.95) + F.lit(0.0),
        }
        return hourly.transform(conform_to(FACT_SPACE_METRIC_HOURLY, statistics))

    return transform


def exact_percentile(sorted_values: Column, fraction: float) -> Column:
    """The percentile of sorted values as Spark's exact `percentile` gives it: at position fraction * (n - 1),
    interpolated linearly between the values on either side (the same arithmetic, so the same double)."""
    position = (F.size(sorted_values) - 1) * F.lit(fraction)
    lower, higher = F.floor(position), F.ceil(position)
    lower_value = F.element_at(sorted_values, (lower + 1).cast("int"))
    higher_value = F.element_at(sorted_values, (higher + 1).cast("int"))
    return (
        F.when(lower == higher, lower_value)
        .when(lower_value == higher_value, lower_value)
        .otherwise((higher - position) * lower_value + (position - lower) * higher_value)
    )


def _hours_of(hourly: DataFrame, metric: str) -> DataFrame:
    return hourly.where(F.col("metric") == metric).select(
        *SPACE_DAY, "hour_start", "value_max", "value_avg", "readings"
    )


def occupancy_by_day(hourly: DataFrame) -> DataFrame:
    """Per space and local day: peak and reading-weighted average occupancy, and the hours anyone was in."""
    return (
        _hours_of(hourly, OCCUPANCY)
        .groupBy(*SPACE_DAY)
        .agg(
            F.max("value_max").alias("peak_occupancy"),
            (F.sum(F.col("value_avg") * F.col("readings")) / F.sum("readings")).alias("avg_occupancy"),
            F.sum(F.when(F.col("value_max") > 0, 1).otherwise(0)).cast("int").alias("occupied_hours"),
        )
    )


def comfort_by_day(band: ComfortBand) -> Callable[[DataFrame], DataFrame]:
    """Hourly facts → per space and day: occupied hours judged on temperature and CO2, and those comfortable."""

    def transform(hourly: DataFrame) -> DataFrame:
        occupied = _hours_of(hourly, OCCUPANCY).where(F.col("value_max") > 0).select(*SPACE_DAY, "hour_start")

        def judged(metric: str, comfortable: Column, prefix: str) -> DataFrame:
            hours = occupied.join(_hours_of(hourly, metric), [*SPACE_DAY, "hour_start"])
            return hours.groupBy(*SPACE_DAY).agg(
                F.count("*").alias(f"{prefix}_judged_hours"),
                F.sum(F.when(comfortable, 1).otherwise(0)).alias(f"{prefix}_comfortable_hours"),
            )

        temperature = judged(
            TEMPERATURE, F.col("value_avg").between(band.temperature_low_c, band.temperature_high_c), "temperature"
        )
        co2 = judged(CO2, F.col("value_avg") <= band.co2_max_ppm, "co2")
        return temperature.join(co2, list(SPACE_DAY), "full")

    return transform


def energy_by_day(time_zone: str) -> Callable[[DataFrame], DataFrame]:
    """Readings with consumed_kwh (transformations.energy) → kWh per space and local day of the reading."""

    def transform(readings: DataFrame) -> DataFrame:
        return (
            readings.where(F.col("space_id").isNotNull() & F.col("consumed_kwh").isNotNull())
            .withColumn("local_date", local_date_of(F.col("event_time"), time_zone))
            .groupBy(*SPACE_DAY)
            .agg(F.sum("consumed_kwh").alias("energy_kwh"))
        )

    return transform


def critical_counts_by_day(critical_events: DataFrame) -> DataFrame:
    """fact_critical_event rows → per space and day, the count of each severity."""
    return critical_events.groupBy(*SPACE_DAY).agg(
        *[
            F.count(F.when(F.col("severity") == severity, 1)).alias(f"{severity}_events")
            for severity in ("critical", "warning", "info")
        ]
    )


def capacity_by_day(time_zone: str) -> Callable[[DataFrame], DataFrame]:
    """Attributed events → each space's building and capacity per local day (the largest, if it changed)."""

    def transform(events: DataFrame) -> DataFrame:
        return (
            events.where(F.col("space_id").isNotNull())
            .withColumn("local_date", local_date_of(F.col("event_time"), time_zone))
            .groupBy(*SPACE_DAY)
            .agg(F.max("building_id").alias("building_id"), F.max("capacity").alias("capacity"))
        )

    return transform


def space_day_measures(capacity: DataFrame, parts: list[DataFrame], days: tuple[date, ...]) -> DataFrame:
    """Every space and whole local day with its capacity and each part's measures (absent part: null)."""
    wanted = F.col("local_date").isin(list(days)) if days else F.lit(False)
    joined = reduce(lambda left, part: left.join(part, list(SPACE_DAY), "left"), parts, capacity.where(wanted))
    return joined


def _share(numerator: str, denominator: str) -> Column:
    return F.when(F.col(denominator) > 0, F.col(numerator) / F.col(denominator))


def space_daily(measures: DataFrame) -> DataFrame:
    """Day measures → fact_space_daily (utilisation against capacity, comfort shares, alert counts)."""
    capacity = F.when(F.col("capacity") > 0, F.col("capacity"))
    columns = {
        "peak_utilisation": F.col("peak_occupancy") / capacity,
        "avg_utilisation": F.col("avg_occupancy") / capacity,
        "temperature_comfort_share": _share("temperature_comfortable_hours", "temperature_judged_hours"),
        "co2_comfort_share": _share("co2_comfortable_hours", "co2_judged_hours"),
        **{
            f"{severity}_events": F.coalesce(F.col(f"{severity}_events"), F.lit(0))
            for severity in ("critical", "warning", "info")
        },
    }
    return measures.transform(conform_to(FACT_SPACE_DAILY, columns))
