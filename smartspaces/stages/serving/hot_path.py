"""The read API's hot requests answered straight on ASGI: the two reads and the liveness probe.

FastAPI's middleware, routing, parameter validation and response objects cost about 60 µs of CPU a request
(the liveness probe called in process: 61 µs through FastAPI, 1.5 µs here), more than the rest of a cache
hit's Python. Only requests that are plainly valid go this way: a GET of one of the three paths, an id within
ID_CHARACTERS, no query or `limit=N` with N in 1..K. Everything else goes to FastAPI, which validates and
answers it as the documented API does (422 with details, the page, /health, the OpenAPI schema).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Protocol

from smartspaces.stages.serving.answers import ID_CHARACTERS, LIVE_BODY, Answer, error_answer, served_answer
from smartspaces.stages.serving.cassandra_reader import StoreUnavailableError
from smartspaces.stages.serving.reads import Served, UnknownIdError

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LIVE_PATH = "/health/live"
_CRITICAL_EVENTS = re.compile(rf"/spaces/({ID_CHARACTERS})/critical-events")
_DEVICE_LATEST = re.compile(rf"/devices/({ID_CHARACTERS})/latest")
_LIMIT = re.compile(rb"limit=([1-9][0-9]{0,8})")
_LIVE = Answer(200, LIVE_BODY)


class HotReads(Protocol):
    """The reads the hot path serves (CacheAsideReads)."""

    async def critical_events(self, space_id: str, limit: int) -> Served: ...

    async def device_latest(self, device_id: str) -> Served: ...


class HotPath:
    """ASGI in front of the FastAPI app: answers the plainly valid hot GETs, hands everything else to `api`.

    `reads` is looked up on each request (the app's lifespan creates it), so a request before start-up goes to
    FastAPI like any other.
    """

    def __init__(self, api: ASGIApp, reads: Callable[[], HotReads | None], keep: int) -> None:
        self._api = api
        self._reads = reads
        self._keep = keep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            answer = await self._answer(scope["path"], scope["query_string"])
            if answer is not None:
                await send_answer(send, answer)
                return
        await self._api(scope, receive, send)

    async def _answer(self, path: str, query: bytes) -> Answer | None:
        """The answer to a hot request, or None when it is not one (FastAPI answers it)."""
        if path == LIVE_PATH:
            return None if query else _LIVE
        reads = self._reads()
        if reads is None:
            return None
        try:
            if (space := _CRITICAL_EVENTS.fullmatch(path)) is not None:
                limit = self._limit(query)
                if limit is None:
                    return None
                served = await reads.critical_events(space[1], limit)
                return served_answer("space_id", space[1], served, "critical_events")
            if (device := _DEVICE_LATEST.fullmatch(path)) is not None and not query:
                return served_answer("device_id", device[1], await reads.device_latest(device[1]), "readings")
        except (UnknownIdError, StoreUnavailableError) as error:
            return error_answer(error)
        return None

    def _limit(self, query: bytes) -> int | None:
        """K without a query, N for `limit=N` within 1..K; None for anything else (FastAPI's to judge)."""
        if not query:
            return self._keep
        given = _LIMIT.fullmatch(query)
        if given is None or int(given[1]) > self._keep:
            return None
        return int(given[1])


async def send_answer(send: Send, answer: Answer, extra_headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(answer.body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in answer.headers),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
