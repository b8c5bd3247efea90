"""A zone's UTC offsets over a span, from the rules the session's JVM applies (java.time's, as Spark does)."""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import SparkSession

from smartspaces.connectors.jvm import session_jvm
from transformations.local_time import UtcOffsets


def utc_offsets(spark: SparkSession, time_zone: str, start: datetime, end: datetime) -> UtcOffsets:
    """time_zone's offset at start and each change before end. From the JVM rather than Python's zoneinfo, whose
    time zone database may be of another release than the one Spark's own functions use."""
    jvm = session_jvm(spark)
    rules = jvm.org.apache.spark.sql.catalyst.util.DateTimeUtils.getZoneId(time_zone).getRules()
    at = jvm.java.time.Instant.ofEpochSecond(int(start.timestamp()))
    offsets = [int(rules.getOffset(at).getTotalSeconds())]
    changes: list[datetime] = []
    transition = rules.nextTransition(at)
    while transition is not None and transition.getInstant().getEpochSecond() < end.timestamp():
        changes.append(datetime.fromtimestamp(transition.getInstant().getEpochSecond(), UTC))
        offsets.append(int(transition.getOffsetAfter().getTotalSeconds()))
        transition = rules.nextTransition(transition.getInstant())
    return UtcOffsets(time_zone, start, end, tuple(offsets), tuple(changes))
