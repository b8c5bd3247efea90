"""What the gate expects of each enriched table, as Great Expectations expectations (no Spark needed).

Every expectation carries, in its meta, the check it belongs to (a CheckName), its table, the column it is
about and the words for its unexpected rows; the gate reads them back from the results.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from great_expectations.expectations.core.expect_column_max_to_be_between import ExpectColumnMaxToBeBetween
from great_expectations.expectations.core.expect_column_values_to_be_between import ExpectColumnValuesToBeBetween
from great_expectations.expectations.core.expect_column_values_to_be_null import ExpectColumnValuesToBeNull
from great_expectations.expectations.core.expect_column_values_to_be_unique import ExpectColumnValuesToBeUnique
from great_expectations.expectations.core.expect_column_values_to_not_be_null import ExpectColumnValuesToNotBeNull
from great_expectations.expectations.core.expect_compound_columns_to_be_unique import ExpectCompoundColumnsToBeUnique
from great_expectations.expectations.core.expect_table_row_count_to_be_between import ExpectTableRowCountToBeBetween
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.metadata_types import FailureSeverity

from smartspaces.config import QualitySettings
from smartspaces.stages.enrichment.quality.checks import CheckName, severity_of
from smartspaces.stages.enrichment.quality.findings import LAG_HOURS, VALUE_OUT_OF_RANGE, orphan_column
from smartspaces.stages.enrichment.quality.outcomes import CheckSeverity
from transformations.contract import METRICS
from transformations.reporting_schemas import (
    BUILDING_DAILY,
    CRITICAL_EVENT,
    DEVICE_DIMENSION,
    FACT_TABLES,
    SPACE_DAILY,
    SPACE_DIMENSION,
    SPACE_METRIC_HOURLY,
    ReportingTable,
)

# The freshness check is about the window's source events, which are no table of the star schema.
EVENTS = "events"

_GX_SEVERITY = {CheckSeverity.FAIL: FailureSeverity.CRITICAL, CheckSeverity.WARN: FailureSeverity.WARNING}


@dataclass(frozen=True)
class Relation:
    """A reference from a fact's column to a dimension's column."""

    fact: ReportingTable
    column: str
    dimension: ReportingTable
    dimension_column: str


RELATIONS = (
    Relation(SPACE_METRIC_HOURLY, "space_id", SPACE_DIMENSION, "space_id"),
    Relation(SPACE_DAILY, "space_id", SPACE_DIMENSION, "space_id"),
    Relation(CRITICAL_EVENT, "space_id", SPACE_DIMENSION, "space_id"),
    Relation(CRITICAL_EVENT, "device_id", DEVICE_DIMENSION, "device_id"),
    Relation(BUILDING_DAILY, "building_id", SPACE_DIMENSION, "building_id"),
)


@dataclass(frozen=True)
class Bounds:
    """The sane range of a column of a fact (None: unbounded on that side)."""

    column: str
    minimum: float | None
    maximum: float | None = None


_SHARE = (0.0, 1.0)
SANE_RANGES: dict[str, tuple[Bounds, ...]] = {
    SPACE_METRIC_HOURLY.name: (Bounds("readings", 1),),
    SPACE_DAILY.name: (
        Bounds("temperature_comfort_share", *_SHARE),
        Bounds("co2_comfort_share", *_SHARE),
        Bounds("energy_kwh", 0.0),
        Bounds("peak_utilisation", 0.0),
        Bounds("avg_utilisation", 0.0),
        Bounds("peak_occupancy", 0.0),
        Bounds("avg_occupancy", 0.0),
    ),
    BUILDING_DAILY.name: (
        Bounds("temperature_comfort_share", *_SHARE),
        Bounds("co2_comfort_share", *_SHARE),
        Bounds("energy_kwh", 0.0),
        Bounds("avg_utilisation", 0.0),
        Bounds("peak_occupancy", 0.0),
    ),
}


@dataclass(frozen=True)
class NotApplicable:
    """A check that does not apply to this run, and why; recorded with no success or failure."""

    check: CheckName
    table: str
    column: str | None
    reason: str


@dataclass(frozen=True)
class TableSuite:
    """The expectations of one validated DataFrame, and the checks that do not apply to it this run."""

    table: str
    expectations: tuple[Expectation, ...]
    not_applicable: tuple[NotApplicable, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns its expectations read, in their order of first use (a row count reads none)."""
        named: list[str] = []
        for expectation in self.expectations:
            column = getattr(expectation, "column", None)
            named += [column] if column else list(getattr(expectation, "column_list", None) or ())
        return tuple(dict.fromkeys(named))


def _planned(
    expectation: Expectation,
    check: CheckName,
    table: str,
    column: str | None,
    unexpected: str | None,
    settings: QualitySettings,
    **facts: Any,
) -> Expectation:
    """Tags an expectation with its check, table, column and severity, and words it for Data Docs.

    unexpected: the words for the rows a map expectation does not expect, e.g. "with a null space_id".
    facts: more for the result's details (the previous window's rows, the freshness reference time).
    """
    severity = severity_of(check, settings)
    meta = {"check": check.value, "table": table, "column": column, "severity": severity.value}
    if unexpected:
        meta["unexpected"] = unexpected
    expectation.meta = {**meta, **facts}
    expectation.severity = _GX_SEVERITY[severity]
    expectation.description = f"{check.value} ({severity.value}): {expectation.description}"
    return expectation


def key_expectations(table: ReportingTable, settings: QualitySettings) -> list[Expectation]:
    """Every key column is set; the key (compound or not) is unique."""
    expectations = [
        _planned(
            ExpectColumnValuesToNotBeNull(column=column, description=f"{column} is never null"),
            CheckName.NOT_NULL_KEYS,
            table.name,
            column,
            f"with a null {column}",
            settings,
        )
        for column in table.key
    ]
    key = ", ".join(table.key)
    unique: Expectation
    if len(table.key) == 1:
        unique = ExpectColumnValuesToBeUnique(column=table.key[0], description=f"{key} is unique")
    else:
        unique = ExpectCompoundColumnsToBeUnique(column_list=list(table.key), description=f"({key}) is unique")
    expectations.append(
        _planned(unique, CheckName.UNIQUE_KEY, table.name, ",".join(table.key), f"sharing their ({key})", settings)
    )
    return expectations


def range_expectations(table: ReportingTable, settings: QualitySettings) -> list[Expectation]:
    """Hourly values within their metric's contract range; sane shares, energy, utilisation and counts."""
    expectations = []
    if table == SPACE_METRIC_HOURLY:
        ranges = "; ".join(f"{m.name} {m.minimum:g}..{m.maximum:g} {m.unit}" for m in METRICS.values())
        expectations.append(
            _planned(
                ExpectColumnValuesToBeNull(
                    column=VALUE_OUT_OF_RANGE,
                    description=f"value_min and value_max lie within the range of their metric ({ranges})",
                ),
                CheckName.VALUE_RANGE,
                table.name,
                "value_min,value_max",
                "with values outside their metric's range",
                settings,
            )
        )
    for bounds in SANE_RANGES.get(table.name, ()):
        wording = _bounds_wording(bounds)
        expectations.append(
            _planned(
                ExpectColumnValuesToBeBetween(
                    column=bounds.column,
                    min_value=bounds.minimum,
                    max_value=bounds.maximum,
                    description=f"{bounds.column} is {wording}",
                ),
                CheckName.VALUE_RANGE,
                table.name,
                bounds.column,
                f"with {bounds.column} not {wording}",
                settings,
            )
        )
    return expectations


def _bounds_wording(bounds: Bounds) -> str:
    if bounds.maximum is None:
        return f"at least {bounds.minimum:g}"
    if bounds.minimum is None:
        return f"at most {bounds.maximum:g}"
    return f"between {bounds.minimum:g} and {bounds.maximum:g}"


def referential_checks(
    table: ReportingTable, dimensions: Collection[ReportingTable], settings: QualitySettings
) -> tuple[list[Expectation], list[NotApplicable]]:
    """No orphan references: the finding column of each relation of the table is null on every row."""
    expectations, not_applicable = [], []
    for relation in RELATIONS:
        if relation.fact != table:
            continue
        target = f"{relation.dimension.name}.{relation.dimension_column}"
        if relation.dimension not in dimensions:
            not_applicable.append(
                NotApplicable(
                    CheckName.REFERENTIAL_INTEGRITY, table.name, relation.column, f"{relation.dimension.name} not given"
                )
            )
            continue
        expectations.append(
            _planned(
                ExpectColumnValuesToBeNull(
                    column=orphan_column(relation.column),
                    description=f"every {relation.column} is a {target}",
                ),
                CheckName.REFERENTIAL_INTEGRITY,
                table.name,
                relation.column,
                f"with a {relation.column} not in {target}",
                settings,
            )
        )
    return expectations, not_applicable


def row_count_bounds(previous: int | None, settings: QualitySettings) -> tuple[int, int] | None:
    """The allowed rows given the previous window's rows; None when there is nothing to compare with."""
    if not previous:
        return None
    return math.ceil(settings.row_count_min_ratio * previous), math.floor(settings.row_count_max_ratio * previous)


def row_count_check(
    table: ReportingTable, previous: int | None, settings: QualitySettings
) -> Expectation | NotApplicable:
    """The fact's rows within the ratios of the previous window's, or why that cannot be checked."""
    bounds = row_count_bounds(previous, settings)
    if bounds is None:
        reason = "no previous window" if previous is None else "the previous window had no rows"
        return NotApplicable(CheckName.ROW_COUNT_VS_PREVIOUS_WINDOW, table.name, None, reason)
    low, high = bounds
    return _planned(
        ExpectTableRowCountToBeBetween(
            min_value=low,
            max_value=high,
            description=f"between {low} and {high} rows ({previous} in the previous window)",
        ),
        CheckName.ROW_COUNT_VS_PREVIOUS_WINDOW,
        table.name,
        None,
        None,
        settings,
        previous_rows=previous,
    )


def table_suite(
    table: ReportingTable,
    settings: QualitySettings,
    *,
    previous_count: int | None,
    dimensions: Collection[ReportingTable],
) -> TableSuite:
    """All the checks of one table of the star schema (facts get ranges, references and row counts)."""
    expectations = key_expectations(table, settings) + range_expectations(table, settings)
    references, not_applicable = referential_checks(table, dimensions, settings)
    expectations += references
    if table in FACT_TABLES and table.counted_against_previous:
        row_count = row_count_check(table, previous_count, settings)
        if isinstance(row_count, NotApplicable):
            not_applicable.append(row_count)
        else:
            expectations.append(row_count)
    return TableSuite(table.name, tuple(expectations), tuple(not_applicable))


def freshness_reference(window_end: datetime, now: datetime) -> datetime:
    """Events are expected up to the window's end, or up to now while the window is still open."""
    return min(window_end, now)


def freshness_suite(settings: QualitySettings, reference: datetime) -> TableSuite:
    """The newest event lies at most freshness_max_lag_h hours before the reference time."""
    hours = settings.freshness_max_lag_h
    expectation = _planned(
        ExpectColumnMaxToBeBetween(
            column=LAG_HOURS,
            max_value=hours,
            description=f"the newest event is at most {hours:g} h older than {reference.isoformat()}",
        ),
        CheckName.FRESHNESS,
        EVENTS,
        "event_time",
        None,
        settings,
        reference_time=reference.isoformat(),
    )
    return TableSuite(EVENTS, (expectation,))
