"""The notebooks run top to bottom against the local stack, each in its own kernel and Spark JVM."""

from __future__ import annotations

import re
import sys
import uuid

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from pyspark.sql import SparkSession
from traitlets import default

from jobs import smoke
from smartspaces.config import PROJECT_ROOT

SUMMARY_LINE = re.compile(r"^run \S+: cassandra=\d+ postgres_devices=\d+ redis_keys=\d+ delta=\d+$")


class ThisInterpreterKernel(AsyncKernelManager):
    """The python3 kernel on the interpreter running the tests (the venv's), whatever else is installed.

    With no kernelspec folders to search, jupyter_client falls back to ipykernel's built-in python3 spec,
    which starts sys.executable; a python3 spec installed for the user or the system could start another
    Python, without the project installed.
    """

    @default("kernel_spec_manager")
    def _builtin_specs_only(self) -> KernelSpecManager:
        return KernelSpecManager(kernel_dirs=[])


def run_notebook(name: str) -> list[str]:
    """Executes notebooks/<name> from the repository root; returns the lines it printed."""
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        kernel_manager_class=ThisInterpreterKernel,
        resources={"metadata": {"path": str(PROJECT_ROOT)}},  # the kernel's working directory
    )
    client.execute()
    return [
        line
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stdout"
        for line in output.text.splitlines()
    ]


def test_the_kernel_runs_this_interpreter() -> None:
    spec = ThisInterpreterKernel(kernel_name="python3").kernel_spec
    assert spec is not None
    assert spec.argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]


def test_smoke_notebook_counts_the_newest_run_in_every_store(spark: SparkSession) -> None:
    # The spark fixture makes the job reuse the test session instead of starting (and stopping) its own.
    run_id = f"nb{uuid.uuid4().hex[:10]}"
    assert smoke.main(["--readings", "120", "--devices", "4", "--run-id", run_id]) == 0

    printed = run_notebook("01_smoke_flow.ipynb")

    assert [line for line in printed if SUMMARY_LINE.match(line)] == [
        f"run {run_id}: cassandra=120 postgres_devices=4 redis_keys=4 delta=120"
    ]
