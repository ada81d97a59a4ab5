"""Pure: the jobs of one session date with their UTC times, from the schedule and the calendar.

No session (weekend, holiday, ad hoc closure): no jobs, and a Reason saying why. Early close:
jobs anchored to the close follow the real close; an intraday job that would fall at or after
an early close is planned with a skip Reason. Every job has a deadline: its time plus
`catch_up_grace_min`, for open-window jobs (Stage 2, tier 1) never later than the open plus
the grace, and for jobs that send orders never later than the close.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from config.models import ExecutionConfig, ScheduleConfig
from engine.domain import Reason
from engine.scheduler.jobs import REGULAR_CLOSE, JobSpec, job_specs

ET = ZoneInfo("America/New_York")
UTC = dt.UTC


class SessionCalendar(Protocol):
    """What the plan needs of engine.market.calendar.MarketCalendar."""

    def is_session(self, d: dt.date) -> bool: ...
    def session_open(self, d: dt.date) -> dt.datetime: ...
    def session_close(self, d: dt.date) -> dt.datetime: ...
    def next_session(self, d: dt.date) -> dt.date: ...


def et_at(d: dt.date, t: dt.time) -> dt.datetime:
    """The ET wall time `t` on date `d`, in UTC (zoneinfo handles DST)."""
    return dt.datetime.combine(d, t, ET).astimezone(UTC)


@dataclass(frozen=True)
class PlannedJob:
    """One job of one session: due at `due`, may still start until `deadline` (UTC)."""

    spec: JobSpec
    session_date: dt.date
    due: dt.datetime
    deadline: dt.datetime
    skip: Reason | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def as_dict(self, local_zone: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job": self.name,
            "label": self.spec.label,
            "session_date": self.session_date.isoformat(),
            "due_utc": self.due.isoformat(),
            "due_et": self.due.astimezone(ET).strftime("%H:%M"),
            "deadline_utc": self.deadline.isoformat(),
            "sends_orders": self.spec.sends_orders,
            "skip_code": self.skip.code if self.skip else None,
            "skip_reason": self.skip.text if self.skip else None,
        }
        if local_zone is not None:
            local = self.due.astimezone(local_zone)
            out["due_local"] = local.strftime("%a %H:%M %Z")
        return out


@dataclass(frozen=True)
class DayPlan:
    """The day's jobs in running order (empty on a day without a session)."""

    session_date: dt.date
    jobs: list[PlannedJob] = field(default_factory=list)
    open: dt.datetime | None = None
    close: dt.datetime | None = None
    early_close: bool = False
    reason: Reason | None = None

    @property
    def is_session(self) -> bool:
        return self.open is not None

    def job(self, name: str) -> PlannedJob | None:
        return next((j for j in self.jobs if j.name == name), None)


def _due(spec: JobSpec, d: dt.date, close: dt.datetime) -> dt.datetime:
    if spec.anchor == "close":
        offset = dt.datetime.combine(d, spec.at) - dt.datetime.combine(d, REGULAR_CLOSE)
        return close + max(offset, dt.timedelta(0))
    return et_at(d, spec.at) + spec.delay


def plan_day(
    d: dt.date,
    schedule: ScheduleConfig,
    execution: ExecutionConfig,
    calendar: SessionCalendar,
) -> DayPlan:
    """The jobs of ET date `d` (none when `d` is not a session)."""
    if not calendar.is_session(d):
        kind = "weekend" if d.weekday() >= 5 else "holiday"
        return DayPlan(
            d,
            reason=Reason(
                f"schedule.{kind}", f"{d.isoformat()} is not an NYSE session ({kind}): no jobs"
            ),
        )
    open_ = calendar.session_open(d)
    close = calendar.session_close(d)
    early = close.astimezone(ET).time() < REGULAR_CLOSE
    grace = dt.timedelta(minutes=schedule.catch_up_grace_min)
    window_end = open_ + grace
    jobs: list[PlannedJob] = []
    for spec in job_specs(schedule, execution):
        due = _due(spec, d, close)
        deadline = due + grace
        if spec.open_window:
            deadline = max(due, min(deadline, window_end))
        if spec.sends_orders or spec.intraday:
            deadline = max(due, min(deadline, close))
        skip = None
        if spec.intraday and due >= close:
            skip = Reason(
                "schedule.after_close",
                f"{spec.label} at {due.astimezone(ET):%H:%M} ET falls after the "
                f"{'early ' if early else ''}close at {close.astimezone(ET):%H:%M} ET",
            )
        jobs.append(PlannedJob(spec, d, due, deadline, skip))
    jobs.sort(key=lambda j: j.due)
    reason = (
        Reason(
            "schedule.early_close",
            f"early close at {close.astimezone(ET):%H:%M} ET: reconcile and Flex sync follow it",
        )
        if early
        else None
    )
    return DayPlan(d, jobs, open_, close, early, reason)


def et_date(t: dt.datetime) -> dt.date:
    return t.astimezone(ET).date()


def next_job_time(
    after: dt.date,
    schedule: ScheduleConfig,
    execution: ExecutionConfig,
    calendar: SessionCalendar,
) -> tuple[DayPlan, dt.datetime]:
    """The first job of the first session after ET date `after` (skipping holidays)."""
    d = calendar.next_session(after)
    plan = plan_day(d, schedule, execution, calendar)
    return plan, plan.jobs[0].due
