"""The unit tests' Spark runs interpreted: their DataFrames are a few rows each, and most of their time was
Spark generating and compiling code for each new plan (and adaptive execution's extra jobs), as on the hot
path's micro-batches (smartspaces.session.MICRO_BATCH_CONF). The same results in less time: `pytest -n 2
tests/unit` took 153.7 s and 155.5 s against 180.2 s and 173.5 s without it (same session, alternated). Set
per test and restored after it, so the integration tests, which share the session, run the jobs as
production does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smartspaces.session import MICRO_BATCH_CONF, runtime_conf


@pytest.fixture(autouse=True)
def interpreted_spark(request: pytest.FixtureRequest) -> Iterator[None]:
    if "spark" not in request.fixturenames:
        yield
        return
    with runtime_conf(request.getfixturevalue("spark"), MICRO_BATCH_CONF):
        yield
