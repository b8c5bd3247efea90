"""The local stack: Kafka, Cassandra, PostgreSQL and Redis on loopback, data under one folder.

`up` returns only when every server answers a real request; it is idempotent. `down` stops by pid
exactly what `up` started, and whatever those processes started. Optional servers (MySQL) start only when
asked for by name; `down` and `status` include them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from smartspaces.config import Settings, StackSettings
from smartspaces.stack.cassandra import CassandraServer
from smartspaces.stack.kafka import KafkaServer
from smartspaces.stack.mysql import MysqlServer
from smartspaces.stack.postgres import PostgresServer
from smartspaces.stack.process import StackError, is_running, log_tail, memory_kib, port_is_free
from smartspaces.stack.redis import RedisServer
from smartspaces.stack.server import LOOPBACK, JavaServer, Server

# Started slowest first, so their boots overlap; checked fastest first.
_START_ORDER = (CassandraServer, KafkaServer, PostgresServer, RedisServer)
# What `up` starts when no server is named.
DEFAULT_NAMES = tuple(kind.name for kind in _START_ORDER)
# Started only when named (`up --with mysql`, `up --only mysql`).
OPTIONAL = (MysqlServer,)
OPTIONAL_NAMES = tuple(kind.name for kind in OPTIONAL)


@dataclass(frozen=True)
class ServerStatus:
    name: str
    state: str  # running | starting | stopped
    pid: int | None
    memory_mib: float | None
    endpoint: str
    answer: str


def stack_settings(settings: Settings) -> StackSettings:
    if settings.stack is None:
        raise StackError(f"the {settings.environment!r} environment has no local stack (no 'stack' section)")
    return settings.stack


def servers(settings: Settings, names: tuple[str, ...] = (), *, optional: bool = True) -> list[Server]:
    """The named servers, or all of them (the optional ones too unless optional=False), in start order."""
    stack = stack_settings(settings)
    kinds: tuple[type[Server], ...] = (*_START_ORDER, *OPTIONAL) if optional or names else _START_ORDER
    if settings.mysql is None:
        kinds = tuple(kind for kind in kinds if kind is not MysqlServer)
    chosen = [kind(settings, stack) for kind in kinds]
    unknown = set(names) - {server.name for server in chosen}
    if unknown:
        raise StackError(f"unknown server(s) in the {settings.environment!r} environment: {', '.join(sorted(unknown))}")
    return [server for server in chosen if not names or server.name in names]


def _probe(server: Server) -> str | None:
    try:
        return server.probe()
    except Exception:  # any failure to answer means "not ready yet"; the caller decides when to give up
        return None


def fetch(settings: Settings) -> list[str]:
    """Resolves every server's jars into the cache (what a fresh machine needs before going offline)."""
    return [str(server.fetch_jars()) for server in servers(settings) if isinstance(server, JavaServer)]


def up(settings: Settings, names: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> list[ServerStatus]:
    """Starts what is not running and waits until every server answers.

    names: only these servers (default: every server but the optional ones); extra: these as well."""
    stack = stack_settings(settings)
    chosen = servers(settings, names, optional=False)
    if extra:
        chosen += [server for server in servers(settings, extra) if server.name not in {s.name for s in chosen}]
    start_servers(chosen, time.monotonic() + stack.start_timeout_s, settings.environment)
    return server_status(chosen)


def start_servers(chosen: list[Server], deadline: float, environment: str) -> None:
    """Starts those of the servers that are not running, and waits until each of them answers.

    environment: the configuration a taken port can be changed in (named in the error)."""
    to_start = [server for server in chosen if server.process.running_pid() is None]
    for server in to_start:
        taken = [port for port in server.ports if not port_is_free(LOOPBACK, port)]
        if taken:
            raise StackError(
                f"{server.name}: port {', '.join(map(str, taken))} on {LOOPBACK} is taken by a process "
                f"this stack did not start; stop it or choose other ports in conf/{environment}.yaml"
            )
    for server in to_start:
        server.prepare()
    for server in to_start:
        server.process.start(
            server.command(), cwd=server.folder, user=server.run_as(), environment=server.environment()
        )
    for server in reversed(chosen):
        _wait_until_answering(server, deadline)
        if server in to_start:
            server.after_ready()


def _wait_until_answering(server: Server, deadline: float) -> None:
    while True:
        pid = server.process.running_pid()
        if pid is None or not is_running(pid):
            raise StackError(
                f"{server.name} stopped while starting; the end of {server.process.log}:\n"
                f"{log_tail(server.process.log)}"
            )
        if _probe(server) is not None:
            return
        if time.monotonic() > deadline:
            server.process.stop(server.stop_signal, server.stop_timeout_s)
            raise StackError(
                f"{server.name} did not answer within the start timeout; stopped it. "
                f"The end of {server.process.log}:\n{log_tail(server.process.log)}"
            )
        time.sleep(1)


def down(settings: Settings, names: tuple[str, ...] = ()) -> list[str]:
    """Stops, by recorded pid, the servers up started; returns the names of those that were running."""
    return stop_servers(servers(settings, names))


def stop_servers(chosen: list[Server]) -> list[str]:
    """Stops the servers that run, in order; returns their names."""
    return [server.name for server in chosen if server.process.stop(server.stop_signal, server.stop_timeout_s)]


def status(settings: Settings, names: tuple[str, ...] = ()) -> list[ServerStatus]:
    """The named servers' status; by default every server but the optional ones that are not running."""
    return server_status(servers(settings, names) if names else servers_in_use(settings))


def servers_in_use(settings: Settings) -> list[Server]:
    """Every server but the optional ones that are not running."""
    return [
        server
        for server in servers(settings)
        if server.name not in OPTIONAL_NAMES or server.process.running_pid() is not None
    ]


def server_status(chosen: list[Server]) -> list[ServerStatus]:
    report = []
    for server in chosen:
        pid = server.process.running_pid()
        if pid is None:
            report.append(ServerStatus(server.name, "stopped", None, None, server.endpoint, ""))
            continue
        answer = _probe(server)
        report.append(
            ServerStatus(
                name=server.name,
                state="running" if answer else "starting",
                pid=pid,
                memory_mib=round(memory_kib(pid) / 1024, 1),
                endpoint=server.endpoint,
                answer=answer or "no answer yet",
            )
        )
    return report
