"""One pacing budget for everything putdesk sends to IBKR: messages per second and data lines.

`Pacer.attach(client)` replaces `ib_async.Client.sendMsg` on that client instance, so every
message written to the socket (ours, ib_async's start-up sync, its automatic requests) passes
through one sliding-window budget (`max_per_s` in any `interval` seconds). Messages that do not
fit wait in a priority queue (orders before what-if before quotes before scanner); within a
priority they keep their order. Callers that want back-pressure (a scan asking for hundreds of
quotes) reserve capacity first:

    async with pacer.message(Priority.QUOTES):      # waits for a slot, in priority order
        ib.reqMktData(...)

    async with pacer.lines(5):                      # waits for 5 market-data lines
        ...

Inside a `message()` block the priority is also put in a context variable, so the messages the
block sends are queued at that priority if they ever have to wait.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import struct
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Priority(IntEnum):
    """Lower value = served first. CONTROL is session traffic (sync, cancels, data type)."""

    CONTROL = 0
    ORDERS = 1
    WHAT_IF = 2
    QUOTES = 3
    SCANNER = 4


@dataclass
class _Grant:
    """Capacity reserved by one `message()` block and not yet used."""

    remaining: int


_priority: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "putdesk_pacing_priority", default=Priority.CONTROL
)
_grant: contextvars.ContextVar[_Grant | None] = contextvars.ContextVar(
    "putdesk_pacing_grant", default=None
)


#: The sliding window the budget applies to. IBKR counts 50 messages per second on its side
#: of the socket; messages sent in bursts and read a little late by the gateway land in one of
#: its seconds together. A 1.2 s window keeps `max_per_s` (45) messages safe under up to 0.2 s
#: of delivery jitter (a busy event loop, GC), at 37.5 msg/s sustained.
WINDOW_S = 1.2


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    count: int = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)


@dataclass
class PacerStats:
    """Counters for status displays and tests."""

    sent: int
    queued: int
    peak_per_window: int
    lines_in_use: int
    peak_lines: int
    max_per_s: int
    max_lines: int


class Pacer:
    """The single message-rate and market-data-line budget of one IBKR connection."""

    def __init__(
        self,
        max_per_s: int = 45,
        max_lines: int = 90,
        *,
        interval: float = WINDOW_S,
        time_fn: Callable[[], float] | None = None,
    ):
        if not 1 <= max_per_s <= 49:
            raise ValueError("max_per_s must be between 1 and 49 (IBKR limit is 50)")
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        self.max_per_s = max_per_s
        self.max_lines = max_lines
        self.interval = interval
        self._time_fn = time_fn
        self._window: deque[float] = deque()
        self._reserved = 0
        self._queue: list[tuple[int, int, str]] = []
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._writer: Callable[[str], None] | None = None
        self._client: Any = None
        self.sent = 0
        self.peak_per_window = 0
        self.lines_in_use = 0
        self.peak_lines = 0
        self._line_waiters: list[_Waiter] = []

    # -- time -------------------------------------------------------------------------------
    def _now(self) -> float:
        if self._time_fn is not None:
            return self._time_fn()
        return asyncio.get_running_loop().time()

    def _expire(self, now: float) -> None:
        while self._window and now - self._window[0] >= self.interval:
            self._window.popleft()

    def _free(self) -> int:
        return self.max_per_s - len(self._window) - self._reserved - len(self._queue)

    # -- wiring -----------------------------------------------------------------------------
    def attach(self, client: Any) -> None:
        """Route every message of an `ib_async.Client` through this budget."""
        self._client = client

        def write(msg: str) -> None:
            client.conn.sendMsg(struct.pack(">I", len(data := msg.encode())) + data)

        self._writer = write
        client.sendMsg = self.send_msg

    def set_writer(self, writer: Callable[[str], None]) -> None:
        """Use `writer` for the wire (unit tests); `attach` sets it for a real client."""
        self._writer = writer

    def reset(self) -> None:
        """Forget queued messages (the connection they were meant for is gone)."""
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake()

    # -- the transport hook -----------------------------------------------------------------
    def send_msg(self, msg: str | None) -> None:
        """Replacement for `Client.sendMsg`: send now if the budget allows, else queue."""
        if not msg:
            self._flush()
            return
        now = self._now()
        self._expire(now)
        grant = _grant.get()
        if grant is not None and grant.remaining > 0:
            grant.remaining -= 1
            self._reserved -= 1
            self._write(msg, now)
            self._schedule()
            return
        if not self._queue and len(self._window) + self._reserved < self.max_per_s:
            self._write(msg, now)
            return
        heapq.heappush(self._queue, (int(_priority.get()), next(self._seq), msg))
        self._schedule()

    def _write(self, msg: str, now: float) -> None:
        if self._writer is None:
            raise RuntimeError("pacer is not attached to a client")
        self._window.append(now)
        self.sent += 1
        self.peak_per_window = max(self.peak_per_window, len(self._window))
        self._writer(msg)

    def _flush(self) -> None:
        self._timer = None
        now = self._now()
        self._expire(now)
        while self._queue and len(self._window) + self._reserved < self.max_per_s:
            _prio, _seq, msg = heapq.heappop(self._queue)
            self._write(msg, now)
        self._wake()
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            return
        if not (self._queue or self._waiters) or not self._window:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._window[0] + self.interval - self._now()) + 1e-4
        self._timer = loop.call_later(delay, self._flush)

    def _wake(self) -> None:
        if self._waiters:
            self._expire(self._now())
        while self._waiters:
            head = self._waiters[0]
            if head.future.done():
                heapq.heappop(self._waiters)
                continue
            if self._free() < head.count:
                break
            heapq.heappop(self._waiters)
            self._reserved += head.count
            head.future.set_result(None)
        if self._waiters:
            self._schedule()

    # -- back-pressure for callers ----------------------------------------------------------
    @asynccontextmanager
    async def message(self, priority: Priority, count: int = 1) -> AsyncIterator[None]:
        """Reserve `count` messages at `priority`; the block's sends use the reservation."""
        if count < 1 or count > self.max_per_s:
            raise ValueError(f"count must be between 1 and {self.max_per_s}")
        self._expire(self._now())
        if not self._waiters and self._free() >= count:
            self._reserved += count
        else:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiter = _Waiter(int(priority), next(self._seq), count, fut)
            heapq.heappush(self._waiters, waiter)
            self._schedule()
            try:
                await fut
            except BaseException:
                if fut.done() and not fut.cancelled():
                    self._reserved -= count
                    self._wake()
                raise
        grant = _Grant(count)
        t1 = _grant.set(grant)
        t2 = _priority.set(priority)
        try:
            yield
        finally:
            _grant.reset(t1)
            _priority.reset(t2)
            if grant.remaining:
                self._reserved -= grant.remaining
                grant.remaining = 0
                self._flush()

    @asynccontextmanager
    async def lines(self, n: int, priority: Priority = Priority.QUOTES) -> AsyncIterator[None]:
        """Hold `n` market-data lines for the block (waits, in priority order, if needed)."""
        if n < 1 or n > self.max_lines:
            raise ValueError(f"lines must be between 1 and {self.max_lines}")
        if self._line_waiters or self.lines_in_use + n > self.max_lines:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._line_waiters, _Waiter(int(priority), next(self._seq), n, fut))
            self._wake_lines()
            try:
                await fut
            except BaseException:
                if fut.done() and not fut.cancelled():
                    self._release_lines(n)
                raise
        else:
            self.lines_in_use += n
        self.peak_lines = max(self.peak_lines, self.lines_in_use)
        try:
            yield
        finally:
            self._release_lines(n)

    def _release_lines(self, n: int) -> None:
        self.lines_in_use -= n
        self._wake_lines()

    def _wake_lines(self) -> None:
        while self._line_waiters:
            head = self._line_waiters[0]
            if head.future.done():
                heapq.heappop(self._line_waiters)
                continue
            if self.lines_in_use + head.count > self.max_lines:
                break
            heapq.heappop(self._line_waiters)
            self.lines_in_use += head.count
            head.future.set_result(None)

    def stats(self) -> PacerStats:
        return PacerStats(
            sent=self.sent,
            queued=len(self._queue),
            peak_per_window=self.peak_per_window,
            lines_in_use=self.lines_in_use,
            peak_lines=self.peak_lines,
            max_per_s=self.max_per_s,
            max_lines=self.max_lines,
        )
