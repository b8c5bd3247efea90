"""Cassandra 5.0 single node from Maven Central jars, run with java 17 and Cassandra's own JDK 17 options."""

from __future__ import annotations

import logging

from cassandra.cluster import Cluster

from smartspaces.stack.jars import find_jar
from smartspaces.stack.server import LOOPBACK, JavaServer, java_executable, read_jvm_options, render_template


class CassandraServer(JavaServer):
    name = "cassandra"
    stop_timeout_s = 60.0

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.cassandra.port, self.stack.cassandra_storage_port)

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.settings.cassandra.port}"

    def prepare(self) -> None:
        self.fetch_jars()
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "logback.xml").write_text(render_template("cassandra-logback.xml"))
        (self.folder / "cassandra.yaml").write_text(
            render_template(
                "cassandra.yaml",
                host=LOOPBACK,
                storage_port=self.stack.cassandra_storage_port,
                native_port=self.settings.cassandra.port,
                data_dir=self.folder,
            )
        )

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
            "-cp",
            f"{self.jars}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ]

    def probe(self) -> str:
        # The driver logs every refused connection while the node boots; the stack reports failures itself.
        logging.getLogger("cassandra").setLevel(logging.CRITICAL)
        cluster = Cluster(
            [LOOPBACK], port=self.settings.cassandra.port, connect_timeout=3, control_connection_timeout=3
        )
        try:
            session = cluster.connect()
            row = session.execute("SELECT release_version FROM system.local").one()
            return f"Cassandra {row.release_version}"
        finally:
            cluster.shutdown()
