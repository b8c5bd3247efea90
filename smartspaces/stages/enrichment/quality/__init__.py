"""The Great Expectations quality gate on the enriched star schema, run before anything is written.

verdict = gate.check_enriched(tables, settings.enrichment.quality, window, previous_counts, newest, run_id)
print(verdict.describe())   # verdict.verdict: passed | warned | failed; verdict.results: dq_results rows

The package's own modules are light; the gate (quality.gate) and the project's context (quality.gx_project)
import Great Expectations, some four seconds: they are imported from where the gate runs, so a run that does
not reach it (`jobs.enrich --help`, a catch-up with nothing to do) does not pay for it.
"""

from smartspaces.stages.enrichment.quality.checks import CheckName, check_severity_names
from smartspaces.stages.enrichment.quality.results import QualityResult, QualityVerdict

__all__ = ["CheckName", "QualityResult", "QualityVerdict", "check_severity_names"]
