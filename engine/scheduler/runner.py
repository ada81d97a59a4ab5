"""The scheduler loop: on the engine clock (real, scaled or stepped), runs each day's jobs at
their time, one after the other, and records every run in job_runs and as a "job" event.

On start (and every time it wakes) it reads today's job_runs, so after a restart each job
either already ran, is caught up inside its window, or is skipped with a Reason
(engine.scheduler.catchup). Nothing runs twice in one session date: the (account, job, date)
row is written before the job starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from engine.domain import Reason
from engine.market.clock import sleep_until
from engine.scheduler.actions import ACTIONS, Action, JobResult, lineup_max_id
from engine.scheduler.catchup import Action as Decision
from engine.scheduler.catchup import decide
from engine.scheduler.jobs import STAGE2
from engine.scheduler.plan import DayPlan, PlannedJob, et_date, next_job_time, plan_day
from engine.scheduler.runs import JobRunRepo, iso

log = logging.getLogger(__name__)

#: While a guard holds a due job back, look again this often (virtual seconds).
RETRY = dt.timedelta(seconds=15)


class SchedulerRunner:
    """Runs the engine's daily jobs. `start()` / `await stop()`; state for GetSchedule."""

    def __init__(
        self,
        engine: Any,
        *,
        actions: Mapping[str, Action] | None = None,
        poll_s: float = 0.05,
    ) -> None:
        self.engine = engine
        self.actions = dict(actions or ACTIONS)
        self.poll_s = poll_s
        self.task: asyncio.Task[None] | None = None
        self.current: PlannedJob | None = None
        self.next_wake: dt.datetime | None = None
        self.waiting_on: Reason | None = None
        self.plan: DayPlan | None = None
        self.error: str | None = None
        self._held: dict[tuple[str, dt.date], Reason] = {}
        self._wake = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run_forever(), name="putdesk-scheduler")

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    @property
    def busy(self) -> bool:
        """A job is executing right now."""
        return self.current is not None

    def nudge(self) -> None:
        """Re-evaluate now (after a clock jump or a state change)."""
        self._wake.set()

    # -- parts -------------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        t: dt.datetime = self.engine.clock.now()
        return t

    @property
    def repo(self) -> JobRunRepo:
        if self.engine.store is None:
            raise RuntimeError("the engine's store is not open")
        return JobRunRepo(self.engine.store, self.engine.account)

    def plan_for(self, d: dt.date) -> DayPlan:
        cfg = self.engine.cfg
        return plan_day(d, cfg.schedule, cfg.execution, self.engine.calendar)

    def blocked(self, job: PlannedJob) -> Reason | None:
        """The guard that holds `job` back now, or None."""
        session = self.engine.session
        guard = job.spec.guard
        if guard == "connected" and not session.connected:
            return Reason("ibkr.disconnected", "not connected to IBKR")
        if guard == "data":
            ok, why = session.data_allowed()
            return None if ok else why
        if guard == "trading":
            ok, why = session.trading_allowed()
            if not ok:
                return why
            halted = getattr(self.engine, "halted", None)
            return halted if isinstance(halted, Reason) else None
        return None

    def publish(
        self, job: PlannedJob, phase: str, message: str, reason: Reason, **data: Any
    ) -> None:
        outcome = data.get("outcome")
        severity = "info"
        if outcome == "failed":
            severity = "error"
        elif outcome in ("refused", "skipped") and job.spec.sends_orders:
            severity = "warning"
        self.engine.bus.publish(
            "job",
            message,
            severity=severity,
            code=reason.code,
            data={
                "job": job.name,
                "phase": phase,
                "session_date": job.session_date.isoformat(),
                "scheduled_for": iso(job.due),
                "at": iso(self.now()),
                **data,
            },
        )

    # -- one pass ----------------------------------------------------------------------------
    async def step(self) -> dt.datetime:
        """Handle every job that can be handled now; returns when to look again."""
        while True:
            now = self.now()
            plan = self.plan_for(et_date(now))
            self.plan = plan
            runs = await self.repo.for_day(plan.session_date)
            outcomes = {k: r.outcome for k, r in runs.items() if r.finished}
            progressed = False
            for job in plan.jobs:
                run = runs.get(job.name)
                if run is not None and run.finished:
                    continue
                key = (job.name, job.session_date)
                blocked = self.blocked(job) if now >= job.due else None
                action, reason = decide(
                    job,
                    now,
                    level=self.engine.level,
                    outcomes=outcomes,
                    blocked=blocked,
                    held_back=self._held.get(key),
                    interrupted=run is not None,
                )
                if action == Decision.WAIT:
                    self.waiting_on = reason if blocked is not None else None
                    if blocked is not None:
                        self._held[key] = blocked
                        return min(now + RETRY, job.deadline + dt.timedelta(seconds=1))
                    return job.due
                self.waiting_on = None
                if action == Decision.RUN:
                    await self.execute(job, reason)
                else:
                    await self.record(job, action.value, reason)
                self._held.pop(key, None)
                progressed = True
                break
            if progressed:
                continue
            nxt_plan, nxt = next_job_time(
                plan.session_date,
                self.engine.cfg.schedule,
                self.engine.cfg.execution,
                self.engine.calendar,
            )
            del nxt_plan
            return nxt

    async def marks(self, job: PlannedJob) -> dict[str, Any]:
        """What a run keeps for later runs: Stage 2 notes the newest lineup id it came up to
        (the next session's Stage 2 treats approved entries up to it as stale)."""
        if job.name != STAGE2 or self.engine.store is None:
            return {}
        return {"lineup_max_id": await lineup_max_id(self.engine)}

    async def record(self, job: PlannedJob, outcome: str, reason: Reason) -> None:
        now = self.now()
        await self.repo.finish(
            job.name, job.session_date, job.due, now, outcome, reason, await self.marks(job)
        )
        self.publish(
            job, "finished", f"job {job.name} {outcome}: {reason.text}", reason, outcome=outcome
        )

    async def execute(self, job: PlannedJob, why: Reason) -> JobResult:
        repo = self.repo
        await repo.start(job.name, job.session_date, job.due, self.now())
        self.publish(job, "started", f"job {job.name} started: {why.text}", why)
        self.current = job
        marks = await self.marks(job)
        try:
            result = await self.actions[job.name](self.engine, job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("job %s failed", job.name)
            reason = getattr(exc, "reason", None)
            if not isinstance(reason, Reason):
                reason = Reason("job.error", f"{type(exc).__name__}: {exc}")
            result = JobResult("failed", reason)
        finally:
            self.current = None
        await repo.finish(
            job.name,
            job.session_date,
            job.due,
            self.now(),
            result.outcome,
            result.reason,
            {**result.data, **marks},
        )
        self.publish(
            job,
            "finished",
            f"job {job.name} {result.outcome}: {result.reason.text}",
            result.reason,
            outcome=result.outcome,
            started_reason=why.text,
        )
        return result

    # -- the loop ----------------------------------------------------------------------------
    async def run_forever(self) -> None:
        # job runs are kept per account: wait for the store and for the account (configured,
        # or confirmed by IBKR on the first connection)
        while self.engine.store is None or self.engine.account is None:
            await asyncio.sleep(self.poll_s)
        self.engine.bus.publish(
            "job",
            f"scheduler running (level {self.engine.level.value})",
            code="schedule.started",
            data={"phase": "scheduler", "level": self.engine.level.value},
        )
        while True:
            try:
                wake = await self.step()
                self.error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("scheduler pass failed")
                self.error = f"{type(exc).__name__}: {exc}"
                wake = self.now() + RETRY
            self.next_wake = wake
            await self._sleep_until(wake)

    async def _sleep_until(self, wake: dt.datetime) -> None:
        self._wake.clear()
        sleeper = asyncio.create_task(sleep_until(self.engine.clock, wake, poll=self.poll_s))
        waker = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sleeper, waker):
                t.cancel()
            for t in (sleeper, waker):
                with contextlib.suppress(asyncio.CancelledError):
                    await t
