"""Account lock, event bus and command registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.api.models import GetStatus, Kill, Result, Scan
from engine.broker.errors import BrokerError
from engine.runtime.bus import EventBus
from engine.runtime.lock import AccountLock, AccountLocked, is_locked
from engine.runtime.registry import CommandRegistry


def test_second_lock_for_the_same_account_is_refused(state_dir: Path) -> None:
    first = AccountLock(state_dir, "DU1")
    first.acquire({"socket": "/x"})
    try:
        assert is_locked(state_dir, "DU1")
        with pytest.raises(AccountLocked) as exc:
            AccountLock(state_dir, "DU1").acquire()
        assert exc.value.reason.code == "engine.locked"
        assert str(first.path) and "already running" in exc.value.reason.text
        AccountLock(state_dir, "DU2").acquire()  # another account is independent
    finally:
        first.release()
    assert not is_locked(state_dir, "DU1")
    AccountLock(state_dir, "DU1").acquire()


def test_lock_is_held_against_another_process(state_dir: Path) -> None:
    lock = AccountLock(state_dir, "DU9")
    lock.acquire()
    code = (
        "import sys; from pathlib import Path\n"
        "from engine.runtime.lock import AccountLock, AccountLocked\n"
        f"try:\n    AccountLock(Path({str(state_dir)!r}), 'DU9').acquire()\n"
        "except AccountLocked as e:\n    print('REFUSED', e.holder.get('pid'))\n"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo)
    lock.release()
    assert out.stdout.startswith("REFUSED"), out.stderr
    import os

    assert out.stdout.split()[1] == str(os.getpid())


async def test_bus_fans_out_and_drops_oldest_for_slow_readers() -> None:
    bus = EventBus(account="DU1")
    seen: list[str] = []
    bus.add_sink(lambda e: seen.append(e.message))
    fast = bus.subscribe()
    slow = bus.subscribe(maxsize=2)
    for i in range(4):
        bus.publish("notice", f"n{i}")
    assert seen == ["n0", "n1", "n2", "n3"]
    got = [(await fast.get()).message for _ in range(4)]  # type: ignore[union-attr]
    assert got == ["n0", "n1", "n2", "n3"]
    assert slow.dropped == 2
    assert (await slow.get()).message == "n2"  # type: ignore[union-attr]
    fast.close()
    assert bus.subscriber_count == 1
    assert bus.recent(2)[0].account == "DU1"


def test_bus_stamps_events_on_the_engines_clock() -> None:
    """A simulated day's events carry its time, like what the engine records on that clock
    (the demo's activity log mixed wall-clock and simulated stamps)."""
    import datetime as dt

    sim_time = dt.datetime(2026, 11, 25, 14, 25, tzinfo=dt.UTC)
    bus = EventBus(account="DU1", clock=lambda: sim_time)
    assert bus.publish("notice", "n").ts == sim_time
    before = dt.datetime.now(dt.UTC)
    wall = EventBus(account="DU1").publish("notice", "n").ts
    assert before <= wall <= dt.datetime.now(dt.UTC)


async def test_registry_dispatch_turns_failures_into_results() -> None:
    reg = CommandRegistry()

    async def status(_c: GetStatus) -> Result:
        return Result.success(x=1)

    async def kill(_c: Kill) -> Result:
        raise BrokerError.of("session.disconnected", "not connected")

    reg.register(GetStatus, status)
    reg.register(Kill, kill)
    with pytest.raises(ValueError):
        reg.register(GetStatus, status)
    assert (await reg.dispatch(GetStatus())).data == {"x": 1}
    r = await reg.dispatch(Kill())
    assert not r.ok and r.reason_code == "session.disconnected"
    r = await reg.dispatch(Scan())
    assert not r.ok and r.exit_code == 2 and r.reason_code == "api.unknown_command"
    assert reg.commands == ["kill", "status"]


async def test_get_events_leaves_out_debug_events_when_asked(tmp_path: Path) -> None:
    """GetEvents(debug=False): the last `limit` events that are not debug, oldest first, from
    the database and from an engine without one (its bus)."""
    from types import SimpleNamespace

    from engine.api.models import GetEvents
    from engine.runtime.bus import EventBus
    from engine.runtime.core_commands import get_events
    from engine.store.db import Store

    store = await Store.open(tmp_path / "putdesk.db")
    bus = EventBus()
    try:
        for i in range(6):
            sev = "debug" if i % 2 else "info"
            await store.log_event("order.status", f"e{i}", severity=sev)
            bus.publish("order.status", f"e{i}", severity=sev)

        async def flushed() -> None:
            return None

        for engine in (
            SimpleNamespace(store=store, flush_events=flushed),
            SimpleNamespace(store=None, bus=bus),
        ):
            r = await get_events(engine, GetEvents(limit=2, debug=False))  # type: ignore[arg-type]
            assert [e["message"] for e in r.data["events"]] == ["e2", "e4"]
            r = await get_events(engine, GetEvents(limit=2))  # type: ignore[arg-type]
            assert [e["message"] for e in r.data["events"]] == ["e4", "e5"]
    finally:
        await store.close()
