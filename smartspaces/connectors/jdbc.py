"""What every JDBC read or write of Spark's is given, whichever database it reaches."""

from __future__ import annotations

from pydantic import SecretStr


def jdbc_credentials(user: str, password: SecretStr | None, driver: str) -> dict[str, str]:
    """The user, the password (only when there is one) and the driver class for Spark's JDBC source."""
    properties = {"user": user, "driver": driver}
    if password:
        properties["password"] = password.get_secret_value()
    return properties
