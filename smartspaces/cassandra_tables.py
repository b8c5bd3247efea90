"""The Cassandra tables of the platform: names and row layouts, in one place (like `lake.py` for Delta).

The CQL files under `bootstrap/cassandra/` create them; a test holds this catalog against those files, so a
column added there and not here (or the reverse) fails the suite instead of a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class CassandraTable:
    """A table's name, its key and every column with its CQL type, in the CQL file's order; its rows' default
    time to live, if they expire."""

    name: str
    partition_key: tuple[str, ...]
    clustering_key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]
    ttl: timedelta | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def primary_key(self) -> tuple[str, ...]:
        return self.partition_key + self.clustering_key

    def qualified(self, keyspace: str) -> str:
        return f"{keyspace}.{self.name}"


def _columns(text: str) -> tuple[tuple[str, str], ...]:
    """`name type, name type` as pairs; types such as `map<text, text>` keep their comma."""
    pairs: list[tuple[str, str]] = []
    for line in text.strip().splitlines():
        name, cql_type = line.strip().rstrip(",").split(" ", 1)
        pairs.append((name, cql_type))
    return tuple(pairs)


SMOKE_READINGS = CassandraTable(
    "smoke_readings",
    ("device_id", "day"),
    ("event_time", "reading_id"),
    _columns("""
        device_id text
        day date
        event_time timestamp
        reading_id text
        run_id text
        metric text
        value double
        kafka_partition int
        kafka_offset bigint
    """),
)

# Validated device events, by device and UTC day: the ingest writes them, everything downstream reads them.
EVENTS = CassandraTable(
    "events_by_device_day",
    ("device_id", "day"),
    ("event_time", "event_id"),
    _columns("""
        device_id text
        day date
        event_time timestamp
        event_id uuid
        schema_version int
        event_type text
        metric text
        value double
        unit text
        severity text
        code text
        attributes map<text, text>
        kafka_topic text
        kafka_partition int
        kafka_offset bigint
        ingest_time timestamp
    """),
)

# Each stored event id and the fingerprint of its first content: the ingest's check for conflicting duplicates.
EVENT_IDS = CassandraTable(
    "event_ids",
    ("event_id",),
    (),
    _columns("""
        event_id uuid
        fingerprint bigint
        device_id text
        event_time timestamp
        kafka_topic text
        kafka_partition int
        kafka_offset bigint
    """),
)

# When events of each hour of event time were last stored: which days the enrichment's catch-up re-enriches.
RECEIVED_HOURS = CassandraTable(
    "received_hours",
    ("day",),
    ("hour",),
    _columns("""
        day date
        hour timestamp
        last_received timestamp
    """),
    ttl=timedelta(days=35),
)

# The change feed of open-source Cassandra: the ingest writes each batch, then its commit marker.
CHANGE_LOG = CassandraTable(
    "change_log",
    ("writer_id", "batch_id"),
    ("device_id", "event_time", "event_id"),
    _columns("""
        writer_id text
        batch_id bigint
        device_id text
        event_time timestamp
        event_id uuid
        day date
        event_type text
        metric text
        value double
        unit text
        severity text
        code text
        ingest_time timestamp
    """),
    ttl=timedelta(days=7),
)

# A change-log reader's position for a writer it has not read yet: before the writer's first batch.
NO_BATCH = -1

CHANGE_LOG_COMMITS = CassandraTable(
    "change_log_commits",
    ("writer_id",),
    ("batch_id",),
    _columns("""
        writer_id text
        batch_id bigint
        events int
        committed_at timestamp
        previous_batch_id bigint
    """),
    ttl=timedelta(days=7),
)

CHANGE_FEED_CHECKPOINTS = CassandraTable(
    "change_feed_checkpoints",
    ("consumer",),
    ("source",),
    _columns("""
        consumer text
        source text
        position text
        updated_at timestamp
        lease_holder uuid static
        lease_owner text static
        lease_until timestamp static
    """),
)

CHANGE_FEED_CACHE_DEBT = CassandraTable(
    "change_feed_cache_debt",
    ("consumer",),
    ("redis_key",),
    _columns("""
        consumer text
        redis_key text
        since timestamp
    """),
)

RULE_STATE = CassandraTable(
    "rule_state",
    ("consumer",),
    ("device_id", "rule_id"),
    _columns("""
        consumer text
        device_id text
        rule_id text
        run_start timestamp
        run_readings int
        last_event_time timestamp
        fired boolean
    """),
)

CRITICAL_EVENTS = CassandraTable(
    "critical_events_by_space",
    ("space_id",),
    ("event_time", "critical_event_id"),
    _columns("""
        space_id text
        event_time timestamp
        critical_event_id uuid
        device_id text
        rule_id text
        rule_version int
        severity text
        metric text
        value double
        unit text
        code text
        message text
        source_event_id uuid
        detected_at timestamp
    """),
    ttl=timedelta(days=30),
)

# An alarm's lifecycle columns (the change feed writes them) and its acknowledgement's (the read API writes them).
ALARM_LIFECYCLE_COLUMNS = (
    "rule_id",
    "rule_version",
    "scope",
    "source_id",
    "building_id",
    "space_id",
    "device_id",
    "severity",
    "raised_severity",
    "message",
    "metric",
    "raised_at",
    "escalated_at",
    "cleared_at",
    "peak_value",
    "last_value",
)
ALARM_ACKNOWLEDGEMENT_COLUMNS = ("acknowledged_at", "acknowledged_by")
_ALARM_TYPES = dict(
    _columns("""
        alarm_id uuid
        rule_id text
        rule_version int
        scope text
        source_id text
        building_id text
        space_id text
        device_id text
        severity text
        raised_severity text
        message text
        metric text
        raised_at timestamp
        escalated_at timestamp
        cleared_at timestamp
        peak_value double
        last_value double
        acknowledged_at timestamp
        acknowledged_by text
    """)
)


def _alarm_table(name: str, partition_key: tuple[str, ...], clustering_key: tuple[str, ...]) -> CassandraTable:
    """An alarms table: its key columns first, then every other alarm column in the catalog's order."""
    key = partition_key + clustering_key
    order = (*key, *(name for name in _ALARM_TYPES if name not in key))
    return CassandraTable(
        name, partition_key, clustering_key, tuple((column, _ALARM_TYPES[column]) for column in order)
    )


ALARMS = _alarm_table("alarms", ("alarm_id",), ())
ALARMS_BY_SPACE = _alarm_table("alarms_by_space", ("space_id",), ("raised_at", "alarm_id"))

ALARM_STATE = CassandraTable(
    "alarm_state",
    ("consumer",),
    ("rule_id", "source_id"),
    _columns("""
        consumer text
        rule_id text
        source_id text
        state text
    """),
)

DEVICE_LATEST = CassandraTable(
    "device_latest",
    ("device_id",),
    ("metric",),
    _columns("""
        device_id text
        metric text
        space_id text
        value double
        unit text
        event_time timestamp
        event_id uuid
    """),
)

SPACE_LATEST = CassandraTable(
    "space_latest",
    ("space_id",),
    ("metric",),
    _columns("""
        space_id text
        metric text
        device_id text
        value double
        unit text
        event_time timestamp
        event_id uuid
    """),
)

# The registry's current versions, copied from the lake by the reference job for the read API's lookups.
SPACES = CassandraTable(
    "spaces",
    ("space_id",),
    (),
    _columns("""
        space_id text
        building_id text
        floor int
        name text
        space_type text
        area_m2 double
        capacity int
        campus_id text
        tenant text
    """),
)

# The same spaces by building (the alarm board's overview), written beside SPACES by the reference job.
SPACES_BY_BUILDING = CassandraTable(
    "spaces_by_building",
    ("building_id",),
    ("space_id",),
    _columns("""
        building_id text
        space_id text
        floor int
        name text
        space_type text
    """),
)

DEVICES = CassandraTable(
    "devices",
    ("device_id",),
    (),
    _columns("""
        device_id text
        space_id text
        device_type text
        model text
        installed_at timestamp
        retired_at timestamp
    """),
)

TABLES = (
    SMOKE_READINGS,
    EVENTS,
    EVENT_IDS,
    RECEIVED_HOURS,
    CHANGE_LOG,
    CHANGE_LOG_COMMITS,
    CHANGE_FEED_CHECKPOINTS,
    CHANGE_FEED_CACHE_DEBT,
    RULE_STATE,
    CRITICAL_EVENTS,
    DEVICE_LATEST,
    SPACE_LATEST,
    SPACES,
    SPACES_BY_BUILDING,
    DEVICES,
    ALARMS,
    ALARMS_BY_SPACE,
    ALARM_STATE,
)
