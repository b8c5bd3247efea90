"""The hot-path benchmark's warm-up ends when no stream's micro-batches are getting faster any more."""

from __future__ import annotations

import pytest

from bench.hotpath_pipeline import warmed


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        # Still compiling: the ingest's batches fell by a quarter.
        ({"ingest": 2.6, "changefeed": 1.3}, {"ingest": 2.0, "changefeed": 1.2}, False),
        # Both within a tenth, one a little slower: settled.
        ({"ingest": 2.0, "changefeed": 1.2}, {"ingest": 1.9, "changefeed": 1.25}, True),
        # A stream with no batch in the slice before cannot be judged yet.
        ({"ingest": 2.0}, {"ingest": 2.0, "changefeed": 1.2}, False),
        # A slice without batches tells nothing.
        ({"ingest": 2.0}, {}, False),
    ],
)
def test_warmed(before: dict[str, float], now: dict[str, float], expected: bool) -> None:
    assert warmed(before, now) is expected
