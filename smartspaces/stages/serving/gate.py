"""The API's front door, in front of every route (the hot path included): who is calling, may they, how often.

- A key (Authorization: Bearer KEY, or X-API-Key) that matches no client is refused 401, wherever it is sent.
- Reads of data need the `read` scope when api.require_key is on (every environment but the laptop's).
- Acknowledging needs the `acknowledge` scope: 401 without a key, 403 with a key that lacks it, or when no
  client has it at all.
- Pages, their static files and the health probes are public: they hold no data of a building (/health says
  only up, degraded or down).
- Each client (by name, or by address when anonymous) has its token bucket: 429 with Retry-After beyond it.
  The liveness probe is exempt, so an orchestrator never restarts a replica because another client is noisy.
- Every answer carries the security headers; the pages' policy allows their own scripts and styles only.

The authenticated client's name goes to the route in the ASGI scope's state (`request.state.client`).
"""

from __future__ import annotations

import math
import re
from collections.abc import MutableMapping
from typing import Any

from smartspaces.stages.serving.answers import Answer, refusal
from smartspaces.stages.serving.api_keys import ApiKeys, Client, Scope
from smartspaces.stages.serving.hot_path import LIVE_PATH, ASGIApp, Receive, Send, send_answer
from smartspaces.stages.serving.hot_path import Scope as AsgiScope
from smartspaces.stages.serving.rate_limit import RateLimiter

# Paths anyone may load: no data of a building is in them (the pages fetch it with the caller's key).
_PUBLIC = re.compile(r"/|/health|/spaces/[^/]+|/board/(buildings|spaces)/[^/]+|/static/.+")
# The interactive docs load their scripts from a CDN (and exist only where api.docs is on: the laptop).
_DOCS = re.compile(r"/docs(/oauth2-redirect)?|/redoc|/openapi\.json")
_ACKNOWLEDGE = re.compile(r"/alarms/[^/]+/acknowledge")

_COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_PAGE_POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_SECURITY_HEADERS = [*_COMMON_HEADERS, (b"content-security-policy", _PAGE_POLICY)]
_DOCS_HEADERS = [*_COMMON_HEADERS, (b"content-security-policy", b"frame-ancestors 'none'")]


class Gate:
    """ASGI in front of the app: authenticates, authorises, rate-limits, and adds the security headers."""

    def __init__(self, app: ASGIApp, keys: ApiKeys, require_key: bool, limiter: RateLimiter) -> None:
        self._app = app
        self._keys = keys
        self._require_key = require_key
        self._limiter = limiter
        self._acknowledging = keys.allows(Scope.ACKNOWLEDGE)

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = _DOCS_HEADERS if _DOCS.fullmatch(path) else _SECURITY_HEADERS
        refused = self._refusal(scope, path)
        if refused is not None:
            await send_answer(send, refused, headers)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self._app(scope, receive, send_with_headers)

    def _refusal(self, scope: AsgiScope, path: str) -> Answer | None:
        """The refusal of this request, or None when it may go ahead (its client, if any, put in its state)."""
        if path == LIVE_PATH:
            return None
        needed = self._needed_scope(scope["method"], path)
        if needed is Scope.ACKNOWLEDGE and not self._acknowledging:
            return refusal(403, "acknowledgement is disabled: no client has the acknowledge scope")
        presented = _presented_key(scope["headers"])
        client: Client | None = None
        if presented is not None:
            client = self._keys.client(presented)
            if client is None:
                return refusal(401, "unknown API key")
        if needed is not None and (needed is Scope.ACKNOWLEDGE or self._require_key):
            if client is None:
                return refusal(401, f"an API key with the {needed.value} scope is required (Authorization: Bearer)")
            if needed not in client.scopes:
                return refusal(403, f"this API key lacks the {needed.value} scope")
        caller = f"client:{client.name}" if client is not None else f"address:{_address(scope)}"
        wait_s = self._limiter.take(caller)
        if wait_s > 0:
            retry_after = str(max(1, math.ceil(wait_s)))
            return Answer(429, b'{"detail":"too many requests"}', (("Retry-After", retry_after),))
        if client is not None:
            scope.setdefault("state", {})["client"] = client.name
        return None

    @staticmethod
    def _needed_scope(method: str, path: str) -> Scope | None:
        if method == "POST" and _ACKNOWLEDGE.fullmatch(path):
            return Scope.ACKNOWLEDGE
        if method in ("GET", "HEAD") and (_PUBLIC.fullmatch(path) or _DOCS.fullmatch(path)):
            return None
        # Everything else, unknown paths included, needs at least a reader: deny by default.
        return Scope.READ


def _presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key from `Authorization: Bearer KEY` or `X-API-Key: KEY`; None when neither is sent."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key" and value.strip():
            return value.decode("latin-1").strip()
    return None


def _address(scope: AsgiScope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
