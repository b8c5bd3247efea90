"""The batch enrichment as it runs: read a window, attribute, build the star schema, gate it, write it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from smartspaces import lake
from smartspaces.config import Settings
from smartspaces.connectors.delta import replace_where
from smartspaces.session import spark_session
from smartspaces.stages.enrichment.inputs import read_window_inputs
from smartspaces.stages.enrichment.quality import check_enriched
from smartspaces.stages.enrichment.quality.outcomes import Verdict
from smartspaces.stages.enrichment.report import newest_event_time, print_summary, window_predicate
from smartspaces.stages.enrichment.reporting.postgres_store import (
    fact_row_counts,
    record_failed_run,
    table_row_counts,
    write_window,
)
from smartspaces.stages.enrichment.reporting.runs import EnrichmentRun
from smartspaces.stages.enrichment.reporting.staging import JdbcTuning
from transformations.report_window import ReportWindow
from transformations.space_facts import ComfortBand
from transformations.star_schema import star_schema, unattributed_events

# The exit code of a run the quality gate stopped (PostgreSQL unchanged).
GATE_STOPPED = 3


def run_enrichment(settings: Settings, window: ReportWindow, started: datetime) -> int:
    """Enriches the window; 0 when written, GATE_STOPPED when the quality gate stopped the write."""
    enrichment = settings.enrichment
    run_id = uuid.uuid4()
    print(f"enrichment run {run_id}: window {window.describe()}")
    with spark_session(settings, "smartspaces-enrich") as spark:
        inputs = read_window_inputs(spark, settings, window)
        attributed = inputs.attributed_events.persist()
        unattributed = unattributed_events(attributed, window).persist()
        replace_where(unattributed, lake.unattributed_events(settings.lake), window_predicate(window))
        unattributed_count = unattributed.count()
        band = ComfortBand(**enrichment.comfort.model_dump())
        tables = star_schema(attributed, inputs.critical_events, inputs.devices, inputs.spaces, window, band)
        tables = {table: rows.persist() for table, rows in tables.items()}
        previous = fact_row_counts(settings.postgres, window.previous())
        gate = check_enriched(
            tables, enrichment.quality, window, previous, newest_event_time(attributed, window), run_id
        )
        run = EnrichmentRun(run_id, window, started, gate.verdict, datetime.now(UTC), gate.results, gate.data_docs)
        if gate.verdict == Verdict.FAILED:
            record_failed_run(settings.postgres, run)
            print_summary(run, gate.reasons, unattributed_count, {}, {})
            return GATE_STOPPED
        written = write_window(tables, window, settings.postgres, JdbcTuning.from_settings(enrichment), run)
        print_summary(run, gate.reasons, unattributed_count, written, table_row_counts(settings.postgres))
    return 0
