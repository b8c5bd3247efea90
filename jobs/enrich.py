"""Enriches a window of stored events into the reporting star schema in PostgreSQL, behind a quality gate.

Reads the window's events from Cassandra (only its partitions), attributes each to the space its device
was in at the time (SCD2 registry in the lake), builds the facts and dimensions, checks them with Great
Expectations and, if the gate passes, replaces the window in PostgreSQL in one transaction. Re-running a
window recomputes it whole. Events no registry version places in a space go to a lake quarantine.
Exit codes: 0 written, 3 stopped by the quality gate (PostgreSQL unchanged), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from smartspaces import lake
from smartspaces.config import load_settings
from smartspaces.connectors.delta import replace_where
from smartspaces.session import spark_session
from smartspaces.stages.enrichment.inputs import read_window_inputs
from smartspaces.stages.enrichment.quality import check_enriched
from smartspaces.stages.enrichment.quality.checks import check_severity_names
from smartspaces.stages.enrichment.report import newest_event_time, print_summary, window_predicate
from smartspaces.stages.enrichment.reporting.postgres_store import (
    fact_row_counts,
    record_failed_run,
    table_row_counts,
    write_window,
)
from smartspaces.stages.enrichment.reporting.runs import EnrichmentRun, Verdict
from smartspaces.stages.enrichment.reporting.staging import JdbcTuning
from smartspaces.stages.enrichment.window_args import add_window_arguments, window_from_arguments
from transformations.space_facts import ComfortBand
from transformations.star_schema import star_schema, unattributed_events

GATE_STOPPED = 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smartspaces run enrich", description=__doc__)
    parser.add_argument("--env", help="configuration environment (default: $SMARTSPACES_ENV or local)")
    add_window_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings(args.env)
    enrichment = settings.enrichment
    check_severity_names(enrichment.quality)  # a misspelt check name fails now, not after the work
    started = datetime.now(UTC)
    try:
        window = window_from_arguments(args, enrichment.time_zone, started)
    except ValueError as error:
        print(f"smartspaces run enrich: {error}", file=sys.stderr)
        return 2
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


if __name__ == "__main__":
    sys.exit(main())
