"""The quality gate on small enriched tables shaped like the reporting contract: what passes, what is caught."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from great_expectations.data_context.data_context.file_data_context import FileDataContext
from pyspark.sql import DataFrame, SparkSession

from smartspaces.config import ConfigError, QualitySettings
from smartspaces.stages.enrichment.quality import CheckName, QualityResult, QualityVerdict, check_severity_names
from smartspaces.stages.enrichment.quality.checks import severity_of
from smartspaces.stages.enrichment.quality.gate import check_enriched
from smartspaces.stages.enrichment.quality.gx_project import open_quality_context
from smartspaces.stages.enrichment.quality.outcomes import CheckSeverity, Verdict
from smartspaces.stages.enrichment.quality.results import verdict_of
from smartspaces.stages.enrichment.quality.suites import NotApplicable, row_count_bounds, table_suite
from transformations.report_window import ReportWindow
from transformations.reporting_schemas import (
    ALARM,
    BUILDING_DAILY,
    CRITICAL_EVENT,
    DEVICE_DIMENSION,
    SPACE_DAILY,
    SPACE_DIMENSION,
    SPACE_METRIC_HOURLY,
    ReportingTable,
)

DAY = date(2026, 3, 10)
WINDOW = ReportWindow.of_days(DAY, DAY, "Europe/Amsterdam")  # 2026-03-09T23:00Z .. 2026-03-10T23:00Z
NOW = datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
FRESH = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)
VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
Rows = dict[ReportingTable, list[dict[str, Any]]]


def hour(offset: int) -> datetime:
    return WINDOW.start + timedelta(hours=offset)


def clean_rows() -> Rows:
    """Three spaces in two buildings, a device in each, and facts that satisfy every check."""
    return {
        SPACE_DIMENSION: [
            {"space_id": space, "valid_from": VALID_FROM, "is_current": True, "building_id": building, "capacity": 10}
            for space, building in (("s1", "b1"), ("s2", "b1"), ("s3", "b2"))
        ],
        DEVICE_DIMENSION: [
            {"device_id": f"d{n}", "valid_from": VALID_FROM, "is_current": True, "space_id": f"s{n}"} for n in (1, 2, 3)
        ],
        SPACE_METRIC_HOURLY: [
            hourly("s1", "temperature", hour(0), 20.5, 22.0),
            hourly("s1", "co2", hour(0), 450.0, 900.0),
            hourly("s2", "temperature", hour(1), 19.0, 21.0),
            hourly("s3", "humidity", hour(2), 40.0, 55.0),
        ],
        SPACE_DAILY: [space_daily(space, building) for space, building in (("s1", "b1"), ("s2", "b1"), ("s3", "b2"))],
        BUILDING_DAILY: [building_daily("b1"), building_daily("b2")],
        CRITICAL_EVENT: [critical_event("ce1", "s1", "d1"), critical_event("ce2", "s3", "d3")],
    }


def hourly(space: str, metric: str, start: datetime, low: float, high: float) -> dict[str, Any]:
    return {
        "space_id": space,
        "building_id": "b1",
        "metric": metric,
        "hour_start": start,
        "local_date": DAY,
        "readings": 12,
        "value_min": low,
        "value_max": high,
        "value_avg": (low + high) / 2,
        "value_p95": high,
    }


def space_daily(space: str, building: str) -> dict[str, Any]:
    return {
        "space_id": space,
        "building_id": building,
        "local_date": DAY,
        "capacity": 10,
        "peak_occupancy": 8.0,
        "avg_occupancy": 3.0,
        "peak_utilisation": 0.8,
        "avg_utilisation": 0.3,
        "energy_kwh": 12.5,
        "occupied_hours": 9,
        "temperature_comfort_share": 0.9,
        "co2_comfort_share": 1.0,
    }


def building_daily(building: str) -> dict[str, Any]:
    return {
        "building_id": building,
        "local_date": DAY,
        "spaces": 2,
        "capacity": 20,
        "peak_occupancy": 15.0,
        "avg_utilisation": 0.25,
        "energy_kwh": 40.0,
        "temperature_comfort_share": 0.75,
        "co2_comfort_share": 0.5,
    }


def critical_event(event_id: str, space: str, device: str) -> dict[str, Any]:
    return {
        "critical_event_id": event_id,
        "space_id": space,
        "building_id": "b1",
        "device_id": device,
        "rule_id": "co2-high",
        "rule_version": 1,
        "severity": "critical",
        "metric": "co2",
        "value": 2500.0,
        "event_time": hour(5),
        "local_date": DAY,
    }


def frames(spark: SparkSession, rows: Rows) -> dict[ReportingTable, DataFrame]:
    """Each table's rows in its contract schema; columns a row does not name are null."""
    return {
        table: spark.createDataFrame(
            [tuple(row.get(name) for name in table.schema.names) for row in records], table.schema
        )
        for table, records in rows.items()
    }


def counts(rows: Rows) -> dict[str, int | None]:
    """Rows of each fact, by table name: the previous window's counts as the reporting store gives them."""
    return {table.name: len(records) for table, records in rows.items() if table.window_column is not None}


@pytest.fixture(scope="module")
def data_docs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data-docs")


@pytest.fixture(scope="module")
def context(data_docs_dir: Path) -> Iterator[FileDataContext]:
    # One GX project for the module: its first creation in a process is the slow part.
    yield open_quality_context(data_docs_dir)


@pytest.fixture(scope="module")
def quality(data_docs_dir: Path) -> QualitySettings:
    return QualitySettings(severity={CheckName.FRESHNESS.value: "warn"}, data_docs_dir=data_docs_dir)


@dataclass
class Gate:
    """Runs the gate on (changed) clean rows with the module's project and settings."""

    spark: SparkSession
    context: FileDataContext
    settings: QualitySettings

    def run(
        self,
        rows: Rows | None = None,
        *,
        previous: Mapping[str, int | None] | None = None,
        newest: datetime | DataFrame | None = FRESH,
        settings: QualitySettings | None = None,
        run_id: str = "run",
        default_context: bool = False,
    ) -> QualityVerdict:
        rows = rows or clean_rows()
        # Kept as local checkpoints, as the enrichment job keeps its tables. (A cached table would also do, but
        # its scan skips batches by their columns' bounds, which leave NaN out: no offender sample for a NaN.)
        tables = {table: frame.localCheckpoint(eager=True) for table, frame in frames(self.spark, rows).items()}
        return check_enriched(
            tables,
            settings or self.settings,
            WINDOW,
            counts(rows) if previous is None else previous,
            newest,
            run_id,
            context=None if default_context else self.context,
            now=NOW,
        )


@pytest.fixture(scope="module")
def gate(spark: SparkSession, context: FileDataContext, quality: QualitySettings) -> Gate:
    return Gate(spark, context, quality)


@pytest.fixture(scope="module")
def clean_verdict(gate: Gate, spark: SparkSession) -> QualityVerdict:
    events = spark.createDataFrame([(hour(3),), (FRESH,)], "event_time timestamp")
    return gate.run(newest=events, run_id="clean")


def failed(verdict: QualityVerdict) -> list[tuple[str, str, str | None, str]]:
    return [
        (result.expectation.value, result.table_name, result.column_name, result.severity.value)
        for result in verdict.results
        if result.failed
    ]


def test_clean_tables_pass_every_check(clean_verdict: QualityVerdict) -> None:
    assert clean_verdict.verdict is Verdict.PASSED
    assert [result for result in clean_verdict.results if result.success is not True] == []
    assert Counter((r.expectation.value, r.table_name) for r in clean_verdict.results) == {
        ("not_null_keys", "fact_space_metric_hourly"): 3,
        ("unique_key", "fact_space_metric_hourly"): 1,
        ("value_range", "fact_space_metric_hourly"): 2,
        ("referential_integrity", "fact_space_metric_hourly"): 1,
        ("row_count_vs_previous_window", "fact_space_metric_hourly"): 1,
        ("not_null_keys", "fact_space_daily"): 2,
        ("unique_key", "fact_space_daily"): 1,
        ("value_range", "fact_space_daily"): 7,
        ("referential_integrity", "fact_space_daily"): 1,
        ("row_count_vs_previous_window", "fact_space_daily"): 1,
        ("not_null_keys", "fact_building_daily"): 2,
        ("unique_key", "fact_building_daily"): 1,
        ("value_range", "fact_building_daily"): 5,
        ("referential_integrity", "fact_building_daily"): 1,
        ("row_count_vs_previous_window", "fact_building_daily"): 1,
        ("not_null_keys", "fact_critical_event"): 1,
        ("unique_key", "fact_critical_event"): 1,
        ("referential_integrity", "fact_critical_event"): 2,
        ("row_count_vs_previous_window", "fact_critical_event"): 1,
        ("not_null_keys", "dim_space"): 2,
        ("unique_key", "dim_space"): 1,
        ("not_null_keys", "dim_device"): 2,
        ("unique_key", "dim_device"): 1,
        ("freshness", "events"): 1,
    }
    assert clean_verdict.reasons == ()


def test_clean_results_say_what_was_observed(clean_verdict: QualityVerdict) -> None:
    observed = {(r.expectation.value, r.table_name, r.column_name): r.observed for r in clean_verdict.results}
    assert observed[("not_null_keys", "fact_space_metric_hourly", "space_id")] == "0 of 4 rows with a null space_id"
    assert observed[("row_count_vs_previous_window", "fact_space_daily", None)] == ("3 rows (3 in the previous window)")
    assert observed[("freshness", "events", "event_time")] == "newest event 0.5 h before 2026-03-10T23:00:00+00:00"


Mutation = Callable[[Rows], None]


def null_space_id(rows: Rows) -> None:
    rows[SPACE_METRIC_HOURLY][1]["space_id"] = None


def duplicate_space_day(rows: Rows) -> None:
    rows[SPACE_DAILY].append(space_daily("s2", "b1"))


def temperature_too_high(rows: Rows) -> None:
    rows[SPACE_METRIC_HOURLY][2]["value_max"] = 120.0


def share_above_one(rows: Rows) -> None:
    rows[BUILDING_DAILY][0]["co2_comfort_share"] = 1.5


def orphan_space(rows: Rows) -> None:
    rows[CRITICAL_EVENT].append(critical_event("ce3", "s9", "d1"))


def orphan_device(rows: Rows) -> None:
    rows[CRITICAL_EVENT][1]["device_id"] = "d9"


def orphan_building(rows: Rows) -> None:
    rows[BUILDING_DAILY].append(building_daily("b7"))


DEFECTS: tuple[Mutation, ...] = (
    null_space_id,
    duplicate_space_day,
    temperature_too_high,
    share_above_one,
    orphan_space,
    orphan_device,
    orphan_building,
)
STALE = WINDOW.end - timedelta(hours=10)


@pytest.fixture(scope="module")
def defective_verdict(gate: Gate) -> QualityVerdict:
    """One run with a defect of every kind, each in rows of its own (so no defect hides another)."""
    rows = clean_rows()
    previous = {**counts(rows), SPACE_METRIC_HOURLY.name: 400}
    for defect in DEFECTS:
        defect(rows)
    return gate.run(rows, previous=previous, newest=STALE, run_id="defects 2026-03-10")


def test_every_defect_fails_its_check_on_its_table_with_its_severity(defective_verdict: QualityVerdict) -> None:
    assert failed(defective_verdict) == [
        ("not_null_keys", "fact_space_metric_hourly", "space_id", "fail"),
        ("value_range", "fact_space_metric_hourly", "value_min,value_max", "fail"),
        ("row_count_vs_previous_window", "fact_space_metric_hourly", None, "fail"),
        ("unique_key", "fact_space_daily", "space_id,local_date", "fail"),
        ("value_range", "fact_building_daily", "co2_comfort_share", "fail"),
        ("referential_integrity", "fact_building_daily", "building_id", "fail"),
        ("referential_integrity", "fact_critical_event", "space_id", "fail"),
        ("referential_integrity", "fact_critical_event", "device_id", "fail"),
        ("freshness", "events", "event_time", "warn"),
    ]
    assert defective_verdict.verdict is Verdict.FAILED


def test_failures_are_given_in_words(defective_verdict: QualityVerdict) -> None:
    assert defective_verdict.reasons == (
        "not_null_keys on fact_space_metric_hourly.space_id (fail): 1 of 4 rows with a null space_id",
        "value_range on fact_space_metric_hourly.value_min,value_max (fail): "
        "1 of 4 rows with values outside their metric's range (e.g. temperature)",
        "row_count_vs_previous_window on fact_space_metric_hourly (fail): 4 rows (400 in the previous window)",
        "unique_key on fact_space_daily.space_id,local_date (fail): "
        "2 of 4 rows sharing their (space_id, local_date) (e.g. (s2, 2026-03-10) (2 rows))",
        "value_range on fact_building_daily.co2_comfort_share (fail): "
        "1 of 3 rows with co2_comfort_share not between 0 and 1 (e.g. 1.5)",
        "referential_integrity on fact_building_daily.building_id (fail): "
        "1 of 3 rows with a building_id not in dim_space.building_id (e.g. b7)",
        "referential_integrity on fact_critical_event.space_id (fail): "
        "1 of 3 rows with a space_id not in dim_space.space_id (e.g. s9)",
        "referential_integrity on fact_critical_event.device_id (fail): "
        "1 of 3 rows with a device_id not in dim_device.device_id (e.g. d9)",
        "freshness on events.event_time (warn): newest event 10.0 h before 2026-03-10T23:00:00+00:00",
    )


def test_details_hold_the_counts_bounds_and_offenders(defective_verdict: QualityVerdict) -> None:
    details = {(r.expectation.value, r.table_name, r.column_name): r.details for r in defective_verdict.results}
    orphans = details[("referential_integrity", "fact_critical_event", "space_id")]
    assert (orphans["result"]["unexpected_count"], orphans["sample"]) == (1, [{"value": "s9", "rows": 1}])
    row_count = details[("row_count_vs_previous_window", "fact_space_metric_hourly", None)]
    assert (row_count["kwargs"], row_count["result"], row_count["previous_rows"]) == (
        {"min_value": 200, "max_value": 800},
        {"observed_value": 4},
        400,
    )


def test_tables_above_the_driver_rows_are_checked_in_spark_alike(
    gate: Gate, quality: QualitySettings, defective_verdict: QualityVerdict
) -> None:
    # At most 3 rows in the driver: the hourly and the spaces' daily facts (4 rows each) are checked in Spark.
    rows = clean_rows()
    for defect in DEFECTS:
        defect(rows)
    in_spark = gate.run(
        rows,
        previous={**counts(clean_rows()), SPACE_METRIC_HOURLY.name: 400},
        newest=STALE,
        settings=quality.model_copy(update={"driver_rows": 3}),
        run_id="defects in spark",
    )

    def outcomes(verdict: QualityVerdict) -> list[tuple[str, str, str | None, bool | None, str]]:
        return [(r.expectation.value, r.table_name, r.column_name, r.success, r.observed) for r in verdict.results]

    assert outcomes(in_spark) == outcomes(defective_verdict)


def test_data_docs_show_the_failed_checks(defective_verdict: QualityVerdict, data_docs_dir: Path) -> None:
    assert defective_verdict.data_docs == data_docs_dir / "site" / "runs" / "defects_2026-03-10.html"
    run_page = defective_verdict.data_docs.read_text(encoding="utf-8")
    assert "Quality gate failed: run defects 2026-03-10" in run_page
    assert "1 of 3 rows with a space_id not in dim_space.space_id (e.g. s9)" in run_page
    gx_page = defective_verdict.validation_pages["fact_critical_event"]
    assert gx_page.is_relative_to(data_docs_dir / "site" / "validations")
    assert "referential_integrity (fail): every space_id is a dim_space.space_id" in gx_page.read_text(encoding="utf-8")
    assert "defects 2026-03-10" in (data_docs_dir / "site" / "index.html").read_text(encoding="utf-8")


def test_a_nan_fails_a_bounded_range_as_it_does_in_spark(gate: Gate) -> None:
    # Spark orders NaN above every number: out of 0..1, but not below a minimum with no maximum.
    rows = clean_rows()
    rows[BUILDING_DAILY][0]["co2_comfort_share"] = float("nan")
    rows[BUILDING_DAILY][1]["energy_kwh"] = float("nan")
    verdict = gate.run(rows, run_id="nan")
    assert failed(verdict) == [("value_range", "fact_building_daily", "co2_comfort_share", "fail")]
    assert verdict.reasons == (
        "value_range on fact_building_daily.co2_comfort_share (fail): "
        "1 of 2 rows with co2_comfort_share not between 0 and 1 (e.g. nan)",
    )


def test_an_empty_table_passes_with_its_counts_in_words(gate: Gate) -> None:
    rows = clean_rows()
    rows[CRITICAL_EVENT] = []
    verdict = gate.run(rows, previous={CRITICAL_EVENT.name: None}, run_id="empty")
    observed = {(r.expectation.value, r.table_name, r.column_name): r.observed for r in verdict.results}
    assert observed[("not_null_keys", "fact_critical_event", "critical_event_id")] == (
        "0 of 0 rows with a null critical_event_id"
    )
    assert verdict.verdict is Verdict.PASSED


def test_no_events_fail_freshness(gate: Gate, quality: QualitySettings) -> None:
    verdict = gate.run(newest=None, settings=quality.model_copy(update={"severity": {}}), run_id="no-events")
    assert failed(verdict) == [("freshness", "events", "event_time", "fail")]
    assert verdict.reasons == ("freshness on events.event_time (fail): no events in the window",)
    assert verdict.verdict is Verdict.FAILED


def test_a_warn_severity_makes_a_failed_check_a_warning(gate: Gate, quality: QualitySettings) -> None:
    rows = clean_rows()
    orphan_space(rows)
    lenient = quality.model_copy(update={"severity": {CheckName.REFERENTIAL_INTEGRITY.value: "warn"}})
    verdict = gate.run(rows, previous=counts(clean_rows()), settings=lenient, run_id="warned")
    assert failed(verdict) == [("referential_integrity", "fact_critical_event", "space_id", "warn")]
    assert (verdict.verdict, verdict.failures, len(verdict.warnings)) == (Verdict.WARNED, (), 1)


def test_without_a_previous_window_the_row_count_does_not_apply(gate: Gate, data_docs_dir: Path) -> None:
    rows = clean_rows()
    # A window of hours writes no daily facts: empty now, and no rows in the previous window either.
    rows[SPACE_DAILY], rows[BUILDING_DAILY] = [], []
    previous = {SPACE_DAILY.name: 0, BUILDING_DAILY.name: 0}
    # Without a context the gate opens the project in settings.data_docs_dir, as the enrichment job does.
    verdict = gate.run(rows, previous=previous, run_id="first", default_context=True)
    not_applicable = [(r.expectation.value, r.table_name, r.observed) for r in verdict.results if r.success is None]
    assert not_applicable == [
        ("row_count_vs_previous_window", "fact_space_metric_hourly", "not applicable: no previous window"),
        ("row_count_vs_previous_window", "fact_space_daily", "not applicable: the previous window had no rows"),
        ("row_count_vs_previous_window", "fact_building_daily", "not applicable: the previous window had no rows"),
        ("row_count_vs_previous_window", "fact_critical_event", "not applicable: no previous window"),
    ]
    assert verdict.verdict is Verdict.PASSED
    assert verdict.data_docs == data_docs_dir / "site" / "runs" / "first.html"


def test_each_result_is_one_row_of_dq_results(clean_verdict: QualityVerdict) -> None:
    keys = [(r.expectation, r.table_name, r.column_name or "") for r in clean_verdict.results]
    assert len(keys) == len(set(keys)), "(run_id, expectation, table_name, column_name) is the table's key"
    freshness = next(r for r in clean_verdict.results if r.expectation is CheckName.FRESHNESS)
    assert json.loads(json.dumps(freshness.details, allow_nan=False)) == {
        "expectation_type": "expect_column_max_to_be_between",
        "kwargs": {"column": "lag_hours", "max_value": 6.0},
        "result": {"observed_value": 0.5},
        "sample": [],
        "reference_time": "2026-03-10T23:00:00+00:00",
    }


def test_unknown_check_in_the_severity_mapping_is_a_config_error(tmp_path: Path) -> None:
    settings = QualitySettings(severity={"freshnes": "warn"}, data_docs_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"unknown check.*freshnes"):
        check_severity_names(settings)


def test_unlisted_checks_fail_the_run(tmp_path: Path) -> None:
    settings = QualitySettings(severity={"freshness": "warn"}, data_docs_dir=tmp_path)
    assert (severity_of(CheckName.FRESHNESS, settings), severity_of(CheckName.UNIQUE_KEY, settings)) == (
        CheckSeverity.WARN,
        CheckSeverity.FAIL,
    )


def test_suites_are_defined_without_spark(tmp_path: Path) -> None:
    settings = QualitySettings(severity={"value_range": "warn"}, data_docs_dir=tmp_path)
    suite = table_suite(SPACE_METRIC_HOURLY, settings, previous_count=None, dimensions=())
    assert [(e.expectation_type, (e.meta or {})["check"], e.severity.value) for e in suite.expectations] == [
        ("expect_column_values_to_not_be_null", "not_null_keys", "critical"),
        ("expect_column_values_to_not_be_null", "not_null_keys", "critical"),
        ("expect_column_values_to_not_be_null", "not_null_keys", "critical"),
        ("expect_compound_columns_to_be_unique", "unique_key", "critical"),
        ("expect_column_values_to_be_null", "value_range", "warning"),
        ("expect_column_values_to_be_between", "value_range", "warning"),
    ]
    assert suite.not_applicable == (
        NotApplicable(CheckName.REFERENTIAL_INTEGRITY, "fact_space_metric_hourly", "space_id", "dim_space not given"),
        NotApplicable(CheckName.ROW_COUNT_VS_PREVIOUS_WINDOW, "fact_space_metric_hourly", None, "no previous window"),
    )


def test_alarms_are_checked_by_key_but_not_against_the_previous_window_count(tmp_path: Path) -> None:
    """A quiet week may rightly raise no alarm: fact_alarm's count is not held against the previous window's."""
    suite = table_suite(ALARM, QualitySettings(data_docs_dir=tmp_path), previous_count=40, dimensions=())
    assert [(e.meta["check"], e.meta["column"]) for e in suite.expectations if e.meta] == [
        ("not_null_keys", "alarm_id"),
        ("unique_key", "alarm_id"),
    ]
    assert suite.not_applicable == ()


def test_row_count_bounds_follow_the_ratios(tmp_path: Path) -> None:
    settings = QualitySettings(row_count_min_ratio=0.5, row_count_max_ratio=2.0, data_docs_dir=tmp_path)
    assert [row_count_bounds(previous, settings) for previous in (None, 0, 3, 1000)] == [
        None,
        None,
        (2, 6),
        (500, 2000),
    ]


def test_verdict_is_failed_only_when_a_fail_check_fails() -> None:
    def result(severity: CheckSeverity, success: bool | None) -> QualityResult:
        return QualityResult(CheckName.FRESHNESS, "events", None, severity, success, "")

    assert [
        verdict_of([result(CheckSeverity.FAIL, True), result(CheckSeverity.WARN, None)]),
        verdict_of([result(CheckSeverity.FAIL, True), result(CheckSeverity.WARN, False)]),
        verdict_of([result(CheckSeverity.FAIL, False), result(CheckSeverity.WARN, False)]),
    ] == [Verdict.PASSED, Verdict.WARNED, Verdict.FAILED]
