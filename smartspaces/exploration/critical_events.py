"""Critical events and alarms per building over time: the reporting store's v_critical_events beside the
critical events the Redis cache holds per space (notebook 03). docs/redis-keys.md describes the keys."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import psycopg
import redis

from smartspaces.exploration.frames import query_frame
from transformations.contract import Severity
from transformations.redis_keys import SPACE_CRITICAL_EVENTS, SPACE_CRITICAL_INDEX

# The label of events whose space belongs to no building (or to none the reporting store knows).
NO_BUILDING = "(none)"
# Most severe first: the order of the bars and of the columns.
SEVERITY_ORDER = (Severity.CRITICAL.value, Severity.WARNING.value, Severity.INFO.value)
# The columns of a critical-event frame, from either store.
EVENT_COLUMNS = ["critical_event_id", "building_id", "space_id", "rule_id", "severity", "event_time"]

REPORTED_EVENTS = """
SELECT critical_event_id::text, building_id, space_id, rule_id, severity, event_time, local_date
FROM reporting.v_critical_events
ORDER BY event_time, critical_event_id
"""
# The building of each space, in its current version.
SPACE_BUILDINGS = "SELECT space_id, building_id FROM reporting.v_space"
# Keys per SCAN round trip, and spaces per pipelined round trip when reading the cache.
SCAN_COUNT = 1000
SPACES_PER_ROUND_TRIP = 500


def reported_critical_events(connection: psycopg.Connection[Any]) -> pd.DataFrame:
    """Every critical event of the reporting store, oldest first (EVENT_COLUMNS and local_date)."""
    events = query_frame(connection, REPORTED_EVENTS)
    return events.assign(building_id=events["building_id"].fillna(NO_BUILDING))


def events_per_building_day(events: pd.DataFrame) -> pd.DataFrame:
    """Critical events per local day (rows: every day from the first to the last with any) and building (columns);
    0 where there were none."""
    counts = events.groupby(["local_date", "building_id"]).size().unstack("building_id", fill_value=0)
    every_day = pd.Index(days_between(min(counts.index), max(counts.index)) if len(counts) else [], name="local_date")
    return counts.reindex(index=every_day, columns=sorted(counts.columns), fill_value=0).astype(int)


def days_between(first: date, last: date) -> list[date]:
    """The days from first to last, both included."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def events_per_building_hour(events: pd.DataFrame) -> pd.DataFrame:
    """Critical events per UTC hour (rows: every hour from the first to the last with any) and building (columns);
    0 where there were none."""
    hours = pd.to_datetime(events["event_time"], utc=True).dt.floor("h").rename("hour")
    counts = events.groupby([hours, events["building_id"]]).size().unstack("building_id", fill_value=0)
    every_hour = pd.date_range(counts.index.min(), counts.index.max(), freq="h", name="hour") if len(counts) else []
    return counts.reindex(index=every_hour, columns=sorted(counts.columns), fill_value=0).astype(int)


def events_per_building_severity(events: pd.DataFrame) -> pd.DataFrame:
    """Critical events per building (rows) and severity (columns: most severe first, then any other)."""
    counts = events.groupby(["building_id", "severity"]).size().unstack("severity", fill_value=0)
    severities = [s for s in SEVERITY_ORDER if s in counts.columns] + sorted(set(counts.columns) - set(SEVERITY_ORDER))
    return counts.sort_index().reindex(columns=severities).astype(int)


def space_of_critical_index(key: str) -> str:
    """The space_id of a critical-event index key (SPACE_CRITICAL_INDEX)."""
    prefix, suffix = SPACE_CRITICAL_INDEX.split("{space_id}")
    if not (key.startswith(prefix) and key.endswith(suffix)):
        raise ValueError(f"not a critical-event index key: {key!r}")
    return key[len(prefix) : len(key) - len(suffix)]


def cached_critical_events(client: redis.Redis) -> pd.DataFrame:
    """The critical events cached for every space (its newest K within the TTL), as EVENT_COLUMNS without the
    building (None); event_time as UTC. Reads each space's events hash, which holds exactly its index's events."""
    pattern = SPACE_CRITICAL_INDEX.format(space_id="*")
    spaces = sorted(space_of_critical_index(key) for key in client.scan_iter(match=pattern, count=SCAN_COUNT))
    events: list[dict[str, Any]] = []
    for start in range(0, len(spaces), SPACES_PER_ROUND_TRIP):
        pipeline = client.pipeline(transaction=False)
        for space_id in spaces[start : start + SPACES_PER_ROUND_TRIP]:
            pipeline.hvals(SPACE_CRITICAL_EVENTS.format(space_id=space_id))
        for values in pipeline.execute():
            events.extend(json.loads(value) for value in values)
    cached = pd.DataFrame.from_records(events, columns=[c for c in EVENT_COLUMNS if c != "building_id"])
    cached["event_time"] = pd.to_datetime(cached["event_time"], utc=True, format="ISO8601")
    ordered = cached.assign(building_id=None)[EVENT_COLUMNS].sort_values(["event_time", "critical_event_id"])
    return ordered.reset_index(drop=True)


def space_buildings(connection: psycopg.Connection[Any]) -> dict[str, str]:
    """The building of each space the reporting store knows (its current version)."""
    return {space_id: building_id for space_id, building_id in connection.execute(SPACE_BUILDINGS) if building_id}


def with_buildings(cached: pd.DataFrame, buildings: dict[str, str]) -> pd.DataFrame:
    """The cached events with the building of their space (NO_BUILDING for a space of no known building)."""
    return cached.assign(building_id=cached["space_id"].map(buildings).fillna(NO_BUILDING))


def reported_and_cached(reported: pd.DataFrame, cached: pd.DataFrame) -> pd.DataFrame:
    """Critical events per building (rows) in the reporting store and in the cache (columns reported, cached)."""
    counts = pd.DataFrame(
        {"reported": reported.groupby("building_id").size(), "cached": cached.groupby("building_id").size()}
    )
    counts.columns.name = "store"
    return counts.fillna(0).astype(int).sort_index()


def critical_events_summary(per_building: pd.DataFrame, cached: pd.DataFrame) -> str:
    """The notebook's summary line: reported events in all and per building, cached events and their spaces."""
    totals = per_building.sum()
    reported = [f"reported={int(totals.sum())}", *(f"{building}={int(count)}" for building, count in totals.items())]
    cached_counts = [f"cached={len(cached)}", f"cached_spaces={cached['space_id'].nunique()}"]
    return "critical events: " + " ".join([*reported, *cached_counts])
