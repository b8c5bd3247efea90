"""What every server of the local stack has: a folder, a process, ports, a real request that proves it answers."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
from abc import ABC, abstractmethod
from importlib import resources
from pathlib import Path
from string import Template

from smartspaces.config import Settings, StackSettings
from smartspaces.pins import load_pins
from smartspaces.stack.jars import resolve_jars
from smartspaces.stack.process import ManagedProcess, StackError

LOOPBACK = "127.0.0.1"


def render_template(name: str, **values: object) -> str:
    text = resources.files("smartspaces.stack").joinpath("templates", name).read_text(encoding="utf-8")
    return Template(text).substitute({key: str(value) for key, value in values.items()})


def host_and_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def java_executable(minimum_major: int = 17) -> str:
    """The java to run Kafka and Cassandra with: JAVA_HOME's, else the one on PATH, at least Java 17."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise StackError("Java is missing: install a JDK 17 (apt-get install openjdk-17-jre-headless)")
    banner = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', banner)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):
        major = int(match.group(2))
    if major < minimum_major:
        raise StackError(f"Java {minimum_major} or newer is needed, {java} is: {banner.strip()}")
    return java


def read_jvm_options(template: str) -> list[str]:
    """A JVM options file as Cassandra ships them: one option a line, '#' comments."""
    options: list[str] = []
    for line in render_template(template).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            options.extend(line.split())
    return options


class Server(ABC):
    """A server the stack starts, checks and stops."""

    name: str
    stop_signal = signal.SIGTERM
    stop_timeout_s = 60.0

    def __init__(self, settings: Settings, stack: StackSettings) -> None:
        self.settings = settings
        self.stack = stack
        self.folder = stack.data_dir / self.name
        self.process = ManagedProcess(self.name, self.folder)

    @property
    @abstractmethod
    def ports(self) -> tuple[int, ...]:
        """Every loopback port the server listens on."""

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """Where clients connect."""

    @abstractmethod
    def prepare(self) -> None:
        """Fetches what the server runs from, writes its configuration, initialises its storage once."""

    @abstractmethod
    def command(self) -> list[str]:
        """The command line of the server process."""

    @abstractmethod
    def probe(self) -> str:
        """Sends one real request; returns what the server answered, raises if it did not."""

    def run_as(self) -> str | None:
        """The user the process runs as (None: this process's user)."""
        return None

    def environment(self) -> dict[str, str]:
        """Variables the process gets on top of this process's environment."""
        return {}

    def after_ready(self) -> None:  # noqa: B027 - optional hook, most servers need nothing
        """Work that needs the server answering (creating the database, for example)."""


class JavaServer(Server):
    """A server run with java from its Maven Central jars, resolved once into a folder per version."""

    @property
    def version(self) -> str:
        return load_pins().servers[self.name].version

    @property
    def jars(self) -> Path:
        return (self.stack.jars_dir or self.stack.data_dir / "jars") / f"{self.name}-{self.version}"

    def fetch_jars(self) -> Path:
        return resolve_jars(load_pins().servers[self.name].artifacts, self.jars)


class ServiceUserServer(Server):
    """A Debian-packaged server that refuses to run as root: as root the stack runs it as the package's user."""

    service_user: str

    def run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(self.service_user)
        except KeyError:
            raise StackError(
                f"running as root, {self.name} needs a user {self.service_user!r} to run as (its Debian package "
                "creates it)"
            ) from None
        return self.service_user

    def make_folders(self, *folders: Path, mode: int = 0o777) -> None:
        """Creates the folders, owned by the user the server runs as."""
        for folder in folders:
            folder.mkdir(mode=mode, parents=True, exist_ok=True)
            self.hand_over(folder)

    def hand_over(self, path: Path) -> None:
        """Makes the user the server runs as the file's owner."""
        user = self.run_as()
        if user:
            shutil.chown(path, user=user, group=pwd.getpwnam(user).pw_gid)
