"""The read API's Redis client: asyncio, hiredis replies, raw bytes, and no retries."""

from __future__ import annotations

from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from smartspaces.config import RedisSettings
from smartspaces.connectors.redis import tls_context, tls_options


def async_redis_client(settings: RedisSettings) -> Redis:
    """A client for the event loop that serves the API (it connects on first use).

    Replies stay bytes (no decode_responses), so cached JSON goes out as Redis returned it. No retries: redis-py
    would otherwise retry with backoff, where the API must fall back to Cassandra after one socket timeout
    and let the breaker decide.
    """
    connection: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "db": settings.db,
        "username": settings.username,
        "password": settings.password.get_secret_value() if settings.password else None,
        "socket_timeout": settings.socket_timeout_s,
        "socket_connect_timeout": settings.socket_timeout_s,
        "retry": Retry(NoBackoff(), 0),
    }
    if not settings.ssl:
        return Redis(**connection)
    pool = ConnectionPool(connection_class=SharedContextSSLConnection, **connection, **tls_options(settings))
    return Redis(connection_pool=pool)


class SharedContextSSLConnection(SSLConnection):
    """The asyncio client's TLS connection with the process's context for its CA (connectors.redis.tls_context):
    redis-py would build one per connection, each loading the system's CA store (18 ms of CPU), so the pool's
    first burst of connections outlasted the socket timeout and every one of them failed over to Cassandra."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # RedisSSLContext.get() hands out the context it holds, and builds one only when it holds none.
        self.ssl_context.context = tls_context(self.ca_certs, self.check_hostname)
