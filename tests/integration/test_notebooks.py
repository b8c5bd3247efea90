"""The notebooks run against the local stack and show what the smoke flow wrote."""

from __future__ import annotations

import uuid

import nbformat
from nbclient import NotebookClient
from pyspark.sql import SparkSession

from jobs import smoke
from smartspaces.config import PROJECT_ROOT


def test_smoke_notebook_shows_the_newest_run_in_every_store(spark: SparkSession) -> None:
    run_id = f"nb{uuid.uuid4().hex[:8]}"
    assert smoke.main(["--readings", "120", "--devices", "4", "--run-id", run_id]) == 0

    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "01_smoke_flow.ipynb", as_version=4)
    # The kernel is the interpreter running the tests (ipykernel's native python3 kernel), in its own process.
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(PROJECT_ROOT)}}).execute()  # fmt: skip
    printed = [
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    ]
    assert f"run {run_id}: cassandra=120 postgres_devices=4 redis_keys=4 delta=120\n" in printed
