"""What every JDBC read or write of Spark's is given, whichever database it reaches, and what its errors hold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import SecretStr


def jdbc_credentials(user: str, password: SecretStr | None, driver: str) -> dict[str, str]:
    """The user, the password (only when there is one) and the driver class for Spark's JDBC source."""
    properties = {"user": user, "driver": driver}
    if password:
        properties["password"] = password.get_secret_value()
    return properties


def java_causes(throwable: Any, limit: int = 20) -> Iterator[Any]:
    """A Java exception (through py4j) and its causes, outermost first."""
    for _ in range(limit):
        if throwable is None:
            return
        yield throwable
        throwable = throwable.getCause()
