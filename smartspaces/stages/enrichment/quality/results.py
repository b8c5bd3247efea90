"""What the gate returns: one result per check and table, and the run's verdict in words.

A QualityResult is an ExpectationOutcome (smartspaces.stages.enrichment.reporting.runs): a row of reporting.dq_results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from smartspaces.stages.enrichment.quality.checks import CheckName
from smartspaces.stages.enrichment.quality.outcomes import CheckSeverity, Verdict
from transformations.report_window import ReportWindow


@dataclass(frozen=True)
class QualityResult:
    """The outcome of one expectation on one table.

    success: None when the check does not apply to this run (observed then says why).
    details: JSON-serialisable (the expectation, its arguments, GX's counts and a sample of offending values).
    """

    expectation: CheckName
    table_name: str
    column_name: str | None
    severity: CheckSeverity
    success: bool | None
    observed: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.success is False

    def describe(self) -> str:
        where = f"{self.table_name}.{self.column_name}" if self.column_name else self.table_name
        return f"{self.expectation.value} on {where} ({self.severity.value}): {self.observed}"


def verdict_of(results: Sequence[QualityResult]) -> Verdict:
    """Failed iff a check of severity fail failed; warned iff only checks of severity warn failed."""
    failed = [result.severity for result in results if result.failed]
    if CheckSeverity.FAIL in failed:
        return Verdict.FAILED
    return Verdict.WARNED if failed else Verdict.PASSED


@dataclass(frozen=True)
class QualityVerdict:
    """The gate's answer for one enrichment run.

    data_docs: the run's HTML page (its results, linked to the Data Docs page of each table).
    validation_pages: the Great Expectations Data Docs page of each validated table, by table name.
    """

    run_id: str
    window: ReportWindow
    checked_at: datetime
    verdict: Verdict
    results: tuple[QualityResult, ...]
    data_docs: Path
    validation_pages: Mapping[str, Path] = field(default_factory=dict)

    @property
    def failures(self) -> tuple[QualityResult, ...]:
        return tuple(result for result in self.results if result.failed and result.severity == CheckSeverity.FAIL)

    @property
    def warnings(self) -> tuple[QualityResult, ...]:
        return tuple(result for result in self.results if result.failed and result.severity == CheckSeverity.WARN)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Each failed check in words: which check, on which table and column, what was observed."""
        return tuple(result.describe() for result in self.failures + self.warnings)

    def describe(self) -> str:
        """The verdict, its counts, the reasons and where the Data Docs are: what the job prints."""
        applicable = [result for result in self.results if result.success is not None]
        passed = sum(1 for result in applicable if result.success)
        lines = [
            f"quality gate {self.verdict.value} for run {self.run_id}, window {self.window.describe()}: "
            f"{passed} of {len(applicable)} checks passed, {len(self.failures)} failed, "
            f"{len(self.warnings)} warned, {len(self.results) - len(applicable)} not applicable",
            *(f"  {reason}" for reason in self.reasons),
            f"  data docs: {self.data_docs}",
        ]
        return "\n".join(lines)


def json_safe(value: Any) -> Any:
    """The value with only JSON types left: times as ISO 8601, tuples as lists, non-finite numbers as null.

    reporting.dq_results.details is jsonb, which accepts no NaN or Infinity, hence null for them.
    """
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
