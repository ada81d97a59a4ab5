"""A whole simulated trading day at level C in virtual time (pre-open scan, Stage 2, the open,
tier 2, NakedTrader, the watcher through a gateway restart at 11:00 ET, the close,
reconcile-positions and the nightly Flex sync), on one clock shared by the engine and the
simulated gateway."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.console import Console

from engine.api.models import GetSchedule, GetStatus
from engine.scheduler import jobs as J
from engine.scheduler.display import render_schedule
from tests.scheduler import checks
from tests.scheduler.day import day_config, day_engine, drive, et

DAY = dt.date(2026, 11, 24)  # a regular Tuesday


async def test_whole_trading_day_unattended(tmp_path: Path) -> None:
    cfg = day_config(tmp_path)
    async with day_engine(cfg, et(DAY, "09:05")) as (eng, clock):
        connects_before: list[int] = []

        async def gateway_restart() -> None:
            connects_before.append(eng.session.connects)
            await eng.sim.restart(downtime=0.3)

        await drive(eng, clock, et(DAY, "17:50"), hooks={et(DAY, "11:00"): gateway_restart})

        # every job ran once, at its time, and succeeded
        runs = await checks.job_runs(eng, DAY)
        assert set(runs) == set(J.JOB_NAMES)
        for name, run in runs.items():
            assert run["outcome"] == "ok", (name, run["reason"])
            checks.started_on_time(run)
            assert run["finished_at"] >= run["started_at"]
        started = await checks.job_events(eng, "started")
        assert started == {name: 1 for name in J.JOB_NAMES}

        # the scan staged and approved entries; Stage 2 passed them; orders went out at the open
        assert "approved (level C)" in runs[J.SCAN]["reason"]
        assert eng.store is not None
        lineup = await eng.store.fetchall("SELECT * FROM lineup")
        assert lineup and all(r["approved_at"] or r["status"] != "staged" for r in lineup)
        assert "entries sent at the open" in runs[J.TIER1]["reason"]

        # trades placed and protected by brackets, nothing sent twice
        assert checks.brackets_protect_fills(eng) >= 2
        checks.no_duplicate_orders(eng)
        await checks.sold_per_lineup_at_most_quantity(eng)
        nt = [o for o in checks.book_orders(eng) if o.order.orderRef.startswith("pd-nt-")]
        assert [o.order.action for o in nt if not o.order.parentId] == ["SELL"]

        # the gateway restart: the session came back (recovery ran before READY)
        assert connects_before and eng.session.connects == connects_before[0] + 1

        # after the close: positions reconciled, the day's Flex statement booked
        await eng.flush_events()
        records = await eng.store.fetchall(
            "SELECT message FROM events WHERE kind='records' ORDER BY id"
        )
        assert any(m["message"].startswith("reconcile-positions") for m in records)
        assert any(m["message"].startswith("reconcile-eod") for m in records)
        imports = await eng.store.fetchall("SELECT * FROM flex_imports")
        assert imports

        # GetSchedule shows the day done, with ET and local times, and the next session
        res = await eng.request(GetSchedule())
        assert res.ok and res.data["running"]
        today = res.data["today"]
        assert [j["due_et"] for j in today["jobs"]][:3] == ["09:15", "09:28", "09:30"]
        assert all(j["run"]["outcome"] == "ok" for j in today["jobs"])
        assert all("due_local" in j for j in today["jobs"])
        assert res.data["next_session"]["session_date"] == "2026-11-25"
        assert len(res.data["last_runs"]) == len(J.JOB_NAMES)

        # `putdesk status` shows the same: GetStatus carries the schedule section
        status = await eng.request(GetStatus())
        assert status.ok and status.data["schedule"]["today"]["session_date"] == "2026-11-24"
        con = Console(record=True, width=160)
        render_schedule(status.data["schedule"], con)
        text = con.export_text()
        assert "flex_sync" in text and "17:30" in text and "next session 2026-11-25" in text
