"""PostgreSQL from Debian's packages, with its own data directory and port, as a process of the stack.

With stack.secure, the server runs as Azure Database for PostgreSQL is reached: TLS only (a certificate of the
stack's CA for 127.0.0.1), SCRAM passwords for the owner (postgres.user) and for the enrichment's reporting_writer.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from smartspaces.stack.certificates import stack_authority, stack_server_certificate
from smartspaces.stack.process import StackError
from smartspaces.stack.secrets import stack_password
from smartspaces.stack.server import LOOPBACK, ServiceUserServer

# The enrichment's login role (migration V0007 grants it what the window write needs); a secure stack gives it a
# password.
WRITER_ROLE = "reporting_writer"
# A secure stack's client authentication: TLS and SCRAM over TCP, SCRAM on the server's own socket.
_SECURE_HBA = f"""local all all scram-sha-256
hostssl all all {LOOPBACK}/32 scram-sha-256
"""


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
        # Loopback only, trust: the local stack has no secrets to keep. A secure one asks for passwords.
        authentication = ["--auth=trust"]
        if self.stack.secure:
            password_file = self._own(self.folder / "run" / "initdb-password")
            password_file.write_text(self.password(self.settings.postgres.user))
            authentication = ["--auth=scram-sha-256", f"--pwfile={password_file}"]
        result = subprocess.run(
            [
                postgres_binary("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.settings.postgres.user,
                *authentication,
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            capture_output=True,
            text=True,
            user=self.run_as(),
            check=False,
        )
        if self.stack.secure:
            password_file.unlink()
        if result.returncode != 0:
            raise StackError(f"postgres: initdb failed:\n{result.stdout}{result.stderr}")

    def password(self, user: str) -> str:
        return stack_password(self.stack, self.name, user)

    def _own(self, path: Path) -> Path:
        """The file (created empty if missing) readable by the server's user alone (PostgreSQL refuses a key others
        can read)."""
        path.touch(mode=0o600)
        path.chmod(0o600)
        self.hand_over(path)
        return path

    def _secure_options(self) -> list[str]:
        """TLS with the stack's certificate, and the secure authentication rules (stack.secure)."""
        if not self.stack.secure:
            return []
        tls = self.folder / "tls"
        self.make_folders(tls, mode=0o700)
        issued = stack_server_certificate(self.stack.data_dir, tls, "postgres", (LOOPBACK,))
        hba = self.folder / "pg_hba.conf"
        hba.write_text(_SECURE_HBA)
        for path in (issued.certificate, issued.key, hba):
            self._own(path)
        return [
            "-c", "ssl=on",
            "-c", f"ssl_cert_file={issued.certificate}",
            "-c", f"ssl_key_file={issued.key}",
            "-c", f"hba_file={hba}",
            "-c", "password_encryption=scram-sha-256",
        ]  # fmt: skip

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
            *self._secure_options(),
        ]

    def _connect(self, database: str) -> psycopg.Connection[Any]:
        pg = self.settings.postgres
        secure: dict[str, Any] = {}
        if self.stack.secure:
            secure = {
                "sslmode": "verify-full",
                "sslrootcert": str(stack_authority(self.stack.data_dir).certificate),
                "password": self.password(pg.user),
            }
        return psycopg.connect(
            host=LOOPBACK, port=pg.port, user=pg.user, dbname=database, connect_timeout=2, autocommit=True, **secure
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
            if self.stack.secure:
                # The enrichment's login, before the migration that grants it its rights (and keeps a role it finds).
                role = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (WRITER_ROLE,)).fetchone()
                statement = "ALTER ROLE {} LOGIN PASSWORD {}" if role else "CREATE ROLE {} LOGIN PASSWORD {}"
                connection.execute(
                    sql.SQL(statement).format(sql.Identifier(WRITER_ROLE), sql.Literal(self.password(WRITER_ROLE)))
                )
