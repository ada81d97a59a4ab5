"""The runner on a stepped clock with recording actions: times, records, catch-up after a
restart, guards, levels, failures; nothing runs twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from config.models import AutomationLevel
from engine.domain import Reason
from engine.scheduler import jobs as J
from engine.scheduler.runner import SchedulerRunner
from engine.scheduler.runs import JobRunRepo
from engine.store.db import Store
from tests.scheduler.day import et
from tests.scheduler.fakes import Calls, FakeEngine, open_store, walk

DAY = dt.date(2026, 11, 24)


@asynccontextmanager
async def running(
    store: Store, start: dt.datetime, calls: Calls, level: AutomationLevel = AutomationLevel.C
) -> AsyncIterator[tuple[FakeEngine, SchedulerRunner]]:
    eng = FakeEngine(store, start, level)
    runner = SchedulerRunner(eng, actions=calls.actions(), poll_s=0.01)
    runner.start()
    try:
        yield eng, runner
    finally:
        await runner.stop()


async def outcomes(store: Store, day: dt.date = DAY) -> dict[str, tuple[str, str | None]]:
    runs = await JobRunRepo(store, "DU1234567").for_day(day)
    return {k: (r.outcome, r.reason_code) for k, r in runs.items()}


async def test_each_job_once_at_its_time_and_not_again_after_restart(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    calls = Calls()
    async with running(store, et(DAY, "08:00"), calls) as (eng, runner):
        events = eng.bus.subscribe()
        await walk(eng, runner, et(DAY, "18:00"))
    assert calls.names() == [
        J.SCAN,
        J.STAGE2,
        J.TIER1,
        J.TIER2,
        J.NAKEDTRADER,
        J.RECONCILE,
        J.FLEX_SYNC,
    ]
    times = {n: t for n, t in calls.calls}
    assert times[J.SCAN] == et(DAY, "09:15") and times[J.RECONCILE] == et(DAY, "16:30")
    assert times[J.TIER2] == et(DAY, "09:32")
    assert all(v == ("ok", f"{k}.ok") for k, v in (await outcomes(store)).items())
    kinds = []
    while not events._queue.empty():
        ev = events._queue.get_nowait()
        assert ev is not None
        if ev.kind == "job" and ev.data.get("phase") in ("started", "finished"):
            kinds.append((ev.data["job"], ev.data["phase"]))
    assert kinds.count((J.SCAN, "started")) == 1 and kinds.count((J.SCAN, "finished")) == 1
    # the engine restarts the same evening: nothing runs again
    again = Calls()
    async with running(store, et(DAY, "18:05"), again) as (eng, runner):
        await walk(eng, runner, et(DAY, "23:00"))
    assert again.calls == []
    await store.close()


async def test_downtime_catch_up_inside_the_grace_skip_beyond(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    calls = Calls()
    async with running(store, et(DAY, "09:40"), calls) as (eng, runner):
        await walk(eng, runner, et(DAY, "10:00"))
    got = await outcomes(store)
    assert got[J.SCAN] == ("skipped", "schedule.missed")  # 09:15 + 20 min < 09:40
    assert calls.names() == [J.STAGE2, J.TIER1, J.TIER2, J.NAKEDTRADER]  # inside their windows
    assert got[J.STAGE2] == ("ok", "stage2.ok")
    await store.close()


async def test_after_the_open_window_no_execution(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    calls = Calls()
    async with running(store, et(DAY, "09:55"), calls) as (eng, runner):
        await walk(eng, runner, et(DAY, "10:00"))
    got = await outcomes(store)
    assert got[J.STAGE2] == ("skipped", "schedule.missed")
    assert got[J.TIER1][0] == "skipped" and got[J.TIER2][0] == "skipped"
    assert got[J.TIER2][1] == "schedule.prerequisite"
    runs = await JobRunRepo(store, "DU1234567").for_day(DAY)
    assert "stale lineup is never executed" in (runs[J.STAGE2].reason or "")
    assert calls.names() == [J.NAKEDTRADER]  # 09:45 + 20 min: still inside its window
    await store.close()


async def test_interrupted_job_resumes_once(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    repo = JobRunRepo(store, "DU1234567")
    for name in (J.SCAN, J.STAGE2):
        await repo.finish(name, DAY, et(DAY, "09:15"), et(DAY, "09:16"), "ok", Reason("x", "x"))
    await repo.start(J.TIER1, DAY, et(DAY, "09:30"), et(DAY, "09:30"))  # then the crash
    calls = Calls()
    async with running(store, et(DAY, "09:36"), calls) as (eng, runner):
        await walk(eng, runner, et(DAY, "09:40"))
    assert calls.names() == [J.TIER1, J.TIER2]
    assert (await outcomes(store))[J.TIER1] == ("ok", "tier1.ok")
    await store.close()


async def test_guard_holds_then_refuses_with_its_reason(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    calls = Calls()
    async with running(store, et(DAY, "09:20"), calls) as (eng, runner):
        eng.session.trading = Reason("guard.halted", "engine halted: kill switch")
        await walk(eng, runner, et(DAY, "09:40"))
        assert runner.waiting_on is not None and "kill switch" in runner.waiting_on.text
        await walk(eng, runner, et(DAY, "09:52"))
        eng.session.trading = None
        await walk(eng, runner, et(DAY, "10:10"))
    got = await outcomes(store)
    assert got[J.STAGE2] == ("refused", "guard.halted")
    assert got[J.TIER1] == ("skipped", "schedule.prerequisite")
    assert J.STAGE2 not in calls.names() and J.TIER1 not in calls.names()
    assert J.NAKEDTRADER in calls.names()  # the halt was lifted inside its window
    await store.close()


async def test_levels_a_and_b_run_only_data_jobs(tmp_path: Path) -> None:
    for level in (AutomationLevel.A, AutomationLevel.B):
        store = await open_store(tmp_path / level.value)
        calls = Calls()
        async with running(store, et(DAY, "09:00"), calls, level) as (eng, runner):
            await walk(eng, runner, et(DAY, "18:00"))
        assert calls.names() == [J.SCAN, J.RECONCILE, J.FLEX_SYNC]
        got = await outcomes(store)
        for name in (J.STAGE2, J.TIER1, J.TIER2, J.NAKEDTRADER):
            assert got[name] == ("refused", "schedule.level"), name
        await store.close()


async def test_a_failing_job_is_recorded_and_the_day_goes_on(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    calls = Calls()
    calls.results[J.SCAN] = RuntimeError("scanner exploded")
    async with running(store, et(DAY, "09:00"), calls) as (eng, runner):
        await walk(eng, runner, et(DAY, "09:35"))
    got = await outcomes(store)
    assert got[J.SCAN] == ("failed", "job.error")
    runs = await JobRunRepo(store, "DU1234567").for_day(DAY)
    assert "scanner exploded" in (runs[J.SCAN].reason or "")
    assert got[J.TIER1] == ("ok", "tier1.ok")
    await store.close()


async def test_holiday_and_weekend_have_no_runs(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    calls = Calls()
    async with running(store, et(dt.date(2026, 11, 26), "08:00"), calls) as (eng, runner):
        await walk(eng, runner, et(dt.date(2026, 11, 26), "23:00"))
        assert runner.next_wake == et(dt.date(2026, 11, 27), "09:15")
    assert calls.calls == []
    assert await outcomes(store, dt.date(2026, 11, 26)) == {}
    await store.close()


async def test_stale_lineup_from_an_earlier_session_is_cancelled(tmp_path: Path) -> None:
    from engine.scheduler.actions import expire_stale_lineup
    from engine.scheduler.plan import plan_day

    store = await open_store(tmp_path)
    eng = FakeEngine(store, et(DAY, "09:28"))
    repo = JobRunRepo(store, "DU1234567")
    prev = dt.date(2026, 11, 23)
    stamp = "2026-11-23T14:00:00+00:00"
    for _ in range(3):
        await store.insert(
            "lineup",
            {
                "account_id": "DU1234567",
                "symbol": "AAPL",
                "expiry": "20261204",
                "strike": "210",
                "quantity": 1,
                "status": "approved",
                "created_at": stamp,
                "updated_at": stamp,
            },
        )
    # yesterday's Stage 2 came up when entries 1 and 2 existed (and was refused)
    await repo.finish(
        J.STAGE2,
        prev,
        et(prev, "09:28"),
        et(prev, "09:28"),
        "refused",
        Reason("guard.halted", "halted"),
        {"lineup_max_id": 2},
    )
    job = plan_day(DAY, eng.cfg.schedule, eng.cfg.execution, eng.calendar).job(J.STAGE2)
    assert job is not None
    assert await expire_stale_lineup(eng, job) == [1, 2]
    rows = await store.fetchall("SELECT id, status, reason_code FROM lineup ORDER BY id")
    assert [(r["status"], r["reason_code"]) for r in rows] == [
        ("cancelled", "schedule.stale_lineup"),
        ("cancelled", "schedule.stale_lineup"),
        ("approved", None),
    ]
    await store.close()
