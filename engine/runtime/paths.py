"""Where one engine keeps its files: database, lock, socket, logs (all under the state dir)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from config.models import PutdeskConfig
from config.paths import database_path, log_dir, state_dir
from engine.runtime.lock import is_locked

#: sun_path is 108 bytes on Linux; keep a margin.
MAX_SOCKET_PATH = 100


def account_key(cfg: PutdeskConfig, account: str | None = None) -> str:
    """The name an engine is known by before it connects: the account id (given, else the
    config's default account), else a label."""
    acct = account or cfg.default_account()
    if acct:
        return acct
    return "simulated" if cfg.ibkr.simulated else "default"


def socket_path(state: Path, key: str) -> Path:
    """`<state>/run/engine-<key>.sock`, or a short per-user path in /tmp when that is too long."""
    p = state / "run" / f"engine-{key}.sock"
    if len(str(p)) <= MAX_SOCKET_PATH:
        return p
    digest = hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"putdesk-{os.getuid()}" / f"{digest}-{key}.sock"


@dataclass(frozen=True)
class EnginePaths:
    state: Path
    database: Path
    logs: Path
    socket: Path
    key: str

    @classmethod
    def of(cls, cfg: PutdeskConfig, account: str | None = None) -> EnginePaths:
        key = account_key(cfg, account)
        st = state_dir(cfg.paths.state_dir)
        return cls(
            state=st,
            database=database_path(st, cfg.paths.database, key),
            logs=log_dir(st, cfg.paths.log_dir),
            socket=socket_path(st, key),
            key=key,
        )


def engine_running(cfg: PutdeskConfig, account: str | None = None) -> bool:
    """Whether some process runs the account's engine (it holds the account lock)."""
    paths = EnginePaths.of(cfg, account)
    return is_locked(paths.state, paths.key)
