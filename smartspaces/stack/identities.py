"""Who each part of the platform connects as on a secure local stack, and the environment that carries it.

The same split as on Azure: the settings name the platform's users (what the Event Hubs connection string, the
Cosmos DB read-write key, the reporting database's owner and the Redis writer are); a part that needs less
connects as a user with less. The passwords reach the part as every secret does: in its environment.
"""

from __future__ import annotations

from smartspaces.config import ENV_PREFIX, Settings
from smartspaces.stack.cassandra import API_ROLE, READER_ROLE
from smartspaces.stack.kafka import KafkaServer
from smartspaces.stack.local_stack import stack_settings
from smartspaces.stack.postgres import WRITER_ROLE
from smartspaces.stack.process import StackError
from smartspaces.stack.redis import ADMIN_USER, role_user
from smartspaces.stack.secrets import stack_password

# (server, settings key of its user) → the user, where a part's differs from the settings'.
PART_USERS: dict[str, dict[tuple[str, str], str]] = {
    # The nightly enrichment: reads events (Cassandra's read-only role), writes the window as reporting_writer.
    "enrich": {("cassandra", "username"): READER_ROLE, ("postgres", "user"): WRITER_ROLE},
    # The read API reads Cassandra and records acknowledgements of alarms (its role may do no more), reads and
    # fills Redis as its ACL user (smoke too: it reads back what it wrote).
    "serve": {("cassandra", "username"): API_ROLE, ("redis", "username"): role_user("api")},
    "smoke": {("redis", "username"): role_user("api")},
    # `smartspaces status` counts Redis's keys (DBSIZE, INFO, SCAN), which only the administrator may.
    "status": {("redis", "username"): ADMIN_USER},
}


def part_environment(settings: Settings, part: str = "platform") -> dict[str, str]:
    """The SMARTSPACES__* variables a part (a job, serve: the read API) runs with on a secure stack: its users and
    their passwords. A part not in PART_USERS connects as the settings' users."""
    stack = stack_settings(settings)
    if not stack.secure:
        raise StackError(f"the {settings.environment!r} stack is not secure: its servers ask for no password")
    users = {
        ("cassandra", "username"): settings.cassandra.username,
        ("postgres", "user"): settings.postgres.user,
        ("redis", "username"): settings.redis.username,
        **PART_USERS.get(part, {}),
    }
    environment = {f"{ENV_PREFIX}KAFKA__SASL_PASSWORD": KafkaServer(settings, stack).sasl_password()}
    for (server, key), user in users.items():
        assert user is not None  # a secure stack's settings name every user (Settings checks it)
        environment[f"{ENV_PREFIX}{server.upper()}__{key.upper()}"] = user
        environment[f"{ENV_PREFIX}{server.upper()}__PASSWORD"] = stack_password(stack, server, user)
    return environment
