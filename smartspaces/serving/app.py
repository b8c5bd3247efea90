"""The read API: critical events of a space, latest readings of a device, health, and a live web page.

create_app builds the app only; connections to Redis and Cassandra open when it starts (its lifespan).
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime, and the limit's
# bound (cache.critical_per_space) is a local of create_app that a string annotation could not resolve.
import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from string import Template
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from redis.backoff import NoBackoff
from redis.retry import Retry

from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.serving.breaker import CircuitBreaker
from smartspaces.serving.cassandra_reader import CASSANDRA_ERRORS, CassandraReader, StoreUnavailableError
from smartspaces.serving.reads import CacheAsideReads, UnknownIdError

# Space and device ids as the API accepts them; anything else is answered 422 before any lookup.
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
STATIC_DIR = Path(__file__).parent / "static"

SpaceId = Annotated[str, PathParam(pattern=ID_PATTERN, description="a space id")]
DeviceId = Annotated[str, PathParam(pattern=ID_PATTERN, description="a device id")]


def create_app(settings: Settings) -> FastAPI:
    """The API for these settings. Redis gets no retries (one socket timeout, then the breaker decides)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = redis_client(settings.redis)
        # redis-py retries 10 times with backoff by default: seconds, where the API must fall back at once.
        redis.set_retry(Retry(NoBackoff(), 0))
        cluster = cassandra_cluster(settings.cassandra)
        try:
            store = CassandraReader(cluster.connect(), settings.cassandra.keyspace)
            breaker = CircuitBreaker(settings.api.redis_retry_after_s)
            app.state.reads = CacheAsideReads(redis, store, settings.cache, breaker)
            yield
        finally:
            cluster.shutdown()
            redis.close()

    app = FastAPI(title="smartspaces read API", lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    page = Template((STATIC_DIR / "critical_events.html").read_text(encoding="utf-8"))
    refresh_s = f"{settings.api.page_refresh_s:g}"
    keep = settings.cache.critical_per_space

    def reads(request: Request) -> CacheAsideReads:
        service: CacheAsideReads = request.app.state.reads
        return service

    @app.exception_handler(UnknownIdError)
    async def not_found(request: Request, error: UnknownIdError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(StoreUnavailableError)
    async def unavailable(request: Request, error: StoreUnavailableError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "1"})

    # Plain `def` handlers: FastAPI runs them in its thread pool, so a slow Redis or Cassandra call blocks
    # one thread, never the event loop. JSONResponse directly: the bodies are already plain JSON types.
    @app.get("/spaces/{space_id}/critical-events")
    def critical_events(
        request: Request,
        space_id: SpaceId,
        limit: Annotated[int | None, Query(ge=1, le=keep, description="at most cache.critical_per_space")] = None,
    ) -> JSONResponse:
        served = reads(request).critical_events(space_id, limit or keep)
        return JSONResponse({"space_id": space_id, "source": served.source, "critical_events": served.value})

    @app.get("/devices/{device_id}/latest")
    def device_latest(request: Request, device_id: DeviceId) -> JSONResponse:
        served = reads(request).device_latest(device_id)
        return JSONResponse({"device_id": device_id, "source": served.source, "readings": served.value})

    @app.get("/health")
    def health(request: Request) -> JSONResponse:
        service = reads(request)
        redis = service.redis_status()
        try:
            cassandra = f"ok: Cassandra {service.cassandra_version()}"
        except (StoreUnavailableError, *CASSANDRA_ERRORS) as error:
            cassandra = f"down: {error}"
        # Redis down is degraded, not down: every read can still be served from Cassandra.
        status = "down" if not cassandra.startswith("ok") else "ok" if redis == "ok" else "degraded"
        body = {"status": status, "redis": redis, "cassandra": cassandra}
        return JSONResponse(body, status_code=503 if status == "down" else 200)

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return page.substitute(space_id="", refresh_s=refresh_s)

    @app.get("/spaces/{space_id}", response_class=HTMLResponse)
    def space_page(space_id: SpaceId) -> str:
        return page.substitute(space_id=html.escape(space_id, quote=True), refresh_s=refresh_s)

    return app
