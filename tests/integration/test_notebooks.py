"""The notebooks run top to bottom against the local stack, each in its own kernel and Spark JVM.

Each notebook prints one summary line of what it computed; a test fills stores of its own with rows whose counts
are known, runs the notebook on them, and checks the line against those counts and against its own queries of
the same stores.
"""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path
from typing import Any

import nbformat
import redis
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import smoke
from smartspaces import lake
from smartspaces.config import PROJECT_ROOT, LakeSettings, PostgresSettings
from smartspaces.connectors.delta import read_delta
from smartspaces.connectors.postgres import connect
from smartspaces.notebooks import ThisInterpreterKernel, execute
from transformations.redis_keys import SPACE_CRITICAL_INDEX

SUMMARY_LINE = re.compile(r"^run \S+: cassandra=\d+ postgres_devices=\d+ redis_keys=\d+ delta=\d+$")
COMFORT_LINE = re.compile(
    r"^comfort (?P<building>\S+) (?P<day>\S+): spaces=(?P<spaces>\d+) space_hours temperature=(?P<temperature>\d+)"
    r" co2=(?P<co2>\d+) outside_band temperature=(?P<temperature_outside>\d+) co2=(?P<co2_outside>\d+)$"
)
CRITICAL_LINE = re.compile(
    r"^critical events: reported=(?P<reported>\d+) (?P<buildings>(\S+=\d+ )*)cached=(?P<cached>\d+)"
    r" cached_spaces=(?P<cached_spaces>\d+)$"
)
QUALITY_LINE = re.compile(
    r"^quality: quarantined=(?P<quarantined>\d+) reasons=(?P<reasons>\d+) periods=(?P<periods>\d+)"
    r" expectations=(?P<expectations>\d+) met=(?P<met>\d+) missed=(?P<missed>\d+)"
    r" not_applicable=(?P<not_applicable>\d+) runs=(?P<runs>\d+)$"
)


def run_notebook(name: str) -> list[str]:
    """Executes notebooks/<name> from the repository root; returns the lines it printed."""
    notebook = execute(nbformat.read(PROJECT_ROOT / "notebooks" / name, as_version=4))
    return [
        line
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stdout"
        for line in output.text.splitlines()
    ]


def summary(printed: list[str], pattern: re.Pattern[str]) -> re.Match[str]:
    """The one printed line that matches the summary pattern."""
    matches = [match for line in printed if (match := pattern.match(line))]
    assert len(matches) == 1, f"expected one summary line, printed: {printed}"
    return matches[0]


def counts(match: re.Match[str], *names: str) -> dict[str, int]:
    return {name: int(match[name]) for name in names}


def query(pg: PostgresSettings, statement: str) -> list[tuple[Any, ...]]:
    with connect(pg) as connection:
        return connection.execute(statement).fetchall()


def figures(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*.png") if path.stat().st_size > 0)


def test_the_kernel_runs_this_interpreter() -> None:
    spec = ThisInterpreterKernel(kernel_name="python3").kernel_spec
    assert spec is not None
    assert spec.argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]


def test_smoke_notebook_counts_the_newest_run_in_every_store(spark: SparkSession) -> None:
    # The spark fixture makes the job reuse the test session instead of starting (and stopping) its own.
    run_id = f"nb{uuid.uuid4().hex[:10]}"
    assert smoke.main(["--readings", "120", "--devices", "4", "--run-id", run_id]) == 0

    printed = run_notebook("01_smoke_flow.ipynb")

    assert [line for line in printed if SUMMARY_LINE.match(line)] == [
        f"run {run_id}: cassandra=120 postgres_devices=4 redis_keys=4 delta=120"
    ]


def test_comfort_notebook_maps_every_space_hour_of_the_fullest_building_day(
    comfort_rows: PostgresSettings, notebook_env: Path
) -> None:
    line = summary(run_notebook("02_building_comfort.ipynb"), COMFORT_LINE)

    assert (
        line[0]
        == "comfort b-north 2026-11-24: spaces=3 space_hours temperature=4 co2=3 outside_band temperature=2 co2=1"
    )
    [row] = query(
        comfort_rows,
        """SELECT count(DISTINCT space_id) FILTER (WHERE metric IN ('temperature', 'co2')),
                  count(DISTINCT (space_id, local_hour)) FILTER (WHERE metric = 'temperature'),
                  count(DISTINCT (space_id, local_hour)) FILTER (WHERE metric = 'co2'),
                  count(*) FILTER (WHERE metric = 'temperature' AND (value_avg < 20 OR value_avg > 24)),
                  count(*) FILTER (WHERE metric = 'co2' AND value_avg > 1000)
           FROM reporting.v_space_hourly WHERE building_id = 'b-north' AND local_date = '2026-11-24'""",
    )
    names = ("spaces", "temperature", "co2", "temperature_outside", "co2_outside")
    assert counts(line, *names) == dict(zip(names, row, strict=True))
    assert figures(notebook_env) == [
        "02_co2_by_space_and_hour.png",
        "02_hours_outside_by_space.png",
        "02_temperature_by_space_and_hour.png",
    ]


def test_critical_events_notebook_counts_each_building_in_the_reporting_store_and_the_cache(
    critical_rows: PostgresSettings, cached_events: redis.Redis, notebook_env: Path
) -> None:
    line = summary(run_notebook("03_critical_events.ipynb"), CRITICAL_LINE)

    assert line[0] == "critical events: reported=5 (none)=1 b-north=3 b-south=1 cached=4 cached_spaces=3"
    per_building = query(
        critical_rows,
        "SELECT coalesce(building_id, '(none)'), count(*) FROM reporting.v_critical_events GROUP BY 1 ORDER BY 1",
    )
    assert line["buildings"] == "".join(f"{building}={count} " for building, count in per_building)
    assert int(line["reported"]) == sum(count for _, count in per_building)
    indexes = list(cached_events.scan_iter(match=SPACE_CRITICAL_INDEX.format(space_id="*")))
    assert counts(line, "cached", "cached_spaces") == {
        "cached": sum(cached_events.zcard(key) for key in indexes),
        "cached_spaces": len(indexes),
    }
    assert figures(notebook_env) == [
        "03_cached_per_building_and_hour.png",
        "03_reported_and_cached_per_building.png",
        "03_reported_per_building_and_day.png",
        "03_reported_per_building_and_severity.png",
    ]


def test_data_quality_notebook_counts_quarantine_reasons_and_the_gates_outcomes(
    spark: SparkSession, quarantined: LakeSettings, quality_rows: PostgresSettings, notebook_env: Path
) -> None:
    line = summary(run_notebook("04_data_quality.ipynb"), QUALITY_LINE)

    assert line[0] == (
        "quality: quarantined=5 reasons=3 periods=2 expectations=5 met=3 missed=1 not_applicable=1 runs=3"
    )
    quarantine = read_delta(spark, lake.quarantined_events(quarantined))
    [row] = quarantine.agg(
        F.count("*").alias("quarantined"),
        F.countDistinct("reason").alias("reasons"),
        F.countDistinct(F.date_trunc("hour", "kafka_timestamp")).alias("periods"),
    ).collect()
    assert counts(line, "quarantined", "reasons", "periods") == row.asDict()
    [(expectations, met, missed, not_applicable)] = query(
        quality_rows,
        """SELECT count(*), count(*) FILTER (WHERE success), count(*) FILTER (WHERE NOT success),
                  count(*) FILTER (WHERE success IS NULL)
           FROM reporting.v_data_quality""",
    )
    [(runs,)] = query(quality_rows, "SELECT count(*) FROM reporting.v_enrichment_runs")
    assert counts(line, "expectations", "met", "missed", "not_applicable", "runs") == {
        "expectations": expectations,
        "met": met,
        "missed": missed,
        "not_applicable": not_applicable,
        "runs": runs,
    }
    assert figures(notebook_env) == [
        "04_enrichment_runs.png",
        "04_expectations_by_table_and_outcome.png",
        "04_quarantine_by_reason.png",
        "04_quarantine_by_reason_and_period.png",
    ]
