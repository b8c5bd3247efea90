"""The layout's rules, read from the imports: the runtime never reaches into a stage, the transformation
library into neither, and a stage into another only where the architecture has that arrow."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartspaces.config import PROJECT_ROOT

STAGES = PROJECT_ROOT / "smartspaces" / "stages"
# A stage may use another's layout of a shared store: the change feed writes the cache that the API reads.
STAGE_ARROWS = {("changefeed", "cache"), ("serving", "cache")}
# The command line dispatches to every job and the API server: it is the one runtime module above the stages.
DISPATCHERS = {PROJECT_ROOT / "smartspaces" / "cli.py"}


def imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def runtime_files() -> list[Path]:
    return [
        path
        for path in python_files(PROJECT_ROOT / "smartspaces")
        if STAGES not in path.parents and path not in DISPATCHERS
    ]


def test_the_layout_has_files_to_check() -> None:
    assert len(runtime_files()) > 20 and len(python_files(STAGES)) > 40


@pytest.mark.parametrize("path", runtime_files(), ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_the_runtime_imports_no_stage_and_no_job(path: Path) -> None:
    assert not [m for m in imported_modules(path) if m.startswith(("smartspaces.stages", "jobs"))]


def test_the_transformations_import_neither_runtime_nor_stages() -> None:
    offending = {
        str(path.relative_to(PROJECT_ROOT)): module
        for path in python_files(PROJECT_ROOT / "transformations")
        for module in imported_modules(path)
        if module.startswith(("smartspaces", "jobs"))
    }
    assert offending == {}


def test_a_stage_imports_another_only_along_an_arrow_of_the_architecture() -> None:
    arrows = set()
    for path in python_files(STAGES):
        stage = path.relative_to(STAGES).parts[0]
        for module in imported_modules(path):
            parts = module.split(".")
            if module.startswith("jobs"):
                arrows.add((stage, "jobs"))
            elif parts[:2] == ["smartspaces", "stages"] and len(parts) > 2 and parts[2] != stage:
                arrows.add((stage, parts[2]))
    # Equal, not a subset: an arrow the code no longer has comes out of the list, so the list stays the truth.
    assert arrows == STAGE_ARROWS
