"""The one entry point every job goes through, under `smartspaces run`, spark-submit and the Spark Operator.

It parses the job's arguments (with `--env`), sets up logging, loads and validates the configuration, runs
the job and turns every ending into an exit code: 0 done, 1 failed, 2 bad arguments or configuration (the
message names the setting), 130 interrupted. A job may return a code of its own (the enrichment's 3).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from smartspaces.config import ConfigError, Settings, load_settings
from smartspaces.disk_full import disk_full_message
from smartspaces.logs import configure_logging

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

logger = logging.getLogger("smartspaces")


class JobSetupError(ValueError):
    """The job cannot start as asked (a missing registry, an argument the parser cannot check): exit 2."""


def job_parser(name: str, description: str | None) -> argparse.ArgumentParser:
    """A job's argument parser, with the `--env` every job takes."""
    parser = argparse.ArgumentParser(
        prog=f"smartspaces run {name}", description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", help="configuration environment: conf/<env>.yaml (default: $SMARTSPACES_ENV or local)")
    return parser


Job = Callable[[argparse.Namespace, Settings], int]


def run_job(parser: argparse.ArgumentParser, job: Job, argv: Sequence[str] | None = None) -> int:
    """Parses argv, loads the settings of --env and runs the job; returns its exit code (never raises)."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage and the error
        return EXIT_USAGE if exit_.code else 0
    configure_logging()
    settings: Settings | None = None
    try:
        settings = load_settings(args.env)
        return job(args, settings)
    except (ConfigError, JobSetupError) as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        logger.exception("%s: failed", parser.prog)
        full = disk_full_message(error, settings) if settings is not None else None
        if full:
            print(f"{parser.prog}: {full}", file=sys.stderr)
        return EXIT_FAILED
