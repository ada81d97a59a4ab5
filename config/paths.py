"""Where putdesk keeps its files, from platformdirs, overridable by config or environment."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_path, user_state_path

APP = "putdesk"


def user_config_file() -> Path:
    """The user's own config file location (may not exist)."""
    return user_config_path(APP) / "putdesk.yaml"


def state_dir(configured: Path | None = None) -> Path:
    """State directory (database, locks, sockets, logs). `PUTDESK_STATE_DIR` wins."""
    env = os.environ.get("PUTDESK_STATE_DIR")
    if env:
        return Path(env).expanduser()
    if configured is not None:
        return configured.expanduser()
    return user_state_path(APP)


def database_path(state: Path, configured: Path | None = None, account: str | None = None) -> Path:
    if configured is not None:
        return configured.expanduser()
    name = f"putdesk-{account}.db" if account else "putdesk.db"
    return state / name


def log_dir(state: Path, configured: Path | None = None) -> Path:
    return configured.expanduser() if configured is not None else state / "logs"
