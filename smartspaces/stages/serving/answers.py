"""The API's JSON answers as bytes: reads with the served JSON spliced in as it is, errors, and liveness."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from smartspaces.stages.serving.cassandra_reader import StoreUnavailableError
from smartspaces.stages.serving.outage_log import OutageLog
from smartspaces.stages.serving.reads import Served, UnknownIdError

# Space and device ids as the API accepts them; anything else is answered 422 before any lookup.
ID_CHARACTERS = r"[A-Za-z0-9_.:-]{1,64}"
ID_PATTERN = rf"^{ID_CHARACTERS}$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
STORE_UNAVAILABLE_BODY = b'{"detail":"the event store is unavailable; retry"}'
# The liveness probe's answer: constant, so it also measures what the server costs without any read.
LIVE_BODY = b'{"status":"live"}'


_outage_log = OutageLog("cassandra read failed")


@dataclass(frozen=True)
class Answer:
    """A JSON answer: status, body, and the headers beyond Content-Type and Content-Length."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def served_answer(id_name: str, entity_id: str, served: Served, value_name: str) -> Answer:
    """{"<id_name>": id, "source": ..., "<value_name>": <served JSON>}, the served JSON spliced in as it is."""
    body = b'{"%b":%b,"source":"%b","%b":%b}' % (
        id_name.encode(),
        orjson.dumps(entity_id),
        served.source.encode(),
        value_name.encode(),
        served.json,
    )
    return Answer(200, body)


def error_answer(error: UnknownIdError | StoreUnavailableError) -> Answer:
    """404 for an id the registry does not know; 503 (retry in a second) when Cassandra does not answer.

    A 503's body says only that the store is unavailable: the driver's text (hosts, ports, versions) goes to
    the log, at most once per OUTAGE_LOG_EVERY_S with the count of failures since."""
    if isinstance(error, UnknownIdError):
        return Answer(404, orjson.dumps({"detail": str(error)}))
    _outage_log.failed(error)
    return Answer(503, STORE_UNAVAILABLE_BODY, (("Retry-After", "1"),))


def refusal(status: int, detail: str) -> Answer:
    """401 (with the scheme to use) or 403: the caller may not do this."""
    headers = (("WWW-Authenticate", "Bearer"),) if status == 401 else ()
    return Answer(status, orjson.dumps({"detail": detail}), headers)
