"""Kafka in KRaft mode (one combined broker and controller) from Maven Central jars, run with java."""

from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

from smartspaces.stack.certificates import Issued, stack_authority, stack_server_certificate
from smartspaces.stack.process import StackError
from smartspaces.stack.secrets import random_password, stored_secret
from smartspaces.stack.server import LOOPBACK, JavaServer, host_and_port, java_executable, render_template

# bin/kafka-run-class.sh's defaults (3.9), with the heap from the stack settings.
_JVM_OPTIONS = [
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
]


def inline_pem(path: Path) -> str:
    """A PEM file as one properties value: its line breaks as \\n escapes, which Java's Properties reads back."""
    return path.read_text(encoding="ascii").strip().replace("\n", "\\n")


def new_cluster_id() -> str:
    """16 random bytes, URL-safe base64, as Kafka's own Uuid.randomUuid makes them: never starting with "-",
    which the storage tool's command line would take for an option (one fresh stack in 64 failed to start)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaServer(JavaServer):
    name = "kafka"
    stop_timeout_s = 30.0

    @property
    def broker_port(self) -> int:
        """The PLAINTEXT listener's port: the clients' (kafka.bootstrap_servers), or the broker's own when they use
        the SASL_SSL listener (stack.kafka_broker_port)."""
        host, port = host_and_port(self.settings.kafka.bootstrap_servers.split(",")[0])
        if host not in (LOOPBACK, "localhost"):
            raise StackError(f"kafka.bootstrap_servers is {host}: the local stack serves {LOOPBACK} only")
        if self.stack.kafka_broker_port is None:
            return port
        if port != self.stack.kafka_sasl_port:
            raise StackError(
                f"kafka.bootstrap_servers names port {port}, but with stack.kafka_broker_port set the clients use "
                f"the SASL_SSL listener: stack.kafka_sasl_port, {self.stack.kafka_sasl_port}"
            )
        return self.stack.kafka_broker_port

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.broker_port, self.stack.kafka_controller_port, self.stack.kafka_sasl_port)

    @property
    def sasl_endpoint(self) -> str:
        return f"{LOOPBACK}:{self.stack.kafka_sasl_port}"

    def sasl_password(self) -> str:
        """The SASL listener's password: made on first start, kept in the stack's folder (never in the repo)."""
        return stored_secret(
            self.folder / "sasl-password", lambda: f"Endpoint=sb://localhost/;SharedAccessKey={random_password()}"
        )

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.broker_port}"

    @property
    def ca_certificate(self) -> Path:
        """The CA certificate that verifies the SASL_SSL listener's (kafka.ssl_ca_location)."""
        return stack_authority(self.stack.data_dir).certificate

    def tls(self) -> Issued:
        """The SASL_SSL listener's certificate: for the loopback address only, issued by the stack's CA once."""
        return stack_server_certificate(self.stack.data_dir, self.folder / "tls", "kafka", (LOOPBACK,))

    def _java(self, main: str, *args: str) -> list[str]:
        heap = self.stack.kafka_heap
        return [
            java_executable(),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            *_JVM_OPTIONS,
            f"-Dkafka.logs.dir={self.folder / 'logs'}",
            f"-Dlog4j.configuration=file:{self.folder / 'log4j.properties'}",
            "-cp",
            f"{self.jars}/*",
            main,
            *args,
        ]

    def prepare(self) -> None:
        self.fetch_jars()
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        (self.folder / "log4j.properties").write_text(render_template("kafka-log4j.properties"))
        tls = self.tls()
        properties = self.folder / "server.properties"
        properties.write_text(
            render_template(
                "kafka-server.properties",
                host=LOOPBACK,
                broker_port=self.broker_port,
                controller_port=self.stack.kafka_controller_port,
                sasl_port=self.stack.kafka_sasl_port,
                sasl_password=self.sasl_password(),
                tls_key=inline_pem(tls.key),
                tls_certificate=inline_pem(tls.certificate),
                log_dir=self.folder / "data",
            )
        )
        properties.chmod(0o600)  # the listener's password and private key
        if not (self.folder / "data" / "meta.properties").exists():
            # KRaft storage is formatted once, with a fresh cluster id.
            cluster_id = new_cluster_id()
            result = subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(self.folder / "server.properties"),
                    "--ignore-formatted",
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise StackError(f"kafka: formatting the storage failed:\n{result.stdout}{result.stderr}")

    def command(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.folder / "server.properties"))

    def probe(self) -> str:
        # librdkafka logs every refused connection while the broker boots; failures are reported by the stack.
        quiet = logging.getLogger("smartspaces.stack.kafka.probe")
        quiet.setLevel(logging.CRITICAL)
        admin = AdminClient({"bootstrap.servers": self.endpoint, "socket.timeout.ms": 2000}, logger=quiet)
        metadata = admin.list_topics(timeout=3)
        return f"Kafka {self.version}, {len(metadata.brokers)} broker(s), cluster {metadata.cluster_id}"
