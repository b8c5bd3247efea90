"""The Great Expectations quality gate on the enriched star schema, run before anything is written.

verdict = check_enriched(tables, settings.enrichment.quality, window, previous_counts, newest, run_id)
print(verdict.describe())   # verdict.verdict: passed | warned | failed; verdict.results: dq_results rows
"""

from smartspaces.stages.enrichment.quality.checks import CheckName, check_severity_names
from smartspaces.stages.enrichment.quality.gate import check_enriched
from smartspaces.stages.enrichment.quality.gx_project import open_quality_context
from smartspaces.stages.enrichment.quality.results import QualityResult, QualityVerdict

__all__ = [
    "CheckName",
    "QualityResult",
    "QualityVerdict",
    "check_enriched",
    "check_severity_names",
    "open_quality_context",
]
