"""A simulated gateway (and its control port) running in a thread of the test process, so it
survives the engine subprocess being killed."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from engine.market.clock import SteppedClock
from engine.sim.control import ControlServer
from engine.sim.server import SimGateway

OPEN_MINUS_2 = dt.datetime(2026, 11, 24, 14, 28, tzinfo=dt.UTC)  # 09:28 ET, a Tuesday


class SimThread:
    def __init__(self, seed: int, start: dt.datetime = OPEN_MINUS_2, **kw: Any):
        self.seed = seed
        self.clock = SteppedClock(start)
        self.kw = kw
        self.loop = asyncio.new_event_loop()
        self.gw: SimGateway | None = None
        self.ctrl: ControlServer | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def boot() -> None:
            self.gw = SimGateway(
                seed=self.seed, clock=self.clock, account_id="DU1234567", **self.kw
            )
            await self.gw.start()
            self.ctrl = ControlServer(self.gw)
            await self.ctrl.start()
            self._ready.set()

        self.loop.run_until_complete(boot())
        self.loop.run_forever()

    def __enter__(self) -> SimThread:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("simulator did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        async def down() -> None:
            assert self.gw is not None and self.ctrl is not None
            await self.ctrl.stop()
            await self.gw.stop()

        asyncio.run_coroutine_threadsafe(down(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the simulator's loop and return its result."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(15)

    @property
    def port(self) -> int:
        assert self.gw is not None
        return int(self.gw.port)

    @property
    def control_port(self) -> int:
        assert self.ctrl is not None
        return int(self.ctrl.port)
