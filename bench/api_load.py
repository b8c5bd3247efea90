"""Read API load test with wrk: a mix of cache hits, misses and unknown ids at rising concurrency until errors.

The API runs as in production (its own process, keys required, the gate, the negative cache and the cap on
concurrent store reads on), on a keyspace and a Redis database of the test's own, seeded as the API bench
seeds them. For each step, wrk (one thread, N keep-alive connections) sends for `--seconds` (60 by default):

- 80 % hits: a device's latest readings or a space's critical events among HOT_IDS warmed ids;
- 10 % misses: devices never requested before in the step (each a Redis miss, a Cassandra read, a fill);
- 10 % unknown ids: random devices and spaces (404, then negative-cached).

bench/api_load.lua classifies every answer: 200 from the cache or from Cassandra, 404; anything else (429,
503, 5xx) and every socket error or timeout is an error. Redis is flushed and the hot ids warmed again
before each step, so every step sees the same mix. The steps stop at the first with errors. The figure:
the highest load held for the whole step with 0 errors and p99 under 50 ms.

wrk runs on the same 2 cores as the API, Redis and Cassandra; its share of the CPU is reported.
Writes bench/results/api_load.json and .md. Run: make bench-api-load (python -m bench.api_load).
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.api_access import authorization, bench_key
from bench.api_bench import clean_up, free_port, seed, start_api
from bench.resources import ResourceSampler, write_results
from smartspaces import progress
from smartspaces.bootstrap.cassandra import apply_cassandra
from smartspaces.config import PROJECT_ROOT, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.stack import local_stack

RESULTS = PROJECT_ROOT / "bench" / "results"
SCRIPT = Path(__file__).with_suffix(".lua")
P99_TARGET_MS = 50.0
HOT_IDS = 100
WRK_THREADS = 1
SEED = 20261203


@dataclass(frozen=True)
class Step:
    """One wrk run at a number of connections, and what its answers were."""

    connections: int
    seconds: float
    requests: int
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    hits: int
    misses: int
    not_found: int
    unexpected: int
    socket_errors: int
    cold_ids_reused: int
    api_cpu_cores: float
    wrk_cpu_cores: float

    @property
    def errors(self) -> int:
        return self.unexpected + self.socket_errors

    @property
    def held(self) -> bool:
        return self.errors == 0 and self.p99_ms < P99_TARGET_MS


def wrk_command(port: int, connections: int, seconds: float, cold_first: int, cold_count: int) -> list[str]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: run `make install` (scripts/install-system-deps.sh installs it)")
    return [
        wrk,
        f"--threads={WRK_THREADS}",
        f"--connections={connections}",
        f"--duration={int(seconds)}s",
        "--timeout=5s",
        f"--script={SCRIPT}",
        f"http://127.0.0.1:{port}",
        "--",
        str(HOT_IDS),
        str(cold_first),
        str(cold_count),
        bench_key(),
        str(SEED + connections),
        str(WRK_THREADS),
    ]


def warm(port: int) -> None:
    """Requests every hot id once, so the step's hits are hits from its first request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for n in range(HOT_IDS):
        for path in (f"/devices/bench-dev-{n}/latest", f"/spaces/bench-space-{n}/critical-events"):
            connection.request("GET", path, headers=authorization())
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"warming {path}: HTTP {answer.status}")
    connection.close()


def run_step(api: subprocess.Popen[bytes], port: int, connections: int, seconds: float, cold: range) -> Step:
    with progress.step(f"api load: {connections} connection(s) for {seconds:g} s"):
        command = wrk_command(port, connections, seconds, cold.start, len(cold))
        wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with ResourceSampler({"api": api.pid, "wrk": wrk.pid}, interval_s=0.5) as sampler:
            out, err = wrk.communicate(timeout=seconds + 120)
        if wrk.returncode != 0:
            raise RuntimeError(f"wrk failed ({wrk.returncode}): {err.strip()[-2000:]}")
    line = next((line for line in out.splitlines() if line.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {out[-2000:]}")
    raw = json.loads(line.removeprefix("RESULT "))
    usage = sampler.report()
    duration_s = raw["duration_us"] / 1e6
    return Step(
        connections=connections,
        seconds=round(duration_s, 3),
        requests=raw["requests"],
        requests_per_s=round(raw["requests"] / duration_s, 1),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        hits=raw["hits"],
        misses=raw["misses"],
        not_found=raw["not_found"],
        unexpected=raw["unexpected"],
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"],
        cold_ids_reused=raw["cold_wrapped"],
        api_cpu_cores=usage["api"]["cpu_share_cores"],
        wrk_cpu_cores=usage["wrk"]["cpu_share_cores"],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64, 128])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each step holds its load")
    parser.add_argument("--cold-devices", type=int, default=30_000, help="devices seeded for the misses")
    parser.add_argument("--redis-db", type=int, default=5, help="the Redis database the test owns (flushed)")
    args = parser.parse_args(argv)

    base = load_settings("local")
    local_stack.up(base, ("cassandra", "redis"))
    settings = base.model_copy(
        update={
            "cassandra": base.cassandra.model_copy(update={"keyspace": f"bench_load_{uuid.uuid4().hex[:8]}"}),
            "redis": base.redis.model_copy(update={"db": args.redis_db}),
        }
    )
    apply_cassandra(settings.cassandra)
    cluster = cassandra_cluster(settings.cassandra)
    redis = redis_client(settings.redis)
    api = None
    steps: list[Step] = []
    try:
        with progress.step("api load: seed Cassandra"):
            seed(
                cluster.connect(),
                settings.cassandra.keyspace,
                devices=HOT_IDS + args.cold_devices,
                spaces=HOT_IDS,
                events_per_space=20,
            )
        port = free_port()
        with progress.step("api load: start the API"):
            api = start_api(settings, port)
        for connections in args.connections:
            redis.flushdb()
            warm(port)
            step = run_step(api, port, connections, args.seconds, range(HOT_IDS, HOT_IDS + args.cold_devices))
            steps.append(step)
            print(json.dumps({"event": "api_load_step", **asdict(step), "held": step.held}), file=sys.stderr)
            if step.errors:
                break
    finally:
        clean_up(api, redis, cluster, settings.cassandra.keyspace)
    result = report(steps, settings, args)
    write_results(RESULTS, "api_load", result, summary(result))
    return 0


def report(steps: Sequence[Step], settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    held = [step for step in steps if step.held]
    best = max(held, key=lambda step: step.requests_per_s, default=None)
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": subprocess.run(["wrk", "--version"], capture_output=True, text=True)
        .stdout.splitlines()[0]
        .split(" [")[0]
        .strip()
        if shutil.which("wrk")
        else "wrk",
        "mix": {"hits": 0.8, "misses": 0.1, "unknown_ids": 0.1},
        "seconds_per_step": args.seconds,
        "p99_target_ms": P99_TARGET_MS,
        "rate_limit": "off for the test's key (measured, never throttled)",
        "max_store_reads": settings.api.max_store_reads,
        "steps": [{**asdict(step), "errors": step.errors, "held": step.held} for step in steps],
        "highest_load_held": None
        if best is None
        else {"connections": best.connections, "requests_per_s": best.requests_per_s, "p99_ms": best.p99_ms},
        "errors_first_at_connections": next((step.connections for step in steps if step.errors), None),
    }


def summary(result: dict[str, Any]) -> str:
    best = result["highest_load_held"]
    first_errors = result["errors_first_at_connections"]
    lines = [
        "# Read API load test",
        "",
        f"{result['tool']}, one thread, keep-alive connections, each step {result['seconds_per_step']:g} s; mix: 80 % "
        "cache hits (device latest and space critical events), 10 % misses (devices never requested), 10 % unknown "
        f"ids. Redis flushed and the hot ids warmed before each step. 2 cores shared by wrk, the API, Redis and "
        f"Cassandra. Measured {result['measured_at']}.",
        "",
        "| Conn. | req/s | p50 ms | p90 ms | p99 ms | max ms | hits | misses | 404 | errors | held | API CPU "
        "| wrk CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for step in result["steps"]:
        lines.append(
            f"| {step['connections']} | {step['requests_per_s']} | {step['p50_ms']} | {step['p90_ms']} | "
            f"{step['p99_ms']} | {step['max_ms']} | {step['hits']} | {step['misses']} | {step['not_found']} | "
            f"{step['errors']} | {'yes' if step['held'] else 'no'} | {step['api_cpu_cores']} | "
            f"{step['wrk_cpu_cores']} |"
        )
    lines.append("")
    if best is None:
        lines.append(f"No step held with 0 errors and p99 under {result['p99_target_ms']:g} ms.")
    else:
        lines.append(
            f"Highest load held for {result['seconds_per_step']:g} s with 0 errors and p99 under "
            f"{result['p99_target_ms']:g} ms: **{best['requests_per_s']} requests/s** at {best['connections']} "
            f"connections (p99 {best['p99_ms']} ms)."
        )
    lines.append(
        "First errors at " + (f"{first_errors} connections." if first_errors else "no step: none up to the last.")
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
