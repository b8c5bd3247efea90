"""A local session starts, runs a query and stops without printing a line (its own JVM, in a child process)."""

from __future__ import annotations

import subprocess
import sys

from smartspaces.config import PROJECT_ROOT

SESSION = """
from smartspaces.config import load_settings
from smartspaces.session import spark_session

with spark_session(load_settings("local"), "smartspaces-quiet-test") as spark:
    assert spark.range(3).count() == 3
"""


def test_a_local_session_prints_nothing_from_start_to_stop() -> None:
    run = subprocess.run(
        [sys.executable, "-c", SESSION], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
