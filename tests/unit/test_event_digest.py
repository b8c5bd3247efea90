"""The events' digest gives every fact what the events themselves gave it, in fewer rows.

The campus is in Asia/Kolkata (UTC+5:30), so one UTC hour holds the end of one local day and the start of
the next: 18:20 UTC on 14 January is 23:50 local, 18:40 UTC is 00:10 on the 15th.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces.stages.enrichment.report import newest_event_time
from smartspaces.stages.enrichment.utc_offsets import utc_offsets
from transformations.energy import energy_consumption
from transformations.event_digest import (
    SPACE_COLUMNS,
    digest_energy_readings,
    event_digest,
    in_window,
)
from transformations.local_time import UtcOffsets
from transformations.report_window import ReportWindow
from transformations.space_facts import (
    capacity_by_day,
    energy_by_day,
    space_metric_hourly,
    space_metric_hourly_of_lists,
)
from transformations.star_schema import UNATTRIBUTED_REASON, unattributed_events

ZONE = "Asia/Kolkata"
WINDOW = ReportWindow(datetime(2026, 1, 14, 18, tzinfo=UTC), datetime(2026, 1, 15, 20, tzinfo=UTC), ZONE)
ATTRIBUTED = (
    "device_id string, event_time timestamp, event_id string, event_type string, metric string, value double, "
    "unit string, severity string, space_id string, building_id string, space_type string, capacity int"
)


def at(hour: int, minute: int = 0, day: int = 15) -> datetime:
    return datetime(2026, 1, day, hour, minute)


def telemetry(
    device: str, time: datetime, event_id: str, metric: str, value: float | None, space: str | None
) -> tuple[object, ...]:
    room = (space, "b1", "office", 4 if space == "r1" else 8) if space else (None, None, None, None)
    return (device, time, event_id, "telemetry", metric, value, "u", None, *room)


@pytest.fixture
def events(spark: SparkSession) -> DataFrame:
    rows = [
        # Both sides of local midnight in one UTC hour.
        telemetry("t1", at(18, 20, day=14), "a", "temperature", 21.0, "r1"),
        telemetry("t1", at(18, 40, day=14), "b", "temperature", 22.5, "r1"),
        telemetry("t2", at(18, 50, day=14), "c", "temperature", 23.0, "r1"),
        telemetry("t1", at(9, 5), "d", "temperature", 20.0, "r1"),
        telemetry("t1", at(9, 10), "e", "temperature", None, "r1"),
        # t3 moves from r1 to r2 inside the hour: each part is attributed to its own space.
        telemetry("t3", at(9, 15), "f", "co2", 600.0, "r1"),
        telemetry("t3", at(9, 45), "g", "co2", 900.0, "r2"),
        telemetry("t3", at(9, 50), "h", "co2", 950.0, "r2"),
        # Not telemetry: no hourly value, but the space has a day.
        ("a1", at(10), "i", "access", None, None, None, "info", "r3", "b1", "office", 12),
        # Energy: one reading before the window gives the first one in it its increment.
        telemetry("m1", at(16, 0, day=14), "j", "energy", 100.0, "r1"),
        telemetry("m1", at(19, 0, day=14), "k", "energy", 104.0, "r1"),
        telemetry("m1", at(12), "l", "energy", 3.0, "r1"),
        telemetry("m1", at(12), "m", "energy", 3.5, "r1"),
        # Placed in no space: quarantined, in the window only.
        telemetry("x1", at(9, 5), "n", "temperature", 30.0, None),
        telemetry("x1", at(9, 6), "o", "temperature", 31.0, None),
        telemetry("x1", at(16, 0, day=14), "p", "temperature", 32.0, None),
        # Before the window and no energy reading: nothing needs it.
        telemetry("t1", at(16, 0, day=14), "q", "temperature", 40.0, "r1"),
    ]
    return spark.createDataFrame(rows, ATTRIBUTED)


@pytest.fixture
def offsets(spark: SparkSession) -> UtcOffsets:
    return utc_offsets(spark, ZONE, WINDOW.start, WINDOW.end)


def test_the_digest_keeps_one_row_per_device_space_hour_and_local_day(events: DataFrame, offsets: UtcOffsets) -> None:
    digest = events.transform(event_digest(WINDOW, offsets))
    # t1 at 18 UTC on either side of local midnight, t2; t1 at 09, t3 in r1 and in r2, a1; m1 before the
    # window, at 19 and at 12; x1 in the window (its reading before it, and t1's, are nobody's).
    assert digest.count() == 11
    assert digest.where(~F.col("in_window")).select("device_id").collect() == [("m1",)]


def test_hourly_facts_from_the_digest_equal_those_from_the_events(events: DataFrame, offsets: UtcOffsets) -> None:
    digest = events.transform(event_digest(WINDOW, offsets))
    from_events = events.where(in_window(WINDOW)).transform(space_metric_hourly(ZONE))
    from_digest = digest.where(in_window(WINDOW)).transform(space_metric_hourly_of_lists(ZONE))
    # r1's temperature at 18 and 09, its energy at 19 and 12, r1's and r2's CO2 at 09.
    assert from_events.count() == 6
    assert_df_equality(from_digest, from_events, ignore_row_order=True, ignore_nullable=True)


def test_each_space_day_from_the_digest_equals_that_from_the_events(events: DataFrame, offsets: UtcOffsets) -> None:
    digest = events.transform(event_digest(WINDOW, offsets))
    from_events = events.where(in_window(WINDOW)).transform(capacity_by_day(ZONE))
    from_digest = digest.where(in_window(WINDOW)).transform(capacity_by_day(ZONE))
    # r1 on the 14th and the 15th (local), r2 and r3 on the 15th.
    assert from_events.count() == 4
    assert_df_equality(from_digest, from_events, ignore_row_order=True, ignore_nullable=True)


def test_energy_from_the_digest_equals_that_from_the_events(events: DataFrame, offsets: UtcOffsets) -> None:
    digest = events.transform(event_digest(WINDOW, offsets))

    def energy(readings: DataFrame) -> DataFrame:
        return readings.transform(energy_consumption()).where(in_window(WINDOW)).transform(energy_by_day(ZONE))

    from_events = energy(events)
    from_digest = energy(digest.transform(digest_energy_readings))
    assert sorted(from_events.collect()) == [("r1", at(0).date(), 4.0 + 3.0 + 0.5)]
    assert_df_equality(from_digest, from_events, ignore_row_order=True, ignore_nullable=True)


def test_the_unattributed_events_of_the_window_come_whole_out_of_the_digest(
    events: DataFrame, offsets: UtcOffsets
) -> None:
    digest = events.transform(event_digest(WINDOW, offsets))
    expected = (
        events.where(in_window(WINDOW) & F.col("space_id").isNull())
        .drop(*SPACE_COLUMNS)
        .withColumn("reason", F.lit(UNATTRIBUTED_REASON))
    )
    assert expected.count() == 2
    assert_df_equality(unattributed_events(digest, WINDOW), expected, ignore_row_order=True, ignore_nullable=True)


def test_the_newest_event_of_the_window_is_the_digest_s(events: DataFrame, offsets: UtcOffsets) -> None:
    digest = events.transform(event_digest(WINDOW, offsets))
    newest = [newest_event_time(frame, WINDOW) for frame in (events, digest)]
    assert newest[0] == newest[1] == at(12).replace(tzinfo=UTC)
