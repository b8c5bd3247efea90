"""The API's request validation and page, without servers: the app is never started (no lifespan)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from smartspaces.config import Settings
from smartspaces.stages.serving.app import create_app


@pytest.fixture
def client(settings: Settings) -> TestClient:
    # Not entered as a context manager: the lifespan (Redis, Cassandra) never runs; validation comes first.
    return TestClient(create_app(settings))


@pytest.mark.parametrize(
    "path",
    [
        "/spaces/bad%20id/critical-events",
        "/spaces/bad$id/critical-events",
        "/spaces/%C3%A9t%C3%A9/critical-events",
        f"/spaces/{'x' * 65}/critical-events",
        "/devices/bad;id/latest",
        "/spaces/room-1/critical-events?limit=0",
        "/spaces/room-1/critical-events?limit=ten",
        "/spaces/bad%27id",
    ],
)
def test_malformed_requests_are_422(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 422


def test_a_limit_above_the_cached_k_is_422(client: TestClient, settings: Settings) -> None:
    limit = settings.cache.critical_per_space + 1
    assert client.get(f"/spaces/room-1/critical-events?limit={limit}").status_code == 422


def test_the_page_carries_the_space_and_the_refresh_period(client: TestClient, settings: Settings) -> None:
    page = client.get("/spaces/b1.f2:room-7")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert f'<body data-space-id="b1.f2:room-7" data-refresh-s="{settings.api.page_refresh_s:g}">' in page.text


def test_the_home_page_asks_for_a_space(client: TestClient) -> None:
    assert '<body data-space-id="" data-refresh-s=' in client.get("/").text


def test_the_page_script_is_served(client: TestClient) -> None:
    script = client.get("/static/critical_events.js")
    assert (script.status_code, "/critical-events" in script.text) == (200, True)


def test_the_liveness_probe_answers_a_constant_body_without_any_store(client: TestClient) -> None:
    live = client.get("/health/live")
    assert (live.status_code, live.headers["content-type"], live.content) == (
        200,
        "application/json",
        b'{"status":"live"}',
    )
