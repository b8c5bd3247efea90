"""MySQL as a reference source: the stack's MariaDB, read by the reference job through MySQL's Connector/J."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pymysql
import pytest
from pyspark.sql import SparkSession

from jobs import reference
from smartspaces import lake
from smartspaces.cassandra_tables import SPACES_BY_BUILDING
from smartspaces.config import MysqlSettings, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.stack import local_stack
from tests.integration.ingest_fixtures import cassandra_table_rows
from tests.integration.reference_fixtures import (
    DEVICE_ROWS,
    LATER_DEVICE_ROWS,
    LATER_SPACE_ROWS,
    SPACE_ROWS,
    T1,
    T2,
    history,
    iso,
    write_drop,
)
from tests.integration.serving_fixtures import free_port

# The tables as a building system's MySQL holds them: its own types, times as DATETIME in UTC, and column
# names in upper case (the job matches them by name, in any case).
SPACES_TABLE = (
    "SPACE_ID VARCHAR(64) PRIMARY KEY, CAMPUS_ID VARCHAR(64), BUILDING_ID VARCHAR(64), FLOOR INT, NAME VARCHAR(200), "
    "SPACE_TYPE VARCHAR(64), AREA_M2 DOUBLE, CAPACITY INT, TENANT VARCHAR(200)"
)
DEVICES_TABLE = (
    "DEVICE_ID VARCHAR(64) PRIMARY KEY, SPACE_ID VARCHAR(64), DEVICE_TYPE VARCHAR(64), MODEL VARCHAR(200), "
    "INSTALLED_AT DATETIME(6), RETIRED_AT DATETIME(6)"
)


def mysql_connection(mysql: MysqlSettings) -> Any:
    return pymysql.connect(
        host=mysql.host,
        port=mysql.port,
        user=mysql.user,
        password=mysql.password.get_secret_value() if mysql.password else "",
        database=mysql.database,
        autocommit=True,
    )


def fill_reference_tables(
    mysql: MysqlSettings, spaces: Sequence[tuple[object, ...]], devices: Sequence[tuple[object, ...]]
) -> None:
    """Makes the MySQL tables spaces and devices hold exactly these rows, as a building system updates them."""
    connection = mysql_connection(mysql)
    try:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM devices")
            cursor.execute("DELETE FROM spaces")
            cursor.executemany("INSERT INTO spaces VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", spaces)
            cursor.executemany("INSERT INTO devices VALUES (%s, %s, %s, %s, %s, %s)", devices)
    finally:
        connection.close()


@pytest.fixture
def mysql_source(registry_settings: Settings) -> Iterator[MysqlSettings]:
    """The stack's MySQL (started by the stack's own code if it is not running, and then stopped afterwards),
    with empty tables spaces and devices in the mysql settings' database."""
    settings = registry_settings
    assert settings.mysql is not None, "conf/local.yaml has a mysql section"
    was_running = local_stack.status(settings, ("mysql",))[0].state == "running"
    local_stack.up(settings, ("mysql",))
    connection = mysql_connection(settings.mysql)
    try:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS devices, spaces")
            for table, columns in (("spaces", SPACES_TABLE), ("devices", DEVICES_TABLE)):
                cursor.execute(f"CREATE TABLE {table} ({columns})")
    finally:
        connection.close()
    yield settings.mysql
    if not was_running:
        local_stack.down(settings, ("mysql",))


REGISTRY_TABLES = ("spaces", "devices", SPACES_BY_BUILDING.name)


def registries(spark: SparkSession, settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    """The lake's SCD2 histories and the Cassandra tables the job refreshes from them, row by row."""
    return {
        "space history": history(spark, lake.space_registry(settings.lake)),
        "device history": history(spark, lake.device_registry(settings.lake)),
        **{f"cassandra {table}": cassandra_table_rows(settings, table, "*") for table in REGISTRY_TABLES},
    }


def empty_cassandra_table_rows(settings: Settings) -> None:
    cluster = cassandra_cluster(settings.cassandra)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        for table in REGISTRY_TABLES:
            session.execute(f"TRUNCATE {table}", timeout=60)
    finally:
        cluster.shutdown()


def test_the_registry_built_from_mysql_equals_the_one_built_from_the_files_drop(
    spark: SparkSession,
    registry_settings: Settings,
    mysql_source: MysqlSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = write_drop(tmp_path / "first", SPACE_ROWS, DEVICE_ROWS)
    later = write_drop(tmp_path / "later", LATER_SPACE_ROWS, LATER_DEVICE_ROWS)
    assert reference.main(["--drop", first, "--effective-at", iso(T1)]) == 0
    assert reference.main(["--drop", later, "--effective-at", iso(T2)]) == 0
    from_files = registries(spark, registry_settings)

    # The same two drops, from MySQL, into a lake of their own and an emptied Cassandra registry.
    monkeypatch.setenv("SMARTSPACES__LAKE__ROOT", str(tmp_path / "lake-from-mysql"))
    from_mysql_settings = load_settings("local")
    empty_cassandra_table_rows(from_mysql_settings)
    fill_reference_tables(mysql_source, SPACE_ROWS, DEVICE_ROWS)
    assert reference.main(["--source", "mysql", "--effective-at", iso(T1)]) == 0
    fill_reference_tables(mysql_source, LATER_SPACE_ROWS, LATER_DEVICE_ROWS)
    assert reference.main(["--source", "mysql", "--effective-at", iso(T2)]) == 0
    from_mysql = registries(spark, from_mysql_settings)

    assert from_mysql == from_files
    # Not two empty registries: both drops' versions, closed and open, and the retired device's time.
    assert len(from_files["device history"]) == 5
    assert len(from_files["space history"]) == 3
    assert ("d2", "s1", "temperature", LATER_DEVICE_ROWS[1][5]) in [
        (row[0], row[4], row[5], row[8]) for row in from_mysql["device history"]
    ]


def test_a_mysql_that_does_not_answer_ends_the_job_naming_the_server_and_its_settings(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("SMARTSPACES__LAKE__ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("SMARTSPACES__MYSQL__PORT", str(port))
    monkeypatch.setenv("SMARTSPACES__MYSQL__CONNECT_TIMEOUT_S", "2")

    assert reference.main(["--source", "mysql", "--effective-at", iso(T1)]) == 2

    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0, error
    assert f"MySQL at 127.0.0.1:{port}" in error
    assert "(mysql.host, mysql.port, mysql.database, mysql.user, SMARTSPACES__MYSQL__PASSWORD)" in error
    assert "Communications link failure" in error
