"""Script calls sent in bulk: many entries per Lua call, many calls per pipelined round trip."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

from redis import Redis
from redis.commands.core import Script

# Entries (readings, critical events) per script call: enough to spread a call's fixed cost in Redis, few
# enough that one call holds Redis for well under a millisecond.
ENTRIES_PER_CALL = 100
# Entries per pipelined round trip (40 calls): the client encodes the next while Redis runs these.
ENTRIES_PER_ROUND_TRIP = 4000

T = TypeVar("T")


def in_round_trips(items: Iterable[T]) -> Iterator[list[T]]:
    """The items in lists of ENTRIES_PER_ROUND_TRIP."""
    iterator = iter(items)
    while chunk := list(islice(iterator, ENTRIES_PER_ROUND_TRIP)):
        yield chunk


class ScriptPipeline:
    """Queues calls of one script on a non-transactional pipeline, executed every ENTRIES_PER_ROUND_TRIP entries.

    The pipeline loads the script if Redis does not have it (SCRIPT EXISTS, once per round trip).
    """

    def __init__(self, client: Redis, script: Script) -> None:
        self._client = client
        self._script = script
        self._pipeline = client.pipeline(transaction=False)
        self._queued = 0

    def call(self, keys: Sequence[str], args: Sequence[str | int], entries: int) -> None:
        self._script(keys=keys, args=args, client=self._pipeline)
        self._queued += entries
        if self._queued >= ENTRIES_PER_ROUND_TRIP:
            self.flush()

    def flush(self) -> None:
        if self._queued:
            self._pipeline.execute()
            self._pipeline = self._client.pipeline(transaction=False)
            self._queued = 0
