"""Operator keys: parsed from the environment's setting, matched to the operator whose key a request carries."""

from __future__ import annotations

import pytest

from smartspaces.stages.serving.operators import OperatorKeys, OperatorKeysError

KEYS = OperatorKeys.parse("alice:alice-key-0123456789, bob:bob-key-01234567890")


@pytest.mark.parametrize(
    ("authorization", "api_key", "principal"),
    [
        ("Bearer alice-key-0123456789", None, "alice"),
        ("bearer bob-key-01234567890", None, "bob"),
        (None, "bob-key-01234567890", "bob"),
        ("Bearer alice-key-012345678", None, None),
        ("Basic alice-key-0123456789", None, None),
        (None, None, None),
        (None, "", None),
    ],
)
def test_the_principal_is_the_operator_whose_key_the_request_carries(
    authorization: str | None, api_key: str | None, principal: str | None
) -> None:
    assert KEYS.principal(authorization, api_key) == principal


def test_no_setting_means_no_operator() -> None:
    keys = OperatorKeys.parse(None)
    assert (keys.configured, keys.principal("Bearer anything-at-all-here", None)) == (False, None)


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("alice", "api.operator_keys: entry 1 is not name:key"),
        ("alice:alice-key-0123456789,:x", "api.operator_keys: entry 2 is not name:key"),
        ("alice:short", "api.operator_keys: the key of 'alice' is shorter than 16"),
    ],
)
def test_a_malformed_setting_is_refused_without_showing_a_key(setting: str, problem: str) -> None:
    with pytest.raises(OperatorKeysError) as refused:
        OperatorKeys.parse(setting)
    assert str(refused.value) == problem
