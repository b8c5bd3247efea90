"""The Cosmos DB change-feed backend: query text, position codec, and paging through a fake page source.

Cosmos DB cannot run on this machine (it is an Azure service, and open-source Cassandra rejects
COSMOS_CHANGEFEED_START_TIME()), so the pages come from FakeCosmosFeed, which serves fixed pages by paging
state the way the driver does against Cosmos DB. A fake is used here only for that reason: what Cosmos DB
itself does with the query and the paging state is not tested (see docs/change-feed.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from smartspaces.config import CassandraSettings, ChangeFeedSettings
from smartspaces.stages.changefeed.cosmos import (
    ChangeFeedPage,
    CosmosChangeFeedError,
    CosmosChangeFeedSource,
    CosmosContinuation,
    InvalidCosmosPositionError,
    change_event_row,
    change_feed_query,
    decode_position,
    encode_position,
)
from transformations.schemas import CHANGE_EVENT

TABLE = "events_by_device_day"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
QUERY = (
    "SELECT * FROM smartspaces.events_by_device_day WHERE COSMOS_CHANGEFEED_START_TIME() = '2026-03-01T12:00:00.000Z'"
)
CASSANDRA = CassandraSettings(host="smartspaces.cassandra.cosmos.invalid", keyspace="smartspaces")


def changefeed(page_size: int = 2, max_pages: int = 3) -> ChangeFeedSettings:
    return ChangeFeedSettings(
        backend="cosmos", rules_file="rules.csv", cosmos_page_size=page_size, max_batches_per_trigger=max_pages
    )


def stored_row(number: int) -> dict[str, Any]:
    """A row of events_by_device_day as the driver hands it over: every column, naive UTC timestamps, a UUID."""
    return {
        "device_id": f"device-{number}",
        "day": date(2026, 3, 1),
        "event_time": datetime(2026, 3, 1, 12, number),
        "event_id": uuid.UUID(int=number),
        "schema_version": 1,
        "event_type": "telemetry",
        "metric": "smoke",
        "value": number,
        "unit": "ppm",
        "severity": "critical" if number % 2 else None,
        "code": None,
        "attributes": {"firmware": "1.2"},
        "kafka_topic": "events",
        "kafka_partition": 0,
        "kafka_offset": number,
        "ingest_time": datetime(2026, 3, 1, 12, number, 30),
    }


def change_event(number: int) -> tuple[Any, ...]:
    """The CHANGE_EVENT row stored_row(number) becomes, written out by hand."""
    return (
        f"device-{number}",
        datetime(2026, 3, 1, 12, number, tzinfo=UTC),
        f"00000000-0000-0000-0000-{number:012x}",
        "telemetry",
        "smoke",
        float(number),
        "ppm",
        "critical" if number % 2 else None,
        None,
        datetime(2026, 3, 1, 12, number, 30, tzinfo=UTC),
    )


@dataclass
class FakeCosmosFeed:
    """Stands in for Cosmos DB: serves the page that follows each paging state, and records every call."""

    pages: Mapping[bytes | None, ChangeFeedPage]
    calls: list[tuple[str, int, bytes | None]] = field(default_factory=list)
    closed: bool = False

    def fetch_page(self, query: str, page_size: int, paging_state: bytes | None) -> ChangeFeedPage:
        self.calls.append((query, page_size, paging_state))
        return self.pages[paging_state]

    def close(self) -> None:
        self.closed = True


def page(numbers: list[int], paging_state: bytes | None) -> ChangeFeedPage:
    return ChangeFeedPage(rows=[stored_row(number) for number in numbers], paging_state=paging_state)


# Five changes in pages of two; the feed then has nothing new (an empty page with a fresh state, as Cosmos may).
FIVE_CHANGES = {
    None: page([1, 2], b"p1"),
    b"p1": page([3, 4], b"p2"),
    b"p2": page([5], b"p3"),
    b"p3": page([], b"p4"),
}


def source_over(
    spark: SparkSession, feed: FakeCosmosFeed, settings: ChangeFeedSettings | None = None
) -> CosmosChangeFeedSource:
    return CosmosChangeFeedSource(
        spark, CASSANDRA, settings or changefeed(), session_factory=lambda _: feed, initial_start_time=START
    )


def position(paging_state: bytes | None) -> str:
    return encode_position(CosmosContinuation(START, paging_state))


def test_query_names_the_table_and_the_utc_start_time_to_the_millisecond() -> None:
    start = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
    assert change_feed_query("smartspaces", TABLE, start) == (
        "SELECT * FROM smartspaces.events_by_device_day WHERE COSMOS_CHANGEFEED_START_TIME() = "
        "'2026-03-01T12:30:05.123Z'"
    )


def test_query_start_time_in_another_zone_is_converted_to_utc() -> None:
    start = datetime(2026, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert change_feed_query("ks", "t", start).endswith("COSMOS_CHANGEFEED_START_TIME() = '2026-02-28T22:30:00.000Z'")


def test_query_refuses_a_naive_start_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        change_feed_query("ks", "t", datetime(2026, 3, 1))


@pytest.mark.parametrize("name", ["", "Events", "1events", "events;drop", "ks.events", "events ", "a" * 49])
def test_query_refuses_an_invalid_keyspace_or_table_name(name: str) -> None:
    with pytest.raises(ValueError, match=r"invalid keyspace name"):
        change_feed_query(name, TABLE, START)
    with pytest.raises(ValueError, match=r"invalid table name"):
        change_feed_query("smartspaces", name, START)


def test_position_is_versioned_json_with_a_base64_paging_state() -> None:
    encoded = encode_position(CosmosContinuation(datetime(2026, 3, 1, 12, 0, 0, 999999, tzinfo=UTC), b"\x00\xffok"))
    assert encoded == '{"paging_state":"AP9vaw==","start_time":"2026-03-01T12:00:00.999Z","v":1}'


@pytest.mark.parametrize("paging_state", [None, b"\x00\x01\xfe\xffstate"])
def test_position_round_trips(paging_state: bytes | None) -> None:
    continuation = CosmosContinuation(datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC), paging_state)
    assert decode_position(encode_position(continuation)) == continuation


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [
        ("", "not JSON"),
        ("p1", "not JSON"),
        ('["v", 1]', "not a JSON object"),
        ('{"paging_state":null,"start_time":"2026-03-01T12:00:00.000Z","v":2}', "version 2, expected 1"),
        ('{"paging_state":null,"start_time":"2026-03-01T12:00:00.000Z"}', "version None, expected 1"),
        ('{"start_time":"2026-03-01T12:00:00.000Z","v":1}', r"keys \['start_time', 'v'\]"),
        ('{"paging_state":null,"start_time":"2026-03-01 12:00:00","v":1}', "start_time '2026-03-01 12:00:00'"),
        ('{"paging_state":null,"start_time":12,"v":1}', "start_time 12 is not"),
        ('{"paging_state":"not base64!","start_time":"2026-03-01T12:00:00.000Z","v":1}', "paging_state is not base64"),
        ('{"paging_state":"","start_time":"2026-03-01T12:00:00.000Z","v":1}', "paging_state is empty"),
    ],
)
def test_corrupt_position_is_refused_with_the_reason(corrupt: str, reason: str) -> None:
    with pytest.raises(InvalidCosmosPositionError, match=f"invalid Cosmos DB change-feed position .*: {reason}"):
        decode_position(corrupt)


def test_stored_row_becomes_a_change_event() -> None:
    assert change_event_row(stored_row(3)) == change_event(3)


def test_read_pages_until_a_page_is_not_full(spark: SparkSession) -> None:
    feed = FakeCosmosFeed(FIVE_CHANGES)
    changes = source_over(spark, feed).read({})
    assert_df_equality(changes.changes, spark.createDataFrame([change_event(n) for n in range(1, 6)], CHANGE_EVENT))
    assert changes.positions == {TABLE: position(b"p3")}
    assert changes.oldest_change_time == datetime(2026, 3, 1, 12, 1, 30, tzinfo=UTC)
    assert changes.pending_after is False
    assert feed.calls == [(QUERY, 2, None), (QUERY, 2, b"p1"), (QUERY, 2, b"p2")]


def test_read_stops_at_max_pages_and_says_more_is_pending(spark: SparkSession) -> None:
    feed = FakeCosmosFeed(FIVE_CHANGES)
    changes = source_over(spark, feed, changefeed(page_size=2, max_pages=2)).read({})
    assert [row.event_id for row in changes.changes.collect()] == [change_event(n)[2] for n in range(1, 5)]
    assert changes.positions == {TABLE: position(b"p2")}
    assert changes.pending_after is True
    assert feed.calls == [(QUERY, 2, None), (QUERY, 2, b"p1")]


def test_restart_from_a_stored_continuation_resumes_at_the_next_page(spark: SparkSession) -> None:
    feed = FakeCosmosFeed(FIVE_CHANGES)
    # A new source object: what a restarted job sees, with only the stored position to go on.
    changes = source_over(spark, feed).read({TABLE: position(b"p2")})
    assert_df_equality(changes.changes, spark.createDataFrame([change_event(5)], CHANGE_EVENT))
    assert changes.positions == {TABLE: position(b"p3")}
    assert changes.oldest_change_time == datetime(2026, 3, 1, 12, 5, 30, tzinfo=UTC)
    assert changes.pending_after is False
    assert feed.calls == [(QUERY, 2, b"p2")]


def test_no_new_changes_keeps_the_stored_continuation(spark: SparkSession) -> None:
    feed = FakeCosmosFeed(FIVE_CHANGES)
    changes = source_over(spark, feed).read({TABLE: position(b"p3"), "ingest-writer-1": "42"})
    assert changes.changes.collect() == []
    assert changes.positions == {}
    assert changes.is_empty
    assert (changes.oldest_change_time, changes.pending_after) == (None, False)
    assert feed.calls == [(QUERY, 2, b"p3")]


def test_empty_page_after_full_pages_keeps_the_state_of_the_last_page_with_rows(spark: SparkSession) -> None:
    feed = FakeCosmosFeed({None: page([1, 2], b"p1"), b"p1": page([], b"after-empty")})
    changes = source_over(spark, feed).read({})
    assert [row.event_id for row in changes.changes.collect()] == [change_event(1)[2], change_event(2)[2]]
    assert changes.positions == {TABLE: position(b"p1")}
    assert changes.pending_after is False


def test_first_read_without_changes_stores_its_start_time(spark: SparkSession) -> None:
    feed = FakeCosmosFeed({None: page([], b"p0")})
    now = datetime(2026, 3, 2, 8, 15, 0, 123999, tzinfo=UTC)
    source = CosmosChangeFeedSource(spark, CASSANDRA, changefeed(), session_factory=lambda _: feed, clock=lambda: now)
    changes = source.read({})
    assert changes.changes.collect() == []
    assert changes.positions == {TABLE: '{"paging_state":null,"start_time":"2026-03-02T08:15:00.123Z","v":1}'}
    assert feed.calls == [
        (
            "SELECT * FROM smartspaces.events_by_device_day WHERE COSMOS_CHANGEFEED_START_TIME() = "
            "'2026-03-02T08:15:00.123Z'",
            2,
            None,
        )
    ]


def test_rows_without_a_paging_state_stop_the_read(spark: SparkSession) -> None:
    feed = FakeCosmosFeed({None: page([1], None)})
    with pytest.raises(CosmosChangeFeedError, match="1 change\\(s\\) of events_by_device_day without a paging state"):
        source_over(spark, feed).read({})


def test_corrupt_stored_position_fails_the_read(spark: SparkSession) -> None:
    feed = FakeCosmosFeed(FIVE_CHANGES)
    with pytest.raises(InvalidCosmosPositionError, match="not JSON"):
        source_over(spark, feed).read({TABLE: "garbage"})
    assert feed.calls == []


def test_page_source_is_opened_once_at_the_first_read_and_closed(spark: SparkSession) -> None:
    feed = FakeCosmosFeed(FIVE_CHANGES)
    opened: list[CassandraSettings] = []

    def connect(cassandra: CassandraSettings) -> FakeCosmosFeed:
        opened.append(cassandra)
        return feed

    source = CosmosChangeFeedSource(spark, CASSANDRA, changefeed(), session_factory=connect, initial_start_time=START)
    assert opened == []
    source.read({TABLE: position(b"p3")})
    source.read({TABLE: position(b"p3")})
    source.close()
    assert (opened, feed.closed) == ([CASSANDRA], True)
