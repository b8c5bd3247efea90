"""Read API benchmark: latency (p50/p99) and requests/s of cache hits and misses, on loopback.

The bench seeds its own keyspace (bench_api_<run>, dropped at the end) and Redis database (--redis-db,
flushed), starts the API (`python -m smartspaces.serving`) in a subprocess, and drives it from a thread pool
of keep-alive http.client connections, one per thread. For each endpoint and concurrency:

- miss: ids never requested before (each a Redis miss, a Cassandra read with the registry check, a fill);
- hit: a warmed set of ids requested round-robin (Redis only).

Every answer's `source` is checked, so a "hit" served from Cassandra (or the reverse) is counted as wrong.
Targets (reported, not asserted): hit p99 < 5 ms, miss p99 < 50 ms. The client shares the machine's cores
with the API, Redis and Cassandra; its own CPU per request is reported so its share can be judged.

Writes bench/results/api.json and api.md. Run: python -m bench.api_bench [--concurrency 1 8 ...].
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import quantiles
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from bench.resources import ResourceSampler
from smartspaces.bootstrap.cassandra import apply_cassandra
from smartspaces.config import PROJECT_ROOT, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.stack import local_stack

RESULTS = PROJECT_ROOT / "bench" / "results"
HIT_P99_TARGET_MS = 5.0
MISS_P99_TARGET_MS = 50.0
METRICS = (("temperature", "celsius"), ("co2", "ppm"), ("humidity", "percent"))
# Ids requested in the hit runs (warmed first); small enough to stay hot, large enough not to be one key.
HOT_IDS = 100


@dataclass(frozen=True)
class Run:
    endpoint: str
    kind: str
    concurrency: int
    requests: int
    wrong_source: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    client_cpu_us_per_request: float
    api_cpu_cores: float

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def seed(session: Session, keyspace: str, devices: int, spaces: int, events_per_space: int) -> None:
    """Registered devices with three readings each, registered spaces with their critical events."""
    now = datetime.now(UTC).replace(microsecond=0)
    space_rows = [(f"bench-space-{n}", "bench-b1", n % 10, f"Room {n}", "office", 20.0, 6) for n in range(spaces)]
    device_rows = [(f"bench-dev-{n}", f"bench-space-{n % spaces}", "multisensor", "ms-3", now) for n in range(devices)]
    latest_rows = [
        (
            f"bench-dev-{n}",
            metric,
            f"bench-space-{n % spaces}",
            20.0 + m,
            unit,
            now - timedelta(seconds=m),
            uuid.uuid4(),
        )
        for n in range(devices)
        for m, (metric, unit) in enumerate(METRICS)
    ]
    critical_rows = [
        (f"bench-space-{n}", now - timedelta(seconds=e), uuid.uuid4(), f"bench-dev-{n}", "co2-high", 1, "critical",
         "co2", 2500.0 + e, "ppm", "co2_high", f"CO2 above 2000 ppm ({e})", uuid.uuid4(), now)
        for n in range(spaces)
        for e in range(events_per_space)
    ]  # fmt: skip
    statements = {
        f"INSERT INTO {keyspace}.spaces (space_id, building_id, floor, name, space_type, area_m2, capacity) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)": space_rows,
        f"INSERT INTO {keyspace}.devices (device_id, space_id, device_type, model, installed_at) "
        "VALUES (?, ?, ?, ?, ?)": device_rows,
        f"INSERT INTO {keyspace}.device_latest (device_id, metric, space_id, value, unit, event_time, event_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)": latest_rows,
        f"INSERT INTO {keyspace}.critical_events_by_space (space_id, event_time, critical_event_id, device_id, "
        "rule_id, rule_version, severity, metric, value, unit, code, message, source_event_id, detected_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)": critical_rows,
    }
    for statement, rows in statements.items():
        execute_concurrent_with_args(
            session, session.prepare(statement), rows, concurrency=64, raise_on_first_error=True
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_api(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "SMARTSPACES__CASSANDRA__KEYSPACE": settings.cassandra.keyspace,
        "SMARTSPACES__REDIS__DB": str(settings.redis.db),
        "SMARTSPACES__API__PORT": str(port),
    }
    process = subprocess.Popen([sys.executable, "-m", "smartspaces.serving"], cwd=PROJECT_ROOT, env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API stopped: {process.stderr.read().decode()[-3000:] if process.stderr else ''}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the API did not answer /health within 60 s")


def drive(
    port: int, paths: Sequence[str], concurrency: int, expected_source: str
) -> tuple[list[float], int, int, float]:
    """Requests every path once over `concurrency` keep-alive connections.

    Returns (latencies in ms, wrong sources, errors, seconds).
    """
    shares = [paths[worker::concurrency] for worker in range(concurrency)]
    marker = f'"source":"{expected_source}"'.encode()
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"wrong": 0, "errors": 0}

    def worker(share: Sequence[str]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        wrong = errors = 0
        for path in share:
            started = time.perf_counter_ns()
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            mine.append((time.perf_counter_ns() - started) / 1e6)
            if response.status != 200:
                errors += 1
            elif marker not in body:
                wrong += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            counts["wrong"] += wrong
            counts["errors"] += errors

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, shares))
    return latencies, counts["wrong"], counts["errors"], time.perf_counter() - started


def measure(
    api: subprocess.Popen[bytes], port: int, endpoint: str, kind: str, paths: Sequence[str], concurrency: int
) -> Run:
    cpu_before = time.process_time()
    with ResourceSampler({"api": api.pid}, interval_s=0.2) as sampler:
        latencies, wrong, errors, seconds = drive(port, paths, concurrency, "cache" if kind == "hit" else "cassandra")
    client_cpu = time.process_time() - cpu_before
    cut = quantiles(latencies, n=100, method="inclusive")
    return Run(
        endpoint=endpoint, kind=kind, concurrency=concurrency, requests=len(latencies), wrong_source=wrong,
        errors=errors, seconds=round(seconds, 3), p50_ms=round(cut[49], 3), p99_ms=round(cut[98], 3),
        max_ms=round(max(latencies), 3), client_cpu_us_per_request=round(client_cpu / len(latencies) * 1e6, 1),
        api_cpu_cores=sampler.report()["api"]["cpu_share_cores"],
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8], help="client connections, one run each")
    parser.add_argument("--hit-requests", type=int, default=5000, help="requests per hit run")
    parser.add_argument("--miss-requests", type=int, default=1000, help="requests (distinct ids) per miss run")
    parser.add_argument("--events-per-space", type=int, default=20)
    parser.add_argument("--redis-db", type=int, default=5, help="the Redis database the bench owns (flushed)")
    args = parser.parse_args(argv)

    base = load_settings("local")
    local_stack.up(base, ("cassandra", "redis"))
    run_id = uuid.uuid4().hex[:8]
    settings = base.model_copy(update={
        "cassandra": base.cassandra.model_copy(update={"keyspace": f"bench_api_{run_id}"}),
        "redis": base.redis.model_copy(update={"db": args.redis_db}),
    })  # fmt: skip
    levels = len(args.concurrency)
    ids = HOT_IDS + args.miss_requests * levels
    apply_cassandra(settings.cassandra)
    cluster = cassandra_cluster(settings.cassandra)
    redis = redis_client(settings.redis)
    redis.flushdb()
    api = None
    try:
        session = cluster.connect()
        seeding = time.monotonic()
        seed(session, settings.cassandra.keyspace, devices=ids, spaces=ids, events_per_space=args.events_per_space)
        print(f"seeded {ids} devices and {ids} spaces ({args.events_per_space} events each) "
              f"in {time.monotonic() - seeding:.1f} s", file=sys.stderr)  # fmt: skip
        port = free_port()
        api = start_api(settings, port)
        endpoints = {"device_latest": "/devices/bench-dev-{}/latest",
                     "critical_events": "/spaces/bench-space-{}/critical-events"}  # fmt: skip
        runs: list[Run] = []
        for endpoint, template in endpoints.items():
            hot = [template.format(n) for n in range(HOT_IDS)]
            drive(port, hot, 4, "cassandra")  # warm-up: fills the hot ids
            for level, concurrency in enumerate(args.concurrency):
                # Ids past the hot ones, a fresh slice per run: never requested, never cached.
                first = HOT_IDS + level * args.miss_requests
                cold = [template.format(n) for n in range(first, first + args.miss_requests)]
                if cold:
                    runs.append(measure(api, port, endpoint, "miss", cold, concurrency))
                hits = [hot[n % HOT_IDS] for n in range(args.hit_requests)]
                runs.append(measure(api, port, endpoint, "hit", hits, concurrency))
        result = report(runs, settings, args)
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=30)
        redis.flushdb()
        redis.close()
        cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra.keyspace}", timeout=120)
        cluster.shutdown()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "api.md").write_text(summary(result))
    print(summary(result))
    return 0


def report(runs: Sequence[Run], settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "runs": [{**run.__dict__, "requests_per_s": round(run.requests_per_s, 1)} for run in runs],
        "targets_ms": {"hit_p99": HIT_P99_TARGET_MS, "miss_p99": MISS_P99_TARGET_MS},
        "critical_per_space": settings.cache.critical_per_space,
        "events_per_space": args.events_per_space,
        "server": "uvicorn, 1 process (h11), sync handlers in its thread pool",
        "client": "Python threads, one keep-alive http.client connection each, on the same machine",
        # Other work on the machine skews the figures: the load average when the runs ended says how much.
        "machine": {"cores": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def summary(result: dict[str, Any]) -> str:
    """The results as a short markdown page."""
    targets = result["targets_ms"]

    def verdict(run: dict[str, Any]) -> str:
        target = targets["hit_p99"] if run["kind"] == "hit" else targets["miss_p99"]
        return f"{'meets' if run['p99_ms'] < target else 'misses'} {target:g} ms"

    lines = [
        "# Read API benchmark",
        "",
        f"Loopback, {result['machine']['cores']} cores shared by the client, the API, Redis and Cassandra "
        f"(load average {result['machine']['load_average_1m']} at the end); "
        f"{result['server']}; {result['events_per_space']} critical events per space. "
        f"Measured {result['measured_at']}.",
        "",
        "| Endpoint | Kind | Conc. | Requests | req/s | p50 ms | p99 ms | max ms | p99 target | wrong source | errors "
        "| client CPU µs/req | API CPU cores |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {r['endpoint']} | {r['kind']} | {r['concurrency']} | {r['requests']} | {r['requests_per_s']} | "
            f"{r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | {verdict(r)} | {r['wrong_source']} | {r['errors']} | "
            f"{r['client_cpu_us_per_request']} | {r['api_cpu_cores']} |"
            for r in result["runs"]
        ],
        "",
        "Latency is measured by the client, request sent to body read, so it includes the client's own Python "
        "overhead (its CPU per request is in the table) and its competition with the server for the same cores; "
        "a client on another machine would see less.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
