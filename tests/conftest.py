"""Fixtures shared by every test: the local settings and the one SparkSession of the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

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
    "tests.integration.reference_fixtures",
]

# The tests of the shared local stack: units of work under pytest-xdist (make test).
INTEGRATION_TESTS = "tests/integration/"

# The shared stack's tests that use the change feed's Redis database (6) and nothing another test writes:
# a unit of work of their own, beside the other integration tests. Every test of the two has its own keyspace,
# topic and lake folder; what they share is a Redis database, so each group keeps its tests in order.
CHANGE_FEED_TESTS = (f"{INTEGRATION_TESTS}test_changefeed_job.py", f"{INTEGRATION_TESTS}test_alarms_live.py")

# Integration test files whose servers and databases are their own: they may run beside the shared stack's.
SELF_CONTAINED = (
    f"{INTEGRATION_TESTS}test_reporting_store.py",
    f"{INTEGRATION_TESTS}test_reporting_copy_writer.py",
    f"{INTEGRATION_TESTS}test_power_bi_model.py",
    # Its keyspaces, topic, lake, Redis databases (10, 11) and PostgreSQL database are its own, and the cluster.
    f"{INTEGRATION_TESTS}test_spark_cluster.py",
    # Its keyspace, lake and MySQL tables are its own; it starts the stack's MySQL, which nothing else uses.
    f"{INTEGRATION_TESTS}test_reference_mysql.py",
    # Its PostgreSQL and Redis servers and their certificates are its own.
    f"{INTEGRATION_TESTS}test_tls_identity.py",
    # The secure stack's servers are its own (their keyspace too).
    f"{INTEGRATION_TESTS}test_secure_stack.py",
    # No server: its lake folders are its own.
    f"{INTEGRATION_TESTS}test_quarantine_staging.py",
    # No server: the project's JVM classes only.
    f"{INTEGRATION_TESTS}test_query_templates.py",
)

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


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """make test runs two workers. The integration tests of the shared stack form two units, each run in
    order on one worker: the change feed's (CHANGE_FEED_TESTS) and the others (their fixtures share Redis
    databases 3 and 7 and the stack's PostgreSQL database). The two longest units start first, one per
    worker, in collection order (integration before unit); the files that touch nothing the others share
    (SELF_CONTAINED) and each unit test then go to whichever worker is free.

    A scheduler of scopes rather than xdist's `loadgroup`: that one marks a group by rewriting `item._nodeid`,
    which pytest 9 no longer reads, so its groups are silently split across workers.
    """
    from xdist.scheduler import LoadScopeScheduling

    class SharedStackScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(SELF_CONTAINED):
                return nodeid.split("::")[0]
            if nodeid.startswith(CHANGE_FEED_TESTS):
                return "change feed"
            return INTEGRATION_TESTS if nodeid.startswith(INTEGRATION_TESTS) else nodeid

    # xdist would order the units by their number of tests; the collection's order starts the long ones first.
    config.option.loadscopereorder = False
    return SharedStackScheduling(config, log)
