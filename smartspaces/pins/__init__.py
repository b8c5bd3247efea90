"""Every pinned version, read from the files beside this module (the one place they are written).

requirements*.txt pin the Python packages (pyproject.toml reads them too); maven.toml pins the Maven
coordinates, the server versions and the Go tools. Connector coordinates that must match a Python package
(spark-sql-kafka ↔ pyspark, delta-spark_2.12 ↔ delta-spark) are derived here from the Python pin.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(?P<version>[^\s;#]+)")


@dataclass(frozen=True)
class ServerPin:
    """A server the local stack runs from Maven jars."""

    name: str
    version: str
    artifacts: tuple[str, ...]


@dataclass(frozen=True)
class Pins:
    """The pinned versions of the whole platform."""

    python: dict[str, str]
    scala_binary: str
    spark_packages: tuple[str, ...]
    servers: dict[str, ServerPin]
    # Baked into the image beside spark_packages; never resolved for a local session.
    image_packages: tuple[str, ...] = ()
    # Binary name → Go module@version, built with `go install` (smartspaces.stack.go_tools).
    go_tools: dict[str, str] = field(default_factory=dict)

    @property
    def spark_version(self) -> str:
        return self.python["pyspark"]

    def python_version(self, package: str) -> str:
        """The pinned version of a Python package (names compared as PyPI normalises them)."""
        try:
            return self.python[_normalise(package)]
        except KeyError:
            raise KeyError(f"{package} is not pinned in smartspaces/pins/requirements*.txt") from None


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _read_requirements(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in text.splitlines():
        match = _REQUIREMENT.match(line.strip())
        if match:
            pins[_normalise(match["name"])] = match["version"]
    return pins


@cache
def load_pins() -> Pins:
    """Reads the pin files shipped with the package."""
    folder = resources.files(__package__)
    python = _read_requirements(folder.joinpath("requirements.txt").read_text(encoding="utf-8"))
    python.update(_read_requirements(folder.joinpath("requirements-dev.txt").read_text(encoding="utf-8")))
    maven = tomllib.loads(folder.joinpath("maven.toml").read_text(encoding="utf-8"))
    scala = maven["scala_binary"]
    derived = (
        f"org.apache.spark:spark-sql-kafka-0-10_{scala}:{python['pyspark']}",
        f"io.delta:delta-spark_{scala}:{python['delta-spark']}",
    )
    servers = {
        name: ServerPin(
            name=name,
            version=version,
            artifacts=tuple(a.format(version=version) for a in maven["server_artifacts"][name]),
        )
        for name, version in maven["servers"].items()
    }
    return Pins(
        python=python,
        scala_binary=scala,
        spark_packages=derived + tuple(maven["spark_packages"].values()),
        servers=servers,
        image_packages=tuple(maven.get("image_packages", {}).values()),
        go_tools=dict(maven.get("go_tools", {})),
    )
