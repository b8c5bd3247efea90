"""The enrichment's joins and aggregates on small hand-made DataFrames, with hand-computed expectations.

Times are UTC; the campus is in Europe/Amsterdam (UTC+1 in January), so 23:30 UTC on 14 January is
already 15 January locally.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from transformations.building_facts import building_daily
from transformations.critical_event_facts import critical_event_facts
from transformations.energy import energy_consumption
from transformations.point_in_time import attribute_events, devices_in_window
from transformations.report_window import ReportWindow
from transformations.reporting_schemas import FACT_BUILDING_DAILY, FACT_SPACE_DAILY, FACT_SPACE_METRIC_HOURLY
from transformations.space_facts import (
    ComfortBand,
    comfort_by_day,
    critical_counts_by_day,
    energy_by_day,
    exact_percentile,
    occupancy_by_day,
    space_daily,
    space_day_measures,
    space_metric_hourly,
    space_metric_hourly_of_lists,
)
from transformations.window_partitions import event_partition_keys

ZONE = "Europe/Amsterdam"
DAY = date(2026, 1, 15)
EVENT = (
    "device_id string, event_time timestamp, event_id string, event_type string, metric string, value double, "
    "unit string"
)
DEVICE_HISTORY = (
    "device_id string, space_id string, device_type string, valid_from timestamp, valid_to timestamp, "
    "is_current boolean"
)
SPACE_HISTORY = (
    "space_id string, building_id string, space_type string, capacity int, valid_from timestamp, "
    "valid_to timestamp, is_current boolean"
)
ATTRIBUTED = EVENT + ", space_id string, building_id string, space_type string, capacity int"
BAND = ComfortBand(temperature_low_c=20.0, temperature_high_c=24.0, co2_max_ppm=1000.0)
MOVED_AT = datetime(2026, 1, 15, 12, 0)


def at(hour: int, minute: int = 0, day: int = 15) -> datetime:
    return datetime(2026, 1, day, hour, minute)


def histories(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    devices = spark.createDataFrame(
        [
            # t1 hangs in room r1 until noon, then in r2; the registry was first loaded on the 15th at 06:00.
            ("t1", "r1", "temperature", at(6), MOVED_AT, False),
            ("t1", "r2", "temperature", MOVED_AT, None, True),
            ("o1", "r1", "occupancy", at(6), None, True),
            # Retired at 10:00: its later events belong to no space.
            ("c1", "r2", "co2", at(6), at(10), False),
        ],
        DEVICE_HISTORY,
    )
    spaces = spark.createDataFrame(
        [
            ("r1", "b1", "office", 4, at(6), None, True),
            # r2 was enlarged at 12:00.
            ("r2", "b1", "meeting_room", 8, at(6), MOVED_AT, False),
            ("r2", "b1", "meeting_room", 10, MOVED_AT, None, True),
        ],
        SPACE_HISTORY,
    )
    return devices, spaces


def test_each_event_gets_the_space_valid_at_its_time_including_a_device_that_moves_mid_day(spark: SparkSession) -> None:
    devices, spaces = histories(spark)
    events = spark.createDataFrame(
        [
            # Before the first drop: the first version reaches back.
            ("t1", at(3), "e1", "telemetry", "temperature", 21.0, "celsius"),
            ("t1", at(11, 59), "e2", "telemetry", "temperature", 22.0, "celsius"),
            # At the move's instant the new version holds (valid_from is inclusive, valid_to exclusive).
            ("t1", MOVED_AT, "e3", "telemetry", "temperature", 23.0, "celsius"),
            ("c1", at(9), "e4", "telemetry", "co2", 600.0, "ppm"),
            ("c1", at(11), "e5", "telemetry", "co2", 650.0, "ppm"),
            ("x9", at(9), "e6", "telemetry", "co2", 700.0, "ppm"),
        ],
        EVENT,
    )
    expected = spark.createDataFrame(
        [
            ("t1", at(3), "e1", "telemetry", "temperature", 21.0, "celsius", "r1", "b1", "office", 4),
            ("t1", at(11, 59), "e2", "telemetry", "temperature", 22.0, "celsius", "r1", "b1", "office", 4),
            ("t1", MOVED_AT, "e3", "telemetry", "temperature", 23.0, "celsius", "r2", "b1", "meeting_room", 10),
            ("c1", at(9), "e4", "telemetry", "co2", 600.0, "ppm", "r2", "b1", "meeting_room", 8),
            ("c1", at(11), "e5", "telemetry", "co2", 650.0, "ppm", None, None, None, None),
            ("x9", at(9), "e6", "telemetry", "co2", 700.0, "ppm", None, None, None, None),
        ],
        ATTRIBUTED,
    )
    attributed = events.transform(attribute_events(devices, spaces))
    assert_df_equality(attributed, expected, ignore_row_order=True, ignore_nullable=True)


def test_devices_in_window_are_those_with_a_version_overlapping_it(spark: SparkSession) -> None:
    devices, _ = histories(spark)
    window = devices.transform(devices_in_window(F.lit(at(11)), F.lit(at(13))))
    expected = spark.createDataFrame(
        [("t1", "temperature"), ("o1", "occupancy")], "device_id string, device_type string"
    )
    assert_df_equality(window, expected, ignore_row_order=True, ignore_nullable=True)


def attributed(spark: SparkSession, rows: Sequence[tuple[Any, ...]]) -> DataFrame:
    return spark.createDataFrame(
        [(*row, "telemetry" if row[3] else None) for row in rows],
        "device_id string, event_time timestamp, event_id string, metric string, value double, unit string, "
        "space_id string, building_id string, capacity int, event_type string",
    )


def test_hourly_statistics_per_space_and_metric(spark: SparkSession) -> None:
    events = attributed(
        spark,
        [
            ("t1", at(9, 5), "a", "temperature", 21.0, "celsius", "r1", "b1", 4),
            ("t1", at(9, 15), "b", "temperature", 22.0, "celsius", "r1", "b1", 4),
            ("t2", at(9, 25), "c", "temperature", 23.0, "celsius", "r1", "b1", 4),
            ("t1", at(9, 35), "d", "temperature", 24.0, "celsius", "r1", "b1", 4),
            ("t1", at(9, 45), "e", "temperature", 25.0, "celsius", "r1", "b1", 4),
            # 23:30 UTC is 00:30 on the 16th in Amsterdam.
            ("t1", at(23, 30), "f", "temperature", 19.0, "celsius", "r1", "b1", 4),
            # Unattributed: no space, no fact.
            ("t9", at(9, 5), "g", "temperature", 30.0, "celsius", None, None, None),
        ],
    )
    expected = spark.createDataFrame(
        [
            # p95 of 21..25 interpolates between the 4th and 5th value: 24 + 0.8 * 1.
            ("r1", "b1", "temperature", "celsius", at(9), DAY, 10, 5, 21.0, 25.0, 23.0, 24.8),
            ("r1", "b1", "temperature", "celsius", at(23), date(2026, 1, 16), 0, 1, 19.0, 19.0, 19.0, 19.0),
        ],
        FACT_SPACE_METRIC_HOURLY,
    )
    hourly = events.transform(space_metric_hourly(ZONE))
    assert_df_equality(hourly, expected, ignore_row_order=True, ignore_nullable=True)


def test_hourly_statistics_are_the_same_whatever_order_the_values_come_in(spark: SparkSession) -> None:
    # Summed in this order and in reverse, these differ in the last bit (0.1 + 0.2 + 0.3 against 0.3 + 0.2 + 0.1);
    # -0.0 and 0.0 are equal to Spark's min, max and sort, which keep whichever came first.
    values = [0.1, 0.2, 0.3, -0.0, 0.0, -0.0]
    assert sum(values) != sum(reversed(values))

    def hourly_of(ordered: list[float]) -> DataFrame:
        lists = spark.createDataFrame(
            [
                ("r1", "b1", "telemetry", "occupancy", "count", at(9, minute), [value])
                for minute, value in enumerate(ordered)
            ],
            "space_id string, building_id string, event_type string, metric string, unit string, "
            "event_time timestamp, values array<double>",
        )
        return lists.coalesce(1).transform(space_metric_hourly_of_lists(ZONE))

    forward = hourly_of(values).collect()
    backward = hourly_of(values[::-1]).collect()
    assert forward == backward
    [hour] = forward
    assert math.copysign(1.0, hour.value_min) == 1.0
    assert (hour.value_min, hour.value_max, hour.readings) == (0.0, 0.3, 6)


def test_energy_is_the_sum_of_increments_and_a_counter_reset_counts_from_zero(spark: SparkSession) -> None:
    readings = attributed(
        spark,
        [
            # Before the window (the reading that gives the first one in the window its increment).
            ("m1", at(22, 30, day=14), "a", "energy", 1000.0, "kWh", "r1", "b1", 4),
            ("m1", at(1), "b", "energy", 1004.0, "kWh", "r1", "b1", 4),
            ("m1", at(9), "c", "energy", 1010.5, "kWh", "r1", "b1", 4),
            # The meter was swapped: it restarted from zero and counted 2.5 kWh since.
            ("m1", at(12), "d", "energy", 2.5, "kWh", "r1", "b1", 4),
            # A four-hour gap: the counter kept counting, nothing is lost.
            ("m1", at(16), "e", "energy", 7.0, "kWh", "r1", "b1", 4),
            ("m2", at(9), "f", "energy", 50.0, "kWh", "r1", "b1", 4),
            ("m2", at(10), "g", "energy", 51.0, "kWh", "r1", "b1", 4),
        ],
    )
    consumption = readings.transform(energy_consumption()).select("event_id", "consumed_kwh")
    expected = spark.createDataFrame(
        [("a", None), ("b", 4.0), ("c", 6.5), ("d", 2.5), ("e", 4.5), ("f", None), ("g", 1.0)],
        "event_id string, consumed_kwh double",
    )
    assert_df_equality(consumption, expected, ignore_row_order=True, ignore_nullable=True)

    by_day = readings.transform(energy_consumption()).transform(energy_by_day(ZONE))
    # 22:30 UTC on the 14th is 23:30 local on the 14th: its reading has no increment, and the 15th gets the rest.
    expected_by_day = spark.createDataFrame(
        [("r1", DAY, 4.0 + 6.5 + 2.5 + 4.5 + 1.0)], "space_id string, local_date date, energy_kwh double"
    )
    assert_df_equality(by_day, expected_by_day, ignore_row_order=True, ignore_nullable=True)


def hourly_fact(spark: SparkSession, rows: Sequence[tuple[Any, ...]]) -> DataFrame:
    """(space, metric, UTC hour, readings, max, avg) → hourly fact rows of building b1 on the 15th."""
    return spark.createDataFrame(
        [
            (space, "b1", metric, None, at(hour), DAY, hour + 1, readings, None, high, mean, None)
            for space, metric, hour, readings, high, mean in rows
        ],
        FACT_SPACE_METRIC_HOURLY,
    )


HOURS = [
    # r1: occupied at 08 and 09 UTC, empty at 10; comfortable at 08 only (09 too warm, 10 not judged).
    ("r1", "occupancy", 8, 2, 3.0, 2.0),
    ("r1", "occupancy", 9, 2, 4.0, 3.0),
    ("r1", "occupancy", 10, 4, 0.0, 0.0),
    ("r1", "temperature", 8, 2, 21.5, 21.0),
    ("r1", "temperature", 9, 2, 25.5, 24.5),
    ("r1", "temperature", 10, 2, 26.0, 26.0),
    ("r1", "co2", 8, 2, 900.0, 800.0),
    ("r1", "co2", 9, 2, 1300.0, 1200.0),
    # r2: occupied at 09; its CO2 is fine; it has no temperature sensor.
    ("r2", "occupancy", 9, 1, 6.0, 6.0),
    ("r2", "co2", 9, 1, 700.0, 700.0),
]


def test_occupancy_and_comfort_of_a_space_day(spark: SparkSession) -> None:
    hourly = hourly_fact(spark, HOURS)
    occupancy = occupancy_by_day(hourly)
    expected_occupancy = spark.createDataFrame(
        # r1: peak 4; average over its 8 readings (2*2 + 2*3 + 4*0) / 8 = 1.25; occupied 2 hours.
        [("r1", DAY, 4.0, 1.25, 2), ("r2", DAY, 6.0, 6.0, 1)],
        "space_id string, local_date date, peak_occupancy double, avg_occupancy double, occupied_hours int",
    )
    assert_df_equality(occupancy, expected_occupancy, ignore_row_order=True, ignore_nullable=True)

    comfort = hourly.transform(comfort_by_day(BAND))
    expected_comfort = spark.createDataFrame(
        [("r1", DAY, 2, 1, 2, 1), ("r2", DAY, None, None, 1, 1)],
        "space_id string, local_date date, temperature_judged_hours long, temperature_comfortable_hours long, "
        "co2_judged_hours long, co2_comfortable_hours long",
    )
    assert_df_equality(comfort, expected_comfort, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True)


def measures(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    hourly = hourly_fact(spark, HOURS)
    capacity = spark.createDataFrame(
        [("r1", DAY, "b1", 4), ("r2", DAY, "b1", 10), ("r1", date(2026, 1, 16), "b1", 4)],
        "space_id string, local_date date, building_id string, capacity int",
    )
    energy = spark.createDataFrame([("r1", DAY, 18.5)], "space_id string, local_date date, energy_kwh double")
    critical = critical_counts_by_day(
        spark.createDataFrame(
            [("r1", DAY, "critical"), ("r1", DAY, "warning"), ("r1", DAY, "warning"), ("r2", DAY, "info")],
            "space_id string, local_date date, severity string",
        )
    )
    parts = [occupancy_by_day(hourly), hourly.transform(comfort_by_day(BAND)), energy, critical]
    # Only the 15th is a whole day of the window: the 16th's row is left out.
    return space_day_measures(capacity, parts, (DAY,)), hourly


def test_space_daily_fact(spark: SparkSession) -> None:
    day_measures, _ = measures(spark)
    expected = spark.createDataFrame(
        [
            ("r1", "b1", DAY, 4, 4.0, 1.25, 1.0, 0.3125, 18.5, 2, 0.5, 0.5, 1, 2, 0),
            ("r2", "b1", DAY, 10, 6.0, 6.0, 0.6, 0.6, None, 1, None, 1.0, 0, 0, 1),
        ],
        FACT_SPACE_DAILY,
    )
    assert_df_equality(space_daily(day_measures), expected, ignore_row_order=True, ignore_nullable=True)


def test_building_daily_rolls_up_spaces_and_takes_the_simultaneous_peak(spark: SparkSession) -> None:
    day_measures, hourly = measures(spark)
    expected = spark.createDataFrame(
        [
            # Peak: at 09 UTC r1 had 4 and r2 6 people (10), more than any other hour; the sum of the spaces'
            # own peaks would say the same here only because both peaked at 09.
            # Utilisation: (1.25 + 6) / (4 + 10). Comfort: temperature 1 of 2 hours, CO2 2 of 3.
            ("b1", DAY, 2, 14, 10.0, 7.25 / 14, 18.5, 3, 0.5, 2 / 3, 1, 2, 1),
        ],
        FACT_BUILDING_DAILY,
    )
    assert_df_equality(building_daily(day_measures, hourly), expected, ignore_nullable=True)


def test_a_window_reads_the_utc_day_partitions_of_its_devices_and_one_day_more_of_energy_meters(
    spark: SparkSession,
) -> None:
    devices = spark.createDataFrame(
        [
            ("t1", "r1", "temperature", at(6), None, True),
            ("m1", "r1", "energy", at(6), None, True),
            # Retired long before the window.
            ("c1", "r1", "co2", at(6, day=1), at(7, day=1), False),
            ("c1", "r1", "co2", at(7, day=1), at(8, day=1), False),
        ],
        DEVICE_HISTORY,
    )
    # The local 15th is 23:00 UTC on the 14th .. 23:00 UTC on the 15th.
    window = ReportWindow.of_days(DAY, DAY, ZONE)
    keys = devices.transform(event_partition_keys(window))
    expected = spark.createDataFrame(
        [
            ("t1", date(2026, 1, 14)),
            ("t1", DAY),
            ("m1", date(2026, 1, 13)),
            ("m1", date(2026, 1, 14)),
            ("m1", DAY),
        ],
        "device_id string, day date",
    )
    assert_df_equality(keys, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_critical_event_stored_twice_under_one_id_becomes_one_fact_the_newest(spark: SparkSession) -> None:
    _, spaces = histories(spark)
    # The device sent event e-1 twice with different times: one critical event id, two Cassandra rows.
    stored = spark.createDataFrame(
        [
            ("r1", sent, "ce-1", "o1", "crowded", 1, "warning", "occupancy", 5.0, "count", None, "Crowded", "e-1", sent)
            for sent in (at(9), at(11))
        ],
        "space_id string, event_time timestamp, critical_event_id string, device_id string, rule_id string, "
        "rule_version int, severity string, metric string, value double, unit string, code string, message string, "
        "source_event_id string, detected_at timestamp",
    )
    facts = stored.transform(critical_event_facts(spaces, ZONE)).select(
        "critical_event_id", "event_time", "building_id"
    )
    expected = spark.createDataFrame(
        [("ce-1", at(11), "b1")], "critical_event_id string, event_time timestamp, building_id string"
    )
    assert_df_equality(facts, expected, ignore_nullable=True)


def test_the_exact_percentile_of_sorted_values_is_spark_s_percentile_to_the_last_bit(spark: SparkSession) -> None:
    # Groups of 1 to 60 values with repeats and fractions, so that most positions interpolate.
    rows = [
        (group, round(((group * 7919 + index * 104729) % 1000) / 7.0, 3))
        for group in range(60)
        for index in range(group + 1)
    ]
    values = spark.createDataFrame(rows, "group int, value double")
    percentiles = values.groupBy("group").agg(
        F.percentile("value", 0.95).alias("spark"),
        exact_percentile(F.sort_array(F.collect_list("value")), 0.95).alias("sorted"),
    )
    differing = percentiles.where(~F.col("spark").eqNullSafe(F.col("sorted")))
    assert percentiles.count() == 60
    assert differing.collect() == []
