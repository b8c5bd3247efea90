"""The quality gate of the batch enrichment: validates the enriched DataFrames before anything is written.

Each table is one Great Expectations checkpoint run on a whole-DataFrame batch: of its rows taken to the
driver once (QualitySettings.driver_rows at most), or of the Spark DataFrame. Results are stored in the
project's validation store; the Data Docs site is built once per run, for that run's results. A check that
fails fetches its offenders from the Spark table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import great_expectations as gx
import pandas as pd  # type: ignore[import-untyped]
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.data_context.data_context.file_data_context import FileDataContext
from great_expectations.data_context.types.resource_identifiers import ValidationResultIdentifier
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, FloatType

from smartspaces.config import QualitySettings
from smartspaces.stages.enrichment.quality.checks import CheckName, check_severity_names, severity_of
from smartspaces.stages.enrichment.quality.findings import (
    event_freshness,
    offending_values,
    with_orphans,
    with_value_out_of_range,
)
from smartspaces.stages.enrichment.quality.gx_project import (
    SITE_NAME,
    dataframe_batch,
    open_quality_context,
    site_dir,
    validation_page,
)
from smartspaces.stages.enrichment.quality.outcomes import CheckSeverity
from smartspaces.stages.enrichment.quality.results import QualityResult, QualityVerdict, json_safe, verdict_of
from smartspaces.stages.enrichment.quality.run_page import write_run_page
from smartspaces.stages.enrichment.quality.suites import (
    RELATIONS,
    NotApplicable,
    TableSuite,
    freshness_reference,
    freshness_suite,
    table_suite,
)
from transformations.report_window import ReportWindow
from transformations.reporting_schemas import DIMENSION_TABLES, SPACE_METRIC_HOURLY, ReportingTable

SUITE_PREFIX = "enriched."
# Offending values shown per failed expectation: enough to recognise a pattern, few enough to fetch cheaply.
SAMPLE_SIZE = 5
# No partial unexpected lists: GX would fetch one per expectation, even from a clean table.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
_RESULT_KEYS = ("observed_value", "element_count", "unexpected_count", "unexpected_percent", "missing_count")


def check_enriched(
    tables: Mapping[ReportingTable, DataFrame],
    settings: QualitySettings,
    window: ReportWindow,
    previous_counts: Mapping[str, int | None],
    newest_event_time: datetime | DataFrame | None,
    run_id: str | UUID,
    *,
    context: FileDataContext | None = None,
    now: datetime | None = None,
    table_rows: Mapping[ReportingTable, int] | None = None,
) -> QualityVerdict:
    """Validates the enriched tables of one run; returns the verdict, its results and its Data Docs page.

    tables: the enriched facts and dimensions, kept by the caller (each is read once, and again for the
      offenders of a failed check).
    previous_counts: rows of each fact in the previous comparable window (window.previous()), by table
      name; a fact missing there, None or 0 has no row-count check this run.
    newest_event_time: the newest event time of the window's events, or a DataFrame of the events (or of
      their maximum) with an `event_time` column; None means the window has no events.
    context: the gate's GX project (open_quality_context); by default the one in settings.data_docs_dir.
    now: the time of the check (default: the clock), also the freshness reference while the window is open.
    table_rows: each table's rows, when the caller counted them (else the gate counts them): a table of at
      most settings.driver_rows rows is checked in the driver.
    """
    check_severity_names(settings)
    if not tables:
        raise ValueError("no enriched tables to check")
    checked_at = now or datetime.now(UTC)
    run_name = str(run_id)
    context = context or open_quality_context(settings.data_docs_dir)
    spark = next(iter(tables.values())).sparkSession
    dimensions = [table for table in tables if table in DIMENSION_TABLES]
    batches = [
        (
            table_suite(table, settings, previous_count=previous_counts.get(table.name), dimensions=dimensions),
            validated_frame(table, frame, tables),
            (table_rows[table] if table_rows else frame.count()) <= settings.driver_rows,
        )
        for table, frame in tables.items()
    ]
    reference = freshness_reference(window.end, checked_at)
    freshness = event_freshness(spark, newest_event_time, reference)  # one row
    batches.append((freshness_suite(settings, reference), freshness, True))

    run = gx.RunIdentifier(run_name=run_name, run_time=checked_at)
    results: list[QualityResult] = []
    identifiers: dict[str, ValidationResultIdentifier] = {}
    for suite, frame, in_driver in batches:
        identifier, validations = _validate(context, suite, frame, run, in_driver)
        identifiers[suite.table] = identifier
        table_results = [result_of(validation, frame) for validation in validations]
        table_results += [not_applicable_result(check, settings) for check in suite.not_applicable]
        results += sorted(table_results, key=lambda result: _result_order(result, frame.columns))

    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=list(identifiers.values()))
    pages = {table: validation_page(context, identifier) for table, identifier in identifiers.items()}
    verdict = verdict_of(results)
    page = write_run_page(
        site_dir(context),
        run_id=run_name,
        window=window,
        checked_at=checked_at,
        verdict=verdict,
        results=results,
        validation_pages=pages,
    )
    return QualityVerdict(run_name, window, checked_at, verdict, tuple(results), page, pages)


def validated_frame(table: ReportingTable, frame: DataFrame, tables: Mapping[ReportingTable, DataFrame]) -> DataFrame:
    """The table's DataFrame with the finding columns its checks read (orphan references, values out of range)."""
    for relation in RELATIONS:
        if relation.fact == table and relation.dimension in tables:
            dimension = tables[relation.dimension]
            frame = frame.transform(with_orphans(relation.column, dimension, relation.dimension_column))
    if table == SPACE_METRIC_HOURLY:
        frame = frame.transform(with_value_out_of_range())
    return frame


def _validate(
    context: FileDataContext, suite: TableSuite, frame: DataFrame, run: gx.RunIdentifier, in_driver: bool
) -> tuple[ValidationResultIdentifier, list[ExpectationValidationResult]]:
    """Runs the table's checkpoint (suite and definition replaced by this run's) on the DataFrame, its rows
    taken to the driver first (in_driver) or in Spark."""
    name = f"{SUITE_PREFIX}{suite.table}"
    definition = gx.ValidationDefinition(
        name=name,
        data=dataframe_batch(context, suite.table, in_driver),
        suite=gx.ExpectationSuite(name=name, expectations=list(suite.expectations)),
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(name=name, validation_definitions=[definition], result_format=RESULT_FORMAT)
    )
    batch: DataFrame | pd.DataFrame = frame
    if in_driver:
        # Only the columns the checks read reach the driver: the hourly facts' values are most of their memory.
        batch = checked_rows(frame.select(*suite.columns) if suite.columns else frame)
    outcome = checkpoint.run(batch_parameters={"dataframe": batch}, run_id=run)
    [(identifier, validated)] = outcome.run_results.items()
    return identifier, list(validated.results)


def checked_rows(frame: DataFrame) -> pd.DataFrame:
    """The table's rows in the driver, for GX to check them in one pass (QualitySettings.driver_rows at most):
    in Spark, GX runs some ten queries per table, each planned and scheduled on its own.

    pandas holds a null double as NaN and reads every NaN as missing, where Spark orders NaN above every number:
    a NaN becomes +inf, so that a range check fails it and a null check passes it, as they did in Spark.
    """
    floating = {field.name for field in frame.schema.fields if isinstance(field.dataType, DoubleType | FloatType)}
    columns = [
        F.nanvl(F.col(name), F.lit(math.inf)).alias(name) if name in floating else name for name in frame.columns
    ]
    return frame.select(*columns).toPandas()


def result_of(validation: ExpectationValidationResult, frame: DataFrame) -> QualityResult:
    """One GX expectation result as a gate result, with the observed value (and offenders) in words."""
    config = validation.expectation_config
    if config is None:
        raise ValueError("a validation result without its expectation")
    meta: dict[str, Any] = dict(config.meta or {})
    check = CheckName(meta["check"])
    error = _exception_message(validation.exception_info)
    success = bool(validation.success) and not error
    result = validation.result or {}
    kwargs = {key: value for key, value in config.kwargs.items() if key != "batch_id"}
    # GX fetches no samples (see RESULT_FORMAT): a failed check fetches a few of its offenders here.
    sample = (
        []
        if success or error
        else [_offender(row) for row in offending_values(frame, config.type, kwargs, SAMPLE_SIZE)]
    )
    details = {
        "expectation_type": config.type,
        "kwargs": kwargs,
        "result": {key: result[key] for key in _RESULT_KEYS if key in result},
        "sample": sample,
        **{key: value for key, value in meta.items() if key not in ("check", "table", "column", "severity")},
    }
    if error:
        details["error"] = error
    return QualityResult(
        expectation=check,
        table_name=meta["table"],
        column_name=meta["column"],
        severity=CheckSeverity(meta["severity"]),
        success=success,
        observed=f"not evaluated: {error}" if error else observed_text(check, meta, result, sample),
        details=json_safe(details),
    )


def not_applicable_result(check: NotApplicable, settings: QualitySettings) -> QualityResult:
    return QualityResult(
        expectation=check.check,
        table_name=check.table,
        column_name=check.column,
        severity=severity_of(check.check, settings),
        success=None,
        observed=f"not applicable: {check.reason}",
        details={"reason": check.reason},
    )


def observed_text(
    check: CheckName, meta: Mapping[str, Any], result: Mapping[str, Any], sample: Sequence[Mapping[str, Any]] = ()
) -> str:
    if check is CheckName.FRESHNESS:
        lag = result.get("observed_value")
        if lag is None:
            return "no events in the window"
        return f"newest event {lag:.1f} h before {meta['reference_time']}"
    if check is CheckName.ROW_COUNT_VS_PREVIOUS_WINDOW:
        return f"{result.get('observed_value')} rows ({meta['previous_rows']} in the previous window)"
    # GX on Spark gives no unexpected count for an empty table.
    unexpected, rows = result.get("unexpected_count") or 0, result.get("element_count") or 0
    text = f"{unexpected} of {rows} rows {meta['unexpected']}"
    if sample:
        offenders = ", ".join(
            _value_text(entry["value"]) + (f" ({entry['rows']} rows)" if entry["rows"] > 1 else "") for entry in sample
        )
        text += f" (e.g. {offenders})"
    return text


def _result_order(result: QualityResult, columns: Sequence[str]) -> tuple[int, int]:
    """Within a table: checks in CheckName's order, then the table's column order."""
    column = (result.column_name or "").split(",")[0]
    return list(CheckName).index(result.expectation), columns.index(column) if column in columns else len(columns)


def _offender(row: Row) -> dict[str, Any]:
    values = [value for name, value in row.asDict().items() if name != "rows"]
    return {"value": values[0] if len(values) == 1 else values, "rows": row["rows"]}


def _value_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_value_text(item) for item in value) + ")"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _exception_message(info: Mapping[str, Any] | None) -> str | None:
    """GX reports an expectation it could not evaluate either directly or per metric."""
    if not info:
        return None
    entries = [info] if "raised_exception" in info else [entry for entry in info.values() if isinstance(entry, dict)]
    messages = [str(entry.get("exception_message")) for entry in entries if entry.get("raised_exception")]
    return "; ".join(messages) or None
