"""Data quality: why the ingest quarantined messages, over time (the lake's quarantine table), and what the
enrichment's quality gate found (the reporting store's v_data_quality and v_enrichment_runs) (notebook 04)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import psycopg
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from smartspaces.exploration.frames import query_frame
from transformations.quarantine import QuarantineReason

# The expectations of the latest run of each window, and every run.
QUALITY_RESULTS = """
SELECT window_start, window_end, run_id::text, verdict, table_name, column_name, expectation, severity, success,
       observed
FROM reporting.v_data_quality
ORDER BY window_start, table_name, expectation, column_name
"""
ENRICHMENT_RUNS = """
SELECT run_id::text, window_start, window_end, started_at, verdict
FROM reporting.v_enrichment_runs
ORDER BY started_at, run_id
"""


class Outcome(StrEnum):
    """What became of an expectation in a run: met, missed, or not applicable (success is null)."""

    MET = "met"
    MISSED = "missed"
    NOT_APPLICABLE = "not_applicable"


def quarantine_by_reason(quarantine: DataFrame, unit: str = "hour") -> DataFrame:
    """Quarantined messages per reason and arrival period (Kafka timestamp truncated to `unit`, e.g. hour or day,
    in the session's time zone, UTC): reason, arrived, messages. Small: a row per reason and period."""
    return quarantine.groupBy("reason", F.date_trunc(unit, "kafka_timestamp").alias("arrived")).agg(
        F.count("*").alias("messages")
    )


def reason_period_grid(counts: pd.DataFrame) -> pd.DataFrame:
    """Quarantined messages per reason (rows) and arrival period (columns, oldest first; 0 where none). Reasons in
    the order the ingest checks them (QuarantineReason), then any reason it no longer knows."""
    grid = counts.pivot_table(index="reason", columns="arrived", values="messages", aggfunc="sum", fill_value=0)
    known = [reason.value for reason in QuarantineReason if reason.value in grid.index]
    grid = grid.reindex(index=known + sorted(set(grid.index) - set(known))).sort_index(axis="columns")
    return grid.astype(int)


def quality_results(connection: psycopg.Connection[Any]) -> pd.DataFrame:
    """The expectations of the latest run of each window (v_data_quality), with their Outcome."""
    results = query_frame(connection, QUALITY_RESULTS)
    return results.assign(outcome=[outcome_of(success).value for success in results["success"]])


def outcome_of(success: bool | None) -> Outcome:
    """An expectation's outcome from its success flag (null: it did not apply to the run)."""
    if success is None or pd.isna(success):
        return Outcome.NOT_APPLICABLE
    return Outcome.MET if success else Outcome.MISSED


def outcomes_by_table(results: pd.DataFrame) -> pd.DataFrame:
    """Expectations per table (rows) and outcome (columns: met, missed, not applicable)."""
    counts = results.groupby(["table_name", "outcome"]).size().unstack("outcome", fill_value=0)
    return counts.reindex(columns=[outcome.value for outcome in Outcome], fill_value=0).sort_index().astype(int)


def missed_expectations(results: pd.DataFrame) -> pd.DataFrame:
    """The expectations missed, newest window first: what a report reader should know about their figures."""
    missed = results[results["outcome"] == Outcome.MISSED]
    columns = ["window_start", "table_name", "column_name", "expectation", "severity", "observed"]
    return missed.sort_values(["window_start", "table_name"], ascending=[False, True])[columns]


def enrichment_runs(connection: psycopg.Connection[Any]) -> pd.DataFrame:
    """Every enrichment run, oldest first: run_id, window_start, window_end, started_at, verdict, and window (its
    window as text, "2026-11-30 23:00 → 2026-12-01 23:00 UTC")."""
    runs = query_frame(connection, ENRICHMENT_RUNS)
    return runs.assign(
        window=[window_label(start, end) for start, end in zip(runs["window_start"], runs["window_end"], strict=True)]
    )


def window_label(start: datetime, end: datetime) -> str:
    """A window's instants as UTC text."""
    utc = [instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M") for instant in (start, end)]
    return f"{utc[0]} → {utc[1]} UTC"


def quality_summary(reasons: pd.DataFrame, results: pd.DataFrame, runs: pd.DataFrame) -> str:
    """The notebook's summary line: quarantined messages, reasons and periods, expectation outcomes, runs."""
    outcomes = results["outcome"].value_counts()
    counted = " ".join(f"{outcome.value}={int(outcomes.get(outcome.value, 0))}" for outcome in Outcome)
    quarantine = (
        f"quarantined={int(reasons.to_numpy().sum())} reasons={len(reasons.index)} periods={len(reasons.columns)}"
    )
    return f"quality: {quarantine} expectations={len(results)} {counted} runs={len(runs)}"
