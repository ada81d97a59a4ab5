"""The execution watcher syncs on IBKR's order reports, not only on its fallback poll."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from engine.execution import service as exec_service
from engine.runtime.bus import EventBus
from engine.runtime.order_activity import OrderActivity


async def test_order_activity_wakes_on_order_reports_only() -> None:
    bus = EventBus()
    act = OrderActivity(bus, settle_s=0.01)
    assert not await act.wait(0.05)  # nothing reported
    bus.publish("account", "net liquidation moved")
    assert not await act.wait(0.05)  # not order activity
    bus.publish("order.fill", "pd-L1-1: SLD 1 @ 0.5", severity="debug")
    assert await act.wait(0.05)
    assert not await act.wait(0.05)  # cleared once seen
    bus.publish("order.status", "pd-L1-1: Filled")
    assert await act.wait(0.05)


async def test_execution_watcher_syncs_at_once_on_a_fill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exec_service, "WATCH_EVERY_S", 3600.0)
    synced = asyncio.Event()

    class Workflow:
        async def sync(self) -> None:
            synced.set()

    bus = EventBus()
    engine: Any = SimpleNamespace(bus=bus, session=SimpleNamespace(connected=True), store=object())
    svc = exec_service.ExecutionService(engine)
    monkeypatch.setattr(svc, "workflow", lambda **kw: Workflow())
    task = asyncio.create_task(svc._watch())
    try:
        await asyncio.sleep(0.05)
        assert not synced.is_set()  # the poll is an hour away
        bus.publish("order.fill", "pd-L1-1-tp: BOT 1 @ 0.28", severity="debug")
        await asyncio.wait_for(synced.wait(), 2.0)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
