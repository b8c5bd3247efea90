"""The read API's Redis client: asyncio, hiredis replies, raw bytes, and no retries."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from smartspaces.config import RedisSettings
from smartspaces.connectors.redis import tls_options


def async_redis_client(settings: RedisSettings) -> Redis:
    """A client for the event loop that serves the API (it connects on first use).

    Replies stay bytes (no decode_responses), so cached JSON goes out as Redis returned it. No retries: redis-py
    would otherwise retry with backoff, where the API must fall back to Cassandra after one socket timeout
    and let the breaker decide.
    """
    return Redis(
        host=settings.host,
        port=settings.port,
        db=settings.db,
        ssl=settings.ssl,
        **tls_options(settings),
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.socket_timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
