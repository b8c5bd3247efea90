"""The Redis roles' ACL rules: only the platform's keys, no channels, exactly the listed commands."""

from __future__ import annotations

import pytest

from smartspaces.cli import main
from smartspaces.connectors.redis_acl import ROLE_COMMANDS, acl_rule


def test_a_rule_grants_its_keys_and_commands_and_nothing_else() -> None:
    rule = acl_rule("writer").split()
    assert rule[:4] == ["resetkeys", "~smartspaces:v1:*", "resetchannels", "-@all"]
    assert rule[4:] == [f"+{command}" for command in ROLE_COMMANDS["writer"]]
    # The writer reads nothing back; the read API reads and fills.
    assert "+hgetall" not in rule
    assert set(ROLE_COMMANDS["writer"]) < set(ROLE_COMMANDS["api"])
    assert not {"flushdb", "keys", "config", "acl", "eval", "script|flush"} & set(ROLE_COMMANDS["api"])


def test_an_unknown_role_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown Redis role 'admin'"):
        acl_rule("admin")


def test_the_command_prints_the_acl_setuser_line_without_a_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["redis-acl", "api"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == f"ACL SETUSER smartspaces-api on >PASSWORD {acl_rule('api')}"
