"""The secure stack (conf/secure.yaml), whose servers run as Azure's do: TLS only, passwords, least-privilege users.

Cassandra: both drivers check the node's certificate and its name (the Spark connector, whose own factory turns
the check off, through the JVM option every session has), the built-in superuser is disabled, and the read-only
role reads and is refused every write. PostgreSQL and Redis accept no connection without TLS or a password.
The stack's own servers, started here if they are not running (and then stopped at the end).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import redis
from cassandra import Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import NoHostAvailable
from pydantic import SecretStr
from pyspark.sql import SparkSession

from smartspaces.bootstrap.cassandra import apply_cassandra
from smartspaces.config import ENV_NAME_VARIABLE, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.postgres import connect
from smartspaces.connectors.redis import redis_client
from smartspaces.session import cassandra_conf, write_java_truststore
from smartspaces.stack import local_stack
from smartspaces.stack.cassandra import API_ROLE, BUILT_IN_SUPERUSER, READER_ROLE, CassandraServer
from smartspaces.stack.identities import part_environment
from smartspaces.stack.postgres import WRITER_ROLE
from smartspaces.status.collect import read_redis
from tests.conftest import TEST_OVERRIDES
from tests.integration.cassandra_identity_probe import NAME_REFUSED

SERVERS = ("cassandra", "postgres", "redis")
WRONG_NAME = "cassandra.wrong-name.test"


def secure_settings(part: str = "platform") -> Settings:
    """The secure stack's settings with a part's users and passwords, as `smartspaces exec --as PART` gives them."""
    bare = load_settings("secure", environ={**os.environ, **TEST_OVERRIDES})
    return load_settings("secure", environ={**os.environ, **TEST_OVERRIDES, **part_environment(bare, part)})


@pytest.fixture(scope="module")
def secure() -> Iterator[Settings]:
    bare = load_settings("secure", environ={**os.environ, **TEST_OVERRIDES})
    running = {server.name for server in local_stack.status(bare, SERVERS) if server.state == "running"}
    local_stack.up(bare, SERVERS)
    yield secure_settings()
    started_here = tuple(name for name in SERVERS if name not in running)
    if started_here:
        local_stack.down(bare, started_here)


@pytest.fixture(scope="module")
def keyspace(secure: Settings) -> Iterator[str]:
    """A keyspace of the platform's role with one reading: d1, 21.5."""
    name = f"test_secure_{uuid.uuid4().hex[:8]}"
    owner = cassandra_cluster(secure.cassandra)
    session = owner.connect()
    session.execute(f"CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}")
    session.execute(f"CREATE TABLE {name}.readings (device_id text PRIMARY KEY, value double)")
    session.execute(f"INSERT INTO {name}.readings (device_id, value) VALUES ('d1', 21.5)")
    yield name
    session.execute(f"DROP KEYSPACE IF EXISTS {name}")
    owner.shutdown()


def test_cassandra_admits_the_platform_role_over_tls_and_refuses_the_built_in_superuser(secure: Settings) -> None:
    cluster = cassandra_cluster(secure.cassandra)
    try:
        row = cluster.connect().execute("SELECT role FROM system_auth.roles WHERE role = %s", (READER_ROLE,)).one()
        assert row.role == READER_ROLE
    finally:
        cluster.shutdown()
    for user, password in ((BUILT_IN_SUPERUSER, BUILT_IN_SUPERUSER), (secure.cassandra.username, "wrong")):
        refused = cassandra_cluster(secure.cassandra)
        refused.auth_provider = PlainTextAuthProvider(user, password)
        with pytest.raises(NoHostAvailable, match="AuthenticationFailed"):
            refused.connect()
        refused.shutdown()


def test_the_python_driver_refuses_the_node_under_another_host_name(secure: Settings) -> None:
    cluster = cassandra_cluster(secure.cassandra)
    # The name the driver checks the certificate against, as if it had dialled another host.
    cluster.ssl_options = {"server_hostname": WRONG_NAME}
    try:
        with pytest.raises(NoHostAvailable, match=f"Hostname mismatch|doesn't match '{WRONG_NAME}'"):
            cluster.connect()
    finally:
        cluster.shutdown()


def test_the_read_only_role_reads_and_is_refused_every_write(secure: Settings, keyspace: str) -> None:
    reader = cassandra_cluster(secure_settings("enrich").cassandra)
    try:
        reading = reader.connect()
        assert list(reading.execute(f"SELECT device_id, value FROM {keyspace}.readings")) == [("d1", 21.5)]
        for statement in (
            f"INSERT INTO {keyspace}.readings (device_id, value) VALUES ('d2', 1.0)",
            f"DELETE FROM {keyspace}.readings WHERE device_id = 'd1'",
            f"TRUNCATE {keyspace}.readings",
            f"DROP TABLE {keyspace}.readings",
            f"CREATE TABLE {keyspace}.other (id text PRIMARY KEY)",
        ):
            with pytest.raises(Unauthorized):
                reading.execute(statement)
        assert list(reading.execute(f"SELECT device_id FROM {keyspace}.readings")) == [("d1",)]
    finally:
        reader.shutdown()


def test_the_read_api_role_reads_and_acknowledges_alarms_and_may_write_nothing_else(secure: Settings) -> None:
    assert secure.stack is not None
    apply_cassandra(secure.cassandra)
    assert CassandraServer(secure, secure.stack).grant_table_rights() == [
        f"cassandra: {API_ROLE} may modify alarms, alarms_by_space"
    ]
    keyspace, alarm_id = secure.cassandra.keyspace, uuid.uuid4()
    owner = cassandra_cluster(secure.cassandra)
    api = cassandra_cluster(secure_settings("serve").cassandra)
    try:
        session = owner.connect()
        session.execute(f"INSERT INTO {keyspace}.alarms (alarm_id, rule_id) VALUES (%s, 'test')", (alarm_id,))
        serving = api.connect()
        at = datetime.now(UTC).replace(microsecond=0)
        serving.execute(
            f"UPDATE {keyspace}.alarms SET acknowledged_at = %s, acknowledged_by = 'ops' WHERE alarm_id = %s",
            (at, alarm_id),
        )
        row = serving.execute(f"SELECT acknowledged_by FROM {keyspace}.alarms WHERE alarm_id = %s", (alarm_id,)).one()
        assert row.acknowledged_by == "ops"
        for statement in (
            f"INSERT INTO {keyspace}.schema_migrations (version, name) VALUES (9999, 'x')",
            f"TRUNCATE {keyspace}.critical_events_by_space",
            f"DROP TABLE {keyspace}.alarms",
        ):
            with pytest.raises(Unauthorized):
                serving.execute(statement)
    finally:
        owner.connect().execute(f"DELETE FROM {keyspace}.alarms WHERE alarm_id = %s", (alarm_id,))
        api.shutdown()
        owner.shutdown()


def test_the_spark_connector_reads_over_tls_with_the_platform_role(
    spark: SparkSession, secure: Settings, keyspace: str
) -> None:
    write_java_truststore(secure.cassandra)
    # The secure stack's connection, for this read alone (the connector takes its settings per DataFrame too).
    options = {
        key: value for key, value in cassandra_conf(secure.cassandra).items() if "connection" in key or "auth" in key
    }
    readings = (
        spark.read.format("org.apache.spark.sql.cassandra")
        .options(keyspace=keyspace, table="readings", **options)
        .load()
        .collect()
    )
    assert [(row.device_id, row.value) for row in readings] == [("d1", 21.5)]


def test_the_spark_connector_refuses_the_node_under_another_host_name(
    secure: Settings, keyspace: str, tmp_path: Path
) -> None:
    hosts = tmp_path / "hosts"
    # The JVM's only names: 127.0.0.1 is the wrong name, whose certificate says 127.0.0.1 and localhost.
    hosts.write_text(f"127.0.0.1 {WRONG_NAME}\n")
    probe = subprocess.run(
        [sys.executable, "-m", "tests.integration.cassandra_identity_probe", str(hosts), keyspace],
        env={**os.environ, **TEST_OVERRIDES, ENV_NAME_VARIABLE: "secure", **part_environment(secure)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert probe.returncode == NAME_REFUSED, probe.stderr[-3000:]
    assert f"No subject alternative DNS name matching {WRONG_NAME} found" in probe.stderr


def test_postgresql_refuses_connections_without_tls_or_the_password(secure: Settings) -> None:
    with connect(secure.postgres) as connection:
        row = connection.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert row == (True,)
    writer = secure_settings("enrich").postgres
    assert writer.user == WRITER_ROLE
    with connect(writer) as connection:
        assert connection.execute("SELECT current_user").fetchone() == (WRITER_ROLE,)
    plaintext = secure.postgres.model_copy(update={"sslmode": "disable"})
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        connect(plaintext).close()
    wrong = secure.postgres.model_copy(update={"password": SecretStr("wrong")})
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(wrong).close()


def test_redis_speaks_tls_only_and_has_no_default_user(secure: Settings) -> None:
    assert redis_client(secure.redis).ping()
    anonymous = redis_client(secure.redis.model_copy(update={"username": None, "password": None}))
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    plaintext = redis_client(secure.redis.model_copy(update={"ssl": False}))
    with pytest.raises(redis.ConnectionError):
        plaintext.ping()


def test_status_counts_redis_keys_as_the_administrator_and_says_why_the_writer_may_not(secure: Settings) -> None:
    assert read_redis(secure_settings("status")).unavailable is None
    refused = read_redis(secure).unavailable
    assert refused is not None
    assert refused.text().startswith("redis: user smartspaces-writer may not count the keys (DBSIZE, INFO, SCAN)")
    assert refused.text().endswith("(redis.username)")
