"""Applies the keyspace (from config) and the versioned CQL files, each once."""

from __future__ import annotations

from cassandra.cluster import Session
from cassandra.query import SimpleStatement

from smartspaces.bootstrap.migrations import check_unchanged, discover
from smartspaces.config import CassandraSettings
from smartspaces.connectors.cassandra import cassandra_cluster

STORE = "cassandra"


def _replication(cassandra: CassandraSettings) -> str:
    return "{" + ", ".join(f"'{key}': '{value}'" for key, value in cassandra.replication.items()) + "}"


def apply_cassandra(cassandra: CassandraSettings) -> list[str]:
    """Creates the keyspace and applies the CQL files not yet applied; returns what it did."""
    keyspace = cassandra.keyspace
    cluster = cassandra_cluster(cassandra)
    try:
        session: Session = cluster.connect()
        session.execute(f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {_replication(cassandra)}")
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations "
            "(version int PRIMARY KEY, name text, checksum text, applied_at timestamp)"
        )
        applied = {
            row.version: row.checksum
            for row in session.execute(f"SELECT version, checksum FROM {keyspace}.schema_migrations")
        }
        report = []
        for migration in discover(STORE, keyspace=keyspace):
            if migration.version in applied:
                check_unchanged(migration, applied[migration.version], STORE)
                continue
            # Each statement is idempotent (IF NOT EXISTS), so a run cut short can simply be repeated.
            for statement in migration.statements():
                session.execute(SimpleStatement(statement), timeout=60)
            session.execute(
                f"INSERT INTO {keyspace}.schema_migrations (version, name, checksum, applied_at) "
                "VALUES (%s, %s, %s, toTimestamp(now()))",
                (migration.version, migration.name, migration.checksum),
            )
            report.append(f"cassandra: applied {migration.version:04d}_{migration.name}")
        return report or [f"cassandra: keyspace {keyspace} up to date"]
    finally:
        cluster.shutdown()
