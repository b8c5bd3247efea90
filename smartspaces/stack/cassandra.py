"""Cassandra 5.0 single node from Maven Central jars, run with java 17 and Cassandra's own JDK 17 options.

With stack.secure, the node runs as Cosmos DB for Apache Cassandra is reached: TLS only on its native port (a
certificate of the stack's CA for 127.0.0.1 and localhost), and passwords. Its roles: the platform's
(cassandra.username, what Cosmos DB's read-write key is), a read-only one for the enrichment (the read-only key),
and the read API's, which reads and may only record acknowledgements of alarms; the built-in superuser
`cassandra` is disabled once they exist.
"""

from __future__ import annotations

import logging
import ssl
import time

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable, Session

from smartspaces.cassandra_tables import ALARMS, ALARMS_BY_SPACE
from smartspaces.stack.certificates import pkcs12_keystore, stack_authority, stack_server_certificate
from smartspaces.stack.jars import find_jar
from smartspaces.stack.process import StackError
from smartspaces.stack.secrets import stack_password
from smartspaces.stack.server import LOOPBACK, JavaServer, java_executable, read_jvm_options, render_template

# The read-only role of a secure stack: SELECT on every keyspace, nothing else (Cosmos DB's read-only key).
READER_ROLE = "smartspaces_reader"
# The read API's role: SELECT on every keyspace, and MODIFY on the tables an acknowledgement updates.
API_ROLE = "smartspaces_api"
API_MODIFIES = (ALARMS, ALARMS_BY_SPACE)
# The names the node's certificate is for. The Java driver checks the certificate against the name it finds for
# the node's address (a reverse lookup of 127.0.0.1: localhost), the Python driver against the address it dialled.
NODE_NAMES = (LOOPBACK, "localhost")
# The superuser a fresh node creates with this password; disabled once the platform's roles exist.
BUILT_IN_SUPERUSER = "cassandra"

_OPEN = "authenticator: AllowAllAuthenticator\nauthorizer: AllowAllAuthorizer"
_SECURE = """authenticator: PasswordAuthenticator
authorizer: CassandraAuthorizer
role_manager: CassandraRoleManager
client_encryption_options:
  enabled: true
  optional: false
  keystore: {keystore}
  keystore_password: "{password}"
  store_type: PKCS12
  require_client_auth: false"""


class CassandraServer(JavaServer):
    name = "cassandra"
    stop_timeout_s = 60.0

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.cassandra.port, self.stack.cassandra_storage_port)

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.settings.cassandra.port}"

    def client_security(self) -> str:
        """cassandra.yaml's authentication and client encryption: open, or TLS and passwords (stack.secure)."""
        if not self.stack.secure:
            return _OPEN
        issued = stack_server_certificate(self.stack.data_dir, self.folder / "tls", "cassandra", NODE_NAMES)
        password = stack_password(self.stack, self.name, "keystore")
        keystore = pkcs12_keystore(issued, self.folder / "tls" / "keystore.p12", password)
        return _SECURE.format(keystore=keystore, password=password)

    def config_text(self) -> str:
        """cassandra.yaml for this node."""
        return render_template(
            "cassandra.yaml",
            host=LOOPBACK,
            storage_port=self.stack.cassandra_storage_port,
            native_port=self.settings.cassandra.port,
            data_dir=self.folder,
            client_security=self.client_security(),
        )

    def prepare(self) -> None:
        self.fetch_jars()
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "logback.xml").write_text(render_template("cassandra-logback.xml"))
        config = self.folder / "cassandra.yaml"
        # The key store's password: readable by the owner alone before it is written.
        config.touch(mode=0o600)
        config.chmod(0o600)
        config.write_text(self.config_text())

    def command(self) -> list[str]:
        heap = self.stack.cassandra_heap
        return [
            java_executable(),
            *read_jvm_options("cassandra-jvm17.options"),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            # jamm measures object sizes through the agent, as Cassandra's own start script does.
            f"-javaagent:{find_jar(self.jars, 'jamm')}",
            f"-Dcassandra.config=file://{self.folder / 'cassandra.yaml'}",
            f"-Dcassandra.logdir={self.folder / 'logs'}",
            f"-Dcassandra.storagedir={self.folder}",
            f"-Dlogback.configurationFile={self.folder / 'logback.xml'}",
            # The built-in superuser exists as soon as the node answers (by default 10 s later), so the roles
            # can be set up right away.
            "-Dcassandra.superuser_setup_delay_ms=0",
            "-cp",
            f"{self.jars}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ]

    def _cluster(self, user: str | None = None, password: str | None = None) -> Cluster:
        secure = self.stack.secure
        return Cluster(
            [LOOPBACK],
            port=self.settings.cassandra.port,
            connect_timeout=3,
            control_connection_timeout=3,
            ssl_context=ssl.create_default_context(cafile=stack_authority(self.stack.data_dir).certificate)
            if secure
            else None,
            auth_provider=PlainTextAuthProvider(user, password) if secure and user else None,
            protocol_version=4,
        )

    def _platform_role(self) -> tuple[str, str]:
        user = self.settings.cassandra.username
        if not user:
            raise StackError("a secure stack's Cassandra needs cassandra.username (the platform's role)")
        return user, stack_password(self.stack, self.name, user)

    def _connect(self) -> tuple[Cluster, Session]:
        """A session as the platform's role (on a secure node whose roles are not made yet: the built-in one)."""
        candidates = [self._platform_role(), (BUILT_IN_SUPERUSER, BUILT_IN_SUPERUSER)] if self.stack.secure else [None]
        failure: Exception | None = None
        for credentials in candidates:
            cluster = self._cluster(*(credentials or ()))
            try:
                return cluster, cluster.connect()
            except NoHostAvailable as error:
                cluster.shutdown()
                failure = error
        raise StackError(f"cassandra: no session ({failure})")

    def probe(self) -> str:
        # The driver logs every refused connection while the node boots; the stack reports failures itself.
        logging.getLogger("cassandra").setLevel(logging.CRITICAL)
        cluster, session = self._connect()
        try:
            row = session.execute("SELECT release_version FROM system.local").one()
            return f"Cassandra {row.release_version}"
        finally:
            cluster.shutdown()

    def after_ready(self) -> None:
        if not self.stack.secure:
            return
        user, password = self._platform_role()
        cluster, session = self._connect()
        try:
            # The platform's role holds every permission, as Cosmos DB's read-write key does; the others may SELECT
            # (the read API's gets its tables' MODIFY once they exist: grant_table_rights).
            session.execute(
                f"CREATE ROLE IF NOT EXISTS {user} WITH SUPERUSER = true AND LOGIN = true AND PASSWORD = %s",
                (password,),
            )
            for role in (READER_ROLE, API_ROLE):
                session.execute(
                    f"CREATE ROLE IF NOT EXISTS {role} WITH LOGIN = true AND PASSWORD = %s",
                    (stack_password(self.stack, self.name, role),),
                )
                session.execute(f"GRANT SELECT ON ALL KEYSPACES TO {role}")
        finally:
            cluster.shutdown()
        # The built-in superuser, whose password everyone knows, logs in no more.
        cluster = self._cluster(user, password)
        try:
            cluster.connect().execute(f"ALTER ROLE {BUILT_IN_SUPERUSER} WITH LOGIN = false")
        finally:
            cluster.shutdown()
        self._wait_until_refused(BUILT_IN_SUPERUSER, BUILT_IN_SUPERUSER)

    def _wait_until_refused(self, user: str, password: str, timeout_s: float = 30.0) -> None:
        """Returns once the node refuses the role: its role cache (roles_validity, 2 s by default) admits a role
        whose login was just taken away for a moment, and the stack is not ready while it does."""
        deadline = time.monotonic() + timeout_s
        while True:
            cluster = self._cluster(user, password)
            try:
                cluster.connect()
            except NoHostAvailable:
                return
            finally:
                cluster.shutdown()
            if time.monotonic() > deadline:
                raise StackError(f"cassandra: the role {user} still logs in {timeout_s:.0f} s after LOGIN = false")
            time.sleep(0.5)

    def grant_table_rights(self) -> list[str]:
        """Grants the read API's role MODIFY on the tables it acknowledges alarms in (once the schema made them)."""
        if not self.stack.secure:
            return []
        keyspace = self.settings.cassandra.keyspace
        cluster, session = self._connect()
        try:
            for table in API_MODIFIES:
                session.execute(f"GRANT MODIFY ON TABLE {table.qualified(keyspace)} TO {API_ROLE}")
        finally:
            cluster.shutdown()
        return [f"cassandra: {API_ROLE} may modify {', '.join(table.name for table in API_MODIFIES)}"]
