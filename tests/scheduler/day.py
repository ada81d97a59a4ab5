"""A whole trading day in virtual time: the real engine (embedded simulated gateway, Flex
service, every subsystem, the scheduler runner) on one ScaledClock that a driver fast-forwards
whenever the runner is idle, so a day takes seconds of wall time."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from config.models import AutomationLevel, PutdeskConfig
from engine.market.clock import ScaledClock
from engine.runtime.engine import Engine, EngineOptions
from engine.scheduler.plan import ET

SHIPPED_NT = Path(__file__).resolve().parents[2] / "config" / "daily_spx_options.yaml"


def et(d: dt.date, hhmm: str) -> dt.datetime:
    h, m = hhmm.split(":")
    return dt.datetime.combine(d, dt.time(int(h), int(m)), ET).astimezone(dt.UTC)


def day_config(tmp: Path, *, nakedtrader: bool = True, **schedule: Any) -> PutdeskConfig:
    nt = yaml.safe_load(SHIPPED_NT.read_text())
    nt["enabled"] = nakedtrader
    nt_path = tmp / "daily_spx_options.yaml"
    nt_path.write_text(yaml.safe_dump(nt))
    return PutdeskConfig.model_validate(
        {
            "ibkr": {
                "simulated": True,
                "reconnect_initial_s": 0.1,
                "reconnect_max_s": 0.5,
                "connect_timeout_s": 5,
                "request_timeout_s": 10,
            },
            "universe": {"watchlist": ["AAPL", "MSFT", "JPM", "XOM", "HD"]},
            "ai": {"enabled": False},
            "selection": {
                "min_open_interest": 0,
                "max_spread_pct": 150.0,
                "dte_min": 5,
                "min_otm_pct": 6.0,
                "delta_min": 0.02,
            },
            "execution": {"tier2_wait_s": 120, "min_liquidity_oi": 0},
            "schedule": schedule,
            "nakedtrader_config": str(nt_path),
        }
    )


@asynccontextmanager
async def day_engine(
    cfg: PutdeskConfig,
    start: dt.datetime,
    *,
    level: AutomationLevel = AutomationLevel.C,
    speed: float = 20.0,
    scheduler: bool = True,
) -> AsyncIterator[tuple[Engine, ScaledClock]]:
    """A started engine (embedded sim + Flex service) on a ScaledClock at `start`."""
    from engine.sim.flex_service import FlexService

    clock = ScaledClock(start, speed)
    eng = Engine(
        cfg,
        EngineOptions(
            clock=clock,
            level=level,
            serve_socket=False,
            rng_seed=1,
            extra={"scheduler": scheduler},
        ),
    )
    await eng.start(wait_ready=20)
    flex = FlexService(eng.sim.book, rate_limit=False)
    await flex.start()
    eng.sim.flex = flex
    try:
        yield eng, clock
    finally:
        await eng.stop()
        await flex.stop()


Hook = Callable[[], Awaitable[None]]


async def drive(
    eng: Engine,
    clock: ScaledClock,
    until: dt.datetime,
    *,
    hooks: dict[dt.datetime, Hook] | None = None,
    max_jump: dt.timedelta = dt.timedelta(minutes=10),
    lead: dt.timedelta = dt.timedelta(seconds=10),
    pause: float = 0.05,
    wall_limit: float = 50.0,
) -> None:
    """Fast-forward `clock` to `until`: whenever no job is running, jump toward the runner's
    next wake (stopping `lead` short of it; while the market is open by at most `max_jump`,
    so the gateway's order book ticks through the day), and run each hook at its time."""
    runner = eng.scheduler.runner  # type: ignore[attr-defined]
    pending = dict(sorted((hooks or {}).items()))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while clock.now() < until:
        if loop.time() - t0 > wall_limit:
            raise AssertionError(f"the day did not finish in {wall_limit}s (at {clock.now()})")
        await asyncio.sleep(pause)
        now = clock.now()
        for at in list(pending):
            if at <= now:
                await pending.pop(at)()
        if runner.busy or not eng.session.connected:
            continue
        wake = runner.next_wake
        if wake is None or wake <= now:
            continue  # the runner is due (or about to record its next wake): let it work
        step = max_jump if eng.calendar.is_open(now) else until - now
        target = min(now + step, until, max(now, wake - lead))
        for at in pending:
            target = min(target, at)
        if target > now:
            clock.jump_to(target)
