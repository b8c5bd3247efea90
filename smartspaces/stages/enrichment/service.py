"""The batch enrichment as it runs: read a window, attribute, build the star schema, gate it, write it."""

from __future__ import annotations

import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from smartspaces import lake, progress
from smartspaces.config import Settings
from smartspaces.connectors.delta import replace_where
from smartspaces.partial_lists import jvm_partial_lists
from smartspaces.session import job_overrides, runtime_conf, spark_session
from smartspaces.stages.enrichment.inputs import read_window_inputs
from smartspaces.stages.enrichment.memory import enrichment_spark_conf
from smartspaces.stages.enrichment.quality.outcomes import Verdict
from smartspaces.stages.enrichment.report import newest_event_time, print_summary, window_predicate
from smartspaces.stages.enrichment.reporting.postgres_store import (
    WindowNotWrittenError,
    fact_row_counts,
    record_failed_run,
    table_row_counts,
    write_window,
)
from smartspaces.stages.enrichment.reporting.runs import EnrichmentRun
from smartspaces.stages.enrichment.reporting.staging_copy import CopyStagingWriter
from smartspaces.stages.enrichment.utc_offsets import utc_offsets
from transformations.event_digest import event_digest
from transformations.report_window import ReportWindow
from transformations.reporting_schemas import ReportingTable
from transformations.space_facts import ComfortBand
from transformations.star_schema import StarSchema, star_schema, unattributed_events

# The exit code of a run the quality gate stopped (PostgreSQL unchanged).
GATE_STOPPED = 3
# The exit code of a run whose write was refused (PostgreSQL unchanged, the run recorded failed): run it again.
WRITE_FAILED = 4


def run_enrichment(settings: Settings, window: ReportWindow, started: datetime) -> int:
    """Enriches the window; 0 when written, GATE_STOPPED when the quality gate stopped the write, WRITE_FAILED
    when the swap did not happen (staged rows lost, the reporting lock held too long: the window unchanged,
    the run recorded failed)."""
    enrichment = settings.enrichment
    run_id = uuid.uuid4()
    print(f"enrichment run {run_id}: window {window.describe()}")
    with spark_session(settings, "smartspaces-enrich", enrichment_spark_conf(enrichment)) as spark:
        with progress.step("enrich: read"):
            inputs = read_window_inputs(spark, settings, window)
        with progress.step("enrich: attribute") as attributing:
            # The events are read once and kept only as their digest, which the quarantine, every fact and the
            # freshness check read; on local disk, not in the heap, so the driver's memory stays flat.
            offsets = utc_offsets(spark, window.time_zone, window.start, window.end)
            digest = inputs.attributed_events.transform(event_digest(window, offsets, jvm_partial_lists))
            digest = digest.persist(StorageLevel.DISK_ONLY)
            unattributed = unattributed_events(digest, window).persist()
            replace_where(unattributed, lake.unattributed_events(settings.lake), window_predicate(window))
            unattributed_count = unattributed.count()
            attributing.detail = f"{unattributed_count} events placed in no space"
        with progress.step("enrich: facts", unit="tables") as building:
            band = ComfortBand(**enrichment.comfort.model_dump())
            schema = star_schema(
                digest, inputs.critical_events, inputs.alarms, inputs.devices, inputs.spaces, window, band
            )
            with runtime_conf(spark, job_overrides(settings, facts_conf(spark))):
                tables, table_rows = computed_tables(schema, building)
            previous = fact_row_counts(settings.postgres, window.previous())
        with progress.step("enrich: quality gate") as gating:
            # Here, not at the module's top: importing Great Expectations takes seconds (quality/__init__.py).
            from smartspaces.stages.enrichment.quality.gate import check_enriched

            gate = check_enriched(
                tables,
                enrichment.quality,
                window,
                previous,
                newest_event_time(digest, window),
                run_id,
                table_rows=table_rows,
            )
            gating.detail = gate.verdict.value
        run = EnrichmentRun(run_id, window, started, gate.verdict, datetime.now(UTC), gate.results, gate.data_docs)
        if gate.verdict == Verdict.FAILED:
            record_failed_run(settings.postgres, run)
            print_summary(run, gate.reasons, unattributed_count, {}, {})
            return GATE_STOPPED
        with progress.step("enrich: write", unit="rows", show_rate=False) as writing:
            try:
                writer = CopyStagingWriter(settings.postgres, enrichment.write_connections)
                written = write_window(tables, window, settings.postgres, writer, run)
            except WindowNotWrittenError as lost:
                record_failed_run(settings.postgres, replace(run, verdict=Verdict.FAILED, failure=str(lost)))
                print(f"enrichment run {run_id}: not written: {lost}", file=sys.stderr)
                return WRITE_FAILED
            writing.update(sum(written.values()), detail=f"{len(written)} tables")
        print_summary(run, gate.reasons, unattributed_count, written, table_row_counts(settings.postgres))
    return 0


def facts_conf(spark: SparkSession) -> dict[str, str]:
    """The session's settings while the tables are computed: plans fixed when a query starts, its shuffles in as
    many partitions as the executors have cores.

    The tables are thousands of rows built from a digest of some hundred thousand: adaptive execution, which
    re-plans a query at each exchange (a job for each), cost more there than it saved, and tables this small
    need no more tasks than there are cores (spark.shuffle_partitions is twice that locally). Measured on a
    week of 10 M events, alternated with the session's settings (docs/enrichment.md, Where the time goes).
    """
    return {
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.shuffle.partitions": str(spark.sparkContext.defaultParallelism),
    }


def computed_tables(
    schema: StarSchema, building: progress.Step
) -> tuple[dict[ReportingTable, DataFrame], dict[ReportingTable, int]]:
    """Each table computed now and kept for the gate and the write, and its rows counted (the facts step
    shows them; the gate decides by them where it checks the table).

    Each table is computed once, into a local checkpoint: its rows with the plan cut to them, so that each of
    the gate's and the write's many small queries is planned over a few rows rather than over the whole
    enrichment. The frames that more than one table is built on (the hourly facts, the spaces' day measures)
    are cached while the tables are computed, so that each is computed once too.
    """
    tables = schema.tables
    building.update(total=len(tables))
    # Cached in the order they build on each other (each cache is planned when it is asked for).
    shared = [part.persist() for part in schema.shared]
    kept: dict[ReportingTable, DataFrame] = {}
    counted: dict[ReportingTable, int] = {}
    for table, rows in tables.items():
        kept[table] = rows.localCheckpoint(eager=True)
        counted[table] = kept[table].count()
        building.update(len(kept), detail=f"{sum(counted.values())} rows")
    for part in shared:
        part.unpersist()
    return kept, counted
