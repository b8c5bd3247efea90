"""Versioned schema files: NNNN_name.cql for Cassandra, VNNNN__name.sql for PostgreSQL, applied in order once."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from string import Template

_FILE_NAME = re.compile(r"^V?(?P<version>\d{4})_{1,2}(?P<name>[a-z0-9_]+)\.(?:cql|sql)$")


class MigrationError(RuntimeError):
    """A schema file is malformed, or was changed after it was applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def statements(self) -> list[str]:
        """The file's statements, split at semicolons that end a line; comment lines dropped."""
        body = "\n".join(line for line in self.text.splitlines() if not line.strip().startswith("--"))
        return [statement.strip() for statement in re.split(r";\s*$", body, flags=re.MULTILINE) if statement.strip()]


def discover(store: str, **placeholders: str) -> list[Migration]:
    """The migrations of a store ('cassandra' or 'postgres'), ordered, with $placeholders filled in."""
    found: dict[int, Migration] = {}
    for entry in resources.files(__package__).joinpath(store).iterdir():
        if entry.name.startswith(".") or entry.name.startswith("_") or not entry.is_file():
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"{store}/{entry.name}: expected NNNN_name.cql or VNNNN__name.sql")
        version = int(match["version"])
        if version in found:
            raise MigrationError(f"{store}: two files have version {version}")
        text = Template(entry.read_text(encoding="utf-8")).substitute(placeholders)
        found[version] = Migration(version, match["name"], text)
    return [found[version] for version in sorted(found)]


def check_unchanged(migration: Migration, applied_checksum: str, store: str) -> None:
    if applied_checksum != migration.checksum:
        raise MigrationError(
            f"{store} migration {migration.version:04d}_{migration.name} changed after it was applied; "
            "add a new migration instead of editing an applied one"
        )
