"""Integration tests talk to the real servers of the local stack, started once per run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartspaces.bootstrap import apply_all
from smartspaces.config import Settings
from smartspaces.stack import local_stack

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def running_stack(settings: Settings) -> Iterator[Settings]:
    """Starts whatever of the stack is not running, applies the schema, and stops at the end only what it started."""
    already_running = {server.name for server in local_stack.status(settings) if server.state == "running"}
    local_stack.up(settings)
    apply_all(settings)
    yield settings
    started_here = tuple(server.name for server in local_stack.servers(settings) if server.name not in already_running)
    if started_here:
        local_stack.down(settings, started_here)
