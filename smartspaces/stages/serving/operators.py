"""Who may change an alarm: operators named by their API key (a bearer token or an X-API-Key header).

The keys come from the environment (SMARTSPACES__API__OPERATOR_KEYS, `name:key` pairs separated by commas),
never from a file. A request is matched against every key in constant time; the matching name is the
principal recorded on the alarm.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

# A key shorter than this is refused at start-up: guessable.
MIN_KEY_LENGTH = 16


class OperatorKeysError(ValueError):
    """The operator keys setting is malformed (the message never contains a key)."""


@dataclass(frozen=True)
class OperatorKeys:
    """name -> key; empty: no one may acknowledge (every attempt is answered 403)."""

    keys: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def parse(cls, setting: str | None) -> OperatorKeys:
        if not setting:
            return cls()
        pairs: list[tuple[str, bytes]] = []
        for position, entry in enumerate(setting.split(","), start=1):
            name, separator, key = entry.strip().partition(":")
            if not separator or not name or not key:
                raise OperatorKeysError(f"api.operator_keys: entry {position} is not name:key")
            if len(key) < MIN_KEY_LENGTH:
                raise OperatorKeysError(f"api.operator_keys: the key of {name!r} is shorter than {MIN_KEY_LENGTH}")
            pairs.append((name, key.encode()))
        return cls(tuple(pairs))

    @property
    def configured(self) -> bool:
        return bool(self.keys)

    def principal(self, authorization: str | None, api_key: str | None) -> str | None:
        """The operator whose key the request carries (Authorization: Bearer KEY, or X-API-Key), else None."""
        presented = api_key
        if authorization and authorization.lower().startswith("bearer "):
            presented = authorization[len("bearer ") :].strip()
        if not presented:
            return None
        candidate = presented.encode()
        found = None
        for name, key in self.keys:
            # Every key is compared, so the time taken does not tell which one nearly matched.
            if hmac.compare_digest(candidate, key) and found is None:
                found = name
        return found
