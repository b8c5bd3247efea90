"""The run's own page in the Data Docs site: the verdict, every check's result, links to GX's pages."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from urllib.parse import quote

from smartspaces.stages.enrichment.quality.outcomes import CheckSeverity, Verdict
from smartspaces.stages.enrichment.quality.results import QualityResult
from transformations.report_window import ReportWindow

_UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9._-]+")
_OUTCOME_COLOURS = {"passed": "#1e7d32", "failed": "#b71c1c", "warned": "#e65100", "not applicable": "#616161"}


def run_page_path(site: Path, run_id: str) -> Path:
    return site / "runs" / f"{_UNSAFE_IN_FILE_NAMES.sub('_', run_id)}.html"


def _outcome(result: QualityResult) -> str:
    if result.success is None:
        return "not applicable"
    if result.success:
        return "passed"
    return "failed" if result.severity == CheckSeverity.FAIL else "warned"


def write_run_page(
    site: Path,
    *,
    run_id: str,
    window: ReportWindow,
    checked_at: datetime,
    verdict: Verdict,
    results: Sequence[QualityResult],
    validation_pages: Mapping[str, Path],
) -> Path:
    """Writes runs/<run_id>.html below the site and returns its path (a re-run of the same id replaces it)."""
    path = run_page_path(site, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for result in results:
        outcome = _outcome(result)
        page = validation_pages.get(result.table_name)
        table = escape(result.table_name)
        if page is not None:
            link = quote(Path(os.path.relpath(page, path.parent)).as_posix())
            table = f'<a href="{escape(link)}">{table}</a>'
        rows.append(
            f"<tr><td>{escape(result.expectation.value)}</td><td>{table}</td>"
            f"<td>{escape(result.column_name or '')}</td><td>{escape(result.severity.value)}</td>"
            f'<td style="color:{_OUTCOME_COLOURS[outcome]}">{outcome}</td><td>{escape(result.observed)}</td></tr>'
        )
    title = f"Quality gate {verdict.value}: run {run_id}"
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}</style></head>
<body><h1>{escape(title)}</h1>
<p>Window {escape(window.describe())}; checked at {escape(checked_at.isoformat())}.
<a href="../index.html">All validations</a></p>
<table><tr><th>Check</th><th>Table</th><th>Column</th><th>Severity</th><th>Outcome</th><th>Observed</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    path.write_text(html, encoding="utf-8")
    return path
