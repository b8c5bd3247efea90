"""One window's events, critical events and alarms → every table of the reporting star schema."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transformations.alarm_facts import alarm_facts
from transformations.building_facts import building_daily
from transformations.conform import conform_to
from transformations.critical_event_facts import critical_event_facts
from transformations.energy import energy_consumption
from transformations.event_digest import digest_energy_readings, digest_unattributed, in_window
from transformations.report_window import ReportWindow
from transformations.reporting_schemas import (
    ALARM,
    BUILDING_DAILY,
    CRITICAL_EVENT,
    DEVICE_DIMENSION,
    DIM_DEVICE,
    DIM_SPACE,
    SPACE_DAILY,
    SPACE_DIMENSION,
    SPACE_METRIC_HOURLY,
    ReportingTable,
)
from transformations.space_facts import (
    ComfortBand,
    capacity_by_day,
    comfort_by_day,
    critical_counts_by_day,
    energy_by_day,
    occupancy_by_day,
    space_daily,
    space_day_measures,
    space_metric_hourly_of_lists,
)

UNATTRIBUTED_REASON = "no_space_at_event_time"


def unattributed_events(digest: DataFrame, window: ReportWindow) -> DataFrame:
    """Events of the window that no device version places in a space (a retired or unregistered device), from
    the window's digest (transformations.event_digest)."""
    return (
        digest.transform(digest_unattributed).where(in_window(window)).withColumn("reason", F.lit(UNATTRIBUTED_REASON))
    )


@dataclass(frozen=True)
class StarSchema:
    """The window's tables, and the frames that more than one table is built on.

    A caller that computes the tables one after another keeps the shared frames (a cache) so that each is
    computed once: the hourly facts feed the daily ones, the critical events their own fact and the daily
    counts, the spaces' day measures both daily facts. `shared` is in the order they are built on each other
    (a frame only on those before it): a cache planned before the cache of a frame it reads would compute that
    frame again.
    """

    tables: dict[ReportingTable, DataFrame]
    shared: tuple[DataFrame, ...]


def star_schema(
    digest: DataFrame,
    critical_events: DataFrame,
    alarms: DataFrame,
    devices: DataFrame,
    spaces: DataFrame,
    window: ReportWindow,
    band: ComfortBand,
) -> StarSchema:
    """The facts and dimensions of one window.

    digest: the digest (transformations.event_digest) of the window's events and the energy readings of the
    lookback before it, attributed to their spaces (transformations.point_in_time.attribute_events);
    critical_events: rows of critical_events_by_space; alarms: rows of the alarms table (those raised in the
    window become facts).
    """
    zone = window.time_zone
    digest_in_window = digest.where(in_window(window))
    hourly = digest_in_window.transform(space_metric_hourly_of_lists(zone))
    # The lookback reading gives each meter's first reading in the window its increment; then it goes.
    readings = digest.transform(digest_energy_readings).transform(energy_consumption())
    energy = readings.where(in_window(window)).transform(energy_by_day(zone))
    critical = critical_events.where(in_window(window)).transform(critical_event_facts(spaces, zone))
    parts = [occupancy_by_day(hourly), hourly.transform(comfort_by_day(band)), energy, critical_counts_by_day(critical)]
    measures = space_day_measures(digest_in_window.transform(capacity_by_day(zone)), parts, window.whole_local_days)
    tables = {
        SPACE_METRIC_HOURLY: hourly,
        SPACE_DAILY: space_daily(measures),
        BUILDING_DAILY: building_daily(measures, hourly),
        CRITICAL_EVENT: critical,
        ALARM: alarms.where(in_window(window, "raised_at")).transform(alarm_facts(zone)),
        SPACE_DIMENSION: spaces.transform(conform_to(DIM_SPACE)),
        DEVICE_DIMENSION: devices.transform(conform_to(DIM_DEVICE)),
    }
    return StarSchema(tables, shared=(hourly, critical, measures))
