"""The change-feed source that the configuration names: the change log, or Cosmos DB's change feed."""

from __future__ import annotations

from cassandra.cluster import Session
from pyspark.sql import SparkSession

from smartspaces.config import Settings
from smartspaces.stages.changefeed.change_log import ChangeLogSource
from smartspaces.stages.changefeed.cosmos import CosmosChangeFeedSource
from smartspaces.stages.changefeed.source import ChangeFeedSource


def change_feed_source(
    spark: SparkSession, settings: Settings, session: Session, accept_gaps: bool = False
) -> ChangeFeedSource:
    """accept_gaps: go on past change-log batches that expired unread (after the operator replayed them)."""
    changefeed = settings.changefeed
    if changefeed.backend == "cosmos":
        return CosmosChangeFeedSource(spark, settings.cassandra, changefeed)
    return ChangeLogSource(
        spark,
        session,
        settings.cassandra.keyspace,
        changefeed.max_batches_per_trigger,
        changefeed.driver_read_max_rows,
        accept_gaps,
    )
