"""An in-process engine on the simulated gateway with a stepped clock, NakedTrader installed."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio

from config.models import PutdeskConfig
from engine.api.models import NtStatus, NtWatch, Result
from engine.market.clock import SteppedClock
from engine.nakedtrader.service import NakedTraderService, install
from engine.runtime.engine import Engine, EngineOptions

#: Tuesday 2026-11-24 10:00 New York: a regular session, inside the entry window.
START = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


class NtHarness:
    """The engine, its simulator and helpers to move the market and time."""

    def __init__(self, engine: Engine, svc: NakedTraderService):
        self.engine = engine
        self.svc = svc
        self.gw: Any = engine.sim

    async def request(self, cmd: Any) -> Result:
        return await self.engine.request(cmd)

    async def settle(self) -> None:
        """Let the gateway's messages reach the client."""
        await asyncio.sleep(0.15)

    async def advance(self, seconds: float) -> None:
        self.gw.advance_clock(seconds)
        await self.settle()

    async def trade(self, trade_id: int) -> dict[str, Any]:
        res = await self.request(NtWatch())
        assert res.ok, res.error
        return next(t for t in res.data["trades"] if t["id"] == trade_id)

    async def advance_until(
        self,
        trade_id: int,
        cond: Callable[[dict[str, Any]], bool],
        *,
        step_s: float,
        max_steps: int,
        what: str,
    ) -> dict[str, Any]:
        t = await self.trade(trade_id)
        for _ in range(max_steps):
            if cond(t):
                return t
            await self.advance(step_s)
            t = await self.trade(trade_id)
        assert cond(t), f"{what} did not happen: {t}"
        return t

    async def status(self) -> dict[str, Any]:
        res = await self.request(NtStatus())
        assert res.ok
        return res.data


async def _harness(all_subsystems: bool, kind: str = "paper") -> AsyncIterator[NtHarness]:
    cfg = PutdeskConfig.model_validate(
        {
            "ibkr": {"simulated": True},
            "ai": {"enabled": False},
            "sim": {"port": 0, "account_kind": kind},
        }
    )
    engine = Engine(
        cfg,
        EngineOptions(
            clock=SteppedClock(START), serve_socket=False, install_subsystems=all_subsystems
        ),
    )
    svc = getattr(engine, "nakedtrader", None) if all_subsystems else install(engine)
    assert isinstance(svc, NakedTraderService), engine.install_errors
    await engine.start(wait_ready=20)
    try:
        yield NtHarness(engine, svc)
    finally:
        await engine.stop()


@pytest_asyncio.fixture
async def nt() -> AsyncIterator[NtHarness]:
    """NakedTrader alone on the engine core."""
    async for h in _harness(False):
        yield h


@pytest_asyncio.fixture
async def nt_full() -> AsyncIterator[NtHarness]:
    """The engine with every subsystem installed (execution's watcher runs too)."""
    async for h in _harness(True):
        yield h


@pytest_asyncio.fixture
async def nt_live() -> AsyncIterator[NtHarness]:
    """NakedTrader on a simulated live-kind account (U...), engine started without --live."""
    async for h in _harness(False, "live"):
        yield h
