"""One execution at a time: while a manual ExecuteNow holds the execution slot, the scheduled
Stage 2 and tier jobs are refused with the reason (nothing sent), and a second ExecuteNow is
refused too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.api.models import ExecuteNow
from engine.scheduler import actions
from engine.scheduler import jobs as J
from tests.scheduler import checks
from tests.scheduler.day import day_config, day_engine, drive, et

DAY = dt.date(2026, 11, 24)


async def test_scheduled_jobs_and_second_execute_refused_while_one_runs(tmp_path: Path) -> None:
    cfg = day_config(tmp_path, nakedtrader=False)
    async with day_engine(cfg, et(DAY, "09:10")) as (eng, clock):
        svc = eng.execution  # type: ignore[attr-defined]
        assert svc.claim("manual execution") is None  # as an ExecuteNow in progress would
        refused = await eng.request(ExecuteNow())
        assert not refused.ok and refused.reason_code == "execution.running"
        assert "manual execution" in (refused.error or "")
        await drive(eng, clock, et(DAY, "09:45"))
        runs = await checks.job_runs(eng, DAY)
        assert runs[J.SCAN]["outcome"] == "ok"  # scanning and staging never send
        assert runs[J.STAGE2]["outcome"] == "refused"
        assert runs[J.STAGE2]["reason_code"] == "execution.running"
        assert "manual execution was running" in runs[J.STAGE2]["reason"]
        assert runs[J.TIER1]["outcome"] == "skipped"  # its prerequisite did not succeed
        plan = {j.name: j for j in eng.scheduler.runner.plan_for(DAY).jobs}  # type: ignore[attr-defined]
        for name, action in ((J.TIER1, actions.tier1), (J.TIER2, actions.tier2)):
            res = await action(eng, plan[name])  # run directly, as a catch-up would
            assert res.outcome == "refused" and res.reason.code == "execution.running", name
        assert checks.book_orders(eng) == []
        svc.release("manual execution")
        assert svc.busy is None
        assert svc.claim("scheduled tier 1") is None  # free again once released
        svc.release("scheduled tier 1")
