"""New Redis connections over TLS: redis-py's own TLS connection (a new SSL context per connection, the system's CA
store loaded into each) against the platform's (one context per CA and process), alternated in rounds, on the
secure stack's Redis (TLS only, ACL users; started if it is not running).

Each sample opens a connection, authenticates, PINGs and closes it: what a Spark task that writes Redis pays
once, and the read API once per connection of its pool. Reports the median per connection of each and the
ratio. Writes bench/results/redis_tls_connect.json and .md. Run: python -m bench.redis_tls_connect [--rounds N].
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import redis

from smartspaces.config import Settings, load_settings
from smartspaces.connectors.redis import connection_options, redis_client
from smartspaces.stack import local_stack
from smartspaces.stack.identities import part_environment

RESULTS = Path(__file__).parent / "results"


def secure_settings() -> Settings:
    bare = load_settings("secure", environ={})
    local_stack.up(bare, ("redis",))
    return load_settings("secure", environ={**os.environ, **part_environment(bare, "serve")})


def connect_and_ping(make: Callable[[], redis.Redis]) -> float:
    started = time.perf_counter()
    client = make()
    client.ping()
    client.close()
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50, help="per round and client")
    args = parser.parse_args(argv)
    settings = secure_settings()
    clients: dict[str, Callable[[], redis.Redis]] = {
        "redis-py": lambda: redis.Redis(**connection_options(settings.redis)),
        "platform": lambda: redis_client(settings.redis),
    }
    for make in clients.values():
        connect_and_ping(make)  # imports, the first context
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(args.rounds):
        for name, make in clients.items():
            samples[name].extend(connect_and_ping(make) for _ in range(args.connections))
    medians_ms = {name: round(median(values) * 1000, 2) for name, values in samples.items()}
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "connections_each": args.rounds * args.connections,
        "median_ms_per_connection": medians_ms,
        "ratio_redis_py_to_platform": round(medians_ms["redis-py"] / medians_ms["platform"], 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "redis_tls_connect.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# New Redis connections over TLS (connect, AUTH, PING, close)",
        "",
        f"Measured {result['measured_at']} on {result['cpu_count']} cores, {result['connections_each']} connections "
        "each, alternated in rounds.",
        "",
        "| client | median per connection |",
        "| --- | --- |",
        *(f"| {name} | {value} ms |" for name, value in medians_ms.items()),
        "",
        f"redis-py's own TLS connection costs {result['ratio_redis_py_to_platform']} times the platform's.",
    ]
    (RESULTS / "redis_tls_connect.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
