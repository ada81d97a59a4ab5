"""A small stand-in engine for runner tests: real store, calendar, bus and stepped clock;
a session whose guards the test sets; job actions that only record their calls."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from config.models import AutomationLevel, PutdeskConfig
from engine.domain import Reason
from engine.market.calendar import MarketCalendar
from engine.market.clock import SteppedClock
from engine.runtime.bus import EventBus
from engine.scheduler.actions import JobResult
from engine.scheduler.jobs import JOB_NAMES
from engine.scheduler.plan import PlannedJob
from engine.scheduler.runner import SchedulerRunner
from engine.store.db import Store

OK = Reason("ok", "ok")


class FakeSession:
    def __init__(self) -> None:
        self.connected = True
        self.data: Reason | None = None
        self.trading: Reason | None = None

    def data_allowed(self) -> tuple[bool, Reason]:
        return (self.data is None, self.data or OK)

    def trading_allowed(self) -> tuple[bool, Reason]:
        return (self.trading is None, self.trading or OK)


class FakeEngine:
    def __init__(
        self, store: Store, start: dt.datetime, level: AutomationLevel = AutomationLevel.C
    ) -> None:
        self.cfg = PutdeskConfig()
        self.clock = SteppedClock(start)
        self.calendar = MarketCalendar()
        self.store: Store | None = store
        self.bus = EventBus(account="DU1234567")
        self.session = FakeSession()
        self.level = level
        self.account = "DU1234567"
        self.halted: Reason | None = None

    def now(self) -> dt.datetime:
        return self.clock.now()


class Calls:
    """Job actions that record (job, virtual time) and answer `results[job]` (default ok)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dt.datetime]] = []
        self.results: dict[str, JobResult | Exception] = {}

    def actions(self) -> dict[str, Any]:
        def make(name: str) -> Any:
            async def act(engine: Any, job: PlannedJob) -> JobResult:
                self.calls.append((name, engine.now()))
                res = self.results.get(name, JobResult("ok", Reason(f"{name}.ok", "done")))
                if isinstance(res, Exception):
                    raise res
                return res

            return act

        return {name: make(name) for name in JOB_NAMES}

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]


async def open_store(tmp: Path) -> Store:
    return await Store.open(tmp / "sched.db")


async def settle(runner: SchedulerRunner, timeout: float = 5.0) -> None:
    """Wait until the runner sleeps until a time after the clock's now."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        await asyncio.sleep(0.01)
        wake = runner.next_wake
        if not runner.busy and wake is not None and wake > runner.now():
            await asyncio.sleep(0.01)
            if runner.next_wake == wake and not runner.busy:
                return
    raise AssertionError(f"runner did not settle (next wake {runner.next_wake})")


async def walk(eng: FakeEngine, runner: SchedulerRunner, until: dt.datetime) -> None:
    """Step the clock to each wake of the runner up to `until`."""
    await settle(runner)
    while True:
        wake = runner.next_wake
        assert wake is not None
        if wake > until:
            eng.clock.set(until)
            runner.nudge()
            await settle(runner)
            return
        eng.clock.set(wake)
        runner.nudge()
        await asyncio.sleep(0.02)
        await settle(runner)
