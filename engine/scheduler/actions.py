"""What each scheduled job does inside the engine, through the same handlers and workflows the
console uses, so every guard applies (live data, budget and sector caps in auto-select, the
paper/live guard, the kill switch, "no IBKR = no trade").

Each action returns a JobResult: outcome ok / failed / skipped / refused with its Reason.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from config.models import AutomationLevel
from engine.api.models import (
    Approve,
    GetRegime,
    ReconcileEod,
    ReconcilePositions,
    Result,
    Scan,
)
from engine.domain import Reason
from engine.market.clock import RealClock
from engine.scheduler import jobs as J
from engine.scheduler.plan import PlannedJob
from engine.scheduler.runs import iso


@dataclass
class JobResult:
    outcome: str  # ok | failed | skipped | refused
    reason: Reason
    data: dict[str, Any] = field(default_factory=dict)


Action = Callable[[Any, PlannedJob], Awaitable[JobResult]]


def from_result(res: Result, ok_text: str, **data: Any) -> JobResult:
    """A command Result as a job outcome (exit code 3 = refused by a guard)."""
    if res.ok:
        return JobResult("ok", Reason(res.reason_code or "job.ok", ok_text), data)
    outcome = "refused" if res.exit_code == 3 else "failed"
    return JobResult(
        outcome, Reason(res.reason_code or f"job.{outcome}", res.error or outcome), data
    )


def notice(engine: Any, message: str, code: str, **data: Any) -> None:
    engine.bus.publish("notice", message, code=code, data=data)


# --------------------------------------------------------------------------- scan
async def scan(engine: Any, job: PlannedJob) -> JobResult:
    """Level A: scan only. Level B: scan + auto-select (the lineup waits for the user).
    Level C: scan + auto-select + approve what this scan staged."""
    level = engine.level
    # the regime first: stored with the scan and the day's trades, and read by the guard
    await engine.request(GetRegime())
    res = await engine.request(Scan(auto_select=level != AutomationLevel.A))
    if not res.ok:
        return from_result(res, "")
    scan_row = res.data.get("scan") or {}
    n_cand = sum(1 for c in res.data.get("candidates", []) if c.get("status") == "candidate")
    data: dict[str, Any] = {"scan_id": scan_row.get("id"), "candidates": n_cand}
    if level == AutomationLevel.A:
        notice(
            engine,
            f"scheduled scan {scan_row.get('id')}: {n_cand} candidates ready for review "
            "(level A: stage them yourself)",
            "schedule.scan_ready",
            **data,
        )
        return JobResult("ok", Reason("scan.done", f"{n_cand} candidates for review"), data)
    sel = res.data.get("auto_select") or {}
    if not sel.get("ok"):
        data["auto_select"] = sel.get("error")
        code = sel.get("reason_code") or "auto_select.failed"
        outcome = "refused" if sel.get("exit_code") == 3 else "failed"
        return JobResult(outcome, Reason(code, f"auto-select: {sel.get('error')}"), data)
    added = list((sel.get("data") or {}).get("added") or [])
    skipped = (sel.get("data") or {}).get("skipped") or []
    data.update(added=added, skipped=len(skipped))
    if level == AutomationLevel.B:
        notice(
            engine,
            f"scheduled scan {scan_row.get('id')}: {len(added)} entries in Tonight's Lineup "
            "for your review and approval (level B)",
            "schedule.lineup_ready",
            **data,
        )
        return JobResult(
            "ok", Reason("scan.staged", f"{len(added)} staged for review (level B)"), data
        )
    if not added:
        return JobResult(
            "ok", Reason("scan.nothing_staged", f"{n_cand} candidates, nothing staged"), data
        )
    appr = await engine.request(Approve(lineup_ids=added))
    if not appr.ok:
        return from_result(appr, "", **data)
    approved = list(appr.data.get("approved") or [])
    data["approved"] = approved
    data["approve_refused"] = appr.data.get("refused") or []
    return JobResult(
        "ok",
        Reason(
            "scan.approved",
            f"{n_cand} candidates, {len(added)} staged, {len(approved)} approved (level C)",
        ),
        data,
    )


# --------------------------------------------------------------------------- execution
def _execution(engine: Any) -> Any:
    svc = getattr(engine, "execution", None)
    if svc is None:
        raise RuntimeError("the execution subsystem is not installed")
    return svc


def _exclusive(label: str, body: Callable[[Any, PlannedJob, Any], Awaitable[JobResult]]) -> Action:
    """An execution job that runs only while it holds the execution slot (a manual
    ExecuteNow holding it refuses the job with the reason)."""

    async def run(engine: Any, job: PlannedJob) -> JobResult:
        svc = _execution(engine)
        async with svc.slot(f"scheduled {label}") as holder:
            if holder is not None:
                return JobResult(
                    "refused",
                    Reason(
                        "execution.running",
                        f"{label} not run: {holder} was running (it sends for the same lineup)",
                    ),
                )
            return await body(engine, job, svc.workflow())

    return run


async def _lineup_counts(engine: Any) -> dict[str, int]:
    rows = await engine.store.fetchall(
        "SELECT status, COUNT(*) AS n FROM lineup WHERE account_id IS ? GROUP BY status",
        (engine.account,),
    )
    return {str(r["status"]): int(r["n"]) for r in rows}


async def lineup_max_id(engine: Any) -> int:
    row = await engine.store.fetchone(
        "SELECT COALESCE(MAX(id), 0) AS n FROM lineup WHERE account_id IS ?", (engine.account,)
    )
    return int(row["n"]) if row else 0


async def stale_watermark(engine: Any, job: PlannedJob) -> int | None:
    """The highest lineup id that existed when an earlier session's Stage 2 came up (ran,
    was skipped or refused): approved entries up to it belong to an earlier day. Lineup ids
    only grow, so this holds whatever clock the engine runs on."""
    row = await engine.store.fetchone(
        "SELECT data_json FROM job_runs WHERE account_id IS ? AND job=? AND session_date<? "
        "AND data_json IS NOT NULL ORDER BY session_date DESC LIMIT 1",
        (engine.account, J.STAGE2, job.session_date.isoformat()),
    )
    if row is None:
        return None
    mark = json.loads(row["data_json"]).get("lineup_max_id")
    return None if mark is None else int(mark)


async def expire_stale_lineup(engine: Any, job: PlannedJob) -> list[int]:
    """Approved entries left over from an earlier session are cancelled with a reason, never
    executed: those that existed when the previous session's Stage 2 came up, or (with no
    earlier run recorded, on the real clock) those created before the previous close."""
    cal = engine.calendar
    cutoff = cal.session_close(cal.previous_session(job.session_date))
    mark = await stale_watermark(engine, job)
    rows = await engine.store.fetchall(
        "SELECT id, created_at FROM lineup WHERE account_id IS ? AND status='approved'",
        (engine.account,),
    )
    if mark is not None:
        stale = [int(r["id"]) for r in rows if int(r["id"]) <= mark]
    elif isinstance(engine.clock, RealClock):
        stale = [
            int(r["id"]) for r in rows if dt.datetime.fromisoformat(str(r["created_at"])) < cutoff
        ]
    else:
        stale = []
    if stale:
        now = iso(engine.now())
        text = (
            "approved for an earlier session (before the previous close): a stale lineup is "
            "never executed by the scheduler"
        )
        async with engine.store.transaction() as conn:
            for lid in stale:
                await conn.execute(
                    "UPDATE lineup SET status='cancelled', reason_code=?, reason_text=?, "
                    "updated_at=? WHERE id=? AND status='approved'",
                    ("schedule.stale_lineup", text, now, lid),
                )
        engine.bus.publish(
            "lineup.changed",
            f"{len(stale)} stale approved entries cancelled before Stage 2",
            code="schedule.stale_lineup",
            data={"removed": stale},
        )
    return stale


async def _stage2(engine: Any, job: PlannedJob, wf: Any) -> JobResult:
    why = await wf.guard()
    if why is not None:
        return JobResult("refused", why)
    stale = await expire_stale_lineup(engine, job)
    rep = await wf.recovery.run(wf.now())
    await wf.stage2()
    await wf.rec.flush()
    counts = await _lineup_counts(engine)
    data = {"stale_cancelled": stale, "lineup": counts, "recovery": rep.summary}
    return JobResult(
        "ok",
        Reason(
            "stage2.done",
            f"Stage 2: {counts.get('stage2_ok', 0)} ready, {counts.get('cancelled', 0)} "
            "cancelled today or before",
        ),
        data,
    )


async def _tier1(engine: Any, job: PlannedJob, wf: Any) -> JobResult:
    why = await wf.guard()
    if why is not None:
        return JobResult("refused", why)
    before = {int(r["id"]) for r in await wf.lineup(("stage2_ok",))}
    await wf.tier1()
    await wf.rec.flush()
    after = await engine.store.fetchall(
        "SELECT id, status FROM lineup WHERE account_id IS ?", (engine.account,)
    )
    moved = [r for r in after if int(r["id"]) in before and r["status"] != "stage2_ok"]
    sent = sum(1 for r in moved if r["status"] in ("submitted", "filled", "partial"))
    return JobResult(
        "ok",
        Reason("tier1.done", f"tier 1: {sent} of {len(before)} entries sent at the open"),
        {"sent": sent, "entries": sorted(before), "lineup": await _lineup_counts(engine)},
    )


async def _tier2(engine: Any, job: PlannedJob, wf: Any) -> JobResult:
    why = await wf.guard()
    if why is not None:
        return JobResult("refused", why)
    await wf.tier2_when_due()
    await wf.wait_tier(phase=("repriced", "submitted"))
    await wf.finish()
    counts = await _lineup_counts(engine)
    return JobResult(
        "ok",
        Reason(
            "tier2.done",
            "after tier 2: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "removed"),
        ),
        {"lineup": counts},
    )


stage2 = _exclusive("Stage 2", _stage2)
tier1 = _exclusive("tier 1", _tier1)
tier2 = _exclusive("tier 2", _tier2)


# --------------------------------------------------------------------------- NakedTrader
async def nakedtrader(engine: Any, job: PlannedJob) -> JobResult:
    from engine.nakedtrader.service import scheduled_run

    res = await scheduled_run(engine)
    if res.ok and res.data.get("status") == "skipped":
        return JobResult(
            "skipped", Reason("nakedtrader.disabled", str(res.data.get("reason") or "disabled"))
        )
    status = res.data.get("status")
    return from_result(
        res,
        f"NakedTrader {status}",
        status=status,
        trade_id=res.data.get("trade_id"),
        dry_run=res.data.get("dry_run"),
    )


# --------------------------------------------------------------------------- records
async def reconcile(engine: Any, job: PlannedJob) -> JobResult:
    res = await engine.request(ReconcilePositions())
    return from_result(res, "positions reconciled", **{k: res.data.get(k) for k in res.data})


def flex_configured(engine: Any) -> bool:
    flex = engine.cfg.flex
    sim_flex = getattr(getattr(engine, "sim", None), "flex", None)
    return bool(flex.activity_query_id or flex.trade_confirm_query_id or sim_flex)


async def flex_sync(engine: Any, job: PlannedJob) -> JobResult:
    if not flex_configured(engine):
        return JobResult(
            "skipped",
            Reason(
                "flex.not_configured",
                "no Flex query configured (flex.activity_query_id): nightly sync skipped",
            ),
        )
    res = await engine.request(ReconcileEod(date=job.session_date))
    return from_result(res, f"Flex sync for {job.session_date.isoformat()} done")


ACTIONS: dict[str, Action] = {
    J.SCAN: scan,
    J.STAGE2: stage2,
    J.TIER1: tier1,
    J.TIER2: tier2,
    J.NAKEDTRADER: nakedtrader,
    J.RECONCILE: reconcile,
    J.FLEX_SYNC: flex_sync,
}
