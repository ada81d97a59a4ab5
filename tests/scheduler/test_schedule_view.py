"""GetSchedule as the user reads it when no scheduler ran the day (the console's engine, or a
headless engine started late): jobs past their window say "missed", and the next session's
first job shows once nothing of today can still start."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.console import Console

from engine.scheduler import jobs as J
from engine.scheduler.display import render_schedule
from engine.scheduler.service import SchedulerService
from tests.scheduler.day import et
from tests.scheduler.fakes import FakeEngine, open_store

DAY = dt.date(2026, 11, 24)  # a Tuesday; Wednesday 25 is a session, Thursday 26 a holiday


async def test_evening_without_a_scheduler_names_missed_jobs_and_the_next_session(
    tmp_path: Path,
) -> None:
    store = await open_store(tmp_path)
    try:
        eng = FakeEngine(store, et(DAY, "21:16"))
        data = (await SchedulerService(eng).get_schedule(None)).data  # type: ignore[arg-type]
        jobs = {j["job"]: j for j in data["today"]["jobs"]}
        assert jobs[J.SCAN]["missed"] == "not run: its window closed at 09:35 ET"
        assert all(j["missed"] for j in jobs.values())
        assert data["next_session"]["session_date"] == "2026-11-25"
        assert data["next_session"]["jobs"][0]["due_et"] == "09:15"

        con = Console(record=True, width=160)
        render_schedule(data, con)
        text = con.export_text()
        assert "missed" in text and "next session 2026-11-25: scan at 09:15 ET" in text
    finally:
        await store.close()


async def test_during_the_day_jobs_still_ahead_are_pending_not_missed(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        eng = FakeEngine(store, et(DAY, "12:00"))
        data = (await SchedulerService(eng).get_schedule(None)).data  # type: ignore[arg-type]
        jobs = {j["job"]: j for j in data["today"]["jobs"]}
        assert jobs[J.SCAN]["missed"]  # 09:15 + grace has passed
        assert jobs[J.RECONCILE]["missed"] is None  # 16:30 is ahead
        assert "next_session" not in data
    finally:
        await store.close()
