"""The scheduler in the engine: `install(engine)` registers GetSchedule and, when the engine
runs headless (`putdesk engine`) with `schedule.enabled`, starts the runner.

GetSchedule answers today's plan (each job's time in UTC, ET and the user's local zone, and
its run so far), the next session's first job when today is done or closed, what the runner is
doing now, and the last job runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from engine.api.models import GetSchedule, GetStatus, Result
from engine.scheduler.plan import ET, DayPlan, et_date, next_job_time
from engine.scheduler.runner import SchedulerRunner
from engine.scheduler.runs import JobRun, JobRunRepo

log = logging.getLogger(__name__)


def local_zone(engine: Any) -> Any:
    """The user's zone for display: console.local_timezone, else the system's."""
    name = engine.cfg.console.local_timezone
    if name:
        return ZoneInfo(name)
    return dt.datetime.now().astimezone().tzinfo


def wants_runner(engine: Any) -> bool:
    """Headless engines run the schedule; the console's in-process engine does not, unless
    EngineOptions.extra["scheduler"] says so."""
    extra = getattr(engine.options, "extra", {}) or {}
    if "scheduler" in extra:
        return bool(extra["scheduler"])
    return bool(extra.get("headless")) and bool(engine.cfg.schedule.enabled)


def day_view(
    plan: DayPlan, runs: dict[str, JobRun], zone: Any, now: dt.datetime | None = None
) -> dict[str, Any]:
    """One session's plan as data; with `now`, a job that never started and can no longer
    start (its deadline passed) says so in "missed"."""
    jobs = []
    for j in plan.jobs:
        row = j.as_dict(zone)
        run = runs.get(j.name)
        row["run"] = run.as_dict() if run else None
        row["missed"] = None
        if run is None and j.skip is None and now is not None and now >= j.deadline:
            row["missed"] = (
                f"not run: its window closed at {j.deadline.astimezone(ET).strftime('%H:%M')} ET"
            )
        jobs.append(row)
    return {
        "session_date": plan.session_date.isoformat(),
        "is_session": plan.is_session,
        "reason_code": plan.reason.code if plan.reason else None,
        "reason": plan.reason.text if plan.reason else None,
        "open_et": plan.open.astimezone(ET).strftime("%H:%M") if plan.open else None,
        "close_et": plan.close.astimezone(ET).strftime("%H:%M") if plan.close else None,
        "early_close": plan.early_close,
        "jobs": jobs,
    }


class SchedulerService:
    def __init__(self, engine: Any):
        self.engine = engine
        self.runner = SchedulerRunner(engine)

    async def get_schedule(self, _cmd: GetSchedule) -> Result:
        e = self.engine
        now = e.now()
        zone = local_zone(e)
        today = self.runner.plan_for(et_date(now))
        repo = JobRunRepo(e.store, e.account) if e.store is not None else None
        runs = await repo.for_day(today.session_date) if repo else {}
        data: dict[str, Any] = {
            "enabled": bool(e.cfg.schedule.enabled),
            "running": self.runner.running,
            "level": e.level.value,
            "catch_up_grace_min": e.cfg.schedule.catch_up_grace_min,
            "now_utc": now.isoformat(),
            "now_et": now.astimezone(ET).strftime("%Y-%m-%d %H:%M %Z"),
            "now_local": now.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
            "local_zone": str(zone),
            "today": day_view(today, runs, zone, now),
            "current": self.runner.current.name if self.runner.current else None,
            "next_wake": self.runner.next_wake.isoformat() if self.runner.next_wake else None,
            "waiting_on": self.runner.waiting_on.text if self.runner.waiting_on else None,
            "error": self.runner.error,
            "last_runs": [r.as_dict() for r in await repo.recent(20)] if repo else [],
        }
        # the next session once nothing of today is left: each job finished, or never started
        # and past the deadline it may start by (missed when no scheduler ran it)
        pending = [
            j
            for j in today.jobs
            if not (j.name in runs and runs[j.name].finished)
            and (j.name in runs or now < j.deadline)
        ]
        if not pending:
            nxt, _first = next_job_time(
                today.session_date, e.cfg.schedule, e.cfg.execution, e.calendar
            )
            data["next_session"] = day_view(nxt, {}, zone)
        return Result.success(**data)


def add_schedule_to_status(engine: Any, svc: SchedulerService) -> None:
    """GetStatus answers carry a "schedule" section (the GetSchedule data), so `putdesk
    status` shows today's jobs and the last runs beside the connection and the budget."""
    handlers = getattr(engine.registry, "_handlers", {})
    original = handlers.get(GetStatus)
    if original is None:
        return

    async def status_with_schedule(cmd: GetStatus) -> Result:
        res: Result = await original(cmd)
        if res.ok:
            try:
                sched = await svc.get_schedule(GetSchedule())
            except Exception as exc:  # the status must never fail because of the schedule
                log.exception("schedule for status failed")
                res.data["schedule"] = {"error": f"{type(exc).__name__}: {exc}"}
            else:
                res.data["schedule"] = sched.data
        return res

    engine.registry.replace(GetStatus, status_with_schedule)


def install(engine: Any) -> SchedulerService:
    """Register GetSchedule (and the schedule section of GetStatus); start the runner when
    the engine runs headless."""
    import asyncio

    svc = SchedulerService(engine)
    engine.registry.register(GetSchedule, svc.get_schedule)
    add_schedule_to_status(engine, svc)
    engine.scheduler = svc
    engine.on_stop.append(svc.runner.stop)
    if wants_runner(engine):
        try:
            asyncio.get_running_loop()
        except RuntimeError:

            async def start_on_connect() -> None:
                svc.runner.start()

            engine.session.add_resubscriber("scheduler.start", start_on_connect)
        else:
            svc.runner.start()
    return svc
