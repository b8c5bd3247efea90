"""Strips what a run leaves in notebooks, so they are committed clean.

`python -m smartspaces.notebooks notebooks/*.ipynb` strips in place; with `--check` it changes nothing and
exits 1 when a notebook would change (for CI).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

# Cell metadata a run or an editor session leaves behind: nbclient's timings, output scroll/collapse state.
RUN_CELL_METADATA = ("execution", "collapsed", "scrolled")


def stripped(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without outputs, execution counts, run metadata or widget state (changed in place)."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in RUN_CELL_METADATA:
            cell.metadata.pop(key, None)
    notebook.metadata.pop("widgets", None)
    return notebook


def strip_outputs(path: str | Path, write: bool = True) -> bool:
    """Strips a notebook file; True if it had something to strip (written back unless write is False)."""
    notebook = nbformat.read(path, as_version=4)
    before = nbformat.writes(notebook)
    after = nbformat.writes(stripped(notebook))
    if after == before:
        return False
    if write:
        nbformat.write(notebook, path)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartspaces.notebooks", description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook has outputs")
    args = parser.parse_args(argv)
    changed = [path for path in args.notebooks if strip_outputs(path, write=not args.check)]
    for path in changed:
        print(f"{'has outputs' if args.check else 'stripped'}: {path}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
