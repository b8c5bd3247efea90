"""What an enrichment run tells its operator: rows per reporting table, the data-quality verdict and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from smartspaces.stages.enrichment.reporting.runs import EnrichmentRun
from transformations.event_digest import in_window
from transformations.report_window import ReportWindow


def window_predicate(window: ReportWindow, column: str = "event_time") -> str:
    """The window as a SQL condition on a timestamp column (Spark's session zone is UTC)."""
    start, end = (moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") for moment in (window.start, window.end))
    return f"{column} >= '{start}' AND {column} < '{end}'"


def newest_event_time(events: DataFrame, window: ReportWindow) -> datetime | None:
    """The latest event time inside the window (one aggregated row to the driver), None without events; events:
    the window's events or their digest (transformations.event_digest)."""
    row = events.where(in_window(window)).agg(F.max("event_time").alias("newest")).first()
    # Spark hands timestamps to Python as naive local times: astimezone reads them as such.
    return row.newest.astimezone(UTC) if row and row.newest is not None else None


def print_summary(
    run: EnrichmentRun,
    reasons: Sequence[str],
    unattributed: int,
    written: Mapping[str, int],
    totals: Mapping[str, int],
) -> None:
    """Prints the verdict (with the failed expectations), and for each table the window's rows and its total."""
    print(f"data quality: {run.verdict.value}" + (f" (report: {run.data_docs})" if run.data_docs else ""))
    for reason in reasons:
        print(f"  {reason}")
    if unattributed:
        print(f"events placed in no space (quarantined): {unattributed}")
    if not written:
        print("nothing written: the reporting tables keep their previous data")
        return
    width = max(len(name) for name in written)
    print(f"{'reporting table':<{width}}  {'window rows':>11}  {'table rows':>10}")
    for name, rows in written.items():
        print(f"{name:<{width}}  {rows:>11}  {totals.get(name, 0):>10}")
