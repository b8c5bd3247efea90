"""Every job ends in an exit code that says how: bad arguments or configuration 2, a failure 1."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from smartspaces.cli import JOBS
from smartspaces.config import PROJECT_ROOT, ConfigError, Settings
from smartspaces.entrypoint import EXIT_FAILED, EXIT_USAGE, JobSetupError, job_parser, run_job


def _parser() -> argparse.ArgumentParser:
    parser = job_parser("probe", "a probe job")
    parser.add_argument("--count", type=int, default=1)
    return parser


def test_a_job_gets_its_arguments_and_the_settings_of_its_environment() -> None:
    seen: list[tuple[int, str]] = []

    def job(args: argparse.Namespace, settings: Settings) -> int:
        seen.append((args.count, settings.cassandra.keyspace))
        return 7

    assert run_job(_parser(), job, ["--env", "local", "--count", "3"]) == 7
    assert seen == [(3, "smartspaces")]


@pytest.mark.parametrize(
    ("raised", "code", "message"),
    [
        (ConfigError("cassandra.port: not a port"), EXIT_USAGE, "smartspaces run probe: cassandra.port: not a port"),
        (JobSetupError("no device registry"), EXIT_USAGE, "smartspaces run probe: no device registry"),
        (RuntimeError("the disk is full"), EXIT_FAILED, "RuntimeError: the disk is full"),
    ],
)
def test_an_ending_becomes_its_exit_code_and_one_message(
    raised: Exception, code: int, message: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    def job(args: argparse.Namespace, settings: Settings) -> int:
        raise raised

    assert run_job(_parser(), job, ["--env", "local"]) == code
    # A failure is logged with its traceback (pytest captures the platform's log apart from stderr).
    assert message in capsys.readouterr().err + caplog.text


def test_bad_arguments_exit_2_and_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    def job(args: argparse.Namespace, settings: Settings) -> int:
        raise AssertionError("not reached")

    assert run_job(_parser(), job, ["--count", "many"]) == EXIT_USAGE
    assert "invalid int value: 'many'" in capsys.readouterr().err
    assert run_job(_parser(), job, ["--help"]) == 0


@pytest.mark.parametrize("job", sorted(JOBS))
def test_a_bad_configuration_exits_2_when_the_job_file_is_run_as_spark_submit_runs_it(job: str) -> None:
    # spark-submit and the Spark Operator run the job's file as a script: the same entry point, the same code.
    script = PROJECT_ROOT / (JOBS[job].replace(".", "/") + ".py")
    environment = {**os.environ, "SMARTSPACES__CASSANDRA__PORT": "not-a-port"}
    finished = subprocess.run(
        [sys.executable, str(script), "--env", "local"], env=environment, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == EXIT_USAGE, finished.stderr
    assert "cassandra.port" in finished.stderr
