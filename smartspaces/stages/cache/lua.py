"""Lua scripts as redis-py Script objects that work on clients and pipelines alike."""

from __future__ import annotations

from redis.commands.core import Script


def lua_script(source: str) -> Script:
    """A script identified by its SHA1, computed here once (pure: no connection).

    Every call passes its own client: a pipeline loads the script (SCRIPT EXISTS/LOAD) before it executes,
    a client runs EVALSHA and loads the script on NOSCRIPT. The source goes in as bytes, so Script needs no
    registered client for its encoder; none is ever used.
    """
    return Script(None, source.encode())  # type: ignore[arg-type]
