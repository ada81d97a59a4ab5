"""Wakes a polling watcher as soon as IBKR reports order activity, so a fill is booked (and
shown) within moments instead of at the next poll; the poll stays as the fallback."""

from __future__ import annotations

import asyncio

from engine.api.models import Event
from engine.runtime.bus import EventBus

#: Event kinds that mean an order changed at IBKR (a status, a fill, an order sent).
ORDER_KINDS = frozenset({"order.status", "order.fill"})
#: After the first report, wait this long so the rest of the burst (status, execution,
#: commission report, the other bracket legs) is in before the watcher reads the orders.
SETTLE_S = 0.25


class OrderActivity:
    """`await activity.wait(timeout)`: returns True once order activity was reported (plus
    `settle_s`), False after `timeout` without any."""

    def __init__(self, bus: EventBus, settle_s: float = SETTLE_S) -> None:
        self.settle_s = settle_s
        self._event = asyncio.Event()
        bus.add_sink(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.kind in ORDER_KINDS:
            self._event.set()

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        await asyncio.sleep(self.settle_s)
        self._event.clear()
        return True
