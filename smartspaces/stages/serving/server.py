"""Runs the read API with uvicorn: `smartspaces serve`, or `python -m smartspaces.stages.serving`."""

from __future__ import annotations

import logging
import sys

import uvicorn

from smartspaces.config import Settings
from smartspaces.stages.serving.api_keys import ApiKeysError
from smartspaces.stages.serving.app import create_app


def serve(settings: Settings) -> int:
    """Serves the API on api.host:api.port until interrupted; returns the exit code.

    One process on one event loop; scale with replicas (each has its own single-flight and breaker). uvicorn
    with its compiled parts, named so a missing one fails at start-up instead of falling back to pure Python:
    uvloop's event loop and httptools' HTTP parser. No access log: at thousands of requests per second it
    costs more than the reads; put one in the ingress instead.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        app = create_app(settings)
    except ApiKeysError as error:
        print(f"smartspaces serve: {error} (SMARTSPACES__API__KEYS)", file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        host=settings.api.host,
        port=settings.api.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
    )
    return 0
