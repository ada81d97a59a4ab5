"""Helpers: an Engine (no subsystems, no socket) attached to a running simulated gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from config.models import PutdeskConfig
from engine.runtime.engine import Engine, EngineOptions


def sim_config(**ibkr: Any) -> PutdeskConfig:
    base: dict[str, Any] = {
        "simulated": True,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.4,
        "connect_timeout_s": 3,
        "request_timeout_s": 5,
    }
    base.update(ibkr)
    return PutdeskConfig.model_validate({"ibkr": base})


@asynccontextmanager
async def sim_engine(
    gw: Any, *, live: bool = False, account: str | None = None, ready: bool = True, **ibkr: Any
) -> AsyncIterator[Engine]:
    eng = Engine(
        sim_config(**ibkr),
        EngineOptions(
            sim_port=gw.port,
            live=live,
            account=account,
            install_subsystems=False,
            serve_socket=False,
            rng_seed=1,
        ),
    )
    await eng.start(wait_ready=10 if ready else None)
    try:
        yield eng
    finally:
        await eng.stop()


async def wait_for(cond: Callable[[], bool], timeout: float = 8.0) -> None:
    """Poll until `cond()` holds (fails the test after `timeout`)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
