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


def simulated_account(cfg: PutdeskConfig) -> str:
    """The account id the embedded simulated gateway trades: `ibkr.account`, else DU1234567
    (`sim.account_kind: paper`) or U1234567 (live)."""
    kind = cfg.sim.account_kind
    return cfg.ibkr.account or ("DU1234567" if kind == "paper" else "U1234567")


def account_key(cfg: PutdeskConfig, account: str | None = None) -> str:
    """The name an engine is known by before it connects: the account id (given, else the
    config's default account, else the simulated gateway's account), else "default".

    A simulated config without an account is keyed by the simulated account, so `putdesk
    status` finds the engine of `make demo` (same account, same simulator state) instead of
    starting a second engine on that simulator's state."""
    acct = account or cfg.default_account()
    if acct:
        return acct
    return simulated_account(cfg) if cfg.ibkr.simulated else "default"


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
