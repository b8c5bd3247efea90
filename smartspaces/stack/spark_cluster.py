"""A Spark standalone cluster on loopback: a master and its workers, each a JVM started with the installed
pyspark's spark-class, remembered and stopped by pid as the stack's servers are.

Jobs use it with spark.master set to its endpoint (SMARTSPACES__SPARK__MASTER=spark://127.0.0.1:7077): the
driver stays in the job's process, the executors run in JVMs the workers start.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartspaces.config import Settings, StackSettings
from smartspaces.session import LOCAL_IP, MALLOC_ARENAS
from smartspaces.stack.local_stack import ServerStatus, server_status, stack_settings, start_servers, stop_servers
from smartspaces.stack.process import StackError
from smartspaces.stack.server import LOOPBACK, Server

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def spark_class() -> Path:
    """The launcher script of the installed pyspark (it builds the JVM's classpath from pyspark's jars)."""
    import pyspark

    script = Path(pyspark.__file__).parent / "bin" / "spark-class"
    if not script.exists():
        raise StackError(f"the installed pyspark has no {script}: reinstall it with `make install`")
    return script


@dataclass(frozen=True)
class WorkerState:
    host: str
    port: int
    state: str
    cores: int
    memory_mib: int


def master_state(ui_port: int) -> dict[str, Any]:
    """The master's own report (its web UI's JSON): its status and the workers registered with it."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{ui_port}/json/", timeout=3) as answer:
        report: dict[str, Any] = json.load(answer)
    return report


def registered_workers(report: dict[str, Any]) -> list[WorkerState]:
    return [
        WorkerState(worker["host"], int(worker["port"]), worker["state"], worker["cores"], worker["memory"])
        for worker in report.get("workers", [])
    ]


class SparkDaemon(Server):
    """What the master and the workers share: spark-class, a small heap, loopback."""

    # A worker is stopped before its master; each ends its executors and children on SIGTERM.
    stop_timeout_s = 30.0

    def prepare(self) -> None:
        (self.folder / "work").mkdir(parents=True, exist_ok=True)

    def environment(self) -> dict[str, str]:
        return {
            "SPARK_DAEMON_MEMORY": self.stack.spark_daemon_heap,
            "SPARK_LOCAL_IP": LOCAL_IP,
            # Executors inherit the worker's environment: the same malloc arenas as a local session's JVM.
            "MALLOC_ARENA_MAX": MALLOC_ARENAS,
            "SPARK_WORKER_DIR": str(self.folder / "work"),
        }

    @property
    def master_url(self) -> str:
        return f"spark://{LOOPBACK}:{self.stack.spark_master_port}"


class SparkMaster(SparkDaemon):
    name = "spark-master"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.stack.spark_master_port, self.stack.spark_master_ui_port)

    @property
    def endpoint(self) -> str:
        return self.master_url

    def command(self) -> list[str]:
        return [
            str(spark_class()),
            MASTER_CLASS,
            *("--host", LOOPBACK),
            *("--port", str(self.stack.spark_master_port)),
            *("--webui-port", str(self.stack.spark_master_ui_port)),
        ]

    def probe(self) -> str:
        report = master_state(self.stack.spark_master_ui_port)
        if report.get("status") != "ALIVE":
            raise StackError(f"the Spark master is {report.get('status')}")
        alive = [worker for worker in registered_workers(report) if worker.state == "ALIVE"]
        return f"Spark master, {len(alive)} worker(s) alive, UI http://{LOOPBACK}:{self.stack.spark_master_ui_port}"


class SparkWorker(SparkDaemon):
    def __init__(self, settings: Settings, stack: StackSettings, number: int) -> None:
        self.name = f"spark-worker-{number}"
        self.number = number
        super().__init__(settings, stack)

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.stack.spark_master_port + self.number, self.stack.spark_master_ui_port + self.number)

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.ports[0]}"

    def command(self) -> list[str]:
        return [
            str(spark_class()),
            WORKER_CLASS,
            self.master_url,
            *("--host", LOOPBACK),
            *("--port", str(self.ports[0])),
            *("--webui-port", str(self.ports[1])),
            *("--cores", str(self.stack.spark_worker_cores)),
            *("--memory", self.stack.spark_worker_memory),
            *("--work-dir", str(self.folder / "work")),
        ]

    def probe(self) -> str:
        """Answers once the master lists this worker as alive: a worker counts when it can take executors."""
        for worker in registered_workers(master_state(self.stack.spark_master_ui_port)):
            if (worker.host, worker.port, worker.state) == (LOOPBACK, self.ports[0], "ALIVE"):
                return f"registered, {worker.cores} core(s), {worker.memory_mib} MiB for executors"
        raise StackError(f"{self.name} is not registered with the master")


def cluster_servers(settings: Settings) -> tuple[SparkMaster, list[SparkWorker]]:
    stack = stack_settings(settings)
    workers = [SparkWorker(settings, stack, number) for number in range(1, stack.spark_workers + 1)]
    return SparkMaster(settings, stack), workers


def master_url(settings: Settings) -> str:
    return cluster_servers(settings)[0].master_url


def up(settings: Settings) -> list[ServerStatus]:
    """Starts the master, then its workers (a worker started first would wait on its registration retries)."""
    master, workers = cluster_servers(settings)
    deadline = time.monotonic() + stack_settings(settings).start_timeout_s
    start_servers([master], deadline, settings.environment)
    start_servers(list(workers), deadline, settings.environment)
    return server_status([master, *workers])


def down(settings: Settings) -> list[str]:
    """Stops the workers (and with them their executors), then the master."""
    master, workers = cluster_servers(settings)
    return stop_servers([*workers, master])


def status(settings: Settings) -> list[ServerStatus]:
    master, workers = cluster_servers(settings)
    return server_status([master, *workers])
