"""PostgreSQL from Debian's packages, with its own data directory and port, as a process of the stack."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from smartspaces.stack.process import StackError
from smartspaces.stack.server import LOOPBACK, ServiceUserServer


def postgres_binary(name: str) -> str:
    """A PostgreSQL server program: on PATH, else the newest of Debian's /usr/lib/postgresql/<major>/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise StackError(f"PostgreSQL's {name} is missing: apt-get install postgresql")
    return str(candidates[-1])


class PostgresServer(ServiceUserServer):
    name = "postgres"
    service_user = "postgres"
    # SIGINT is PostgreSQL's fast shutdown: sessions are ended, data is flushed.
    stop_signal = signal.SIGINT

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.postgres.port,)

    @property
    def endpoint(self) -> str:
        pg = self.settings.postgres
        return f"postgresql://{pg.user}@{LOOPBACK}:{pg.port}/{pg.database}"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def prepare(self) -> None:
        self.make_folders(self.folder, self.folder / "run")
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.make_folders(self.data_dir, mode=0o700)
        # Loopback only, trust: the local stack has no secrets to keep. Other environments use passwords.
        result = subprocess.run(
            [
                postgres_binary("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.settings.postgres.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            capture_output=True,
            text=True,
            user=self.run_as(),
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"postgres: initdb failed:\n{result.stdout}{result.stderr}")

    def command(self) -> list[str]:
        return [
            postgres_binary("postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.settings.postgres.port),
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            f"unix_socket_directories={self.folder / 'run'}",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "max_connections=50",
        ]

    def _connect(self, database: str) -> psycopg.Connection[Any]:
        pg = self.settings.postgres
        return psycopg.connect(
            host=LOOPBACK, port=pg.port, user=pg.user, dbname=database, connect_timeout=2, autocommit=True
        )

    def probe(self) -> str:
        with self._connect("postgres") as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0] if row else '?'}"

    def after_ready(self) -> None:
        database = self.settings.postgres.database
        with self._connect("postgres") as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
