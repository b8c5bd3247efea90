"""Cosmos DB for Apache Cassandra's native change feed, read page by page as a ChangeFeedSource.

Cosmos DB answers `SELECT * FROM ks.table WHERE COSMOS_CHANGEFEED_START_TIME() = '<UTC time>'` with the
rows inserted or updated since that time (latest version of each row, no deletes), in pages. The driver's
paging state of the last page is the continuation: the same query re-issued with it goes on where the
last page ended, and keeps returning new changes later. A position is therefore the start time (which
fixes the query text) plus that paging state. Open-source Cassandra rejects the function, so only the
logic around the driver is tested here; see docs/change-feed.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cassandra.query import SimpleStatement
from pyspark.sql import SparkSession

from smartspaces.config import CassandraSettings, ChangeFeedSettings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.instants import as_utc
from smartspaces.stages.changefeed.source import ChangeSet
from transformations.schemas import CHANGE_EVENT

# Unquoted CQL identifiers, lower case only: Cassandra folds unquoted names to lower case, so an upper-case
# name would silently read another table than the one configured. 48 characters is Cassandra's limit.
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
# ISO 8601 in UTC with milliseconds and a Z, as in Microsoft's C# sample (`yyyy-MM-ddTHH:mm:ss.fffZ`):
# the zone is explicit, so the start time does not depend on how Cosmos DB reads a zone-less time.
START_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
POSITION_VERSION = 1


class InvalidCosmosPositionError(ValueError):
    """A stored position is not a Cosmos DB change-feed continuation this code can resume from."""


class CosmosChangeFeedError(RuntimeError):
    """Cosmos DB answered in a way the change feed cannot safely continue from."""


def format_start_time(start_time: datetime) -> str:
    """The start time as the query's literal: UTC, millisecond precision (sub-millisecond digits dropped)."""
    if start_time.tzinfo is None:
        raise ValueError(f"the change-feed start time must be timezone-aware, got {start_time!r}")
    utc = start_time.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_start_time(text: str) -> datetime:
    """The inverse of format_start_time."""
    return datetime.strptime(text, START_TIME_FORMAT).replace(tzinfo=UTC)


def feed_start_time(moment: datetime) -> datetime:
    """A moment as the change feed can express it: UTC, truncated to the millisecond."""
    return parse_start_time(format_start_time(moment))


def change_feed_query(keyspace: str, table: str, start_time: datetime) -> str:
    """The change-feed query of a table from start_time; identifiers are checked, as they cannot be bound."""
    for kind, name in (("keyspace", keyspace), ("table", table)):
        if not IDENTIFIER.fullmatch(name):
            raise ValueError(f"invalid {kind} name {name!r}: expected {IDENTIFIER.pattern}")
    literal = format_start_time(start_time)
    return f"SELECT * FROM {keyspace}.{table} WHERE COSMOS_CHANGEFEED_START_TIME() = '{literal}'"


@dataclass(frozen=True)
class CosmosContinuation:
    """Where a table's change feed stands: the query's start time, and the paging state after the last page read.

    paging_state None: nothing has been read past the start time yet (the query runs without a state).
    The start time never changes once stored: a paging state is only valid for the query it came from.
    """

    start_time: datetime
    paging_state: bytes | None

    def __post_init__(self) -> None:
        # Normalised once, so that the position and the query text always agree to the millisecond.
        object.__setattr__(self, "start_time", feed_start_time(self.start_time))


def encode_position(continuation: CosmosContinuation) -> str:
    """A continuation as a versioned JSON position string (paging state in base64)."""
    state = None if continuation.paging_state is None else base64.b64encode(continuation.paging_state).decode()
    document = {"v": POSITION_VERSION, "start_time": format_start_time(continuation.start_time), "paging_state": state}
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def decode_position(position: str) -> CosmosContinuation:
    """The continuation a position string holds; raises InvalidCosmosPositionError naming what is wrong."""

    def invalid(reason: str) -> InvalidCosmosPositionError:
        return InvalidCosmosPositionError(f"invalid Cosmos DB change-feed position {position[:200]!r}: {reason}")

    try:
        document = json.loads(position)
    except json.JSONDecodeError as error:
        raise invalid(f"not JSON ({error.msg})") from None
    if not isinstance(document, dict):
        raise invalid("not a JSON object")
    if document.get("v") != POSITION_VERSION:
        raise invalid(f"version {document.get('v')!r}, expected {POSITION_VERSION}")
    if set(document) != {"v", "start_time", "paging_state"}:
        raise invalid(f"keys {sorted(document)}, expected ['paging_state', 'start_time', 'v']")
    start_text, state_text = document["start_time"], document["paging_state"]
    try:
        start_time = parse_start_time(start_text)
    except (TypeError, ValueError):
        raise invalid(f"start_time {start_text!r} is not yyyy-mm-ddThh:mm:ss.fffZ") from None
    if state_text is None:
        return CosmosContinuation(start_time, None)
    try:
        paging_state = base64.b64decode(state_text, validate=True)
    except (TypeError, binascii.Error):
        raise invalid("paging_state is not base64") from None
    if not paging_state:
        raise invalid("paging_state is empty")
    return CosmosContinuation(start_time, paging_state)


@dataclass(frozen=True)
class ChangeFeedPage:
    """One page of the change-feed query: its rows (column -> value) and the driver's paging state after it."""

    rows: Sequence[Mapping[str, Any]]
    paging_state: bytes | None


class ChangeFeedPageSource(Protocol):
    """Runs one page of a query from a paging state: the Python driver against Cosmos DB, or a test's fake."""

    def fetch_page(self, query: str, page_size: int, paging_state: bytes | None) -> ChangeFeedPage: ...

    def close(self) -> None: ...


class DriverPageSource:
    """Pages through the DataStax Python driver, one page per call."""

    def __init__(self, cassandra: CassandraSettings) -> None:
        self._cluster = cassandra_cluster(cassandra)
        self._session = self._cluster.connect()

    def fetch_page(self, query: str, page_size: int, paging_state: bytes | None) -> ChangeFeedPage:
        statement = SimpleStatement(query, fetch_size=page_size)
        result = self._session.execute(statement, paging_state=paging_state)
        # current_rows, not iteration: iterating a ResultSet would fetch the following pages as well.
        rows = [row._asdict() for row in result.current_rows]
        return ChangeFeedPage(rows=rows, paging_state=result.paging_state)

    def close(self) -> None:
        self._cluster.shutdown()


def change_event_row(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """An events_by_device_day row as a CHANGE_EVENT tuple (event_id as text, timestamps in UTC)."""
    value = row.get("value")
    return (
        row["device_id"],
        as_utc(row["event_time"]),
        str(row["event_id"]),
        row.get("event_type"),
        row.get("metric"),
        None if value is None else float(value),
        row.get("unit"),
        row.get("severity"),
        row.get("code"),
        as_utc(row.get("ingest_time")),
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CosmosChangeFeedSource:
    """The changes of cosmos_table from Cosmos DB's change feed, max_batches_per_trigger pages at a time.

    The position (key: the table name) is a CosmosContinuation. Without one, the feed starts at
    initial_start_time, or at the time of the first read when that is None: history is the cache
    warm-up's job, and replaying the whole table through the processor is rarely what a new deployment
    wants. Pass an early time to replay. The first read always returns a position, even with no changes,
    so that "now" is stored once and not recomputed (which would skip what changed in between).
    """

    def __init__(
        self,
        spark: SparkSession,
        cassandra_settings: CassandraSettings,
        changefeed_settings: ChangeFeedSettings,
        session_factory: Callable[[CassandraSettings], ChangeFeedPageSource] = DriverPageSource,
        initial_start_time: datetime | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._spark = spark
        self._cassandra = cassandra_settings
        self._settings = changefeed_settings
        self._session_factory = session_factory
        self._initial_start_time = initial_start_time
        self._clock = clock
        # Connected at the first read, not here: building the source opens nothing.
        self._pages: ChangeFeedPageSource | None = None

    @property
    def source_key(self) -> str:
        return self._settings.cosmos_table

    def read(self, positions: Mapping[str, str]) -> ChangeSet:
        """The changes after the stored continuation; positions of other sources are ignored."""
        stored = positions.get(self.source_key)
        previous = decode_position(stored) if stored is not None else None
        start = previous or CosmosContinuation(self._initial_start_time or self._clock(), None)
        query = change_feed_query(self._cassandra.keyspace, self.source_key, start.start_time)
        page_size = self._settings.cosmos_page_size
        pages = self._page_source()

        rows: list[tuple[Any, ...]] = []
        ingest_times: list[datetime] = []
        paging_state = start.paging_state
        last_page_full = False
        for _ in range(self._settings.max_batches_per_trigger):
            page = pages.fetch_page(query, page_size, paging_state)
            # An empty page: no new changes, or Cosmos DB throttled the read (429 gives an empty page).
            # Its paging state is not taken: the previous one is known to be good and loses nothing.
            if not page.rows:
                last_page_full = False
                break
            if page.paging_state is None:
                # Never seen in Microsoft's samples (their Java code would fail on it). Going on would either
                # restart the feed from its start time or lose the rows' place: stop loudly instead.
                raise CosmosChangeFeedError(
                    f"Cosmos DB returned {len(page.rows)} change(s) of {self.source_key} without a paging state"
                )
            rows.extend(change_event_row(row) for row in page.rows)
            ingest_times.extend(moment for row in page.rows if (moment := as_utc(row.get("ingest_time"))) is not None)
            paging_state = page.paging_state
            last_page_full = len(page.rows) >= page_size
            if not last_page_full:
                break

        # Bounded: at most max_batches_per_trigger x cosmos_page_size rows, so building them on the driver
        # and handing them to createDataFrame stays small.
        changes = self._spark.createDataFrame(rows, CHANGE_EVENT)
        # Nothing read from a stored continuation: the source has not moved. A first read stores its start.
        moved = bool(rows) or previous is None
        new_positions = {self.source_key: encode_position(CosmosContinuation(start.start_time, paging_state))}
        return ChangeSet(
            changes=changes,
            positions=new_positions if moved else {},
            oldest_change_time=min(ingest_times) if ingest_times else None,
            pending_after=last_page_full,
        )

    def close(self) -> None:
        """Closes the driver connection, if one was opened."""
        if self._pages is not None:
            self._pages.close()
            self._pages = None

    def _page_source(self) -> ChangeFeedPageSource:
        if self._pages is None:
            self._pages = self._session_factory(self._cassandra)
        return self._pages
