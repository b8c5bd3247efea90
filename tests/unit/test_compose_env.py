"""docker-compose.yml's version defaults are the pins, and `smartspaces pins compose-env` prints them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import yaml

from smartspaces import cli
from smartspaces.compose_env import compose_env
from smartspaces.config import PROJECT_ROOT

# ${NAME:-default}, compose's interpolation with a default.
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+):-(?P<default>[^}]*)\}")


def strings(node: object) -> Iterator[str]:
    """Every string value in a parsed YAML document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def compose_defaults() -> dict[str, set[str]]:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    defaults: dict[str, set[str]] = {}
    for text in strings(compose):
        for match in INTERPOLATION.finditer(text):
            defaults.setdefault(match["name"], set()).add(match["default"])
    return defaults


def test_compose_version_defaults_equal_the_pins() -> None:
    assert compose_defaults() == {name: {version} for name, version in compose_env().items()}


def test_images_take_their_versions_from_the_variables() -> None:
    services = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:${KAFKA_VERSION:-")
    assert services["cassandra"]["image"].startswith("cassandra:${CASSANDRA_VERSION:-")
    assert services["bootstrap"]["build"]["args"]["SPARK_VERSION"].startswith("${SPARK_VERSION:-")


def test_the_cli_prints_the_env_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["pins", "compose-env"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{name}={version}" for name, version in compose_env().items()]
