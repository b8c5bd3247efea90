"""The README's layout table names every top-level entry of the repository, and nothing that is not there."""

from __future__ import annotations

import re
import subprocess

from smartspaces.config import PROJECT_ROOT

ALWAYS_THERE = {"README.md", "LICENSE", "Makefile", "pyproject.toml", "setup.cfg", ".gitignore", ".ci"}


def tracked_top_level() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    return {path.split("/", 1)[0] for path in files if path}


def layout_table_entries() -> set[str]:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Layout\n", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    names = {name.rstrip("/").split("/", 1)[0] for cell in first_cells for name in re.findall(r"`([^`]+)`", cell)}
    return names


def test_the_layout_table_names_every_top_level_entry() -> None:
    assert tracked_top_level() - ALWAYS_THERE == layout_table_entries()
