"""The hot path under test: the ingest, the change feed and the read API as long-running processes on a
keyspace, topic and Redis database of their own, and one step of load against them."""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from bench.api_access import api_environment
from bench.enrich_bench import drop_keyspace
from bench.hotpath_probes import (
    ApiWatcher,
    RedisCriticalWatcher,
    SeenCriticalEvent,
    StoredEvent,
    door_rows_since,
    stored_events,
)
from bench.ingest_bench import bench_environment, fresh_keyspace, load_reference
from bench.resources import busy_cores, machine_cpu_seconds
from smartspaces import progress
from smartspaces.config import PROJECT_ROOT, Settings, load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.kafka_admin import ensure_topic
from smartspaces.stack import local_stack
from smartspaces.stack.process import port_is_free
from smartspaces.stages.simulator.campus import build_campus
from smartspaces.stages.simulator.producer import SimulationOptions, SimulationReport, run_simulation

BENCH_REDIS_DB = 9
API_PORT = 18080
DOOR_FORCED_RULE = "door_forced"
# A rate is sustained when the step ran its whole length (no forced door took ABORT_LAG_S), every forced door
# arrived in Redis (or, ingest alone, in Cassandra) within DRAIN_LIMIT_S of the producer stopping, and the
# latency did not grow by more than LAG_GROWTH_LIMIT over the step. The drain's limit is the drain
# target: the latency's growth compares the step's last 30 s with its first, so a backlog that built up within
# the first 30 s and stayed (a p99 of 40 s, drained in 30 s) passes it; the drain does not let it pass.
LAG_GROWTH_LIMIT = 1.5
DRAIN_LIMIT_S = 10.0
GROWTH_WINDOW_S = 30.0
# How long to wait for a step's last events before calling it failed, and for a failed step's backlog.
DRAIN_WAIT_S = 60.0
RECOVER_WAIT_S = 120.0
# A step stops producing early once a forced door takes this long to reach Redis: it cannot be sustained.
ABORT_LAG_S = 30.0
SERVICE_START_S = 180.0
# The warm-up: the jobs run as long-running ones do once their JVMs have loaded and compiled the hot code. A
# new JVM's micro-batches keep getting faster for minutes: at 500 events/s, the ingest's batch p50 went
# 3.8 -> 4.9 -> 3.0 -> 2.6 -> 2.0 s over five 60 s steps after a 90 s warm-up, the end-to-end p99 14.9 -> 5.3 s
# (the JIT compilers still took a tenth of the machine). So the warm-up produces WARM_UP_SLICE_S slices at
# WARM_UP_RATE until no stream's batch p50 falls by more than WARM_UP_SETTLED from one slice to the next
# (each slice sustained), for at most WARM_UP_MAX_S.
WARM_UP_RATE, WARM_UP_SLICE_S = 250.0, 60.0
WARM_UP_SETTLED = 0.1
WARM_UP_MAX_S = 600.0
# A slice's backlog (a cold JVM's first ones fall behind) drains for at most this long.
WARM_UP_DRAIN_S = 240.0
# Each long-running job's command line, and the log line that tells it runs.
JOB_COMMANDS = {
    "ingest": (["-m", "jobs.ingest"], '"event": "ingest_started"'),
    "changefeed": (["-m", "jobs.changefeed"], '"event": "changefeed_batch"'),
}


@dataclass
class StepResult:
    rate: float
    produced_s: float
    report: SimulationReport
    critical: list[tuple[SeenCriticalEvent, StoredEvent]]
    api_served: dict[str, float]
    api_errors: int
    ingest: list[StoredEvent]
    forced_doors_seen: int
    drain_s: float
    lag_growth: float | None
    batch_seconds: dict[str, list[float]]
    # Per stream, the median seconds of each part of its micro-batches (the jobs' batch logs).
    batch_parts_s: dict[str, dict[str, float]]
    aborted: bool
    ingest_only: bool
    started: float
    # The machine's busy cores while the step produced: how much of it the step's processes had.
    busy_cores: float = 0.0
    verdict: str = ""
    sustained: bool = False

    @property
    def forced_doors_sent(self) -> int:
        return self.report.forced_doors

    def e2e_latencies(self) -> list[float]:
        return [seen.seen_at - stored.produced_at for seen, stored in self.critical]

    def api_latencies(self) -> list[float]:
        produced = {seen.critical_event_id: stored.produced_at for seen, stored in self.critical}
        return [at - produced[event_id] for event_id, at in self.api_served.items() if event_id in produced]

    def ingest_latencies(self) -> list[float]:
        return [row.written_at - row.produced_at for row in self.ingest]

    def judge(self) -> None:
        problems = []
        if self.aborted:
            problems.append(f"stopped early: a forced door took over {ABORT_LAG_S:g} s")
        if self.forced_doors_seen < self.forced_doors_sent:
            problems.append(f"{self.forced_doors_seen} of {self.forced_doors_sent} forced doors arrived")
        elif self.drain_s > DRAIN_LIMIT_S:
            problems.append(f"the backlog drained in {self.drain_s:g} s > {DRAIN_LIMIT_S:g} s")
        if self.lag_growth is not None and self.lag_growth > LAG_GROWTH_LIMIT:
            problems.append(f"lag growth {self.lag_growth} > {LAG_GROWTH_LIMIT:g}")
        self.sustained = not problems
        latencies = self.ingest_latencies() if self.ingest_only else self.e2e_latencies()
        figure = f"p99 {_quantile(latencies, 0.99):.2f} s over {len(latencies)} events" if latencies else "no events"
        self.verdict = "; ".join([figure, *problems])

    def trial_summary(self) -> dict[str, Any]:
        latencies = self.ingest_latencies() if self.ingest_only else self.e2e_latencies()
        return {
            "rate_events_per_s": round(self.rate, 1),
            "sustained": self.sustained,
            "p99_s": round(_quantile(latencies, 0.99), 3) if latencies else None,
            "drain_s": self.drain_s,
            "lag_growth": self.lag_growth,
            "busy_cores": self.busy_cores,
            "verdict": self.verdict,
        }


def warmed(before: dict[str, float], now: dict[str, float]) -> bool:
    """Whether no stream's batch p50 fell by more than WARM_UP_SETTLED from one warm-up slice to the next."""
    return bool(now) and all(
        stream in before and seconds >= (1 - WARM_UP_SETTLED) * before[stream] for stream, seconds in now.items()
    )


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def lag_growth(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    """p99 of the latencies produced in the step's last GROWTH_WINDOW_S over that of its first (None: too few)."""
    first = [latency for produced, latency in samples if produced < start + GROWTH_WINDOW_S]
    last = [latency for produced, latency in samples if produced >= end - GROWTH_WINDOW_S]
    if len(first) < 5 or len(last) < 5:
        return None
    return round(_quantile(last, 0.99) / max(_quantile(first, 0.99), 1e-3), 3)


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    def log_size(self) -> int:
        self.log.flush()
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def stop(self) -> None:
        """SIGINT first (the jobs stop their queries and sessions), then the whole process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


@dataclass
class Epoch:
    """A keyspace, topic and lake of their own: a fresh start after a step whose backlog did not drain."""

    settings: Settings
    environment: dict[str, str]
    topic: str
    keyspace: str


def start_bench_run() -> tuple[Settings, str]:
    """The local settings, with the stack up, and the run's id (its UTC start, to the second)."""
    settings = load_settings("local")
    local_stack.up(settings)
    return settings, datetime.now(UTC).strftime("%Y%m%d%H%M%S")


@dataclass
class BenchPipeline:
    settings: Settings
    run: str
    forced_door_fraction: float
    min_rate: float = 25.0
    services: dict[str, Service] = field(default_factory=dict)
    epochs: list[Epoch] = field(default_factory=list)
    # Each warm-up's slices (warm_up), the first's and those after a fresh start (recover).
    warm_ups: list[list[dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.now = datetime.now(UTC)
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"hotpath-{self.run}-", dir=PROJECT_ROOT / ".local-stack"))
        campus = build_campus(2, seed=7, now=self.now)
        self.doors = [device.device_id for device in campus.devices if device.device_type == "door"]
        redis_settings = self.settings.redis.model_copy(update={"db": BENCH_REDIS_DB})
        self.watcher = RedisCriticalWatcher(redis_settings)
        self.api_watcher = ApiWatcher(f"http://127.0.0.1:{API_PORT}", self.watcher, every=5)
        self._new_epoch()

    def __enter__(self) -> BenchPipeline:
        self.watcher.client.flushdb()
        self.watcher.start()
        self.watcher.listening.wait(10)
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop_jobs()
        self.watcher.stopping.set()
        self.api_watcher.stopping.set()
        self.watcher.join(5)
        self.watcher.client.flushdb()
        for epoch in self.epochs:
            drop_keyspace(self.settings, epoch.keyspace)

    @property
    def epoch(self) -> Epoch:
        return self.epochs[-1]

    def options(self, rate: float, seconds: float, topic: str | None = None) -> SimulationOptions:
        """The realistic mix (a little bad input, duplicates and late events) plus the forced doors, live."""
        return SimulationOptions(
            duration_s=seconds,
            rate=rate,
            seed=7,
            buildings=2,
            topic=topic or self.epoch.topic,
            now=self.now,
            bad_fraction=0.0005,
            duplicate_fraction=0.01,
            late_fraction=0.01,
            forced_door_fraction=self.forced_door_fraction,
            live=True,
        )

    def _new_epoch(self) -> None:
        index = len(self.epochs)
        keyspace, topic = f"bench_hot_{self.run}_{index}", f"bench.hot_{self.run}_{index}"
        settings = fresh_keyspace(self.settings, keyspace)
        environment = {
            **bench_environment(str(index), self.work_dir, keyspace, topic),
            "SMARTSPACES__REDIS__DB": str(BENCH_REDIS_DB),
            "SMARTSPACES__API__PORT": str(API_PORT),
            **api_environment(),
        }
        reference_dir = self.work_dir / str(index) / "reference"
        # The campus's reference drop (with one event), so both jobs know every device.
        run_simulation(
            replace(self.options(0.0, 1.0, topic), duration_s=None, count=1, reference_dir=reference_dir),
            self.settings.kafka,
        )
        load_reference(reference_dir, environment)
        self.epochs.append(Epoch(settings, environment, topic, keyspace))

    def _start_service(
        self, name: str, args: list[str], ready: str | None = None, overrides: dict[str, str] | None = None
    ) -> None:
        log_path = self.work_dir / f"{name}-{len(self.epochs) - 1}.log"
        log = log_path.open("ab")
        started_at = log.tell()  # a restarted job appends to its log: only what this process writes counts
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=PROJECT_ROOT,
            env={**os.environ, **self.epoch.environment, **(overrides or {})},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        service = Service(name, process, log_path, log)
        self.services[name] = service
        deadline = time.monotonic() + SERVICE_START_S
        while ready is not None and ready not in service.log_since(started_at):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{service.log_since(started_at)[-3000:]}")
            time.sleep(0.5)

    def start(self, changefeed: bool) -> None:
        """The API, the ingest and (optionally) the change feed, each in its own process."""
        if not port_is_free("127.0.0.1", API_PORT):
            # A read API left from an earlier run would answer the probes: its keys, not this run's.
            raise RuntimeError(f"port {API_PORT}, the benchmark's read API's, is taken by another process; stop it")
        self._start_service("api", ["-m", "smartspaces.stages.serving"])
        self._wait_for_api()
        self._start_service("ingest", *JOB_COMMANDS["ingest"])
        if changefeed:
            self._start_service("changefeed", *JOB_COMMANDS["changefeed"])
        if not self.api_watcher.is_alive():
            self.api_watcher.start()

    def _wait_for_api(self) -> None:
        deadline = time.monotonic() + SERVICE_START_S
        api = self.services["api"]
        while time.monotonic() < deadline:
            if api.process.poll() is not None:
                break  # its own server is gone: whatever else answers on the port is not what is measured
            try:
                if httpx.get(f"http://127.0.0.1:{API_PORT}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the read API did not answer:\n{self.services['api'].log_since(0)[-3000:]}")

    def restart_changefeed(self, overrides: dict[str, str]) -> None:
        """The change feed stopped and started again with these settings (environment overrides)."""
        self.restart_service("changefeed", overrides)

    def restart_service(
        self, name: str, overrides: dict[str, str] | None = None, *, args: list[str] | None = None, wait: bool = True
    ) -> None:
        """A job started again (its process gone or stopped before), waiting until it runs unless not to wait.

        args: its command line instead of the usual one (JOB_COMMANDS)."""
        if name in self.services:
            self.services.pop(name).stop()
        usual_args, ready = JOB_COMMANDS[name]
        self._start_service(name, args or usual_args, ready if wait else None, overrides=overrides)

    def stop_changefeed(self) -> None:
        if "changefeed" in self.services:
            self.services.pop("changefeed").stop()

    def stop_jobs(self) -> None:
        for name in list(self.services):
            self.services.pop(name).stop()

    def warm_up(self, ingest_only: bool = False) -> None:
        """Slices that are not counted, until the jobs' micro-batches stop getting faster (see WARM_UP_RATE);
        each slice's verdict and batch p50s are kept in self.warm_ups."""
        slices: list[dict[str, Any]] = []
        self.warm_ups.append(slices)
        deadline = time.monotonic() + WARM_UP_MAX_S
        with progress.step(f"hotpath bench: warm-up at {WARM_UP_RATE:g} events/s") as warming:
            while True:
                result = self.run_step(WARM_UP_RATE, WARM_UP_SLICE_S, ingest_only=ingest_only)
                wait = self._wait_for_forced_rows if ingest_only else self._wait_for_forced_redis
                wait(result.started, result.forced_doors_sent, time.time() + WARM_UP_DRAIN_S)
                medians = {
                    stream: round(statistics.median(seconds), 3)
                    for stream, seconds in result.batch_seconds.items()
                    if seconds
                }
                settled = bool(slices) and result.sustained and warmed(slices[-1]["batch_p50_s"], medians)
                slices.append({"verdict": result.verdict, "batch_p50_s": medians, "settled": settled})
                print(f"hotpath: warm-up slice {len(slices)}: {result.verdict}; batch p50 {medians}", flush=True)
                warming.detail = f"slice {len(slices)}: batch p50 {medians}"
                if settled or time.monotonic() > deadline:
                    return

    def run_step(self, rate: float, seconds: float, ingest_only: bool) -> StepResult:
        offsets = {name: service.log_size() for name, service in self.services.items()}
        stop = threading.Event()
        seen_before = self.watcher.count()
        api_errors_before = self.api_watcher.errors
        started = time.time()
        cpu_before = machine_cpu_seconds()
        monitor = None
        if not ingest_only:
            monitor = threading.Thread(target=self._abort_when_lagging, args=(started, seen_before, stop), daemon=True)
            monitor.start()
        report = run_simulation(self.options(rate, seconds), self.settings.kafka, stop)
        ended = time.time()
        cpu_during = busy_cores(cpu_before, machine_cpu_seconds())
        aborted = stop.is_set()
        stop.set()
        if ingest_only:
            forced_seen, last_arrival = self._wait_for_forced_rows(started, report.forced_doors, ended + DRAIN_WAIT_S)
        else:
            forced_seen, last_arrival = self._wait_for_forced_redis(started, report.forced_doors, ended + DRAIN_WAIT_S)
        time.sleep(2.0)  # the other critical events of the step's last micro-batch
        drain_s = round(max(0.0, last_arrival - ended), 3)
        session_cluster = cassandra_cluster(self.settings.cassandra)
        try:
            session = session_cluster.connect()
            seen = [event for event in self.watcher.snapshot() if event.seen_at >= started]
            stored = stored_events(session, self.epoch.keyspace, seen)
            critical = [
                (event, stored[event.critical_event_id])
                for event in seen
                if event.critical_event_id in stored and started <= stored[event.critical_event_id].produced_at <= ended
            ]
            ingest = [
                row
                for row in door_rows_since(
                    session, self.epoch.keyspace, self.doors, datetime.fromtimestamp(started, UTC)
                )
                if started <= row.produced_at <= ended
            ]
        finally:
            session_cluster.shutdown()
        samples = (
            [(row.produced_at, row.written_at - row.produced_at) for row in ingest]
            if ingest_only
            else [
                (stored_event.produced_at, event.seen_at - stored_event.produced_at) for event, stored_event in critical
            ]
        )
        result = StepResult(
            rate=rate,
            produced_s=round(ended - started, 1),
            report=report,
            critical=critical,
            api_served=dict(self.api_watcher.served),
            api_errors=self.api_watcher.errors - api_errors_before,
            ingest=ingest,
            forced_doors_seen=forced_seen,
            drain_s=drain_s,
            lag_growth=lag_growth(samples, started, ended),
            batch_seconds=self._batch_seconds(offsets),
            batch_parts_s=self._batch_parts(offsets),
            aborted=aborted,
            ingest_only=ingest_only,
            started=started,
            busy_cores=cpu_during,
        )
        result.judge()
        return result

    def _abort_when_lagging(self, started: float, position: int, stop: threading.Event) -> None:
        """Stops the step when no forced door newer than ABORT_LAG_S has reached Redis; position: how many
        critical events the watcher had seen before the step (each check reads only the new ones)."""
        newest = started
        while not stop.wait(1.0):
            new = self.watcher.seen_from(position)
            position += len(new)
            forced = [e for e in new if e.rule_id == DOOR_FORCED_RULE and e.seen_at >= started]
            newest = max([newest, *(e.event_time.timestamp() for e in forced)])
            # Forced doors are sent with live event times: the newest one in Redis tells how far behind it is.
            if time.time() - newest > ABORT_LAG_S:
                stop.set()

    def _wait_for_forced_redis(self, started: float, sent: int, deadline: float) -> tuple[int, float]:
        while True:
            forced = [
                event
                for event in self.watcher.snapshot()
                if event.rule_id == DOOR_FORCED_RULE and event.event_time.timestamp() >= started - 1
            ]
            if len(forced) >= sent or time.time() > deadline:
                return len(forced), max((event.seen_at for event in forced), default=time.time())
            time.sleep(0.2)

    def _wait_for_forced_rows(self, started: float, sent: int, deadline: float) -> tuple[int, float]:
        cluster = cassandra_cluster(self.settings.cassandra)
        try:
            session = cluster.connect()
            since = datetime.fromtimestamp(started, UTC)
            while True:
                rows = door_rows_since(session, self.epoch.keyspace, self.doors, since, forced_only=True)
                if len(rows) >= sent or time.time() > deadline:
                    return len(rows), max((row.written_at for row in rows), default=time.time())
                time.sleep(1.0)
        finally:
            cluster.shutdown()

    def recover(self, failed: StepResult) -> None:
        """After a failed step: wait until its forced doors have arrived (its backlog drained), or start over on
        a fresh epoch if they do not within RECOVER_WAIT_S."""
        deadline = time.time() + RECOVER_WAIT_S
        wait = self._wait_for_forced_rows if failed.ingest_only else self._wait_for_forced_redis
        backlog = progress.step(
            "hotpath bench: the failed trial's backlog",
            total=failed.forced_doors_sent,
            unit="forced doors",
            show_rate=False,
        )
        with backlog as draining:
            arrived, _ = wait(failed.started, failed.forced_doors_sent, deadline)
            draining.update(arrived)
        if arrived >= failed.forced_doors_sent:
            time.sleep(5.0)  # the rest of the step's last micro-batches
            return
        print("hotpath: the backlog did not drain; starting over on a fresh keyspace and topic", flush=True)
        had_changefeed = "changefeed" in self.services
        self.stop_jobs()
        self._new_epoch()
        self.start(changefeed=had_changefeed)
        self.warm_up(ingest_only=not had_changefeed)

    def _batch_seconds(self, offsets: dict[str, int]) -> dict[str, list[float]]:
        """Each stream's micro-batch durations (seconds) during the step, from the jobs' JSON logs."""
        batches: dict[str, list[float]] = {}
        if "ingest" in offsets and "ingest" in self.services:
            log = self.services["ingest"].log_since(offsets["ingest"])
            batches["ingest"] = [
                int(ms) / 1000
                for line in log.splitlines()
                # The store query's triggers (before the archive had a query of its own, the only one).
                if '"ingest_progress"' in line and '"input_rows": 0' not in line and '"query": "bronze"' not in line
                for ms in re.findall(r'"triggerExecution": (\d+)', line)
            ]
        if "changefeed" in offsets and "changefeed" in self.services:
            log = self.services["changefeed"].log_since(offsets["changefeed"])
            batches["changefeed"] = [
                float(entry["seconds"])
                for line in log.splitlines()
                if '"changefeed_batch"' in line
                for entry in [json.loads(line[line.index("{") :])]
                if entry.get("changes")
            ]
        return batches

    def _batch_parts(self, offsets: dict[str, int]) -> dict[str, dict[str, float]]:
        """Per stream, the median seconds of each part of its micro-batches that brought rows: the ingest's store
        steps (step_s) and the change feed's read, compute, write and alarms."""
        parts: dict[str, dict[str, float]] = {}
        for stream, event in (("ingest", "ingest_batch"), ("changefeed", "changefeed_batch")):
            if stream not in offsets or stream not in self.services:
                continue
            seconds: dict[str, list[float]] = {}
            for line in self.services[stream].log_since(offsets[stream]).splitlines():
                if f'"event": "{event}"' not in line:
                    continue
                entry = json.loads(line[line.index("{") :])
                if stream == "ingest":
                    named = entry.get("step_s", {})
                elif entry.get("changes"):
                    named = {part: entry[f"{part}_s"] for part in ("read", "compute", "write", "alarms")}
                else:
                    named = {}
                for part, value in named.items():
                    seconds.setdefault(part, []).append(float(value))
            parts[stream] = {part: round(statistics.median(values), 3) for part, values in seconds.items()}
        return parts

    def measure_floor(self, rate: float, seconds: float) -> list[float]:
        """The plain consumer's produce -> Cassandra + Redis latencies at `rate`, on a topic of its own."""
        topic = f"{self.epoch.topic}.floor"
        out = self.work_dir / "floor.json"
        log_path = self.work_dir / "floor.log"
        ensure_topic(self.settings.kafka, topic, self.options(rate, seconds).partitions)
        with log_path.open("wb") as log:
            consumer = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.hotpath_floor",
                    "--topic",
                    topic,
                    "--keyspace",
                    self.epoch.keyspace,
                    "--redis-db",
                    str(BENCH_REDIS_DB),
                    "--seconds",
                    str(seconds + 5),
                    "--out",
                    str(out),
                ],
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=log,
            )
            while "floor: consuming" not in log_path.read_text(errors="replace"):
                if consumer.poll() is not None:
                    raise RuntimeError(f"the floor consumer failed:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
            time.sleep(3.0)  # its group has joined and holds the topic's partitions
            run_simulation(replace(self.options(rate, seconds, topic), bad_fraction=0.0), self.settings.kafka)
            consumer.wait(seconds + 120)
        latencies: list[float] = json.loads(out.read_text())["latencies"]
        return latencies
