"""Clients that check the server's identity: a certificate of the private CA for the right host is accepted,
one for another host name is refused, by every client path of PostgreSQL (psycopg, JDBC) and Redis (redis-py,
its asyncio client). Servers of the test's own, certificates made by the stack's CA code."""

from __future__ import annotations

import asyncio
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]
from pyspark.sql import SparkSession

from smartspaces.config import PostgresSettings, RedisSettings, Settings, load_settings
from smartspaces.connectors.postgres import connect, read_jdbc
from smartspaces.connectors.redis import redis_client
from smartspaces.stack.certificates import Issued, certificate_authority, issue_server_certificate
from smartspaces.stages.serving.cache_client import async_redis_client
from tests.integration.reporting_fixtures import PrivatePostgres, running_private_postgres
from tests.integration.serving_fixtures import free_port

# The server's address as every client here dials it.
RIGHT_HOSTS = ("127.0.0.1", "localhost")
WRONG_HOSTS = ("db.elsewhere.example",)


@pytest.fixture
def certificates() -> Iterator[tuple[Issued, Issued, Issued]]:
    """The CA, a server certificate for the loopback address, and one for another host, in a folder that
    servers running as their own system user can reach (under /tmp, not below pytest's private folder)."""
    folder = Path(tempfile.mkdtemp(prefix="smartspaces-test-tls-"))
    folder.chmod(0o755)
    ca = certificate_authority(folder)
    right = issue_server_certificate(ca, folder, "right", RIGHT_HOSTS)
    wrong = issue_server_certificate(ca, folder, "wrong", WRONG_HOSTS)
    ca.certificate.chmod(0o644)
    yield ca, right, wrong
    shutil.rmtree(folder, ignore_errors=True)


def served_by(server: PrivatePostgres, issued: Issued) -> None:
    """Makes the running server present this certificate (TLS settings take effect on reload)."""
    user = server.server.run_as()
    for path in (issued.certificate, issued.key):
        if user:
            shutil.chown(path, user=user, group=pwd.getpwnam(user).pw_gid)
    with connect(server.settings, autocommit=True) as connection:
        connection.execute(f"ALTER SYSTEM SET ssl_cert_file = '{issued.certificate}'".encode())
        connection.execute(f"ALTER SYSTEM SET ssl_key_file = '{issued.key}'".encode())
        connection.execute(b"ALTER SYSTEM SET ssl = on")
        connection.execute(b"SELECT pg_reload_conf()")
    time.sleep(0.5)  # the postmaster applies the reload asynchronously


def test_postgresql_verify_full_accepts_the_right_host_and_refuses_another_in_psycopg_and_jdbc(
    spark: SparkSession, settings: Settings, certificates: tuple[Issued, Issued, Issued]
) -> None:
    ca, right, wrong = certificates
    with running_private_postgres(settings) as server:
        served_by(server, right)
        pg: PostgresSettings = server.settings.model_copy(
            update={"sslmode": "verify-full", "sslrootcert": ca.certificate}
        )
        with connect(pg) as connection:
            row = connection.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
            assert row == (True,)
        assert read_jdbc(spark, pg, "(SELECT 1 AS one) AS probe").collect()[0].one == 1

        served_by(server, wrong)
        with pytest.raises(psycopg.OperationalError, match="does not match host name"):
            connect(pg).close()
        with pytest.raises(Py4JJavaError) as refused:
            read_jdbc(spark, pg, "(SELECT 1 AS one) AS probe").collect()
        assert "could not be verified" in str(refused.value.java_exception)


class TlsRedis:
    """A redis-server of the test's own, TLS only, presenting the certificate it was started with."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, issued: Issued, ca: Issued) -> None:
        self.stop()
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is missing: apt-get install redis-server"
        command = [
            binary,
            *("--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1"),
            *("--tls-cert-file", str(issued.certificate), "--tls-key-file", str(issued.key)),
            *("--tls-ca-cert-file", str(ca.certificate), "--tls-auth-clients", "no"),
            *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            assert time.monotonic() < deadline, "the TLS redis-server did not listen"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedis]:
    server = TlsRedis(tmp_path)
    yield server
    server.stop()


def test_redis_over_tls_accepts_the_right_host_and_refuses_another_in_both_clients(
    tls_redis: TlsRedis, certificates: tuple[Issued, Issued, Issued]
) -> None:
    ca, right, wrong = certificates
    local = load_settings("local", environ={}).redis
    cache: RedisSettings = local.model_copy(
        update={"port": tls_redis.port, "ssl": True, "ssl_ca_certs": ca.certificate, "db": 0}
    )

    tls_redis.start(right, ca)
    assert redis_client(cache).ping()
    assert asyncio.run(_async_ping(cache))

    tls_redis.start(wrong, ca)
    with pytest.raises(redis.exceptions.ConnectionError, match="certificate verify failed"):
        redis_client(cache).ping()
    with pytest.raises(redis.exceptions.ConnectionError, match="certificate verify failed"):
        asyncio.run(_async_ping(cache))


async def _async_ping(cache: RedisSettings) -> bool:
    client = async_redis_client(cache)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()
