"""The hot path in front of FastAPI: which requests it answers itself and which it hands over, without servers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import Any

import pytest

from smartspaces.stages.serving.answers import STORE_UNAVAILABLE_BODY, error_answer
from smartspaces.stages.serving.cassandra_reader import StoreUnavailableError
from smartspaces.stages.serving.hot_path import HotPath, Scope
from smartspaces.stages.serving.outage_log import OutageLog
from smartspaces.stages.serving.reads import Served, UnknownIdError

KEEP = 50


class Reads:
    """Answers every read from the cache with a fixed value; ids starting with "unknown" or "down" fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def critical_events(self, space_id: str, limit: int) -> Served:
        self.calls.append(("critical_events", space_id, str(limit)))
        return self._served(space_id, b"[]")

    async def device_latest(self, device_id: str) -> Served:
        self.calls.append(("device_latest", device_id))
        return self._served(device_id, b'{"co2":{"value":600.0}}')

    def _served(self, entity_id: str, value: bytes) -> Served:
        if entity_id.startswith("unknown"):
            raise UnknownIdError(f"unknown space {entity_id!r}")
        if entity_id.startswith("down"):
            raise StoreUnavailableError("cassandra: timed out")
        return Served(value, "cache")


def request(
    path: str, query: bytes = b"", method: str = "GET"
) -> tuple[list[Any], Reads, list[MutableMapping[str, Any]]]:
    """(the scopes handed to FastAPI, the reads, the messages sent) after one request through the hot path."""
    handed: list[Any] = []
    reads = Reads()
    sent: list[MutableMapping[str, Any]] = []

    async def api(scope: Scope, receive: Any, send: Any) -> None:
        handed.append(scope["path"])

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query}
    asyncio.run(HotPath(api, lambda: reads, KEEP)(scope, receive, send))
    return handed, reads, sent


def test_a_cached_read_is_answered_with_the_served_json_spliced_in() -> None:
    handed, reads, sent = request("/spaces/b1.f2:room-7/critical-events", b"limit=2")
    assert (handed, reads.calls) == ([], [("critical_events", "b1.f2:room-7", "2")])
    body = b'{"space_id":"b1.f2:room-7","source":"cache","critical_events":[]}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    assert sent == [
        {"type": "http.response.start", "status": 200, "headers": headers},
        {"type": "http.response.body", "body": body},
    ]


def test_without_a_limit_all_k_events_are_asked_for() -> None:
    assert request("/spaces/room-1/critical-events")[1].calls == [("critical_events", "room-1", str(KEEP))]


def test_device_latest_and_the_liveness_probe_are_answered() -> None:
    latest, probe = request("/devices/dev-1/latest")[2], request("/health/live")[2]
    assert [latest[1]["body"], probe[1]["body"]] == [
        b'{"device_id":"dev-1","source":"cache","readings":{"co2":{"value":600.0}}}',
        b'{"status":"live"}',
    ]


@pytest.mark.parametrize(
    ("path", "query", "method"),
    [
        ("/spaces/room-1/critical-events", b"limit=0", "GET"),
        ("/spaces/room-1/critical-events", b"limit=51", "GET"),
        ("/spaces/room-1/critical-events", b"limit=02", "GET"),
        ("/spaces/room-1/critical-events", b"limit=ten", "GET"),
        ("/spaces/room-1/critical-events", b"limit=2&limit=3", "GET"),
        ("/spaces/bad id/critical-events", b"", "GET"),
        (f"/spaces/{'x' * 65}/critical-events", b"", "GET"),
        ("/devices/dev-1/latest", b"x=1", "GET"),
        ("/devices/dev-1/latest", b"", "HEAD"),
        ("/health/live", b"verbose=1", "GET"),
        ("/health", b"", "GET"),
        ("/spaces/room-1", b"", "GET"),
    ],
)
def test_anything_not_plainly_valid_is_handed_to_fastapi_unread(path: str, query: bytes, method: str) -> None:
    handed, reads, sent = request(path, query, method)
    assert (handed, reads.calls, sent) == ([path], [], [])


def test_unknown_ids_are_404_and_an_unavailable_store_503_with_retry_after() -> None:
    unknown, down = request("/spaces/unknown-1/critical-events")[2], request("/devices/down-1/latest")[2]
    assert [(unknown[0]["status"], unknown[1]["body"]), (down[0]["status"], down[0]["headers"][2])] == [
        (404, b'{"detail":"unknown space \'unknown-1\'"}'),
        (503, (b"retry-after", b"1")),
    ]


def test_a_503_body_shows_no_host_port_or_driver_text_and_the_log_gets_them_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    driver_text = "cassandra: ('Unable to complete the operation against any hosts', {<Host: 127.0.0.1:9042 dc1>: x})"
    clock = [0.0]
    outages = OutageLog("cassandra read failed", every_s=10.0, clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger="smartspaces.stages.serving"):
        logged = [outages.failed(StoreUnavailableError(driver_text)) for _ in range(3)]
        clock[0] = 10.0
        logged.append(outages.failed(StoreUnavailableError(driver_text)))
    assert logged == [True, False, False, True]
    assert caplog.messages[-1].endswith("9042 dc1>: x}) (2 more since the last line)")
    answer = error_answer(StoreUnavailableError(driver_text))
    assert (answer.status, answer.body) == (503, STORE_UNAVAILABLE_BODY)
    assert b"127.0.0.1" not in answer.body and b"9042" not in answer.body
