"""Test helpers for every team: a started SimGateway on 127.0.0.1 and an ib_async client.

    async with running_sim() as gw:
        ib = IB(); await ib.connectAsync("127.0.0.1", gw.port, clientId=1)

`running_sim(seed=7, clock=None, account_id="DU1234567", **kw)` forwards `kw` to SimGateway
(market=, book=, calendar=, tick_interval=, max_msgs_per_sec=, max_lines=, book_options=...).
With no clock it uses a SteppedClock at 10:00 ET on a regular session (Tue 2026-11-24) so
the market is open and time moves only when a test says so. `sim_fixture()` builds a pytest
fixture from the same pieces; `connected_ib()` connects a real ib_async IB.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from engine.sim.server import SimGateway

DEFAULT_START = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)  # 10:00 ET, a Tuesday


def default_clock(start: dt.datetime = DEFAULT_START) -> Any:
    from engine.market.clock import SteppedClock

    return SteppedClock(start)


@asynccontextmanager
async def running_sim(
    seed: int = 7, clock: Any = None, account_id: str = "DU1234567", **kw: Any
) -> AsyncIterator[SimGateway]:
    """A started SimGateway on an ephemeral 127.0.0.1 port; stopped on exit."""
    gw = SimGateway(
        seed=seed,
        clock=clock if clock is not None else default_clock(),
        account_id=account_id,
        **kw,
    )
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@asynccontextmanager
async def connected_ib(
    gw: SimGateway, client_id: int = 1, timeout: float = 4.0
) -> AsyncIterator[Any]:
    """A real ib_async IB connected to `gw`; disconnected on exit."""
    from ib_async import IB

    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=client_id, timeout=timeout)
    try:
        yield ib
    finally:
        ib.disconnect()


def sim_fixture(**defaults: Any) -> Callable[..., Any]:
    """A pytest-asyncio fixture yielding a started SimGateway:

    sim = sim_fixture(account_id="U1234567")  # in a conftest.py or test module
    """
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def _sim() -> AsyncIterator[SimGateway]:
        async with running_sim(**defaults) as gw:
            yield gw

    return _sim
