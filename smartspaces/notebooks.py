"""Strips outputs from notebooks, so they are committed clean: `python -m smartspaces.notebooks FILE...`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat


def strip_outputs(path: Path) -> bool:
    """Removes outputs, execution counts and widget state; returns True if the file changed."""
    notebook = nbformat.read(path, as_version=4)
    before = nbformat.writes(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("widgets", None)
    after = nbformat.writes(notebook)
    if after != before:
        path.write_text(after)
    return after != before


def main(argv: Sequence[str] | None = None) -> int:
    for name in argv if argv is not None else sys.argv[1:]:
        if strip_outputs(Path(name)):
            print(f"stripped {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
