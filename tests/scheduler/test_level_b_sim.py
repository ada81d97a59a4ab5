"""Level B on the simulated gateway: the scheduler scans and fills Tonight's Lineup for review,
tells the user, and sends nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from config.models import AutomationLevel
from engine.scheduler import jobs as J
from tests.scheduler import checks
from tests.scheduler.day import day_config, day_engine, drive, et

DAY = dt.date(2026, 11, 24)


async def test_level_b_stages_for_review_and_sends_nothing(tmp_path: Path) -> None:
    cfg = day_config(tmp_path)
    async with day_engine(cfg, et(DAY, "09:10"), level=AutomationLevel.B) as (eng, clock):
        await drive(eng, clock, et(DAY, "09:50"))
        runs = await checks.job_runs(eng, DAY)
        assert runs[J.SCAN]["outcome"] == "ok"
        assert "staged for review (level B)" in runs[J.SCAN]["reason"]
        for name in (J.STAGE2, J.TIER1, J.TIER2, J.NAKEDTRADER):
            assert runs[name]["outcome"] == "refused", name
            assert runs[name]["reason_code"] == "schedule.level"
        assert eng.store is not None
        lineup = await eng.store.fetchall("SELECT status FROM lineup")
        assert lineup and {r["status"] for r in lineup} == {"staged"}
        assert checks.book_orders(eng) == []
        await eng.flush_events()
        notices = await eng.store.fetchall(
            "SELECT message FROM events WHERE kind='notice' AND code='schedule.lineup_ready'"
        )
        assert len(notices) == 1 and "for your review and approval" in notices[0]["message"]
