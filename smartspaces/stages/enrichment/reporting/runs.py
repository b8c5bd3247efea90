"""What the reporting store records of an enrichment run: its verdict and the outcome of each expectation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from smartspaces.stages.enrichment.quality.outcomes import CheckSeverity, Verdict
from transformations.report_window import ReportWindow


class ExpectationOutcome(Protocol):
    """One expectation on one table (and column), as a row of reporting.dq_results.

    Structural, so the quality gate's own result objects are recorded as they are. severity is "fail" or
    "warn" (a StrEnum will do); success is None when the expectation did not apply to the run.
    """

    @property
    def expectation(self) -> str: ...
    @property
    def table_name(self) -> str: ...
    @property
    def column_name(self) -> str | None: ...
    @property
    def severity(self) -> str: ...
    @property
    def success(self) -> bool | None: ...
    @property
    def observed(self) -> str | None: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ExpectationResult:
    """An ExpectationOutcome as a plain value."""

    expectation: str
    table_name: str
    column_name: str | None
    severity: CheckSeverity
    success: bool | None
    observed: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EnrichmentRun:
    """One run of the enrichment as reporting.enrichment_runs records it, with its expectations' outcomes.

    checked_at: when the quality gate ran (every dq_results row of the run carries it).
    """

    run_id: uuid.UUID
    window: ReportWindow
    started_at: datetime
    verdict: Verdict
    checked_at: datetime
    expectations: tuple[ExpectationOutcome, ...] = ()
    data_docs: str | Path | None = None
    # Why a failed run wrote nothing, when its quality gate did not stop it (the write failed).
    failure: str | None = None
