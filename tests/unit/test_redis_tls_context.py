"""Redis clients over TLS share one SSL context per CA and process (redis-py would build one per connection)."""

from __future__ import annotations

import ssl
from pathlib import Path

from redis import Connection

from smartspaces.config import RedisSettings
from smartspaces.connectors.redis import SharedContextSSLConnection, redis_client, tls_context
from smartspaces.stack.certificates import certificate_authority
from smartspaces.stages.serving.cache_client import SharedContextSSLConnection as AsyncSharedContextSSLConnection
from smartspaces.stages.serving.cache_client import async_redis_client


def test_clients_over_tls_share_one_context_that_checks_the_certificate_and_its_name(tmp_path: Path) -> None:
    ca = certificate_authority(tmp_path).certificate
    settings = RedisSettings(host="127.0.0.1", port=6380, ssl=True, ssl_ca_certs=ca)
    classes = [
        getattr(redis_client(settings).connection_pool, "connection_class", None),
        getattr(async_redis_client(settings).connection_pool, "connection_class", None),
    ]
    assert classes == [SharedContextSSLConnection, AsyncSharedContextSSLConnection]
    context = tls_context(str(ca), True)
    assert context is tls_context(str(ca), True)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert [entry["subject"] for entry in context.get_ca_certs()] == [((("commonName", "smartspaces local CA"),),)]
    connection = AsyncSharedContextSSLConnection(host="127.0.0.1", port=6380, ssl_ca_certs=str(ca))
    assert connection.ssl_context.get() is context


def test_a_plain_client_keeps_redis_py_s_own_connection() -> None:
    pool = redis_client(RedisSettings(host="127.0.0.1", port=6379)).connection_pool
    assert getattr(pool, "connection_class", None) is Connection
