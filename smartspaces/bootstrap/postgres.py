"""Applies the versioned SQL migrations, each in its own transaction, under an advisory lock."""

from __future__ import annotations

from smartspaces.bootstrap.migrations import check_unchanged, discover
from smartspaces.config import PostgresSettings
from smartspaces.connectors.postgres import connect

STORE = "postgres"
# Any fixed number: two concurrent bootstraps wait for each other instead of racing.
_LOCK_ID = 7_242_001


def apply_postgres(pg: PostgresSettings) -> list[str]:
    """Applies the migrations not yet applied; a failing one rolls back whole and stops the run.

    Autocommit, so that each migration commits before the lock is released: a concurrent bootstrap then reads
    every version applied before it, instead of applying one again."""
    report = []
    with connect(pg, autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS public.schema_migrations (version integer PRIMARY KEY, "
                "name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = connection.execute("SELECT version, checksum FROM public.schema_migrations").fetchall()
            applied = {version: checksum for version, checksum in rows}
            for migration in discover(STORE):
                if migration.version in applied:
                    check_unchanged(migration, applied[migration.version], STORE)
                    continue
                with connection.transaction():
                    for statement in migration.statements():
                        # Bytes: the file is sent as written, with no placeholder parsing.
                        connection.execute(statement.encode())
                    connection.execute(
                        "INSERT INTO public.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                report.append(f"postgres: applied V{migration.version:04d}__{migration.name}")
        finally:
            if not connection.closed:
                connection.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return report or [f"postgres: database {pg.database} up to date"]
