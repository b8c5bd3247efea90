"""Notebooks are committed without what a run leaves in them (`make strip-notebooks` removes it)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from smartspaces.config import PROJECT_ROOT
from smartspaces.notebooks import main, strip_outputs

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def test_the_notebooks_folder_has_notebooks() -> None:
    assert NOTEBOOKS, "no notebooks/*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_notebook_has_no_outputs_counts_or_widget_state(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [(cell.outputs, cell.execution_count) for cell in code] == [([], None)] * len(code)
    assert "widgets" not in notebook.metadata
    assert not strip_outputs(path, write=False), f"run: python -m smartspaces.notebooks {path}"


def executed_notebook(path: Path) -> Path:
    cell = nbformat.v4.new_code_cell("1 + 1", execution_count=1, metadata={"execution": {"iopub.status.idle": "x"}})
    cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
    notebook = nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": {"state": {}}})
    nbformat.write(notebook, path)
    return path


def test_strip_outputs_removes_what_a_run_left_and_then_has_nothing_to_do(tmp_path: Path) -> None:
    path = executed_notebook(tmp_path / "run.ipynb")
    assert strip_outputs(path) is True
    assert strip_outputs(path) is False
    notebook = nbformat.read(path, as_version=4)
    cell = notebook.cells[0]
    assert (cell.source, cell.outputs, cell.execution_count, cell.metadata) == ("1 + 1", [], None, {})
    assert "widgets" not in notebook.metadata


def test_check_fails_on_a_notebook_with_outputs_and_leaves_it_unchanged(tmp_path: Path) -> None:
    path = executed_notebook(tmp_path / "run.ipynb")
    before = path.read_bytes()
    assert main(["--check", str(path)]) == 1
    assert path.read_bytes() == before
    assert main([str(path)]) == 0
    assert main(["--check", str(path)]) == 0
