"""What the exploration notebooks compute, on small frames written by hand (no server)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
from chispa import assert_df_equality
from matplotlib.figure import Figure
from pyspark.sql import SparkSession

from smartspaces.config import ComfortBands
from smartspaces.exploration.comfort import (
    LOCAL_HOURS,
    BuildingDay,
    comfort_grid,
    comfort_limits,
    comfort_summary,
    hours_outside_by_space,
    outside_band,
    space_labels,
)
from smartspaces.exploration.critical_events import (
    EVENT_COLUMNS,
    NO_BUILDING,
    critical_events_summary,
    events_per_building_day,
    events_per_building_hour,
    events_per_building_severity,
    reported_and_cached,
    space_of_critical_index,
    with_buildings,
)
from smartspaces.exploration.data_quality import (
    Outcome,
    missed_expectations,
    outcome_of,
    outcomes_by_table,
    quality_summary,
    quarantine_by_reason,
    reason_period_grid,
    window_label,
)
from smartspaces.exploration.figures import FIGURES_FOLDER_VARIABLE, save_figure

NAN = np.nan
HOURLY_COLUMNS = ["space_id", "space_name", "metric", "local_hour", "readings", "value_avg"]


def hourly(*rows: tuple[object, ...]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=HOURLY_COLUMNS)


def grid(rows: dict[str, dict[int, float]]) -> pd.DataFrame:
    """A spaces by local hours grid with the given cells, NaN elsewhere."""
    expected = pd.DataFrame(
        [[rows[space].get(hour, NAN) for hour in LOCAL_HOURS] for space in rows],
        index=pd.Index(list(rows), name="space_id"),
        columns=pd.Index(LOCAL_HOURS, name="local_hour"),
        dtype=float,
    )
    return expected


def events(*rows: tuple[object, ...]) -> pd.DataFrame:
    """Critical events: (building_id, space_id, severity, event_time); local_date is event_time's date."""
    frame = pd.DataFrame.from_records(rows, columns=["building_id", "space_id", "severity", "event_time"])
    return frame.assign(
        critical_event_id=[f"e{position}" for position in range(len(frame))],
        rule_id="co2_high",
        local_date=[at.date() for at in frame["event_time"]],
    )


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# --- comfort ----------------------------------------------------------------------------------------------


def test_comfort_grid_has_a_row_per_space_of_any_metric_and_a_cell_per_local_hour() -> None:
    rows = hourly(
        ("s2", "Lab", "temperature", 8, 4, 21.0),
        ("s1", "Office", "temperature", 9, 2, 22.0),
        ("s1", "Office", "co2", 9, 2, 900.0),
        ("s3", None, "co2", 10, 1, 700.0),
    )
    assert_frame = pd.testing.assert_frame_equal
    assert_frame(comfort_grid(rows, "temperature"), grid({"s1": {9: 22.0}, "s2": {8: 21.0}, "s3": {}}))
    assert_frame(comfort_grid(rows, "co2"), grid({"s1": {9: 900.0}, "s2": {}, "s3": {10: 700.0}}))


def test_the_hour_a_dst_change_repeats_is_one_cell_weighted_by_readings() -> None:
    rows = hourly(("s1", "Office", "co2", 2, 1, 600.0), ("s1", "Office", "co2", 2, 3, 1000.0))
    pd.testing.assert_frame_equal(comfort_grid(rows, "co2"), grid({"s1": {2: 900.0}}))


def test_hours_without_readings_or_average_stay_empty() -> None:
    rows = hourly(("s1", "Office", "co2", 2, 0, 600.0), ("s1", "Office", "co2", 3, 4, None))
    pd.testing.assert_frame_equal(comfort_grid(rows, "co2"), grid({"s1": {}}))


def test_outside_band_marks_cells_below_or_above_and_never_missing_ones() -> None:
    temperatures = grid({"s1": {8: 19.9, 9: 20.0, 10: 24.0, 11: 24.1}})
    outside = outside_band(temperatures, 20.0, 24.0)
    assert [hour for hour in LOCAL_HOURS if outside.loc["s1", hour]] == [8, 11]
    co2 = grid({"s1": {8: 1000.0, 9: 1000.5}})
    assert [hour for hour in LOCAL_HOURS if outside_band(co2, None, 1000.0).loc["s1", hour]] == [9]


def test_comfort_limits_are_the_enrichments_bands() -> None:
    bands = ComfortBands(temperature_low_c=19.0, temperature_high_c=25.0, co2_max_ppm=900.0)
    assert comfort_limits(bands) == {"temperature": (19.0, 25.0), "co2": (None, 900.0)}


def test_hours_outside_by_space_puts_the_most_hours_first_then_space_ids() -> None:
    outside = {
        "temperature": outside_band(grid({"a": {1: 10.0}, "b": {1: 10.0, 2: 10.0}, "c": {}}), 20.0, 24.0),
        "co2": outside_band(grid({"a": {1: 2000.0}, "b": {}, "c": {}}), None, 1000.0),
    }
    expected = pd.DataFrame(
        {"temperature": [1, 2, 0], "co2": [1, 0, 0]}, index=pd.Index(["a", "b", "c"], name="space_id")
    )
    expected.columns.name = "metric"
    pd.testing.assert_frame_equal(hours_outside_by_space(outside), expected)


def test_space_labels_name_spaces_with_a_current_name_and_id_the_others() -> None:
    rows = hourly(("s1", "Office", "co2", 9, 2, 900.0), ("s2", None, "co2", 9, 2, 900.0))
    assert space_labels(rows, pd.Index(["s1", "s2"])) == ["Office · s1", "s2"]


def test_comfort_summary_counts_spaces_space_hours_and_hours_outside_the_band() -> None:
    temperatures = grid({"s1": {8: 19.0, 9: 21.0}, "s2": {9: 21.0}})
    co2 = grid({"s1": {8: 1200.0}, "s2": {}})
    grids = {"temperature": temperatures, "co2": co2}
    outside = {"temperature": outside_band(temperatures, 20.0, 24.0), "co2": outside_band(co2, None, 1000.0)}
    line = comfort_summary(BuildingDay("b1", date(2026, 11, 24)), grids, outside)
    assert line == "comfort b1 2026-11-24: spaces=2 space_hours temperature=3 co2=1 outside_band temperature=1 co2=1"


# --- critical events --------------------------------------------------------------------------------------


def test_events_per_building_day_lists_every_day_between_the_first_and_the_last() -> None:
    reported = events(
        ("b2", "s2", "critical", at(23, 9)), ("b1", "s1", "warning", at(23, 10)), ("b1", "s1", "info", at(25, 9))
    )
    expected = pd.DataFrame(
        {"b1": [1, 0, 1], "b2": [1, 0, 0]},
        index=pd.Index([date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)], name="local_date"),
    )
    expected.columns.name = "building_id"
    pd.testing.assert_frame_equal(events_per_building_day(reported), expected)


def test_events_per_building_hour_lists_every_utc_hour_between_the_first_and_the_last() -> None:
    cached = events(("b1", "s1", "warning", at(25, 9, 5)), ("b1", "s1", "warning", at(25, 11, 30)))
    expected = pd.DataFrame({"b1": [1, 0, 1]}, index=pd.date_range(at(25, 9), at(25, 11), freq="h", name="hour"))
    expected.columns.name = "building_id"
    pd.testing.assert_frame_equal(events_per_building_hour(cached), expected)


def test_events_per_building_severity_puts_the_most_severe_first_and_unknown_severities_last() -> None:
    reported = events(
        ("b1", "s1", "info", at(23, 9)), ("b1", "s1", "critical", at(23, 9)), ("b2", "s2", "urgent", at(23, 9))
    )
    counts = events_per_building_severity(reported)
    assert list(counts.columns) == ["critical", "info", "urgent"]
    assert counts.to_dict(orient="index") == {
        "b1": {"critical": 1, "info": 1, "urgent": 0},
        "b2": {"critical": 0, "info": 0, "urgent": 1},
    }


def test_the_space_of_an_index_key_is_read_back_from_the_layout() -> None:
    assert space_of_critical_index("smartspaces:v1:space:b01-f1-s02:critical") == "b01-f1-s02"
    with pytest.raises(ValueError, match="not a critical-event index key"):
        space_of_critical_index("smartspaces:v1:space:b01-f1-s02:critical:events")


def test_cached_events_of_spaces_of_no_known_building_count_under_no_building() -> None:
    cached = pd.DataFrame({"space_id": ["s1", "s9"]}).assign(building_id=None)
    assert list(with_buildings(cached, {"s1": "b1"})["building_id"]) == ["b1", NO_BUILDING]


def test_reported_and_cached_lists_the_buildings_of_either_store() -> None:
    reported = events(("b1", "s1", "info", at(23, 9)), ("b1", "s1", "info", at(23, 10)))
    cached = events(("b1", "s1", "info", at(25, 9)), ("b2", "s2", "info", at(25, 9)))
    assert reported_and_cached(reported, cached).to_dict(orient="index") == {
        "b1": {"reported": 2, "cached": 1},
        "b2": {"reported": 0, "cached": 1},
    }


def test_critical_events_summary_counts_per_building_and_cached_spaces() -> None:
    reported = events(("b1", "s1", "info", at(23, 9)), (NO_BUILDING, "s9", "info", at(24, 9)))
    cached = events(("b1", "s1", "info", at(25, 9)), ("b1", "s1", "info", at(25, 10)))[EVENT_COLUMNS]
    line = critical_events_summary(events_per_building_day(reported), cached)
    assert line == "critical events: reported=2 (none)=1 b1=1 cached=2 cached_spaces=1"


# --- data quality -----------------------------------------------------------------------------------------


def test_quarantine_by_reason_counts_messages_per_reason_and_arrival_hour(spark: SparkSession) -> None:
    quarantine = spark.createDataFrame(
        [
            ("not_json", at(24, 8, 10)),
            ("not_json", at(24, 8, 50)),
            ("not_json", at(24, 9, 0)),
            ("wrong_type", at(24, 8, 5)),
        ],
        "reason string, kafka_timestamp timestamp",
    )
    naive = [at(24, 8).replace(tzinfo=None), at(24, 9).replace(tzinfo=None)]
    expected = spark.createDataFrame(
        [("not_json", naive[0], 2), ("not_json", naive[1], 1), ("wrong_type", naive[0], 1)],
        "reason string, arrived timestamp, messages long",
    )
    assert_df_equality(quarantine_by_reason(quarantine), expected, ignore_row_order=True, ignore_nullable=True)


def test_reason_period_grid_lists_reasons_in_the_order_of_the_checks_then_unknown_ones() -> None:
    counts = pd.DataFrame.from_records(
        [("unknown_device", "t2", 2), ("zzz_retired", "t1", 1), ("not_json", "t1", 3), ("not_json", "t2", 1)],
        columns=["reason", "arrived", "messages"],
    )
    grid = reason_period_grid(counts)
    assert list(grid.index) == ["not_json", "unknown_device", "zzz_retired"]
    assert grid.to_dict(orient="list") == {"t1": [3, 0, 1], "t2": [1, 2, 0]}


def test_an_expectation_is_met_missed_or_not_applicable() -> None:
    assert [outcome_of(success) for success in (True, False, None)] == [
        Outcome.MET,
        Outcome.MISSED,
        Outcome.NOT_APPLICABLE,
    ]


def results(*rows: tuple[str, str, bool | None]) -> pd.DataFrame:
    """Quality results: (table_name, expectation, success) in one window."""
    frame = pd.DataFrame.from_records(rows, columns=["table_name", "expectation", "success"])
    return frame.assign(
        outcome=[outcome_of(success).value for success in frame["success"]],
        window_start=at(23, 23),
        column_name="",
        severity="fail",
        observed="as seen",
    )


def test_outcomes_by_table_has_every_outcome_column() -> None:
    found = results(("fact_a", "unique_key", True), ("fact_a", "row_count", None), ("fact_b", "unique_key", True))
    assert outcomes_by_table(found).to_dict(orient="index") == {
        "fact_a": {"met": 1, "missed": 0, "not_applicable": 1},
        "fact_b": {"met": 1, "missed": 0, "not_applicable": 0},
    }


def test_missed_expectations_are_the_ones_that_failed() -> None:
    found = results(("fact_a", "unique_key", False), ("fact_a", "row_count", None), ("fact_b", "not_null", True))
    assert missed_expectations(found)[["table_name", "expectation"]].values.tolist() == [["fact_a", "unique_key"]]


def test_quality_summary_counts_quarantine_outcomes_and_runs() -> None:
    reasons = pd.DataFrame({"t1": [3, 0], "t2": [1, 2]}, index=["not_json", "unknown_device"])
    found = results(("fact_a", "unique_key", True), ("fact_a", "row_count", None), ("fact_b", "not_null", False))
    runs = pd.DataFrame({"run_id": ["r1", "r2"]})
    line = quality_summary(reasons, found, runs)
    assert line == "quality: quarantined=6 reasons=2 periods=2 expectations=3 met=1 missed=1 not_applicable=1 runs=2"


def test_a_window_reads_as_utc_instants() -> None:
    start = datetime(2026, 11, 24, 0, 0, tzinfo=UTC).astimezone()
    assert window_label(start, at(25, 0)) == "2026-11-24 00:00 → 2026-11-25 00:00 UTC"


# --- figures ----------------------------------------------------------------------------------------------


def test_a_figure_is_saved_only_when_the_folder_is_named(tmp_path: Path) -> None:
    figure = Figure()  # not through pyplot: no backend, nothing to close
    figure.subplots().plot([0, 1], [0, 1])
    assert save_figure(figure, "line", environ={}) is None
    path = save_figure(figure, "line", environ={FIGURES_FOLDER_VARIABLE: str(tmp_path / "figures")})
    assert path == tmp_path / "figures" / "line.png"
    assert path.read_bytes().startswith(b"\x89PNG")
