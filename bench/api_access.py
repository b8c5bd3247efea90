"""The benchmarks call the read API as a production client does: with a key of the read scope, which the gate
checks on every request, and a rate limit far above what the benchmark's own client sends, so it is measured,
never throttled."""

from __future__ import annotations

import os

from smartspaces.stages.serving.api_keys import Scope, entry, new_key

# The key travels to the load-generating child processes in this variable.
KEY_VARIABLE = "SMARTSPACES_BENCH_API_KEY"
UNTHROTTLED = str(10**9)


def bench_key() -> str:
    """This run's key: made once, then inherited by every child process."""
    key = os.environ.get(KEY_VARIABLE)
    if not key:
        key = os.environ[KEY_VARIABLE] = new_key()
    return key


def api_environment() -> dict[str, str]:
    """The API's settings for a benchmark: keys required, the benchmark's key known, no throttling."""
    return {
        "SMARTSPACES__API__KEYS": entry("bench", frozenset({Scope.READ}), bench_key()),
        "SMARTSPACES__API__REQUIRE_KEY": "true",
        "SMARTSPACES__API__RATE_LIMIT_PER_S": UNTHROTTLED,
        "SMARTSPACES__API__RATE_LIMIT_BURST": UNTHROTTLED,
        KEY_VARIABLE: bench_key(),
    }


def authorization() -> dict[str, str]:
    return {"Authorization": f"Bearer {bench_key()}"}
