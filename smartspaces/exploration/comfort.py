"""A building's comfort per space and hour of a local day, from the reporting store's v_space_hourly (notebook 02)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import psycopg

from smartspaces.config import ComfortBands
from smartspaces.exploration.frames import query_frame
from transformations.contract import METRICS

TEMPERATURE = METRICS["temperature"].name
CO2 = METRICS["co2"].name
COMFORT_METRICS = (TEMPERATURE, CO2)
# The columns of every grid: the local hours of a day (a DST day repeats or skips one, see comfort_grid).
LOCAL_HOURS = list(range(24))

# Space-hours are (space, local hour) pairs: a DST day's repeated hour counts once, as in its grid.
FULLEST_BUILDING_DAY = """
SELECT building_id, local_date
FROM reporting.v_space_hourly
WHERE metric = ANY(%(metrics)s) AND building_id IS NOT NULL
  AND (%(building_id)s::text IS NULL OR building_id = %(building_id)s::text)
  AND (%(day)s::date IS NULL OR local_date = %(day)s::date)
GROUP BY building_id, local_date
ORDER BY count(DISTINCT (space_id, local_hour)) DESC, local_date DESC, building_id
LIMIT 1
"""

HOURLY_COMFORT = """
SELECT space_id, space_name, metric, local_hour, readings, value_avg
FROM reporting.v_space_hourly
WHERE building_id = %(building_id)s AND local_date = %(day)s AND metric = ANY(%(metrics)s)
ORDER BY space_id, metric, hour_start
"""


@dataclass(frozen=True)
class BuildingDay:
    """The building and local day (in the enrichment's time zone) a comfort map shows."""

    building_id: str
    day: date


def fullest_building_day(
    connection: psycopg.Connection[Any], building_id: str | None = None, day: date | None = None
) -> BuildingDay:
    """The building and day with the most space-hours of temperature or CO2 (the latest day on a tie).

    building_id, day: keep to this building or this day. Raises LookupError when the store has no such rows.
    """
    params = {"metrics": list(COMFORT_METRICS), "building_id": building_id, "day": day}
    row = connection.execute(FULLEST_BUILDING_DAY, params).fetchone()
    if row is None:
        raise LookupError(f"reporting.v_space_hourly has no temperature or CO2 rows for {building_id=} {day=}")
    return BuildingDay(row[0], row[1])


def hourly_comfort(connection: psycopg.Connection[Any], where: BuildingDay) -> pd.DataFrame:
    """The building day's hourly temperature and CO2 rows: space_id, space_name, metric, local_hour, readings,
    value_avg."""
    params = {"metrics": list(COMFORT_METRICS), "building_id": where.building_id, "day": where.day}
    return query_frame(connection, HOURLY_COMFORT, params)


def comfort_grid(hourly: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The hour's average `metric` reading per space (rows) and local hour 0..23 (columns); NaN where none.

    One row per space of `hourly` (of any metric, so the grids of one day line up), sorted by space_id. The
    hour a DST change repeats has two rows in the store: their averages are combined, weighted by readings.
    """
    spaces = sorted(hourly["space_id"].unique())
    rows = hourly[(hourly["metric"] == metric) & (hourly["readings"] > 0) & hourly["value_avg"].notna()]
    sums = (
        rows.assign(value_sum=rows["value_avg"] * rows["readings"])
        .groupby(["space_id", "local_hour"])[["value_sum", "readings"]]
        .sum()
    )
    averages = (sums["value_sum"] / sums["readings"]).unstack("local_hour") if len(sums) else pd.DataFrame()
    grid = averages.reindex(index=spaces, columns=LOCAL_HOURS).astype(float)
    grid.index.name, grid.columns.name = "space_id", "local_hour"
    return grid


def comfort_limits(bands: ComfortBands) -> dict[str, tuple[float | None, float | None]]:
    """The comfortable range (low, high; None: no bound) of each comfort metric, as the enrichment judges it."""
    return {TEMPERATURE: (bands.temperature_low_c, bands.temperature_high_c), CO2: (None, bands.co2_max_ppm)}


def outside_band(grid: pd.DataFrame, low: float | None, high: float | None) -> pd.DataFrame:
    """True for the cells of a grid below low or above high; False where the value is inside or missing."""
    outside = pd.DataFrame(False, index=grid.index, columns=grid.columns)
    if low is not None:
        outside |= grid < low
    if high is not None:
        outside |= grid > high
    return outside


def hours_outside_by_space(outside: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Hours outside the band per space (rows: the most hours in all first, then by space_id) and metric."""
    hours = pd.DataFrame({metric: mask.sum(axis="columns") for metric, mask in outside.items()})
    hours.columns.name = "metric"
    totals = hours.sum(axis="columns")
    order = sorted(hours.index, key=lambda space: (-totals[space], space))
    return hours.loc[order].astype(int)


def space_labels(hourly: pd.DataFrame, spaces: pd.Index) -> list[str]:
    """A label per space of a grid: its current name and its id ("Office 1.01 · b01-f1-s01"), or the id alone."""
    names = hourly.dropna(subset=["space_name"]).groupby("space_id")["space_name"].first()
    return [f"{names[space]} · {space}" if space in names.index else str(space) for space in spaces]


def comfort_summary(where: BuildingDay, grids: dict[str, pd.DataFrame], outside: dict[str, pd.DataFrame]) -> str:
    """The notebook's summary line: spaces, space-hours with a value and space-hours outside the band, per metric."""
    spaces = len(next(iter(grids.values())).index) if grids else 0
    hours = " ".join(f"{metric}={int(grid.notna().to_numpy().sum())}" for metric, grid in grids.items())
    uncomfortable = " ".join(f"{metric}={int(mask.to_numpy().sum())}" for metric, mask in outside.items())
    return f"comfort {where.building_id} {where.day}: spaces={spaces} space_hours {hours} outside_band {uncomfortable}"
