"""Redis from Debian's redis-server package, as a process of the stack.

With stack.secure, the server runs as Azure Cache for Redis is reached: TLS only (a certificate of the stack's CA
for 127.0.0.1), no default user, and ACL users with the least privilege of each part (connectors/redis_acl.py):
`smartspaces-writer` (the change feed, the cache warm-up), `smartspaces-api` (the read API), and an administrator
for the stack itself (what Azure's access key is).
"""

from __future__ import annotations

import hashlib
import shutil

from pydantic import SecretStr

from smartspaces.config import RedisSettings
from smartspaces.connectors.redis_acl import ROLE_COMMANDS, acl_rule
from smartspaces.stack.certificates import stack_authority, stack_server_certificate
from smartspaces.stack.process import StackError
from smartspaces.stack.secrets import stack_password
from smartspaces.stack.server import LOOPBACK, Server, render_template

ADMIN_USER = "smartspaces-admin"


def role_user(role: str) -> str:
    """The ACL user of a part of the platform (a role of connectors/redis_acl.py)."""
    return f"smartspaces-{role}"


class RedisServer(Server):
    name = "redis"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.redis.port,)

    @property
    def endpoint(self) -> str:
        scheme = "rediss" if self.stack.secure else "redis"
        return f"{scheme}://{LOOPBACK}:{self.settings.redis.port}/{self.settings.redis.db}"

    def password(self, user: str) -> str:
        return stack_password(self.stack, self.name, user)

    def _acl_file(self) -> str:
        """The users: each role's, and the administrator; passwords as their SHA-256 only, no default user."""
        users = {role_user(role): acl_rule(role) for role in ROLE_COMMANDS}
        users[ADMIN_USER] = "~* &* +@all"
        lines = ["user default off resetkeys resetchannels -@all"]
        for user, rule in users.items():
            digest = hashlib.sha256(self.password(user).encode()).hexdigest()
            lines.append(f"user {user} on #{digest} {rule}")
        return "\n".join(lines) + "\n"

    def _listener(self) -> str:
        port = self.settings.redis.port
        if not self.stack.secure:
            return f"port {port}"
        issued = stack_server_certificate(self.stack.data_dir, self.folder / "tls", "redis", (LOOPBACK,))
        acl = self.folder / "users.acl"
        acl.write_text(self._acl_file())
        acl.chmod(0o600)
        return "\n".join(
            (
                "port 0",
                f"tls-port {port}",
                f"tls-cert-file {issued.certificate}",
                f"tls-key-file {issued.key}",
                f"tls-ca-cert-file {stack_authority(self.stack.data_dir).certificate}",
                "tls-auth-clients no",
                f"aclfile {acl}",
            )
        )

    def prepare(self) -> None:
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        (self.folder / "redis.conf").write_text(
            render_template("redis.conf", host=LOOPBACK, listener=self._listener(), data_dir=self.folder / "data")
        )

    def command(self) -> list[str]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError("redis-server is missing: apt-get install redis-server")
        return [binary, str(self.folder / "redis.conf")]

    def client_settings(self) -> RedisSettings:
        """How the stack itself connects: the settings' server, as the administrator over TLS on a secure stack."""
        own = self.settings.redis.model_copy(update={"host": LOOPBACK, "socket_timeout_s": 2.0})
        if not self.stack.secure:
            return own.model_copy(update={"ssl": False, "username": None, "password": None})
        return own.model_copy(
            update={
                "ssl_ca_certs": stack_authority(self.stack.data_dir).certificate,
                "username": ADMIN_USER,
                "password": SecretStr(self.password(ADMIN_USER)),
            }
        )

    def probe(self) -> str:
        # Here, not at the top: the client's module brings pyspark, which `smartspaces stack` needs nowhere else.
        from smartspaces.connectors.redis import redis_client

        client = redis_client(self.client_settings())
        try:
            client.ping()
            return f"Redis {client.info('server')['redis_version']}"
        finally:
            client.close()
