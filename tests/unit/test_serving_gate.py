"""The read API's gate on ASGI: who may read, who may acknowledge, how often, and the headers every answer gets."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from smartspaces.stages.serving.api_keys import ApiKeys, Scope, entry, new_key
from smartspaces.stages.serving.gate import Gate
from smartspaces.stages.serving.rate_limit import RateLimiter

OPERATOR_KEY, READER_KEY = new_key(), new_key()
KEYS = ApiKeys.parse(
    f"{entry('alice', frozenset(Scope), OPERATOR_KEY)},{entry('board', frozenset({Scope.READ}), READER_KEY)}"
)
DATA = "/spaces/s1/critical-events"
ACKNOWLEDGE = "/alarms/0b0e7a52-5d43-5a4e-9c55-1c1a3e0d1f00/acknowledge"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Answered:
    """What reached the app behind the gate (its scope), or None, and the answer the client got."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes, reached: MutableMapping[str, Any] | None):
        self.status, self.headers, self.body, self.reached = status, headers, body, reached


@dataclass(frozen=True)
class Door:
    """What a gate is made of; each call puts one of them in front of an app that records what reaches it."""

    keys: ApiKeys
    require_key: bool
    limiter: RateLimiter


def call(door: Door, path: str, method: str = "GET", key: str | None = None, address: str = "10.0.0.1") -> Answered:
    reached: list[MutableMapping[str, Any]] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        reached.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    gate = Gate(app, door.keys, door.require_key, door.limiter)
    headers = [] if key is None else [(b"authorization", f"Bearer {key}".encode())]
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": headers,
        "client": (address, 5000),
    }
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b""}

    asyncio.run(gate(scope, receive, send))
    start = sent[0]
    answer_headers = {name.decode(): value.decode() for name, value in start["headers"]}
    return Answered(start["status"], answer_headers, sent[1]["body"], reached[0] if reached else None)


def gate(keys: ApiKeys = KEYS, require_key: bool = True, limiter: RateLimiter | None = None) -> Door:
    return Door(keys, require_key, limiter or RateLimiter(1000.0, 1000))


def test_reads_need_a_key_with_the_read_scope_and_the_client_reaches_the_route() -> None:
    anonymous = call(gate(), DATA)
    assert (anonymous.status, anonymous.headers["www-authenticate"], anonymous.reached) == (401, "Bearer", None)
    reader = call(gate(), DATA, key=READER_KEY)
    assert reader.status == 200
    assert reader.reached is not None and reader.reached["state"]["client"] == "board"
    # Unknown paths are not public: deny by default.
    assert call(gate(), "/anything/else").status == 401


def test_a_wrong_key_is_refused_even_where_no_key_is_needed() -> None:
    for path in (DATA, "/", "/static/alarm_board.js"):
        refused = call(gate(require_key=False), path, key="not-a-key")
        assert (refused.status, orjson.loads(refused.body), refused.reached) == (
            401,
            {"detail": "unknown API key"},
            None,
        )


def test_without_require_key_reads_are_open_but_acknowledging_is_not() -> None:
    open_gate = gate(require_key=False)
    assert call(open_gate, DATA).status == 200
    assert call(open_gate, ACKNOWLEDGE, method="POST").status == 401


def test_acknowledging_needs_the_acknowledge_scope() -> None:
    assert call(gate(), ACKNOWLEDGE, method="POST").status == 401
    assert call(gate(), ACKNOWLEDGE, method="POST", key=READER_KEY).status == 403
    operator = call(gate(), ACKNOWLEDGE, method="POST", key=OPERATOR_KEY)
    assert operator.status == 200 and operator.reached is not None and operator.reached["state"]["client"] == "alice"
    readers_only = ApiKeys.parse(entry("board", frozenset({Scope.READ}), READER_KEY))
    disabled = call(gate(readers_only), ACKNOWLEDGE, method="POST", key=READER_KEY)
    assert (disabled.status, orjson.loads(disabled.body)["detail"]) == (
        403,
        "acknowledgement is disabled: no client has the acknowledge scope",
    )


def test_pages_static_files_and_probes_are_public() -> None:
    for path in (
        "/",
        "/spaces/s1",
        "/board/buildings/b1",
        "/board/spaces/s1",
        "/static/api_key.js",
        "/health",
        "/health/live",
    ):
        assert call(gate(), path).status == 200, path


def test_each_client_is_limited_on_its_own_and_told_when_to_retry() -> None:
    clock = Clock()
    limited = gate(limiter=RateLimiter(rate_per_s=2.0, burst=3, clock=clock))
    assert [call(limited, DATA, key=READER_KEY).status for _ in range(4)] == [200, 200, 200, 429]
    refused = call(limited, DATA, key=READER_KEY)
    assert (refused.status, refused.headers["retry-after"], refused.reached) == (429, "1", None)
    # Another client, and the liveness probe, are not held back by this one.
    assert call(limited, DATA, key=OPERATOR_KEY).status == 200
    assert call(limited, "/health/live", key=READER_KEY).status == 200
    clock.now += 0.5  # one token back
    assert [call(limited, DATA, key=READER_KEY).status for _ in range(2)] == [200, 429]


def test_anonymous_callers_are_limited_by_address() -> None:
    clock = Clock()
    limited = gate(require_key=False, limiter=RateLimiter(rate_per_s=0.1, burst=1, clock=clock))
    assert [call(limited, DATA, address="10.0.0.1").status for _ in range(2)] == [200, 429]
    assert call(limited, DATA, address="10.0.0.1").headers["retry-after"] == "10"
    assert call(limited, DATA, address="10.0.0.2").status == 200


@pytest.mark.parametrize("path", [DATA, "/", "/health/live", "/nowhere"])
def test_every_answer_carries_the_security_headers(path: str) -> None:
    headers = call(gate(), path, key=READER_KEY).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_refusals_carry_them_too_and_the_docs_get_a_policy_that_lets_them_load() -> None:
    assert call(gate(), DATA).headers["x-frame-options"] == "DENY"
    assert call(gate(), "/docs").headers["content-security-policy"] == "frame-ancestors 'none'"
