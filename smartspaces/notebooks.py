"""Strips what a run leaves in notebooks, so they are committed clean, and runs them.

`python -m smartspaces.notebooks notebooks/*.ipynb` strips in place; with `--check` it changes nothing and
exits 1 when a notebook would change (for CI). With `--render DIR` it leaves the files alone: it executes each
notebook from the repository root, on this interpreter, and writes it with its outputs to DIR/<name>.html.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from smartspaces.config import PROJECT_ROOT

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


class ThisInterpreterKernel(AsyncKernelManager):
    """The python3 kernel on the interpreter running this code (the venv's), whatever else is installed.

    With no kernelspec folders to search, jupyter_client falls back to ipykernel's built-in python3 spec,
    which starts sys.executable; a python3 spec installed for the user or the system could start another
    Python, without the project installed.
    """

    @default("kernel_spec_manager")
    def _builtin_specs_only(self) -> KernelSpecManager:
        return KernelSpecManager(kernel_dirs=[])


def execute(notebook: nbformat.NotebookNode, timeout_s: int = 600) -> nbformat.NotebookNode:
    """Runs every cell in a new kernel on this interpreter, from the repository root (outputs added in place).

    Raises nbclient's CellExecutionError at the first cell that fails; the cells before it keep their outputs.
    The kernel inherits this process's environment (SMARTSPACES__* overrides, SMARTSPACES_NOTEBOOK_FIGURES).
    """
    from nbclient import NotebookClient

    client = NotebookClient(
        notebook,
        timeout=timeout_s,
        kernel_name="python3",
        kernel_manager_class=ThisInterpreterKernel,
        resources={"metadata": {"path": str(PROJECT_ROOT)}},  # the kernel's working directory
    )
    client.execute()
    return notebook


def render_html(path: Path, folder: Path) -> bool:
    """Executes the notebook at `path` and writes it, outputs and all, to folder/<name>.html; the notebook file
    is not changed. True if every cell ran; when one fails, the page shows the run up to the error."""
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    notebook = nbformat.read(path, as_version=4)
    try:
        execute(notebook)
        succeeded = True
    except CellExecutionError as error:
        print(f"failed: {path}: {error.ename}: {error.evalue}")
        succeeded = False
    body, _ = HTMLExporter().from_notebook_node(notebook)
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{path.stem}.html"
    page.write_text(body, encoding="utf-8")
    print(f"{'rendered' if succeeded else 'rendered up to the error'}: {page}")
    return succeeded


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartspaces.notebooks", description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook has outputs")
    parser.add_argument("--render", type=Path, metavar="DIR", help="execute the notebooks and write HTML pages to DIR")
    args = parser.parse_args(argv)
    if args.render is not None:
        rendered = [render_html(path, args.render) for path in args.notebooks]
        return 0 if all(rendered) else 1
    changed = [path for path in args.notebooks if strip_outputs(path, write=not args.check)]
    for path in changed:
        print(f"{'has outputs' if args.check else 'stripped'}: {path}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
