"""What an enrichment run reads: the registry histories, the window's events, critical events and alarms."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces import lake
from smartspaces.cassandra_tables import ALARMS, CRITICAL_EVENTS, EVENTS
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import read_cassandra, read_partitions
from smartspaces.connectors.delta import read_delta
from transformations.point_in_time import attribute_events
from transformations.report_window import ReportWindow
from transformations.window_partitions import ENERGY_LOOKBACK, event_partition_keys

EVENT_COLUMNS = ("device_id", "event_time", "event_id", "event_type", "metric", "value", "unit", "severity", "code")


@dataclass(frozen=True)
class WindowInputs:
    devices: DataFrame
    spaces: DataFrame
    # The window's events (and energy readings of the lookback before it), each with its space at its time.
    attributed_events: DataFrame
    critical_events: DataFrame
    # Every stored alarm: few next to events (one per condition episode), read whole and filtered in Spark.
    alarms: DataFrame


def read_window_events(devices: DataFrame, keyspace: str, window: ReportWindow) -> DataFrame:
    """The window's events, and energy readings of the lookback before it: the (device, UTC day) partitions of
    the registry's devices, never a scan; only the columns the enrichment uses."""
    earliest = F.lit(window.start - ENERGY_LOOKBACK)
    return read_partitions(
        devices.transform(event_partition_keys(window)),
        keyspace,
        EVENTS.name,
        where=(F.col("event_time") >= earliest) & (F.col("event_time") < F.lit(window.end)),
    ).select(*EVENT_COLUMNS)


def read_window_inputs(spark: SparkSession, settings: Settings, window: ReportWindow) -> WindowInputs:
    """Reads only the Cassandra partitions the window needs: (device, UTC day) and (space) keys, never a scan."""
    devices = read_delta(spark, lake.device_registry(settings.lake))
    spaces = read_delta(spark, lake.space_registry(settings.lake))
    keyspace = settings.cassandra.keyspace
    events = read_window_events(devices, keyspace, window)
    critical = read_partitions(
        spaces.select("space_id").distinct(),
        keyspace,
        CRITICAL_EVENTS.name,
        where=(F.col("event_time") >= F.lit(window.start)) & (F.col("event_time") < F.lit(window.end)),
    )
    raised_in_window = (F.col("raised_at") >= F.lit(window.start)) & (F.col("raised_at") < F.lit(window.end))
    alarms = read_cassandra(spark, keyspace, ALARMS.name).where(raised_in_window)
    return WindowInputs(devices, spaces, events.transform(attribute_events(devices, spaces)), critical, alarms)
