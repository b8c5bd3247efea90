"""The unit tests' Spark runs interpreted: their DataFrames are a few rows each, and most of their time was
Spark generating and compiling code for each new plan (and adaptive execution's extra jobs), as on the hot
path's micro-batches (smartspaces.session.MICRO_BATCH_CONF). The same results in less time: `pytest -n 2
tests/unit` took 153.7 s and 155.5 s against 180.2 s and 173.5 s without it (same session, alternated). Set
per test and restored after it, so the integration tests, which share the session, run the jobs as
production does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smartspaces.session import MICRO_BATCH_CONF


@pytest.fixture(autouse=True)
def interpreted_spark(request: pytest.FixtureRequest) -> Iterator[None]:
    if "spark" not in request.fixturenames:
        yield
        return
    conf = request.getfixturevalue("spark").conf
    previous = {key: conf.get(key, None) for key in MICRO_BATCH_CONF}
    for key, value in MICRO_BATCH_CONF.items():
        conf.set(key, value)
    yield
    for key, value in previous.items():
        if value is None:
            conf.unset(key)
        else:
            conf.set(key, value)
