"""Pure: the day's plan from the schedule and the NYSE calendar (holiday, early close, DST)."""

from __future__ import annotations

import datetime as dt

import pytest

from config.models import ExecutionConfig, ScheduleConfig
from engine.market.calendar import MarketCalendar
from engine.scheduler import jobs as J
from engine.scheduler.plan import ET, et_at, next_job_time, plan_day

CAL = MarketCalendar()
SCHED = ScheduleConfig()
EXEC = ExecutionConfig()


def hm(t: dt.datetime) -> str:
    return t.astimezone(ET).strftime("%H:%M")


def test_regular_day_every_job_at_its_et_time() -> None:
    plan = plan_day(dt.date(2026, 11, 24), SCHED, EXEC, CAL)
    assert plan.is_session and not plan.early_close and plan.reason is None
    times = {j.name: hm(j.due) for j in plan.jobs}
    assert times == {
        J.SCAN: "09:15",
        J.STAGE2: "09:28",
        J.TIER1: "09:30",
        J.TIER2: "09:32",  # tier1 + tier2_wait_s (120 s)
        J.NAKEDTRADER: "09:45",
        J.RECONCILE: "16:30",
        J.FLEX_SYNC: "17:30",
    }
    assert [j.name for j in plan.jobs] == [
        J.SCAN,
        J.STAGE2,
        J.TIER1,
        J.TIER2,
        J.NAKEDTRADER,
        J.RECONCILE,
        J.FLEX_SYNC,
    ]
    # 09:15 ET in November (EST) is 14:15 UTC
    assert plan.job(J.SCAN).due == dt.datetime(2026, 11, 24, 14, 15, tzinfo=dt.UTC)  # type: ignore[union-attr]
    assert all(j.skip is None for j in plan.jobs)


def test_summer_time_shifts_utc_not_et() -> None:
    plan = plan_day(dt.date(2026, 7, 15), SCHED, EXEC, CAL)
    scan = plan.job(J.SCAN)
    assert scan is not None
    assert scan.due == dt.datetime(2026, 7, 15, 13, 15, tzinfo=dt.UTC)  # EDT: UTC-4


@pytest.mark.parametrize("day", [dt.date(2026, 11, 26), dt.date(2026, 12, 25)])
def test_holiday_has_no_jobs(day: dt.date) -> None:
    plan = plan_day(day, SCHED, EXEC, CAL)
    assert not plan.is_session and plan.jobs == []
    assert plan.reason is not None and plan.reason.code == "schedule.holiday"
    assert day.isoformat() in plan.reason.text


def test_weekend_has_no_jobs() -> None:
    plan = plan_day(dt.date(2026, 11, 28), SCHED, EXEC, CAL)
    assert plan.jobs == [] and plan.reason is not None
    assert plan.reason.code == "schedule.weekend"


def test_early_close_moves_nightly_jobs_after_the_real_close() -> None:
    plan = plan_day(dt.date(2026, 11, 27), SCHED, EXEC, CAL)
    assert plan.early_close and plan.close is not None and hm(plan.close) == "13:00"
    assert plan.reason is not None and plan.reason.code == "schedule.early_close"
    times = {j.name: hm(j.due) for j in plan.jobs}
    assert times[J.RECONCILE] == "13:30"  # 30 min after the real close, as on a full day
    assert times[J.FLEX_SYNC] == "14:30"
    assert times[J.STAGE2] == "09:28" and times[J.TIER1] == "09:30"
    for j in plan.jobs:
        if j.name in (J.RECONCILE, J.FLEX_SYNC):
            assert j.due >= plan.close


def test_intraday_job_after_an_early_close_is_planned_skipped() -> None:
    sched = ScheduleConfig(nakedtrader_at=dt.time(14, 0))
    plan = plan_day(dt.date(2026, 11, 27), sched, EXEC, CAL)
    nt = plan.job(J.NAKEDTRADER)
    assert nt is not None and nt.skip is not None
    assert nt.skip.code == "schedule.after_close" and "early close" in nt.skip.text
    full = plan_day(dt.date(2026, 11, 24), sched, EXEC, CAL).job(J.NAKEDTRADER)
    assert full is not None and full.skip is None


def test_open_window_deadlines() -> None:
    plan = plan_day(dt.date(2026, 11, 24), SCHED, EXEC, CAL)
    open_ = plan.open
    assert open_ is not None
    grace = dt.timedelta(minutes=SCHED.catch_up_grace_min)
    stage2, tier1, scan = plan.job(J.STAGE2), plan.job(J.TIER1), plan.job(J.SCAN)
    assert stage2 and tier1 and scan
    assert stage2.deadline == stage2.due + grace  # 09:48 < 09:50
    assert tier1.deadline == open_ + grace  # never after the open window
    assert scan.deadline == scan.due + grace
    late = ScheduleConfig(catch_up_grace_min=120)
    p2 = plan_day(dt.date(2026, 11, 24), late, EXEC, CAL)
    assert p2.job(J.STAGE2).deadline == p2.job(J.STAGE2).due + dt.timedelta(minutes=120)  # type: ignore[union-attr]
    assert p2.job(J.TIER1).deadline == open_ + dt.timedelta(minutes=120)  # type: ignore[union-attr]
    assert p2.job(J.RECONCILE).deadline == p2.job(J.RECONCILE).due + dt.timedelta(minutes=120)  # type: ignore[union-attr]


def test_next_job_skips_thanksgiving() -> None:
    plan, first = next_job_time(dt.date(2026, 11, 25), SCHED, EXEC, CAL)
    assert plan.session_date == dt.date(2026, 11, 27)
    assert first == et_at(dt.date(2026, 11, 27), dt.time(9, 15))
    plan, _ = next_job_time(dt.date(2026, 11, 27), SCHED, EXEC, CAL)
    assert plan.session_date == dt.date(2026, 11, 30)  # over the weekend
