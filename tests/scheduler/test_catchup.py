"""Pure: catch-up rules after downtime, guards, levels and prerequisites."""

from __future__ import annotations

import datetime as dt

from config.models import AutomationLevel, ExecutionConfig, ScheduleConfig
from engine.domain import Reason
from engine.market.calendar import MarketCalendar
from engine.scheduler import jobs as J
from engine.scheduler.catchup import Action, decide
from engine.scheduler.plan import PlannedJob, et_at, plan_day

DAY = dt.date(2026, 11, 24)
PLAN = plan_day(DAY, ScheduleConfig(), ExecutionConfig(), MarketCalendar())
C = AutomationLevel.C
OK_ALL = {name: "ok" for name in J.JOB_NAMES}


def job(name: str) -> PlannedJob:
    j = PLAN.job(name)
    assert j is not None
    return j


def at(hhmm: str) -> dt.datetime:
    h, m = hhmm.split(":")
    return et_at(DAY, dt.time(int(h), int(m)))


def test_waits_before_its_time() -> None:
    action, reason = decide(job(J.SCAN), at("09:00"), level=C, outcomes={})
    assert action == Action.WAIT and reason.code == "schedule.waiting"


def test_runs_on_time() -> None:
    action, reason = decide(job(J.SCAN), at("09:15"), level=C, outcomes={})
    assert action == Action.RUN and reason.code == "schedule.on_time"


def test_caught_up_inside_the_grace() -> None:
    action, reason = decide(job(J.SCAN), at("09:34"), level=C, outcomes={})
    assert action == Action.RUN and reason.code == "schedule.caught_up"
    assert "19 min late" in reason.text


def test_missed_beyond_the_grace() -> None:
    action, reason = decide(job(J.SCAN), at("09:36"), level=C, outcomes={})
    assert action == Action.SKIP and reason.code == "schedule.missed"
    action, reason = decide(job(J.RECONCILE), at("17:00"), level=C, outcomes={})
    assert action == Action.SKIP and "catch-up window" in reason.text


def test_stage2_and_tier1_never_after_the_open_window() -> None:
    # tier 1 at 09:30, grace 20 min: 09:50 still inside, 09:51 never
    assert decide(job(J.TIER1), at("09:50"), level=C, outcomes=OK_ALL)[0] == Action.RUN
    action, reason = decide(job(J.TIER1), at("09:51"), level=C, outcomes=OK_ALL)
    assert action == Action.SKIP and "stale lineup is never executed" in reason.text
    action, reason = decide(job(J.STAGE2), at("09:49"), level=C, outcomes={})
    assert action == Action.SKIP and reason.code == "schedule.missed"


def test_stale_window_holds_even_with_a_long_grace() -> None:
    plan = plan_day(
        DAY, ScheduleConfig(catch_up_grace_min=600), ExecutionConfig(), MarketCalendar()
    )
    tier1 = plan.job(J.TIER1)
    scan = plan.job(J.SCAN)
    assert tier1 and scan
    # open + 10 h grace would reach 19:30, but no order job runs after the close (16:00)
    assert decide(scan, at("12:00"), level=C, outcomes={})[0] == Action.RUN
    assert tier1.deadline == et_at(DAY, dt.time(16, 0))
    assert decide(tier1, at("16:01"), level=C, outcomes=OK_ALL)[0] == Action.SKIP


def test_levels_a_and_b_never_send_orders() -> None:
    for level in (AutomationLevel.A, AutomationLevel.B):
        for name in (J.STAGE2, J.TIER1, J.TIER2, J.NAKEDTRADER):
            action, reason = decide(job(name), job(name).due, level=level, outcomes=OK_ALL)
            assert action == Action.REFUSE and reason.code == "schedule.level", name
            assert f"level {level.value}" in reason.text
        for name in (J.SCAN, J.RECONCILE, J.FLEX_SYNC):
            assert decide(job(name), job(name).due, level=level, outcomes={})[0] == Action.RUN


def test_prerequisite_must_have_succeeded() -> None:
    action, reason = decide(job(J.TIER1), at("09:30"), level=C, outcomes={J.STAGE2: "failed"})
    assert action == Action.SKIP and reason.code == "schedule.prerequisite"
    assert "stage2: failed" in reason.text
    action, _ = decide(job(J.TIER2), at("09:32"), level=C, outcomes={J.TIER1: "ok"})
    assert action == Action.RUN
    action, reason = decide(job(J.TIER2), at("09:32"), level=C, outcomes={})
    assert action == Action.SKIP and "not run" in reason.text


def test_guard_waits_inside_the_window_then_refuses() -> None:
    guard = Reason("guard.halted", "engine halted: kill switch")
    action, reason = decide(job(J.TIER1), at("09:31"), level=C, outcomes=OK_ALL, blocked=guard)
    assert action == Action.WAIT and reason.code == "guard.halted"
    action, reason = decide(
        job(J.TIER1), at("09:51"), level=C, outcomes=OK_ALL, blocked=None, held_back=guard
    )
    assert action == Action.REFUSE and reason.code == "guard.halted"
    assert "kill switch" in reason.text


def test_interrupted_job_resumes_inside_its_window_only() -> None:
    action, reason = decide(job(J.TIER1), at("09:35"), level=C, outcomes=OK_ALL, interrupted=True)
    assert action == Action.RUN and reason.code == "schedule.resumed"
    action, reason = decide(job(J.TIER1), at("10:30"), level=C, outcomes=OK_ALL, interrupted=True)
    assert action == Action.SKIP and "interrupted by a restart" in reason.text


def test_planned_skip_wins() -> None:
    plan = plan_day(
        dt.date(2026, 11, 27),
        ScheduleConfig(nakedtrader_at=dt.time(14, 0)),
        ExecutionConfig(),
        MarketCalendar(),
    )
    nt = plan.job(J.NAKEDTRADER)
    assert nt is not None
    action, reason = decide(nt, nt.due, level=C, outcomes=OK_ALL)
    assert action == Action.SKIP and reason.code == "schedule.after_close"


def test_missed_while_down_is_skipped_even_if_a_guard_says_no_now() -> None:
    syncing = Reason("session.syncing", "re-synchronising with IBKR")
    action, reason = decide(job(J.SCAN), at("11:30"), level=C, outcomes={}, blocked=syncing)
    assert action == Action.SKIP and reason.code == "schedule.missed"
