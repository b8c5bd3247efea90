"""UTC hours and local days by arithmetic give what Spark's zone functions give, to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from chispa import assert_column_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from smartspaces.stages.enrichment.utc_offsets import utc_offsets
from transformations.local_time import UtcOffsets, local_date_of, local_date_within, utc_hour_start

SPAN = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
# Either side of each change, of local midnight and of the span's ends.
NEAR = [timedelta(0), *(sign * step for step in (timedelta(microseconds=1), timedelta(minutes=30)) for sign in (1, -1))]


def instants_near(offsets: UtcOffsets) -> list[datetime]:
    marks = [offsets.start, offsets.end, *offsets.changes]
    # Local midnights a few days after each mark (after a change: in its new offset).
    marks += [
        datetime.combine((mark + timedelta(days=3)).date(), datetime.min.time(), UTC) - timedelta(seconds=offset)
        for mark, offset in zip([offsets.start, *offsets.changes], offsets.offsets, strict=True)
    ]
    return sorted({mark + near for mark in marks for near in NEAR})


def test_the_offsets_are_those_spark_applies_with_each_change_where_it_falls(spark: SparkSession) -> None:
    amsterdam = utc_offsets(spark, "Europe/Amsterdam", *SPAN)
    assert amsterdam.offsets == (3600, 7200, 3600)
    assert amsterdam.changes == (datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC))
    assert utc_offsets(spark, "Asia/Kathmandu", *SPAN).offsets == (5 * 3600 + 45 * 60,)


def test_offsets_with_a_change_outside_their_span_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        UtcOffsets("Europe/Amsterdam", SPAN[0], SPAN[1], (3600, 7200), (datetime(2027, 3, 28, 1, tzinfo=UTC),))


@pytest.mark.parametrize(
    "time_zone", ["Europe/Amsterdam", "Australia/Adelaide", "America/St_Johns", "Asia/Kathmandu", "UTC"]
)
def test_the_local_day_within_the_span_is_the_zone_s_own(spark: SparkSession, time_zone: str) -> None:
    offsets = utc_offsets(spark, time_zone, *SPAN)
    instants = spark.createDataFrame([(instant,) for instant in instants_near(offsets)], "instant timestamp")
    days = instants.select(
        local_date_within(F.col("instant"), offsets).alias("arithmetic"),
        local_date_of(F.col("instant"), time_zone).alias("zone_rules"),
    )
    # Instants outside the span (a microsecond before it, half an hour after it) take the zone's rules.
    assert days.count() > 10 * (1 + len(offsets.changes))
    assert_column_equality(days, "arithmetic", "zone_rules")


def test_the_utc_hour_is_date_trunc_s(spark: SparkSession) -> None:
    instants = [
        datetime(2026, 3, 29, 1, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, 0, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
    ]
    hours = spark.createDataFrame([(instant,) for instant in instants], "instant timestamp").select(
        utc_hour_start(F.col("instant")).alias("arithmetic"), F.date_trunc("hour", "instant").alias("date_trunc")
    )
    assert_column_equality(hours, "arithmetic", "date_trunc")
