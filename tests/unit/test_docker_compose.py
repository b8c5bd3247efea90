"""docker-compose.yml runs the same servers as the local stack, at the pinned versions."""

from __future__ import annotations

import re
from typing import Any

import yaml

from smartspaces.config import PROJECT_ROOT, load_settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def default_of(text: str, variable: str) -> str:
    match = re.search(rf"\$\{{{variable}:-([^}}]+)\}}", text)
    assert match, f"{variable} has no default in {text!r}"
    return match.group(1)


def service(name: str) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = COMPOSE["services"]
    return services[name]


def test_servers_listen_on_the_local_configurations_ports() -> None:
    settings = load_settings("local", environ={})
    published = {name: spec["ports"][0] for name, spec in COMPOSE["services"].items() if "ports" in spec}
    assert published == {
        "kafka": f"127.0.0.1:{settings.kafka.bootstrap_servers.rsplit(':', 1)[1]}:9092",
        "cassandra": f"127.0.0.1:{settings.cassandra.port}:9042",
        "postgres": f"127.0.0.1:{settings.postgres.port}:5432",
        "redis": f"127.0.0.1:{settings.redis.port}:6379",
    }
