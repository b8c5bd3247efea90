"""The passwords of the local stack's servers: made on first use, kept in the stack's folder, readable by its owner
only, never in the repository. The jobs get them as every environment gives secrets: in their environment
(`smartspaces exec`), never from a file of the configuration."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from smartspaces.config import StackSettings

SECRETS_FOLDER = "secrets"


def random_password() -> str:
    return secrets.token_urlsafe(24)


def stored_secret(path: Path, make: Callable[[], str] = random_password) -> str:
    """The secret kept in path, made (and written owner-only) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(make(), encoding="utf-8")
    return path.read_text(encoding="utf-8")


def stack_password(stack: StackSettings, server: str, user: str) -> str:
    """The password of a user of one of the stack's servers."""
    folder = stack.data_dir / SECRETS_FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return stored_secret(folder / f"{server}-{user}")
