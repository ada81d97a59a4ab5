"""The pacing budget: never more than max_per_s in any window, priorities, line budget."""

from __future__ import annotations

import asyncio

import pytest

from engine.broker.pacing import Pacer, Priority


def _capture(p: Pacer) -> list[tuple[float, str]]:
    sent: list[tuple[float, str]] = []
    p.set_writer(lambda msg: sent.append((p._window[-1], msg)))
    return sent


def _max_in_window(times: list[float], interval: float) -> int:
    best = 0
    for i, t in enumerate(times):
        n = sum(1 for u in times[i:] if u - t < interval)
        best = max(best, n)
    return best


async def test_unmanaged_burst_is_spread_over_windows() -> None:
    p = Pacer(5, 10, interval=0.1)
    sent = _capture(p)
    for i in range(23):
        p.send_msg(f"m{i}")
    assert len(sent) == 5  # the rest wait
    while len(sent) < 23:
        await asyncio.sleep(0.02)
    assert [m for _t, m in sent] == [f"m{i}" for i in range(23)]  # FIFO within a priority
    assert _max_in_window([t for t, _m in sent], 0.1) <= 5
    assert p.stats().peak_per_window <= 5


async def test_reservations_are_granted_in_priority_order() -> None:
    p = Pacer(2, 10, interval=0.1)
    sent = _capture(p)
    p.send_msg("a")
    p.send_msg("b")  # window full
    order: list[str] = []

    async def worker(name: str, prio: Priority) -> None:
        async with p.message(prio):
            order.append(name)
            p.send_msg(name)

    tasks = [asyncio.create_task(worker("scan", Priority.SCANNER))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(worker("quote", Priority.QUOTES)))
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(worker("order", Priority.ORDERS)))
    await asyncio.gather(*tasks)
    assert order == ["order", "quote", "scan"]
    assert _max_in_window([t for t, _m in sent], 0.1) <= 2


async def test_queued_messages_leave_by_priority() -> None:
    p = Pacer(1, 10, interval=0.1)
    sent = _capture(p)
    p.send_msg("first")
    from engine.broker import pacing

    for name, prio in (("scan", Priority.SCANNER), ("order", Priority.ORDERS)):
        tok = pacing._priority.set(prio)
        p.send_msg(name)
        pacing._priority.reset(tok)
    while len(sent) < 3:
        await asyncio.sleep(0.02)
    assert [m for _t, m in sent] == ["first", "order", "scan"]


async def test_line_budget_blocks_until_released() -> None:
    p = Pacer(10, 4)
    entered = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with p.lines(3):
            entered.set()
            await release.wait()

    h = asyncio.create_task(holder())
    await entered.wait()
    waiter = asyncio.create_task(p.lines(2).__aenter__())
    await asyncio.sleep(0.01)
    assert not waiter.done() and p.lines_in_use == 3
    release.set()
    await h
    await waiter
    assert p.lines_in_use == 2
    assert p.peak_lines <= 4


async def test_bad_budgets_are_refused() -> None:
    with pytest.raises(ValueError):
        Pacer(50, 10)
    p = Pacer(10, 4)
    with pytest.raises(ValueError):
        async with p.lines(5):
            pass


async def test_cancelled_waiter_gives_back_nothing() -> None:
    p = Pacer(1, 10, interval=0.1)
    _capture(p)
    p.send_msg("x")
    t = asyncio.create_task(p.message(Priority.QUOTES).__aenter__())
    await asyncio.sleep(0)
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t
    async with p.message(Priority.ORDERS):
        pass
    assert p._reserved == 0
