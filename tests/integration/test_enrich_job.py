"""The enrichment job end to end on the real stack: lake registry → Cassandra events → gate → PostgreSQL.

Hand-made events of one local day (10 March 2026, UTC+1 in Amsterdam) with hand-computed facts.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import enrich, reference
from smartspaces import lake
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import write_cassandra
from smartspaces.connectors.delta import read_delta
from smartspaces.connectors.postgres import connect
from smartspaces.stages.enrichment.service import GATE_STOPPED

DAY = date(2026, 3, 10)
# March: older than the critical events' 30 days in Cassandra, so the run says it means it (the test writes them now).
WINDOW_ARGS = ["--date", DAY.isoformat(), "--past-critical-ttl"]


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute)


def write_drop(folder: Path, ids: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    (folder / "spaces.csv").write_text(
        "space_id,campus_id,building_id,floor,name,space_type,area_m2,capacity,tenant\n"
        f"{ids['r1']},c1,{ids['b1']},1,Office 1,office,32.0,4,Acme\n"
        f"{ids['r2']},c1,{ids['b1']},1,Meeting 2,meeting_room,25.0,10,Acme\n",
        encoding="utf-8",
    )
    (folder / "devices.csv").write_text(
        "device_id,space_id,device_type,model,installed_at,retired_at\n"
        f"{ids['t1']},{ids['r1']},temperature,T2,2025-01-01T00:00:00Z,\n"
        f"{ids['o1']},{ids['r1']},occupancy,P7,2025-01-01T00:00:00Z,\n"
        f"{ids['c1']},{ids['r1']},co2,C400,2025-01-01T00:00:00Z,\n"
        f"{ids['m1']},{ids['r1']},energy,E3,2025-01-01T00:00:00Z,\n"
        f"{ids['o2']},{ids['r2']},occupancy,P7,2025-01-01T00:00:00Z,\n"
        # Retired at 08:00 UTC on the day: its 09:00 reading belongs to no space.
        f"{ids['c2']},{ids['r2']},co2,C400,2025-01-01T00:00:00Z,2026-03-10T08:00:00Z\n",
        encoding="utf-8",
    )
    return folder


def telemetry(ids: dict[str, str], device: str, when: datetime, metric: str, value: float) -> tuple[Any, ...]:
    unit = {"temperature": "celsius", "occupancy": "count", "co2": "ppm", "energy": "kWh"}[metric]
    return (ids[device], when, str(uuid.uuid4()), "telemetry", metric, value, unit)


def write_events(spark: SparkSession, settings: Settings, rows: list[tuple[Any, ...]]) -> None:
    events = spark.createDataFrame(
        rows,
        "device_id string, event_time timestamp, event_id string, event_type string, metric string, "
        "value double, unit string",
    ).select(
        "*",
        F.to_date("event_time").alias("day"),
        F.lit(1).alias("schema_version"),
        F.current_timestamp().alias("ingest_time"),
    )
    write_cassandra(events, settings.cassandra.keyspace, "events_by_device_day")


def the_day(ids: dict[str, str]) -> list[tuple[Any, ...]]:
    return [
        telemetry(ids, "o1", at(8, 10), "occupancy", 2.0),
        telemetry(ids, "o1", at(8, 40), "occupancy", 3.0),
        telemetry(ids, "o1", at(9, 10), "occupancy", 4.0),
        telemetry(ids, "o1", at(9, 40), "occupancy", 0.0),
        telemetry(ids, "t1", at(8, 15), "temperature", 21.0),
        telemetry(ids, "t1", at(8, 45), "temperature", 22.0),
        telemetry(ids, "t1", at(9, 15), "temperature", 25.0),
        telemetry(ids, "t1", at(9, 45), "temperature", 25.0),
        telemetry(ids, "c1", at(8, 20), "co2", 800.0),
        telemetry(ids, "c1", at(9, 20), "co2", 1200.0),
        # The evening before (21:00 local): the reading that the day's first increment starts from.
        telemetry(ids, "m1", at(20, day=9), "energy", 100.0),
        telemetry(ids, "m1", at(8), "energy", 104.0),
        telemetry(ids, "m1", at(12), "energy", 110.0),
        telemetry(ids, "o2", at(9, 5), "occupancy", 6.0),
        telemetry(ids, "c2", at(9), "co2", 640.0),
    ]


def write_critical_event(spark: SparkSession, settings: Settings, ids: dict[str, str]) -> None:
    row = (
        ids["r1"],
        at(9, 30),
        str(uuid.uuid4()),
        ids["o1"],
        "over_capacity",
        1,
        "critical",
        "occupancy",
        5.0,
        "count",
        None,
        "Crowded",
        str(uuid.uuid4()),
        at(9, 31),
    )
    schema = (
        "space_id string, event_time timestamp, critical_event_id string, device_id string, rule_id string, "
        "rule_version int, severity string, metric string, value double, unit string, code string, message string, "
        "source_event_id string, detected_at timestamp"
    )
    write_cassandra(spark.createDataFrame([row], schema), settings.cassandra.keyspace, "critical_events_by_space")


def reporting_rows(settings: Settings, ids: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every fact row of this test's spaces and building, ordered: the window's whole content."""
    spaces, building = [ids["r1"], ids["r2"]], ids["b1"]
    queries = {
        "fact_space_metric_hourly": ("space_id = ANY(%s)", spaces, "space_id, metric, hour_start"),
        "fact_space_daily": ("space_id = ANY(%s)", spaces, "space_id, local_date"),
        "fact_critical_event": ("space_id = ANY(%s)", spaces, "critical_event_id"),
        "fact_building_daily": ("building_id = %s", building, "building_id, local_date"),
    }
    with connect(settings.postgres) as connection:
        return {
            table: connection.execute(
                f"SELECT * FROM reporting.{table} WHERE {where} ORDER BY {order}", (value,)
            ).fetchall()
            for table, (where, value, order) in queries.items()
        }


def last_run(settings: Settings) -> tuple[Any, ...]:
    with connect(settings.postgres) as connection:
        row = connection.execute(
            "SELECT run_id, verdict, data_docs FROM reporting.enrichment_runs WHERE window_start = %s "
            "ORDER BY started_at DESC LIMIT 1",
            (datetime(2026, 3, 9, 23).isoformat() + "+00:00",),
        ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.fixture
def enriched_day(spark: SparkSession, ingest_settings: Settings, tmp_path: Path) -> tuple[Settings, dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    ids = {name: f"{name}-{suffix}" for name in ("b1", "r1", "r2", "t1", "o1", "c1", "m1", "o2", "c2")}
    drop = write_drop(tmp_path / "drop", ids)
    assert reference.main(["--drop", str(drop), "--effective-at", "2026-01-01T00:00:00+00:00"]) == 0
    write_events(spark, ingest_settings, the_day(ids))
    write_critical_event(spark, ingest_settings, ids)
    return ingest_settings, ids


def test_a_day_is_enriched_into_the_star_schema_and_a_rerun_leaves_identical_content(
    enriched_day: tuple[Settings, dict[str, str]], spark: SparkSession
) -> None:
    settings, ids = enriched_day
    assert enrich.main(WINDOW_ARGS) == 0
    first = reporting_rows(settings, ids)

    r1, r2, b1 = ids["r1"], ids["r2"], ids["b1"]
    daily = [row[:15] for row in first["fact_space_daily"]]
    assert daily == [
        # peak 4, average (2.5*2 + 2*2) / 4 readings = 2.25; energy (104 - 100) + (110 - 104) = 10 kWh;
        # occupied at 08 and 09 UTC; comfortable temperature and CO2 at 08 only; one critical event.
        (r1, b1, DAY, 4, 4.0, 2.25, 1.0, 0.5625, 10.0, 2, 0.5, 0.5, 1, 0, 0),
        (r2, b1, DAY, 10, 6.0, 6.0, 0.6, 0.6, None, 1, None, None, 0, 0, 0),
    ]
    building = [row[:13] for row in first["fact_building_daily"]]
    # At 09 UTC 4 + 6 people were in at once.
    assert building == [(b1, DAY, 2, 14, 10.0, 8.25 / 14, 10.0, 3, 0.5, 0.5, 1, 0, 0)]
    occupancy_r1 = [
        (row[4].hour, *row[6:11], round(row[11], 9))
        for row in first["fact_space_metric_hourly"]
        if row[0] == r1 and row[2] == "occupancy"
    ]
    # (UTC hour, local hour, readings, min, max, avg, p95); p95 interpolates: 2 + 0.95 * 1, then 0 + 0.95 * 4.
    assert occupancy_r1 == [(8, 9, 2, 2.0, 3.0, 2.5, 2.95), (9, 10, 2, 0.0, 4.0, 2.0, 3.8)]
    assert [(row[1], row[3]) for row in first["fact_critical_event"]] == [(r1, ids["o1"])]

    # The retired meter's reading after its retirement is quarantined in the lake, with its reason.
    quarantined = read_delta(spark, lake.unattributed_events(settings.lake)).where(F.col("device_id") == ids["c2"])
    assert [(row.value, row.reason) for row in quarantined.collect()] == [(640.0, "no_space_at_event_time")]

    assert enrich.main(WINDOW_ARGS) == 0
    assert reporting_rows(settings, ids) == first
    assert last_run(settings)[1] in ("passed", "warned")


def test_a_failing_gate_stops_the_write_and_the_report_says_why(
    enriched_day: tuple[Settings, dict[str, str]], spark: SparkSession
) -> None:
    settings, ids = enriched_day
    assert enrich.main(WINDOW_ARGS) == 0
    before = reporting_rows(settings, ids)

    # A reading no thermometer can give: 500 °C (written straight to Cassandra, past the ingest's checks).
    write_events(spark, settings, [telemetry(ids, "t1", at(10, 5), "temperature", 500.0)])
    assert enrich.main(WINDOW_ARGS) == GATE_STOPPED

    assert reporting_rows(settings, ids) == before
    run_id, verdict, data_docs = last_run(settings)
    assert verdict == "failed"
    with connect(settings.postgres) as connection:
        failed = connection.execute(
            "SELECT expectation, table_name, severity FROM reporting.dq_results WHERE run_id = %s AND NOT success",
            (run_id,),
        ).fetchall()
    assert ("value_range", "fact_space_metric_hourly", "fail") in failed
    assert data_docs and "value_range" in Path(data_docs).read_text(encoding="utf-8")
