"""The job_runs table: one row per (account, job, session date), written when a job starts and
completed when it ends (outcome ok / failed / skipped / refused, with its reason)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from engine.domain import Reason
from engine.store.db import Store, to_json

OUTCOMES = ("ok", "failed", "skipped", "refused")


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class JobRun:
    job: str
    session_date: str
    scheduled_for: str
    started_at: str | None
    finished_at: str | None
    outcome: str
    reason_code: str | None
    reason: str | None
    data: str | None = None

    @property
    def finished(self) -> bool:
        return self.outcome in OUTCOMES

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "session_date": self.session_date,
            "scheduled_for": self.scheduled_for,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": self.outcome,
            "reason_code": self.reason_code,
            "reason": self.reason,
        }


def _run(row: dict[str, Any]) -> JobRun:
    return JobRun(
        job=row["job"],
        session_date=row["session_date"],
        scheduled_for=row["scheduled_for"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        outcome=row["outcome"],
        reason_code=row.get("reason_code"),
        reason=row.get("reason"),
        data=row.get("data_json"),
    )


class JobRunRepo:
    def __init__(self, store: Store, account_id: str | None):
        self.store = store
        self.account_id = account_id

    async def for_day(self, session_date: dt.date) -> dict[str, JobRun]:
        rows = await self.store.fetchall(
            "SELECT * FROM job_runs WHERE account_id IS ? AND session_date=? ORDER BY id",
            (self.account_id, session_date.isoformat()),
        )
        return {r["job"]: _run(r) for r in rows}

    async def recent(self, limit: int = 20) -> list[JobRun]:
        rows = await self.store.fetchall(
            "SELECT * FROM job_runs WHERE account_id IS ? "
            "ORDER BY COALESCE(finished_at, started_at, scheduled_for) DESC, id DESC LIMIT ?",
            (self.account_id, limit),
        )
        return [_run(r) for r in rows]

    async def start(
        self, job: str, session_date: dt.date, scheduled_for: dt.datetime, now: dt.datetime
    ) -> None:
        async with self.store.transaction() as conn:
            await conn.execute(
                "INSERT INTO job_runs(account_id, job, session_date, scheduled_for, started_at, "
                "outcome) VALUES (?,?,?,?,?,'running') ON CONFLICT(account_id, job, "
                "session_date) DO UPDATE SET started_at=excluded.started_at, "
                "finished_at=NULL, outcome='running'",
                (self.account_id, job, session_date.isoformat(), iso(scheduled_for), iso(now)),
            )

    async def finish(
        self,
        job: str,
        session_date: dt.date,
        scheduled_for: dt.datetime,
        now: dt.datetime,
        outcome: str,
        reason: Reason,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Record the end (or a skip/refusal, which starts and ends at once)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        stamp = iso(now)
        async with self.store.transaction() as conn:
            await conn.execute(
                "INSERT INTO job_runs(account_id, job, session_date, scheduled_for, started_at, "
                "finished_at, outcome, reason, reason_code, data_json) "
                "VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(account_id, job, session_date) DO "
                "UPDATE SET finished_at=excluded.finished_at, outcome=excluded.outcome, "
                "reason=excluded.reason, reason_code=excluded.reason_code, "
                "data_json=excluded.data_json",
                (
                    self.account_id,
                    job,
                    session_date.isoformat(),
                    iso(scheduled_for),
                    stamp,
                    stamp,
                    outcome,
                    reason.text,
                    reason.code,
                    to_json(data) if data else None,
                ),
            )
