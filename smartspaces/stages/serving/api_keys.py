"""Who may call the read API: clients named by their API key, each with its scopes.

The setting (SMARTSPACES__API__KEYS, environment or a Kubernetes secret only) lists `name:scopes:sha256`
entries separated by commas: scopes joined by `+` (`read`, `acknowledge`), and the SHA-256 of the key in
hex. Only the digest is at rest; `smartspaces api-key NAME` makes a key and prints both. A plain digest is
enough because the keys are random 32-byte strings, not passwords: nothing is left to guess by brute force.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    ACKNOWLEDGE = "acknowledge"


_DIGEST = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
# Bytes of randomness in a new key (URL-safe base64: 43 characters).
KEY_BYTES = 32


class ApiKeysError(ValueError):
    """The keys setting is malformed (the message never contains a digest)."""


@dataclass(frozen=True)
class Client:
    """A caller the API knows: its name (recorded on what it does) and what it may do."""

    name: str
    scopes: frozenset[Scope]


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKeys:
    """digest -> client; empty: no key is accepted (reads may still be open, see api.require_key)."""

    clients: dict[str, Client]

    @classmethod
    def parse(cls, setting: str | None) -> ApiKeys:
        clients: dict[str, Client] = {}
        names: set[str] = set()
        for position, entry in enumerate((setting or "").split(","), start=1):
            if not entry.strip():
                continue
            parts = entry.strip().split(":")
            if len(parts) != 3:
                raise ApiKeysError(f"api.keys: entry {position} is not name:scopes:sha256")
            name, scopes, key_digest = parts
            if not _NAME.fullmatch(name):
                raise ApiKeysError(f"api.keys: entry {position}: the name must be 1-64 of A-Z a-z 0-9 _ . @ -")
            if name in names:
                raise ApiKeysError(f"api.keys: entry {position}: {name!r} is listed twice")
            unknown = set(scopes.split("+")) - {scope.value for scope in Scope}
            if unknown or not scopes:
                raise ApiKeysError(
                    f"api.keys: entry {position} ({name}): scopes must be joined by + from "
                    f"{', '.join(scope.value for scope in Scope)}; got {scopes!r}"
                )
            if not _DIGEST.fullmatch(key_digest):
                raise ApiKeysError(f"api.keys: entry {position} ({name}): the key's SHA-256 must be 64 lowercase hex")
            names.add(name)
            clients[key_digest] = Client(name, frozenset(Scope(scope) for scope in scopes.split("+")))
        return cls(clients)

    def allows(self, scope: Scope) -> bool:
        """Whether any configured client has this scope."""
        return any(scope in client.scopes for client in self.clients.values())

    def client(self, presented: str) -> Client | None:
        """The client whose key this is, else None. The lookup is by the key's digest: the time it takes tells
        nothing about how close a guess came to a key."""
        return self.clients.get(digest(presented))


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def entry(name: str, scopes: frozenset[Scope], key: str) -> str:
    """The setting's entry for this client and key."""
    ordered = "+".join(scope.value for scope in Scope if scope in scopes)
    return f"{name}:{ordered}:{digest(key)}"
