"""Thanksgiving (2026-11-26, no session: no job runs) and the early close the day after
(2026-11-27, 13:00 ET: reconcile and Flex sync follow the real close), in virtual time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from engine.api.models import GetSchedule
from engine.scheduler import jobs as J
from tests.scheduler import checks
from tests.scheduler.day import day_config, day_engine, drive, et

HOLIDAY = dt.date(2026, 11, 26)
EARLY = dt.date(2026, 11, 27)


async def test_holiday_then_early_close(tmp_path: Path) -> None:
    cfg = day_config(tmp_path)
    async with day_engine(cfg, et(HOLIDAY, "08:00")) as (eng, clock):
        seen: dict[str, Any] = {}

        async def look() -> None:
            seen["holiday"] = (await eng.request(GetSchedule())).data

        await drive(
            eng,
            clock,
            et(EARLY, "14:50"),
            hooks={et(HOLIDAY, "12:00"): look},
            max_jump=dt.timedelta(minutes=30),
        )
        assert await checks.job_runs(eng, HOLIDAY) == {}
        hol = seen["holiday"]
        assert not hol["today"]["is_session"] and hol["today"]["jobs"] == []
        assert hol["today"]["reason_code"] == "schedule.holiday"
        nxt = hol["next_session"]
        assert nxt["session_date"] == EARLY.isoformat() and nxt["early_close"]
        assert nxt["close_et"] == "13:00"
        assert {j["job"]: j["due_et"] for j in nxt["jobs"]}[J.RECONCILE] == "13:30"

        runs = await checks.job_runs(eng, EARLY)
        assert set(runs) == set(J.JOB_NAMES)
        for name, run in runs.items():
            assert run["outcome"] == "ok", (name, run["reason"])
            checks.started_on_time(run)
        close = et(EARLY, "13:00")
        assert dt.datetime.fromisoformat(runs[J.RECONCILE]["scheduled_for"]) == et(EARLY, "13:30")
        assert dt.datetime.fromisoformat(runs[J.FLEX_SYNC]["scheduled_for"]) == et(EARLY, "14:30")
        assert dt.datetime.fromisoformat(runs[J.RECONCILE]["started_at"]) > close
        checks.no_duplicate_orders(eng)
        assert checks.brackets_protect_fills(eng) >= 1
