"""The read API: critical events and alarms of a space, latest readings of a device, acknowledging an alarm,
health, and a live web page.

create_app builds the app only; connections to Redis and Cassandra open when it starts (its lifespan).
Handlers are coroutines on the server's event loop: Redis through its asyncio client, Cassandra through the
driver's asynchronous requests, so no read holds a thread. Bodies are JSON bytes built around the cached
JSON, never decoded and encoded again. The hot GETs are answered in front of FastAPI (hot_path), the same
answers as the routes below, which document them and answer every request the hot path hands over.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime, and the limit's
# bound (cache.critical_per_space) is a local of create_app that a string annotation could not resolve.
import asyncio
import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from string import Template
from typing import Annotated, Literal

from fastapi import FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from redis.backoff import NoBackoff
from redis.retry import Retry

from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.stages.serving.answers import (
    ID_PATTERN,
    LIVE_BODY,
    UUID_PATTERN,
    Answer,
    error_answer,
    served_answer,
)
from smartspaces.stages.serving.api_keys import ApiKeys
from smartspaces.stages.serving.breaker import CircuitBreaker
from smartspaces.stages.serving.cache_client import async_redis_client
from smartspaces.stages.serving.cassandra_reader import CASSANDRA_ERRORS, CassandraReader, StoreUnavailableError
from smartspaces.stages.serving.gate import Gate
from smartspaces.stages.serving.guarded_store import GuardedStore
from smartspaces.stages.serving.hot_path import LIVE_PATH, HotPath
from smartspaces.stages.serving.rate_limit import RateLimiter
from smartspaces.stages.serving.reads import CacheAsideReads, UnknownIdError

STATIC_DIR = Path(__file__).parent / "static"
log = logging.getLogger("smartspaces.stages.serving")

SpaceId = Annotated[str, PathParam(pattern=ID_PATTERN, description="a space id")]
BuildingId = Annotated[str, PathParam(pattern=ID_PATTERN, description="a building id")]
AlarmId = Annotated[str, PathParam(pattern=UUID_PATTERN, description="an alarm id (a UUID)")]
AlarmStateFilter = Annotated[
    Literal["active", "all"], Query(description="active: open alarms (active or acknowledged); all: the history")
]
DeviceId = Annotated[str, PathParam(pattern=ID_PATTERN, description="a device id")]


def create_app(settings: Settings) -> Gate:
    """The API for these settings: the gate, then the hot path, then FastAPI. Redis gets no retries (one socket
    timeout, then the breaker decides)."""
    api = settings.api

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = async_redis_client(settings.redis)
        fill_redis = redis_client(settings.redis)
        # redis-py retries 10 times with backoff by default: seconds, where the API must fall back at once.
        fill_redis.set_retry(Retry(NoBackoff(), 0))
        cluster = cassandra_cluster(settings.cassandra)
        try:
            # Connecting and preparing statements wait for Cassandra: done off the event loop.
            session = await asyncio.to_thread(cluster.connect)
            reader = await asyncio.to_thread(CassandraReader, session, settings.cassandra.keyspace)
            store = GuardedStore(reader, api.max_store_reads, api.unknown_id_ttl_s, api.unknown_ids_max)
            breaker = CircuitBreaker(api.redis_retry_after_s)
            app.state.reads = CacheAsideReads(redis, fill_redis, store, settings.cache, breaker)
            yield
        finally:
            await asyncio.to_thread(cluster.shutdown)
            fill_redis.close()
            await redis.aclose()

    app = FastAPI(
        title="smartspaces read API",
        lifespan=lifespan,
        docs_url="/docs" if api.docs else None,
        redoc_url="/redoc" if api.docs else None,
        openapi_url="/openapi.json" if api.docs else None,
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    page = Template((STATIC_DIR / "critical_events.html").read_text(encoding="utf-8"))
    refresh_s = f"{api.page_refresh_s:g}"
    keep = settings.cache.critical_per_space
    history_limit = api.alarm_history_limit
    keys = ApiKeys.parse(None if api.keys is None else api.keys.get_secret_value())

    def reads(request: Request) -> CacheAsideReads:
        service: CacheAsideReads = request.app.state.reads
        return service

    @app.exception_handler(UnknownIdError)
    async def not_found(request: Request, error: UnknownIdError) -> Response:
        return response(error_answer(error))

    @app.exception_handler(StoreUnavailableError)
    async def unavailable(request: Request, error: StoreUnavailableError) -> Response:
        return response(error_answer(error))

    @app.get("/spaces/{space_id}/critical-events")
    async def critical_events(
        request: Request,
        space_id: SpaceId,
        limit: Annotated[int | None, Query(ge=1, le=keep, description="at most cache.critical_per_space")] = None,
    ) -> Response:
        served = await reads(request).critical_events(space_id, limit or keep)
        return response(served_answer("space_id", space_id, served, "critical_events"))

    @app.get("/spaces/{space_id}/alarms")
    async def space_alarms(request: Request, space_id: SpaceId, state: AlarmStateFilter = "active") -> Response:
        service = reads(request)
        if state == "active":
            served = await service.active_alarms(space_id, history_limit)
        else:
            served = await service.space_alarms(space_id, history_limit)
        return response(served_answer("space_id", space_id, served, "alarms"))

    @app.get("/buildings/{building_id}/spaces")
    async def building_spaces(request: Request, building_id: BuildingId) -> Response:
        """The building's spaces with their open alarms counted by severity (the alarm board's overview)."""
        served = await reads(request).building_overview(building_id, history_limit)
        return response(served_answer("building_id", building_id, served, "spaces"))

    @app.get("/spaces/{space_id}/profile")
    async def space_profile(request: Request, space_id: SpaceId) -> Response:
        served = await reads(request).space_profile(space_id)
        return response(served_answer("space_id", space_id, served, "space"))

    @app.get("/alarms/{alarm_id}")
    async def alarm(request: Request, alarm_id: AlarmId) -> Response:
        served = await reads(request).alarm(alarm_id)
        return response(served_answer("alarm_id", alarm_id, served, "alarm"))

    @app.post("/alarms/{alarm_id}/acknowledge")
    async def acknowledge(
        request: Request,
        alarm_id: AlarmId,
        authorization: Annotated[str | None, Header(description="Bearer <API key with the acknowledge scope>")] = None,
    ) -> Response:
        """Acknowledges the alarm for the client whose key the request carries (the gate answers 401 without
        one, 403 without the acknowledge scope); the first acknowledgement stands."""
        served = await reads(request).acknowledge(alarm_id, request.state.client)
        return response(served_answer("alarm_id", alarm_id, served, "alarm"))

    @app.get("/devices/{device_id}/latest")
    async def device_latest(request: Request, device_id: DeviceId) -> Response:
        served = await reads(request).device_latest(device_id)
        return response(served_answer("device_id", device_id, served, "readings"))

    @app.get(LIVE_PATH)
    async def live() -> Response:
        """Liveness: the process answers requests. No store is asked (/health does that)."""
        return Response(LIVE_BODY, media_type="application/json")

    @app.get("/health")
    async def health(request: Request) -> JSONResponse:
        """up, degraded or down per store, without hosts or driver text (those go to the log)."""
        service = reads(request)
        redis = await service.redis_status()
        try:
            await service.cassandra_version()
            cassandra = "ok"
        except (StoreUnavailableError, *CASSANDRA_ERRORS) as error:
            log.warning("health: cassandra: %s: %s", type(error).__name__, error)
            cassandra = "down"
        # Redis down is degraded, not down: every read can still be served from Cassandra.
        status = "down" if cassandra != "ok" else "ok" if redis == "ok" else "degraded"
        body = {"status": status, "redis": redis, "cassandra": cassandra}
        return JSONResponse(body, status_code=503 if status == "down" else 200)

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return page.substitute(space_id="", refresh_s=refresh_s)

    @app.get("/spaces/{space_id}", response_class=HTMLResponse)
    async def space_page(space_id: SpaceId) -> str:
        return page.substitute(space_id=html.escape(space_id, quote=True), refresh_s=refresh_s)

    board = Template((STATIC_DIR / "alarm_board.html").read_text(encoding="utf-8"))

    @app.get("/board/buildings/{building_id}", response_class=HTMLResponse)
    async def building_board(building_id: BuildingId) -> str:
        return board.substitute(view="building", entity_id=html.escape(building_id, quote=True), refresh_s=refresh_s)

    @app.get("/board/spaces/{space_id}", response_class=HTMLResponse)
    async def space_board(space_id: SpaceId) -> str:
        return board.substitute(view="space", entity_id=html.escape(space_id, quote=True), refresh_s=refresh_s)

    hot_path = HotPath(app, lambda: getattr(app.state, "reads", None), keep)
    return Gate(hot_path, keys, api.require_key, RateLimiter(api.rate_limit_per_s, api.rate_limit_burst))


def response(answer: Answer) -> Response:
    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers), media_type="application/json")
