"""The in-process event bus: publish `engine.api.models.Event`s, fan them out to subscribers.

`publish` is synchronous so ib_async callbacks can call it. Every subscriber gets its own
bounded queue; a subscriber that stops reading loses its oldest events (and is told so by a
`notice` event), it never blocks the engine. Sinks (the store writer) see every event in order.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from engine.api.models import Event, EventKind

log = logging.getLogger(__name__)


class Subscription:
    """An async iterator over events published after it was created."""

    def __init__(self, bus: EventBus, maxsize: int):
        self._bus = bus
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0
        self.closed = False

    def _offer(self, event: Event) -> None:
        if self.closed:
            return
        if self._queue.full():
            try:
                self._queue.get_nowait()
            except asyncio.QueueEmpty:
                pass
            self.dropped += 1
        self._queue.put_nowait(event)

    async def get(self) -> Event | None:
        """The next event, or None once closed."""
        if self.closed and self._queue.empty():
            return None
        return await self._queue.get()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._bus._unsubscribe(self)
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            pass

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        try:
            while True:
                ev = await self.get()
                if ev is None:
                    return
                yield ev
        finally:  # the reader stopped: stop queueing for it
            self.close()


class EventBus:
    """Fan-out of engine events with a short in-memory history."""

    def __init__(
        self,
        account: str | None = None,
        history: int = 2000,
        clock: Callable[[], dt.datetime] | None = None,
    ):
        """`clock` stamps published events (the engine's clock, so a simulated day's events
        carry its time like everything the engine records); wall-clock UTC without one."""
        self.account = account
        self.clock = clock
        self._subs: list[Subscription] = []
        self._sinks: list[Callable[[Event], None]] = []
        self._history: deque[Event] = deque(maxlen=history)

    def publish(
        self,
        kind: EventKind,
        message: str = "",
        *,
        severity: str = "info",
        code: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Event:
        event = Event(
            kind=kind,
            ts=self.clock() if self.clock is not None else dt.datetime.now(dt.UTC),
            account=self.account,
            severity=severity,
            message=message,
            code=code,
            data=data or {},
        )
        self.emit(event)
        return event

    def emit(self, event: Event) -> None:
        if event.account is None and self.account is not None:
            event = event.model_copy(update={"account": self.account})
        self._history.append(event)
        for sink in list(self._sinks):
            try:
                sink(event)
            except Exception:
                log.exception("event sink failed")
        for sub in list(self._subs):
            sub._offer(event)

    def subscribe(self, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def add_sink(self, sink: Callable[[Event], None]) -> None:
        self._sinks.append(sink)

    def recent(self, limit: int = 100, kind: str | None = None) -> list[Event]:
        events = [e for e in self._history if kind is None or e.kind == kind]
        return events[-limit:]

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)
