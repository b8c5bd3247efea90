"""The checks of the quality gate by name, and how severe a failure of each is.

The names are stable: QualitySettings.severity refers to them, and reporting.dq_results stores them.
"""

from __future__ import annotations

from enum import StrEnum

from smartspaces.config import ConfigError, QualitySettings
from smartspaces.stages.enrichment.quality.outcomes import CheckSeverity


class CheckName(StrEnum):
    NOT_NULL_KEYS = "not_null_keys"
    UNIQUE_KEY = "unique_key"
    VALUE_RANGE = "value_range"
    REFERENTIAL_INTEGRITY = "referential_integrity"
    ROW_COUNT_VS_PREVIOUS_WINDOW = "row_count_vs_previous_window"
    FRESHNESS = "freshness"


def severity_of(check: CheckName, settings: QualitySettings) -> CheckSeverity:
    """The configured severity of a check; a check not listed in the settings fails the run."""
    return CheckSeverity(settings.severity.get(check.value, CheckSeverity.FAIL.value))


def check_severity_names(settings: QualitySettings) -> None:
    """Fails when the severity mapping names a check that does not exist (a misspelt name would be ignored)."""
    unknown = sorted(set(settings.severity) - {check.value for check in CheckName})
    if unknown:
        known = ", ".join(check.value for check in CheckName)
        raise ConfigError(f"enrichment.quality.severity: unknown check(s) {', '.join(unknown)}; known: {known}")
