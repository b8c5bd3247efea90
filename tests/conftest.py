"""Fixtures shared by every test: the local settings and the one SparkSession of the run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from smartspaces.config import Settings, load_settings
from smartspaces.session import build_spark_session

# The integration suite's shared fixtures, registered once for every test module that names them.
pytest_plugins = [
    "tests.integration.ingest_fixtures",
    "tests.integration.changefeed_fixtures",
    "tests.integration.serving_fixtures",
    "tests.integration.reporting_fixtures",
    "tests.integration.exploration_fixtures",
]

# Few shuffle partitions: test DataFrames are tiny, and each partition is a task on 2 cores.
TEST_OVERRIDES = {"SMARTSPACES__SPARK__SHUFFLE_PARTITIONS": "2", "SMARTSPACES__SPARK__UI_ENABLED": "false"}


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings("local", environ={**os.environ, **TEST_OVERRIDES})


@pytest.fixture(scope="session")
def spark(settings: Settings, request: pytest.FixtureRequest) -> Iterator[SparkSession]:
    # One JVM per run, so its classpath is fixed at start: the connectors' jars only when an integration test
    # was collected; the unit tests alone (make test-unit) start a lean Spark without them.
    with_connectors = any(item.get_closest_marker("integration") for item in request.session.items)
    session = build_spark_session(settings, "smartspaces-tests", with_connectors=with_connectors)
    yield session
    session.stop()
