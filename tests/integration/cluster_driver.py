"""Runs jobs one after another in one driver process, one Spark application: the cluster half of
test_spark_cluster, whose executors then start once rather than once a job (a job's main uses the active
session, as it does in a notebook).

python -m tests.integration.cluster_driver jobs.reference --drop D -- jobs.ingest --drain -- ...
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from smartspaces.config import load_settings
from smartspaces.session import spark_session

SEPARATOR = "--"


def job_lines(argv: Sequence[str]) -> list[list[str]]:
    """The argument lists of the jobs: a module, then its arguments, jobs separated by SEPARATOR."""
    jobs: list[list[str]] = [[]]
    for argument in argv:
        if argument == SEPARATOR:
            jobs.append([])
        else:
            jobs[-1].append(argument)
    return [job for job in jobs if job]


def main(argv: Sequence[str]) -> int:
    with spark_session(load_settings(), "smartspaces-cluster-test"):
        for module, *arguments in job_lines(argv):
            code: int = importlib.import_module(module).main(arguments)
            if code != 0:
                print(f"{module} {' '.join(arguments)} exited {code}", file=sys.stderr)
                return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
