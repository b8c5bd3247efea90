"""Versioned schema files: found in order, split into statements, protected against edits after applying."""

from __future__ import annotations

import pytest

from smartspaces.bootstrap.migrations import Migration, MigrationError, check_unchanged, discover


def test_cassandra_files_are_ordered_and_take_the_keyspace() -> None:
    migrations = discover("cassandra", keyspace="ks_test")
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].name == "smoke_readings"
    assert "CREATE TABLE IF NOT EXISTS ks_test.smoke_readings" in migrations[0].text


def test_postgres_files_are_ordered() -> None:
    migrations = discover("postgres")
    assert [(m.version, m.name) for m in migrations][:1] == [(1, "smoke")]


def test_statements_split_at_line_ending_semicolons_and_drop_comments() -> None:
    migration = Migration(
        1, "x", "-- a comment; not a statement\nCREATE TABLE a (b text);\n\nINSERT INTO a VALUES ('x;y');\n"
    )
    assert migration.statements() == ["CREATE TABLE a (b text)", "INSERT INTO a VALUES ('x;y')"]


def test_a_migration_edited_after_applying_is_refused() -> None:
    applied = Migration(1, "x", "CREATE TABLE a (b text);")
    edited = Migration(1, "x", "CREATE TABLE a (b int);")
    check_unchanged(applied, applied.checksum, "postgres")
    with pytest.raises(MigrationError, match="0001_x changed after it was applied"):
        check_unchanged(edited, applied.checksum, "postgres")
