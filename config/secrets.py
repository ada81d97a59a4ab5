"""Read secrets (Anthropic key, Flex token) from the environment or an owner-only file.

Values are wrapped in `Secret`, whose repr and str never show the value, so a secret cannot
leak into logs, exceptions or the database by accident.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path


class SecretError(Exception):
    """A secret could not be read; the message never contains the secret."""


class Secret:
    """An opaque secret value: `reveal()` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def mask(value: str | None) -> str:
    """How a secret is shown: set or not set, never the value."""
    return "******** (set)" if value else "(not set)"


def read_secret_file(path: Path) -> Secret:
    """Read a secret from a file that only its owner may read or write."""
    path = path.expanduser()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SecretError(f"secret file {path} does not exist") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"secret file {path} is readable by others (mode {stat.filemode(st.st_mode)}); "
            f"run: chmod 600 {path}"
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise SecretError(f"secret file {path} is not owned by you")
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise SecretError(f"secret file {path} is empty")
    return Secret(value)


def get_secret(
    env_name: str, file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Secret | None:
    """The secret from `env_name`, else from `file`; None when neither is set."""
    env = os.environ if environ is None else environ
    value = env.get(env_name, "").strip()
    if value:
        return Secret(value)
    if file is not None:
        return read_secret_file(file)
    return None
