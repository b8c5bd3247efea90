"""MySQL for the reference job's MySQL source: MariaDB from Debian's packages, an optional server of the stack.

`smartspaces stack up --with mysql` starts it beside the others; `down` stops it with them.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pymysql

from smartspaces.config import MysqlSettings
from smartspaces.stack.process import StackError
from smartspaces.stack.server import LOOPBACK, ServiceUserServer


def mariadb_binary(name: str) -> str:
    """A MariaDB program: on PATH, else in /usr/sbin or /usr/bin (where Debian puts them)."""
    found = shutil.which(name) or next(
        (str(path) for path in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if path.exists()), None
    )
    if found is None:
        raise StackError(f"MariaDB's {name} is missing: apt-get install mariadb-server")
    return found


def quoted_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MysqlServer(ServiceUserServer):
    name = "mysql"
    service_user = "mysql"
    # SIGTERM is MariaDB's normal shutdown: InnoDB flushes and closes its files.
    stop_signal = signal.SIGTERM

    @property
    def mysql(self) -> MysqlSettings:
        if self.settings.mysql is None:
            raise StackError(f"the {self.settings.environment!r} environment has no 'mysql' section")
        return self.settings.mysql

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.mysql.port,)

    @property
    def endpoint(self) -> str:
        return f"mysql://{self.mysql.user}@{LOOPBACK}:{self.mysql.port}/{self.mysql.database}"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def init_file(self) -> Path:
        return self.folder / "init.sql"

    def prepare(self) -> None:
        self.make_folders(self.folder, self.folder / "run")
        # Run at every start, so a changed database or user name in the settings takes effect. Loopback only,
        # no password: the local stack has no secrets to keep (as PostgreSQL's trust). Other environments use
        # the mysql settings' password.
        account = f"'{self.mysql.user}'@'{LOOPBACK}'"
        self.init_file.write_text(
            f"CREATE DATABASE IF NOT EXISTS {quoted_name(self.mysql.database)} CHARACTER SET utf8mb4;\n"
            f"CREATE USER IF NOT EXISTS {account};\n"
            f"GRANT ALL PRIVILEGES ON {quoted_name(self.mysql.database)}.* TO {account};\n",
            encoding="utf-8",
        )
        if (self.data_dir / "mysql").is_dir():
            return
        self.make_folders(self.data_dir, mode=0o700)
        # root is reachable only through the server's socket, by the system user that owns it.
        result = subprocess.run(
            [
                mariadb_binary("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={self.data_dir}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            user=self.run_as(),
            cwd=self.folder,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"mysql: mariadb-install-db failed:\n{result.stdout}{result.stderr}")

    def command(self) -> list[str]:
        run = self.folder / "run"
        return [
            mariadb_binary("mariadbd"),
            "--no-defaults",
            f"--datadir={self.data_dir}",
            f"--port={self.mysql.port}",
            f"--bind-address={LOOPBACK}",
            f"--socket={run / 'mysqld.sock'}",
            f"--pid-file={run / 'mysqld.pid'}",
            f"--init-file={self.init_file}",
            # Accounts are matched by address: no DNS lookups on connect.
            "--skip-name-resolve",
            # A reference source holds thousands of rows, not gigabytes: a small server on a 2-core machine.
            "--innodb-buffer-pool-size=64M",
            "--performance-schema=OFF",
            "--max-connections=50",
        ]

    def probe(self) -> str:
        connection = pymysql.connect(
            host=LOOPBACK, port=self.mysql.port, user=self.mysql.user, database=self.mysql.database, connect_timeout=2
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT VERSION()")
                row = cursor.fetchone()
            return f"MariaDB {row[0] if row else '?'}"
        finally:
            connection.close()
