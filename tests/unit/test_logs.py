"""How a run logs: one format for the platform's lines and other libraries' warnings; Spark's log4j2 file."""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterator

import pytest

from smartspaces.config import PROJECT_ROOT
from smartspaces.logs import LOG4J2_CONFIG, configure_logging, log4j2_config_file

LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+ [\w.]+: .*")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes the process's logging: put back what pytest had."""
    root = logging.getLogger()
    platform = logging.getLogger("smartspaces")
    handlers, level, platform_level = root.handlers[:], root.level, platform.level
    yield
    logging.captureWarnings(False)
    root.handlers[:] = handlers
    root.setLevel(level)
    platform.setLevel(platform_level)


@pytest.mark.usefixtures("restored_logging")
def test_platform_info_and_other_warnings_are_logged_in_one_format(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    # Loggers no other code configures: a library's own (the Cassandra driver's, say) may be set elsewhere.
    logging.getLogger("smartspaces.probe").info("ingest: 3 messages")
    logging.getLogger("some_library.probe").info("connection chatter")
    logging.getLogger("some_library.probe").warning("server warning")
    lines = capsys.readouterr().err.splitlines()
    assert [LINE.fullmatch(line) is not None for line in lines] == [True, True]
    assert [line.split(" ", 2)[2] for line in lines] == [
        "INFO smartspaces.probe: ingest: 3 messages",
        "WARNING some_library.probe: server warning",
    ]


@pytest.mark.usefixtures("restored_logging")
def test_configuring_twice_keeps_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    configure_logging()
    logging.getLogger("smartspaces").info("once")
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_the_log4j2_configuration_ships_with_the_package() -> None:
    assert log4j2_config_file() == PROJECT_ROOT / "smartspaces" / LOG4J2_CONFIG
    assert log4j2_config_file().is_file()
    package_data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["smartspaces"]
    assert LOG4J2_CONFIG in package_data


def test_spark_logs_warnings_on_stderr_in_the_platform_format() -> None:
    settings = dict(
        line.split(" = ", 1)
        for line in log4j2_config_file().read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    assert settings["rootLogger.level"] == "warn"
    assert settings["appender.console.target"] == "SYSTEM_ERR"
    assert settings["appender.console.layout.pattern"].startswith("%d{yyyy-MM-dd HH:mm:ss} %level{WARN=WARNING")
