"""The local stack: every server answers, `up` is idempotent, `down` stops exactly what `up` started."""

from __future__ import annotations

import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from psycopg import sql

from smartspaces.bootstrap import apply_all
from smartspaces.bootstrap.migrations import discover
from smartspaces.bootstrap.postgres import apply_postgres
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.postgres import connect
from smartspaces.pins import load_pins
from smartspaces.stack import local_stack
from smartspaces.stack.process import StackError, is_running


def default_servers(settings: Settings) -> list[local_stack.ServerStatus]:
    """The status of the servers `up` starts by default: MySQL is optional, and a test beside these may start
    and stop it."""
    return local_stack.status(settings, local_stack.DEFAULT_NAMES)


def test_every_server_answers_a_real_request(settings: Settings) -> None:
    report = {server.name: server for server in default_servers(settings)}
    pins = load_pins()
    assert {name: server.state for name, server in report.items()} == dict.fromkeys(
        ("cassandra", "kafka", "postgres", "redis"), "running"
    )
    assert report["cassandra"].answer == f"Cassandra {pins.servers['cassandra'].version}"
    assert report["kafka"].answer.startswith(f"Kafka {pins.servers['kafka'].version}, 1 broker(s)")
    assert report["postgres"].answer.startswith("PostgreSQL ")
    assert report["redis"].answer.startswith("Redis ")


def test_up_again_keeps_the_same_processes(settings: Settings) -> None:
    before = {server.name: server.pid for server in default_servers(settings)}
    after = {server.name: server.pid for server in local_stack.up(settings)}
    assert after == before


def test_down_stops_exactly_the_started_process_and_up_brings_it_back(settings: Settings, tmp_path: Path) -> None:
    # A Redis of this test's own (its own data directory and port): the shared stack's keeps serving the tests
    # that run beside this one, and must be left exactly as it was.
    private = private_stack(settings, tmp_path)
    shared = {server.name: server.pid for server in default_servers(settings)}
    try:
        (redis_before,) = local_stack.up(private, ("redis",))
        assert redis_before.state == "running" and redis_before.pid is not None
        assert local_stack.down(private, ("redis",)) == ["redis"]
        assert not is_running(redis_before.pid)
        assert local_stack.status(private, ("redis",))[0].state == "stopped"
        assert {server.name: server.pid for server in default_servers(settings)} == shared
        (redis_after,) = local_stack.up(private, ("redis",))
        assert redis_after.state == "running"
        assert redis_after.pid != redis_before.pid
    finally:
        local_stack.down(private, ("redis",))
    assert local_stack.status(private, ("redis",))[0].state == "stopped"


def private_stack(settings: Settings, data_dir: Path, redis_port: int | None = None) -> Settings:
    """The settings of a stack in data_dir whose Redis listens on redis_port (a free one when not given)."""
    assert settings.stack is not None
    if redis_port is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            redis_port = probe.getsockname()[1]
    return settings.model_copy(
        update={
            "stack": settings.stack.model_copy(update={"data_dir": data_dir}),
            "redis": settings.redis.model_copy(update={"port": redis_port}),
        }
    )


def test_a_taken_port_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    assert settings.stack is not None
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        other = private_stack(settings, tmp_path, port)
        with pytest.raises(StackError, match=rf"redis: port {port} on 127.0.0.1 is taken"):
            local_stack.up(other, ("redis",))


def test_schema_bootstrap_is_idempotent(settings: Settings) -> None:
    assert apply_all(settings) == [
        f"cassandra: keyspace {settings.cassandra.keyspace} up to date",
        f"postgres: database {settings.postgres.database} up to date",
    ]
    cluster = cassandra_cluster(settings.cassandra)
    try:
        tables = {
            row.table_name
            for row in cluster.connect().execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (settings.cassandra.keyspace,)
            )
        }
    finally:
        cluster.shutdown()
    assert {"schema_migrations", "smoke_readings"} <= tables
    with connect(settings.postgres) as connection:
        row = connection.execute("SELECT to_regclass('smoke.device_summary') IS NOT NULL").fetchone()
    assert row == (True,)


def test_concurrent_bootstraps_of_a_fresh_database_apply_each_migration_once(settings: Settings) -> None:
    """Two jobs (or two test workers) starting at once on a new database: one applies, the other waits and finds
    everything applied."""
    name = f"test_bootstrap_{uuid.uuid4().hex[:8]}"
    with connect(settings.postgres, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    fresh = settings.postgres.model_copy(update={"database": name})
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            reports = list(pool.map(lambda _: apply_postgres(fresh), range(3)))
        with connect(fresh) as connection:
            versions = [row[0] for row in connection.execute("SELECT version FROM public.schema_migrations")]
    finally:
        with connect(settings.postgres, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    expected = sorted(migration.version for migration in discover("postgres"))
    assert sorted(versions) == expected
    applied_lines = [line for report in reports for line in report if line.startswith("postgres: applied")]
    assert len(applied_lines) == len(expected)
    assert sum(report == [f"postgres: database {name} up to date"] for report in reports) == 2
