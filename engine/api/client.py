"""`connect_api`: attach to the account's running engine over its socket, else start one here.

api = await connect_api(config_path=None, account=None)
result = await api.request(GetStatus())
async for ev in api.events(): ...
await api.close()          # stops the engine only if this call started it
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from config.loader import load_config
from config.models import PutdeskConfig
from engine.api.inprocess import InProcessAPI
from engine.api.protocol import EngineAPI
from engine.api.socket_client import SocketClient
from engine.api.socket_server import socket_alive
from engine.runtime.lock import is_locked
from engine.runtime.paths import EnginePaths
from engine.runtime.paths import engine_running as engine_running  # for API clients


class NoEngine(RuntimeError):
    """No engine runs for the account and starting one was not allowed."""


async def attach(cfg: PutdeskConfig, account: str | None = None) -> SocketClient | None:
    """A socket client to the running engine for the account, or None when none listens."""
    paths = EnginePaths.of(cfg, account)
    if not socket_alive(paths.socket):
        return None
    return await SocketClient.connect(paths.socket)


async def connect_api(
    config_path: Path | str | None = None,
    account: str | None = None,
    *,
    cfg: PutdeskConfig | None = None,
    live: bool = False,
    start: bool = True,
    wait_ready: float | None = None,
) -> EngineAPI:
    """Socket to a running engine if there is one; otherwise (when `start`) an in-process
    engine that this API owns (it stops on close) and that serves the socket meanwhile."""
    cfg = cfg or load_config(config_path)
    client = await attach(cfg, account)
    if client is not None:
        return client
    paths = EnginePaths.of(cfg, account)
    for _ in range(30):  # an engine that is starting holds the lock before it listens
        if not is_locked(paths.state, paths.key):
            break
        await asyncio.sleep(0.1)
        client = await attach(cfg, account)
        if client is not None:
            return client
    if is_locked(paths.state, paths.key):
        raise NoEngine(
            f"an engine holds the lock for {paths.key} but does not answer on {paths.socket}"
        )
    if not start:
        raise NoEngine(f"no engine is running for {paths.key}")
    from engine.runtime.engine import Engine, EngineOptions

    engine = Engine(
        cfg,
        EngineOptions(
            live=live,
            account=account,
            config_path=Path(config_path) if config_path else None,
        ),
    )
    await engine.start(wait_ready=wait_ready)
    return InProcessAPI(engine, owns_engine=True)
