"""The table catalog matches the CQL files that create the tables, column by column and key by key."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

import smartspaces.bootstrap
from smartspaces.cassandra_tables import TABLES, CassandraTable

CQL_DIR = Path(smartspaces.bootstrap.__file__).parent / "cassandra"
CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS \$\{keyspace\}\.(\w+) \((.*?)\n\)([^;]*);", re.S)
TTL = re.compile(r"default_time_to_live = (\d+)")
PRIMARY_KEY = re.compile(r"PRIMARY KEY \((?:\(([^)]*)\))?\s*,?\s*([^)]*)\)")
ALTER_ADD = re.compile(r"ALTER TABLE \$\{keyspace\}\.(\w+) ADD IF NOT EXISTS \(?([^);]*)\)?;")


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def tables_in_cql() -> dict[str, CassandraTable]:
    """Every table the CQL files create, with the columns later files add, in file order."""
    tables: dict[str, CassandraTable] = {}
    for path in sorted(CQL_DIR.glob("*.cql")):
        text = path.read_text()
        for name, body, options in CREATE.findall(text):
            columns: list[tuple[str, str]] = []
            partition: tuple[str, ...] = ()
            clustering: tuple[str, ...] = ()
            for line in body.strip().splitlines():
                line = line.strip().rstrip(",")
                key = PRIMARY_KEY.match(line)
                if key:
                    partition, clustering = _names(key.group(1) or ""), _names(key.group(2))
                    if not partition:  # PRIMARY KEY (a, b): the first column alone is the partition key
                        partition, clustering = clustering[:1], clustering[1:]
                    continue
                column, cql_type = line.split(" ", 1)
                if cql_type.endswith(" PRIMARY KEY"):
                    cql_type, partition = cql_type.removesuffix(" PRIMARY KEY"), (column,)
                columns.append((column, cql_type))
            ttl = TTL.search(options)
            expiry = timedelta(seconds=int(ttl.group(1))) if ttl else None
            tables[name] = CassandraTable(name, partition, clustering, tuple(columns), expiry)
        for name, added in ALTER_ADD.findall(text):
            table = tables[name]
            extra = tuple(tuple(column.strip().split(" ", 1)) for column in added.split(","))
            tables[name] = CassandraTable(
                name, table.partition_key, table.clustering_key, table.columns + extra, table.ttl
            )
    return tables


def test_the_cql_files_hold_tables() -> None:
    # A parser that found nothing would make the comparison below vacuous.
    assert len(tables_in_cql()) >= 10


def test_every_created_table_is_in_the_catalog() -> None:
    assert sorted(tables_in_cql()) == sorted(table.name for table in TABLES)


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_the_catalog_matches_the_cql(table: CassandraTable) -> None:
    assert table == tables_in_cql()[table.name]


def test_a_column_the_cql_lacks_is_a_difference() -> None:
    events = tables_in_cql()["events_by_device_day"]
    drifted = CassandraTable(events.name, events.partition_key, events.clustering_key, (*events.columns, ("x", "int")))
    assert drifted != events


def test_the_tables_that_expire_are_found_with_their_time_to_live() -> None:
    # The parser must see the WITH clause, or every table would compare as never expiring.
    expiring = {name: table.ttl for name, table in tables_in_cql().items() if table.ttl}
    assert expiring == {
        "change_log": timedelta(days=7),
        "change_log_commits": timedelta(days=7),
        "critical_events_by_space": timedelta(days=30),
        "received_hours": timedelta(days=35),
    }
