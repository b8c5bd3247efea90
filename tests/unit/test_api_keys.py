"""API keys: the setting's entries parsed and checked, a presented key matched to its client by its digest."""

from __future__ import annotations

import pytest

from smartspaces.stages.serving.api_keys import ApiKeys, ApiKeysError, Client, Scope, digest, entry, new_key

ALICE_KEY, READER_KEY = new_key(), new_key()
KEYS = ApiKeys.parse(
    f"{entry('alice', frozenset(Scope), ALICE_KEY)}, {entry('board', frozenset({Scope.READ}), READER_KEY)}"
)


def test_a_key_is_matched_to_its_client_and_its_scopes() -> None:
    assert KEYS.client(ALICE_KEY) == Client("alice", frozenset({Scope.READ, Scope.ACKNOWLEDGE}))
    assert KEYS.client(READER_KEY) == Client("board", frozenset({Scope.READ}))
    assert KEYS.client(ALICE_KEY[:-1]) is None
    assert (KEYS.allows(Scope.ACKNOWLEDGE), ApiKeys.parse(None).allows(Scope.READ)) == (True, False)


def test_only_the_digest_is_in_the_setting() -> None:
    line = entry("alice", frozenset({Scope.ACKNOWLEDGE, Scope.READ}), ALICE_KEY)
    assert line == f"alice:read+acknowledge:{digest(ALICE_KEY)}"
    assert ALICE_KEY not in line
    # 32 random bytes, URL-safe: nothing to guess.
    assert len(new_key()) == 43


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("alice", "api.keys: entry 1 is not name:scopes:sha256"),
        (f"alice:read:{'a' * 64},bob:read", "api.keys: entry 2 is not name:scopes:sha256"),
        (f"al ice:read:{'a' * 64}", "api.keys: entry 1: the name must be 1-64 of A-Z a-z 0-9 _ . @ -"),
        (
            f"alice:write:{'a' * 64}",
            "api.keys: entry 1 (alice): scopes must be joined by + from read, acknowledge; got 'write'",
        ),
        (f"alice:read:{'A' * 64}", "api.keys: entry 1 (alice): the key's SHA-256 must be 64 lowercase hex"),
        (f"alice:read:{'a' * 64},alice:read:{'b' * 64}", "api.keys: entry 2: 'alice' is listed twice"),
    ],
)
def test_a_malformed_setting_is_refused_naming_the_entry(setting: str, problem: str) -> None:
    with pytest.raises(ApiKeysError) as refused:
        ApiKeys.parse(setting)
    assert str(refused.value) == problem
