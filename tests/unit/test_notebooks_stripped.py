"""Notebooks are committed without outputs (run `make strip-notebooks`)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from smartspaces.config import PROJECT_ROOT
from smartspaces.notebooks import strip_outputs

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_has_no_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [(cell.outputs, cell.execution_count) for cell in code] == [([], None)] * len(code)
    assert "widgets" not in notebook.metadata


def test_strip_outputs_removes_what_a_run_left(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    notebook.cells[0].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
    notebook.cells[0].execution_count = 1
    path = tmp_path / "run.ipynb"
    nbformat.write(notebook, path)
    assert strip_outputs(path) is True
    assert strip_outputs(path) is False
    cell = nbformat.read(path, as_version=4).cells[0]
    assert (cell.outputs, cell.execution_count) == ([], None)
