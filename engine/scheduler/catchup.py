"""Pure: what to do with one planned job now — run it, wait, skip it or refuse it — and why.

Rules, in order:
1. a job planned with a skip Reason (after an early close) is skipped;
2. before its time it waits;
3. at levels A and B a job that sends orders is refused: only the user sends orders there;
4. a job whose prerequisite did not succeed today is skipped (tier 1 needs Stage 2, tier 2
   needs tier 1);
5. after its deadline it is refused when a guard held it back inside its window (not
   connected, no live data, halted, live account without --live), else skipped as missed
   (the engine was not running, or came up too late). Open-window jobs (Stage 2,
   tier 1) have a deadline no later than the open + `catch_up_grace_min`: a stale lineup is
   never executed after the open window;
6. inside its window, while a guard says no, it waits for the guard;
7. otherwise it runs, on time or "caught up" with how late it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from zoneinfo import ZoneInfo

from config.models import AutomationLevel
from engine.domain import Reason
from engine.scheduler.jobs import level_allows
from engine.scheduler.plan import PlannedJob

ET = ZoneInfo("America/New_York")


class Action(StrEnum):
    RUN = "run"
    WAIT = "wait"
    SKIP = "skipped"
    REFUSE = "refused"


def _hm(t: dt.datetime) -> str:
    return t.astimezone(ET).strftime("%H:%M ET")


def _minutes(delta: dt.timedelta) -> str:
    m = delta.total_seconds() / 60
    return f"{m:.0f} min" if m >= 1 else f"{delta.total_seconds():.0f} s"


def decide(
    job: PlannedJob,
    now: dt.datetime,
    *,
    level: AutomationLevel,
    outcomes: Mapping[str, str],
    blocked: Reason | None = None,
    held_back: Reason | None = None,
    interrupted: bool = False,
) -> tuple[Action, Reason]:
    """The action for `job` at `now`.

    outcomes: today's finished outcomes by job name ("ok", "failed", "skipped", "refused").
    blocked: the guard that says no right now (None when the job may start).
    held_back: a guard that held this job back earlier in its window.
    interrupted: the job started earlier today and never finished (the engine went down).
    """
    spec = job.spec
    if job.skip is not None:
        return Action.SKIP, job.skip
    if now < job.due:
        return Action.WAIT, Reason("schedule.waiting", f"{spec.label} due at {_hm(job.due)}")
    if not level_allows(spec, level):
        return Action.REFUSE, Reason(
            "schedule.level",
            f"level {level.value}: {spec.label} sends orders, and at levels A and B only the "
            "user sends orders",
        )
    if spec.after is not None and outcomes.get(spec.after) != "ok":
        got = outcomes.get(spec.after, "not run")
        return Action.SKIP, Reason(
            "schedule.prerequisite",
            f"{spec.label} needs {spec.after} to have succeeded today ({spec.after}: {got})",
        )
    if now > job.deadline:
        late = now - job.due
        if held_back is not None:
            return Action.REFUSE, Reason(
                held_back.code,
                f"{spec.label} not run by {_hm(job.deadline)}: {held_back.text}",
            )
        if spec.open_window:
            text = (
                f"{spec.label} missed ({_minutes(late)} late): the open window closed at "
                f"{_hm(job.deadline)}, and a stale lineup is never executed after it"
            )
        else:
            text = (
                f"{spec.label} missed ({_minutes(late)} late): beyond its catch-up window "
                f"(until {_hm(job.deadline)})"
            )
        if interrupted:
            text += "; it had been interrupted by a restart"
        return Action.SKIP, Reason("schedule.missed", text)
    if blocked is not None:
        return Action.WAIT, Reason(blocked.code, f"{spec.label} waiting: {blocked.text}")
    late = now - job.due
    if interrupted:
        return Action.RUN, Reason(
            "schedule.resumed",
            f"{spec.label} resumed after a restart ({_minutes(late)} after its time)",
        )
    if late > dt.timedelta(minutes=1):
        return Action.RUN, Reason(
            "schedule.caught_up", f"{spec.label} caught up {_minutes(late)} late"
        )
    return Action.RUN, Reason("schedule.on_time", f"{spec.label} at {_hm(job.due)}")
