"""A server process the stack started: launched detached, remembered by pid, stopped by pid."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class StackError(RuntimeError):
    """A server could not be started, checked or stopped; the message says which and why."""


@dataclass(frozen=True)
class ProcessRecord:
    """What identifies a started process: its pid and its start time (guards against pid reuse)."""

    pid: int
    start_ticks: int
    command: list[str]


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces; the fields after it are split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def process_start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_running(pid: int) -> bool:
    """True for a live process; a zombie is reaped (when it is ours) and counts as gone."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def descendants(pid: int) -> list[int]:
    """Every process below pid (PostgreSQL's backends, for example)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def memory_kib(pid: int) -> int:
    """Proportional set size of the process and its descendants (shared pages split between them).

    Falls back to the resident set size where the kernel offers no smaps_rollup.
    """
    total = 0
    for member in [pid, *descendants(pid)]:
        total += _status_value(Path(f"/proc/{member}/smaps_rollup"), "Pss:") or _status_value(
            Path(f"/proc/{member}/status"), "VmRSS:"
        )
    return total


def _status_value(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        pass
    return 0


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def log_tail(log: Path, lines: int = 40) -> str:
    if not log.exists():
        return f"(no log at {log})"
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in text) or "    (the log is empty)"


class ManagedProcess:
    """One server process, with its pid file and log under the server's folder."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.pid_file = folder / "server.pid.json"
        self.log = folder / "server.log"

    def record(self) -> ProcessRecord | None:
        if not self.pid_file.exists():
            return None
        return ProcessRecord(**json.loads(self.pid_file.read_text()))

    def running_pid(self) -> int | None:
        """The pid this stack started, if that very process still runs."""
        record = self.record()
        if record is None:
            return None
        if is_running(record.pid) and process_start_ticks(record.pid) == record.start_ticks:
            return record.pid
        return None

    def start(
        self, command: list[str], cwd: Path, user: str | None = None, environment: Mapping[str, str] | None = None
    ) -> int:
        """Starts the server detached from this process (it outlives the CLI) and records its pid.

        environment: variables added to this process's environment for the server."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                env={**os.environ, **environment} if environment else None,
            )
        ticks = process_start_ticks(process.pid)
        if ticks is None:
            raise StackError(f"{self.name}: exited at once:\n{log_tail(self.log)}")
        record = ProcessRecord(pid=process.pid, start_ticks=ticks, command=command)
        self.pid_file.write_text(json.dumps(record.__dict__))
        return process.pid

    def stop(self, stop_signal: signal.Signals, timeout_s: float) -> bool:
        """Stops the recorded process and whatever it started; returns False if none was running."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        family = descendants(pid)
        os.kill(pid, stop_signal)
        deadline = time.monotonic() + timeout_s
        while is_running(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        self._kill([pid, *family])
        return True

    def kill(self) -> bool:
        """SIGKILL to the recorded process and whatever it started, at once, as a power cut (a server then
        recovers as from a crash); returns False if none was running."""
        pid = self.running_pid()
        if pid is None:
            return False
        self._kill([pid, *descendants(pid)])
        return True

    def _kill(self, family: list[int]) -> None:
        """SIGKILL to each of family still running; returns once all have ended."""
        for member in family:
            if is_running(member):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(member, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(is_running(member) for member in family):
            if time.monotonic() > deadline:
                raise StackError(f"{self.name}: pid {family[0]} did not end after SIGKILL")
            time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
