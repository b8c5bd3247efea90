"""The events' digest's first aggregation without Spark's sort: the partial half of "newest time and lists of
values per key" (transformations.event_digest.PartialLists) in the project's JVM class
(smartspaces/jvm: smartspaces.spark.PartialListAggregation).

Spark's collect_list holds 128 groups in its hash map and then sorts the task's whole input by the key. The
digest's input comes in (device, day) partitions in time order, so a task's open groups are those of the few
devices and hours it is reading: a map of OPEN_GROUPS holds them, and is emitted whole when it fills.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from smartspaces.connectors.jvm import session_jvm

# A device's day holds some 25 (hour, local day) groups per metric; the reads a task keeps in flight
# (cassandra.connector.concurrent.reads) interleave a few devices at most. Each open group holds an hour's values.
OPEN_GROUPS = 512


def jvm_partial_lists(frame: DataFrame, key_columns: int, open_groups: int = OPEN_GROUPS) -> DataFrame:
    """A PartialLists in the JVM: one row per key and run of the map (a key whose events are more than
    open_groups groups apart has a row per run), merged after the shuffle by merged_lists."""
    spark = frame.sparkSession
    aggregation = session_jvm(spark).smartspaces.spark.PartialListAggregation
    return DataFrame(aggregation.of(frame._jdf, key_columns, open_groups), spark)
