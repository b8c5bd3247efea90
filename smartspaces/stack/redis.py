"""Redis from Debian's redis-server package, as a process of the stack."""

from __future__ import annotations

import shutil

import redis

from smartspaces.stack.process import StackError
from smartspaces.stack.server import LOOPBACK, Server, render_template


class RedisServer(Server):
    name = "redis"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.redis.port,)

    @property
    def endpoint(self) -> str:
        return f"redis://{LOOPBACK}:{self.settings.redis.port}/{self.settings.redis.db}"

    def prepare(self) -> None:
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        (self.folder / "redis.conf").write_text(
            render_template("redis.conf", host=LOOPBACK, port=self.settings.redis.port, data_dir=self.folder / "data")
        )

    def command(self) -> list[str]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError("redis-server is missing: apt-get install redis-server")
        return [binary, str(self.folder / "redis.conf")]

    def probe(self) -> str:
        client = redis.Redis(host=LOOPBACK, port=self.settings.redis.port, socket_timeout=2)
        try:
            client.ping()
            return f"Redis {client.info('server')['redis_version']}"
        finally:
            client.close()
