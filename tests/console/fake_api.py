"""A fake EngineAPI for console tests: realistic Result.data shapes (docs/console.md), no I/O.

State changes the way the engine's would (scan -> candidates, auto-select -> lineup, approve,
kill -> halted) and each change is also published as an Event on `events()`.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError

from config.models import PutdeskConfig
from engine.api.models import (
    Approve,
    AutoSelect,
    ClearLineup,
    Cmd,
    Event,
    ExecuteNow,
    GetEvents,
    GetLineup,
    GetOrders,
    GetPositions,
    GetRegime,
    GetScan,
    GetSettings,
    GetStatus,
    Kill,
    NtRun,
    NtStatus,
    ProtectPositions,
    Result,
    Resume,
    SaveSettings,
    Scan,
    SetQuantity,
    Stage,
    Unstage,
)

UTC = dt.UTC
#: 09:25 ET on Tuesday 2026-11-24 = 14:25 UTC: five minutes before the open.
FROZEN_NOW = dt.datetime(2026, 11, 24, 14, 25, 0, tzinfo=UTC)
NEXT_OPEN = dt.datetime(2026, 11, 24, 14, 30, 0, tzinfo=UTC)
NEXT_CLOSE = dt.datetime(2026, 11, 24, 21, 0, 0, tzinfo=UTC)

UNIVERSE: list[tuple[str, str, float, float, float]] = [
    # symbol, sector, underlying price, strike, bid
    ("AAPL", "Technology", 228.40, 205.0, 0.62),
    ("MSFT", "Technology", 421.10, 375.0, 1.05),
    ("NVDA", "Technology", 141.25, 125.0, 0.88),
    ("AMZN", "Consumer Cyclical", 201.30, 180.0, 0.71),
    ("JPM", "Financial", 238.90, 215.0, 0.44),
    ("XOM", "Energy", 120.15, 107.0, 0.31),
    ("UNH", "Healthcare", 590.20, 530.0, 1.62),
    ("HD", "Consumer Cyclical", 410.75, 370.0, 0.97),
]
REJECTED: list[tuple[str, str, str]] = [
    ("GOOGL", "no_strike", "no strike >= 10% OTM with bid >= 0.10 in the DTE window"),
    ("META", "wide_spread", "best strike spread 38% of mid > max 25%"),
]


#: Strike-by-strike reasons of the rejected symbols (as the engine's `rejections_json`).
STRIKES: dict[str, list[dict[str, Any]]] = {
    "GOOGL": [
        {"expiry": "20261127", "strike": 0.0, "con_id": 0, "code": "delta_estimate",
         "text": "20261127 not requested: estimated |delta| 0.0101 < 0.0250"},
        {"expiry": "20261204", "strike": 150.0, "con_id": 91, "code": "no_bid",
         "text": "strike 150 has no bid"},
        {"expiry": "20261204", "strike": 145.0, "con_id": 92, "code": "delta_out_of_range",
         "text": "|delta| 0.031 < delta_min 0.05"},
    ],
}  # fmt: skip


def candidate(i: int, sym: str, sector: str, price: float, strike: float, bid: float) -> dict:
    ask = round(bid + 0.05 + i * 0.01, 2)
    mid = round((bid + ask) / 2, 3)
    margin = round(0.2 * price * 100 - (price - strike) * 100 + mid * 100, 2)
    margin = max(margin, round(0.1 * strike * 100, 2))
    dte = 3 + (i % 3)
    rom = round(mid * 100 / margin, 5)  # a fraction, as the engine sends it
    safety, liquidity, ai, eff = 90 - i * 3, 80 - i * 2, 70 + i, 60 - i * 4
    return {
        "id": 100 + i,
        "scan_id": 1,
        "symbol": sym,
        "sector": sector,
        "underlying_price": price,
        "strike": strike,
        "right": "P",
        "expiry": f"202611{24 + dte:02d}" if 24 + dte <= 30 else f"202612{24 + dte - 30:02d}",
        "dte": dte,
        "delta": round(-0.055 - i * 0.004, 3),
        "gamma": 0.0041,
        "theta": -0.052,
        "vega": 0.081,
        "iv": round(0.28 + i * 0.03, 3),
        "otm_pct": round((price - strike) / price * 100, 2),
        "bid": bid,
        "ask": ask,
        "mid": mid,
        "open_interest": 1200 + i * 310,
        "volume": 240 + i * 45,
        "margin": margin,
        "return_on_margin": rom,
        "score": round(0.4 * safety + 0.3 * liquidity + 0.2 * ai + 0.1 * eff, 1),
        "components": {"safety": safety, "liquidity": liquidity, "ai": ai, "efficiency": eff},
        "ai_score": ai,
        "ai_line": f"{sym}: steady name, strike below recent support",
        "suggested_qty": 1,
        "status": "candidate",
        "stale": False,
        "reason": None,
    }


class FakeEngineAPI:
    """In-memory engine double with the EngineAPI interface (request / events / close)."""

    def __init__(
        self,
        *,
        market_open: bool = True,
        simulated: bool = True,
        mode: str = "paper",
        now: dt.datetime = FROZEN_NOW,
        ai_enabled: bool = False,
        account: str = "DU1234567",
    ) -> None:
        self.account = account
        #: seconds a command of that name (e.g. "Scan") takes before it answers
        self.delay: dict[str, float] = {}
        self.market_open = market_open
        self.simulated = simulated
        self.mode = mode
        self.now = now
        self.ai_enabled = ai_enabled
        self.requests: list[Cmd] = []
        self.closed = False
        self.halted = False
        #: what GetRegime answers (engine.runtime.core_commands._regime_state); None: it
        #: fails as an engine without regime data does, and the status carries none
        self.regime: dict[str, Any] | None = None
        self.regime_read = False
        #: the schedule section of the status: whether a scheduler runs here, and today's
        #: job runs (job -> (outcome, reason)) as the job_runs table would hold them
        self.scheduler_running = False
        self.job_runs: dict[str, tuple[str, str]] = {}
        self.settings: dict[str, Any] = PutdeskConfig().model_dump(mode="json")
        self.saved: list[dict[str, Any]] = []
        self.scan: dict[str, Any] = {}
        self.lineup: list[dict[str, Any]] = []
        self._next_lineup = 1
        self.history: list[Event] = [
            Event(kind="engine.state", ts=now - dt.timedelta(minutes=3), message="engine ready"),
            Event(
                kind="connection",
                ts=now - dt.timedelta(minutes=3),
                message="connected to the simulated gateway (market data: live)",
            ),
        ]
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.orders: list[dict[str, Any]] = [
            {
                "order_id": 41,
                "order_ref": "pd-7-tp",
                "putdesk": True,
                "con_id": 9001,
                "symbol": "SPX",
                "role": "take_profit",
                "action": "BUY",
                "order_type": "LMT",
                "quantity": 1,
                "filled": 0,
                "limit": 0.6,
                "aux_price": None,
                "status": "Submitted",
                "parent_id": 40,
            },
            {
                "order_id": 42,
                "order_ref": "pd-7-sl",
                "putdesk": True,
                "con_id": 9001,
                "symbol": "SPX",
                "role": "stop",
                "action": "BUY",
                "order_type": "STP",
                "quantity": 1,
                "filled": 0,
                "limit": None,
                "aux_price": 3.6,
                "status": "Submitted",
                "parent_id": 40,
            },
        ]
        self.positions: list[dict[str, Any]] = [
            {
                "con_id": 9001,
                "symbol": "SPX",
                "sec_type": "OPT",
                "right": "P",
                "strike": 5650.0,
                "expiry": "20261124",
                "quantity": -1,
                "avg_price": 1.2,
                "market_price": 0.85,
                "unrealized_pnl": 35.0,
                "bracket_status": "working",
                "strategy": "nakedtrader",
                "trade_id": 7,
            },
            {
                "con_id": 9002,
                "symbol": "KO",
                "sec_type": "OPT",
                "right": "P",
                "strike": 60.0,
                "expiry": "20261127",
                "quantity": -2,
                "avg_price": 0.4,
                "market_price": 0.55,
                "unrealized_pnl": -30.0,
                "bracket_status": "working",
                "strategy": "scanner",
                "trade_id": 5,
            },
        ]

    # -- EngineAPI -------------------------------------------------------------------
    async def request(self, cmd: Cmd) -> Result:
        self.requests.append(cmd)
        handler = getattr(self, "_" + type(cmd).__name__, None)
        wait = self.delay.get(type(cmd).__name__)
        if wait:
            await asyncio.sleep(wait)
        if handler is None:
            return Result.fail(f"fake engine has no {type(cmd).__name__}", code="unsupported")
        result: Result = handler(cmd)
        return result

    async def events(self) -> AsyncIterator[Event]:
        while True:
            ev = await self.queue.get()
            if ev is None:
                return
            yield ev

    async def close(self) -> None:
        self.closed = True
        self.queue.put_nowait(None)

    # -- helpers -----------------------------------------------------------------------
    def emit(self, kind: str, message: str = "", **data: Any) -> None:
        ev = Event(kind=kind, ts=self.now, account=self.account, message=message, data=data)  # type: ignore[arg-type]
        self.history.append(ev)
        self.queue.put_nowait(ev)

    def names(self) -> list[str]:
        return [type(c).__name__ for c in self.requests]

    def budget(self) -> dict[str, Any]:
        nlv = 250_000.0
        in_use = 18_400.0
        lineup = sum(e["margin_per_contract"] * e["quantity"] for e in self.lineup)
        budget = nlv * float(self.settings["budget"]["margin_pct_of_nlv"]) / 100
        return {
            "nlv": nlv,
            "margin_in_use": in_use,
            "budget_pct": float(self.settings["budget"]["margin_pct_of_nlv"]),
            "budget": budget,
            "lineup_margin": lineup,
            "headroom": budget - in_use - lineup,
        }

    # -- handlers ---------------------------------------------------------------------
    def _GetStatus(self, cmd: GetStatus) -> Result:
        # engine/runtime/core_commands.get_status, plus the optional market / clock / ai
        label = "SIMULATED" if self.simulated else self.mode.upper()
        b = self.budget()
        return Result.success(
            engine={
                "label": label,
                "simulated": self.simulated,
                "level": self.settings["automation_level"],
                "now": self.now.isoformat(),
            },
            connection={
                "state": "READY",
                "reason": f"ready: {self.account}: 2 positions, 2 open orders",
                "account": self.account,
                "account_kind": self.mode,
                "simulated": self.simulated,
                "market_data_type": "live",
                "trading_allowed": not self.halted,
            },
            budget={
                "available": True,
                "net_liquidation": f"{b['nlv']:.2f}",
                "full_maint_margin": f"{b['margin_in_use']:.2f}",
                "budget_pct": b["budget_pct"],
                "budget": f"{b['budget']:.2f}",
                "headroom": f"{b['budget'] - b['margin_in_use']:.2f}",
            },
            halted={
                "halted": self.halted,
                "reason_code": "engine.killed" if self.halted else None,
                "reason": "kill switch pressed in the console" if self.halted else None,
            },
            market={
                "open": self.market_open,
                "next_open": NEXT_OPEN.isoformat(),
                "next_close": NEXT_CLOSE.isoformat(),
            },
            clock={"now": self.now.isoformat(), "simulated": self.simulated, "speed": 1.0},
            ai={"enabled": self.ai_enabled, "reason": None if self.ai_enabled else "no API key"},
            unprotected=[
                {"trade_id": i + 1, "symbol": p["symbol"], "strategy": "putdesk"}
                for i, p in enumerate(self.positions)
                if p.get("bracket_status") == "unprotected"
            ],
            schedule=self.schedule(),
            **({"regime": self.regime} if self.regime is not None and self.regime_read else {}),
        )

    def schedule(self) -> dict[str, Any]:
        """GetStatus's schedule section (engine/scheduler/service.get_schedule), from the real
        plan of the fake's day and the job runs the test sets."""
        from engine.market.calendar import MarketCalendar
        from engine.scheduler.plan import ET, plan_day
        from engine.scheduler.runs import JobRun
        from engine.scheduler.service import day_view

        cfg = PutdeskConfig()
        plan = plan_day(
            self.now.astimezone(ET).date(), cfg.schedule, cfg.execution, MarketCalendar()
        )
        due = {j.name: j.due.isoformat() for j in plan.jobs}
        runs = {
            name: JobRun(
                job=name,
                session_date=plan.session_date.isoformat(),
                scheduled_for=due.get(name, ""),
                started_at=due.get(name),
                finished_at=due.get(name),
                outcome=outcome,
                reason_code=None,
                reason=reason,
            )
            for name, (outcome, reason) in self.job_runs.items()
        }
        return {
            "enabled": True,
            "running": self.scheduler_running,
            "level": self.settings["automation_level"],
            "today": day_view(plan, runs, dt.UTC, self.now),
            "current": None,
            "waiting_on": None,
            "error": None,
            "last_runs": [],
        }

    def _GetRegime(self, cmd: GetRegime) -> Result:
        if self.regime is None:
            return Result.fail("no market regime: not connected", code="regime.unavailable")
        self.regime_read = True
        return Result.success(**self.regime)

    def _Scan(self, cmd: Scan) -> Result:
        if self.halted:
            return Result.refused("engine is halted (kill switch)", code="halted")
        if not self.market_open and not cmd.override_closed:
            return Result.refused(
                "market closed: live data only (use the closed-market override to test)",
                code="market_closed",
            )
        stale = not self.market_open
        self.emit("scan.started", "scan #1 started", scan_id=1, total=len(UNIVERSE) + 2)
        cands = []
        for i, row in enumerate(UNIVERSE):
            c = candidate(i, *row)
            c["stale"] = stale
            cands.append(c)
            self.emit(
                "scan.progress", "", scan_id=1, done=i + 1, total=len(UNIVERSE) + 2, symbol=row[0]
            )
        self.scan = {
            "scan": {
                "id": 1,
                "state": "finished",
                "started_at": self.now.isoformat(),
                "finished_at": self.now.isoformat(),
                "progress": {"done": len(UNIVERSE) + 2, "total": len(UNIVERSE) + 2},
                "stale": stale,
                "override_closed": cmd.override_closed,
            },
            "candidates": cands,
            "rejections": [
                {"symbol": s, "code": c, "reason": r, "strike_rejections": STRIKES.get(s, [])}
                for s, c, r in REJECTED
            ],
        }
        self.emit(
            "scan.finished",
            f"scan #1: {len(cands)} candidates, {len(REJECTED)} rejected",
            scan_id=1,
        )
        if cmd.auto_select:
            picked = self._AutoSelect(AutoSelect(scan_id=1))
            return Result.success(scan_id=1, lineup=picked.data)
        return Result.success(scan_id=1, message=f"scan #1: {len(cands)} candidates")

    def _GetScan(self, cmd: GetScan) -> Result:
        """engine/selection/service.get_scan: the scans row and candidates rows."""
        if not self.scan:
            return Result.fail("no scan found", code="no_scan")
        scan = self.scan["scan"]
        rows: list[dict[str, Any]] = []
        for c in self.scan["candidates"]:
            row = {k: v for k, v in c.items() if k not in {"components", "ai_line", "reason"}}
            for k, v in c["components"].items():
                row[f"score_{k}"] = v
            row["ai_reason"] = c["ai_line"]
            row["stale"] = int(c["stale"])
            rows.append(row)
        for r in self.scan["rejections"]:
            rows.append(
                {
                    "id": 900 + len(rows),
                    "symbol": r["symbol"],
                    "status": "rejected",
                    "reason_code": r["code"],
                    "reason_text": r["reason"],
                    "rejections_json": r.get("strike_rejections") or [],  # decoded, as there
                }
            )
        return Result.success(
            scan={
                "id": scan["id"],
                "status": scan["state"],
                "symbols_total": scan["progress"]["total"],
                "symbols_done": scan["progress"]["done"],
                "stale": int(scan["stale"]),
                "ai_status": "off",
                "ai_reason": "AI off: no API key",
            },
            candidates=rows,
        )

    def _entry(self, c: dict[str, Any], qty: int) -> dict[str, Any]:
        e = {
            "id": self._next_lineup,
            "candidate_id": c["id"],
            "symbol": c["symbol"],
            "sector": c["sector"],
            "strike": c["strike"],
            "expiry": c["expiry"],
            "dte": c["dte"],
            "quantity": qty,
            "limit": c["mid"],
            "premium": c["bid"],
            "margin_per_contract": c["margin"],
            "score": c["score"],
            "status": "staged",
            "stale": c["stale"],
        }
        self._next_lineup += 1
        c["status"] = "staged"
        return e

    def _AutoSelect(self, cmd: AutoSelect) -> Result:
        if not self.scan:
            return Result.refused("no scan to select from: scan first", code="no_scan")
        budget = self.budget()
        room = budget["budget"] - budget["margin_in_use"]
        picked = 0
        for c in sorted(self.scan["candidates"], key=lambda c: -c["score"]):
            if c["status"] != "candidate":
                continue
            used = sum(e["margin_per_contract"] * e["quantity"] for e in self.lineup)
            if used + c["margin"] > room:
                continue
            self.lineup.append(self._entry(c, 1))
            picked += 1
        self.emit("lineup.changed", f"auto-select staged {picked} trades")
        return Result.success(staged=picked, message=f"auto-select staged {picked} trades")

    def _Stage(self, cmd: Stage) -> Result:
        for c in self.scan.get("candidates", []):
            if c["id"] == cmd.candidate_id:
                if c["status"] != "candidate":
                    return Result.refused(f"{c['symbol']} is already staged", code="staged")
                e = self._entry(c, cmd.quantity or 1)
                self.lineup.append(e)
                self.emit("lineup.changed", f"staged {c['symbol']}")
                return Result.success(lineup_id=e["id"], message=f"staged {c['symbol']}")
        return Result.fail("unknown candidate", code="unknown_candidate")

    def _Unstage(self, cmd: Unstage) -> Result:
        gone = [e for e in self.lineup if e["id"] in cmd.lineup_ids]
        self.lineup = [e for e in self.lineup if e["id"] not in cmd.lineup_ids]
        for e in gone:
            for c in self.scan.get("candidates", []):
                if c["id"] == e["candidate_id"]:
                    c["status"] = "candidate"
        self.emit("lineup.changed", f"removed {len(gone)} entries")
        return Result.success(removed=len(gone), message=f"removed {len(gone)} entries")

    def _SetQuantity(self, cmd: SetQuantity) -> Result:
        for e in self.lineup:
            if e["id"] == cmd.lineup_id:
                e["quantity"] = cmd.quantity
                self.emit("lineup.changed", f"{e['symbol']} quantity {cmd.quantity}")
                return Result.success(message=f"{e['symbol']} quantity {cmd.quantity}")
        return Result.fail("unknown lineup entry", code="unknown_lineup")

    def _Approve(self, cmd: Approve) -> Result:
        n = 0
        for e in self.lineup:
            if (cmd.lineup_ids is None or e["id"] in cmd.lineup_ids) and e["status"] == "staged":
                e["status"] = "approved"
                n += 1
        self.emit("lineup.changed", f"approved {n} entries")
        return Result.success(approved=n, message=f"approved {n} entries")

    def _ClearLineup(self, cmd: ClearLineup) -> Result:
        return self._Unstage(Unstage(lineup_ids=[e["id"] for e in self.lineup] or [0]))

    def _GetLineup(self, cmd: GetLineup) -> Result:
        active = [e for e in self.lineup if e["status"] in ("staged", "approved")]
        done = [e for e in self.lineup if e["status"] not in ("staged", "approved", "removed")]
        return Result.success(
            entries=copy.deepcopy(active), budget=self.budget(), done=copy.deepcopy(done)
        )

    def _ExecuteNow(self, cmd: ExecuteNow) -> Result:
        if self.halted:
            return Result.refused("engine is halted (kill switch)", code="halted")
        approved = [e for e in self.lineup if e["status"] == "approved"]
        if not approved:  # as the engine: it ran (recovery) and sent nothing
            staged = sum(1 for e in self.lineup if e["status"] == "staged")
            return _run_summary(
                "execution.nothing_approved",
                f"nothing approved to send ({staged} staged entries wait for approval)",
            )
        for i, e in enumerate(approved):
            e["updated_at"] = self.now.isoformat()
            if i == 0:
                e["status"] = "cancelled"
                e["reason_code"] = "stage2.cancel"
                e["reason_text"] = "gap: no strike within 3 keeps the premium"
            else:
                e["status"] = "submitted"
        self.emit("order.status", f"submitted {len(approved)} orders")
        return _run_summary(
            "execution.done", f"{len(approved)} approved: {len(approved) - 1} working, 1 cancelled"
        )

    def _GetOrders(self, cmd: GetOrders) -> Result:
        return Result.success(orders=copy.deepcopy(self.orders))

    def _GetPositions(self, cmd: GetPositions) -> Result:
        return Result.success(positions=copy.deepcopy(self.positions))

    def _Kill(self, cmd: Kill) -> Result:
        self.halted = True
        cancelled = len(self.orders)
        for o in self.orders:
            o["status"] = "Cancelled"
        ev = Event(
            kind="engine.state",
            ts=self.now,
            severity="warning",
            message=f"HALTED: {cmd.reason}; cancelled {cancelled} orders",
            code="killed",
        )
        self.history.append(ev)
        self.queue.put_nowait(ev)
        return Result.success(cancelled=cancelled, message=f"halted; cancelled {cancelled} orders")

    def _ProtectPositions(self, cmd: ProtectPositions) -> Result:
        if self.halted:
            return Result.refused("engine halted: kill switch", code="halt.active")
        decisions = []
        for p in self.positions:
            if p.get("bracket_status") == "unprotected":
                p["bracket_status"] = "working"
                decisions.append({"code": "exits.protected", "text": f"{p['symbol']} exits"})
        self.emit("order.status", f"exits placed for {len(decisions)} trade(s)")
        return Result.success(ok=True, decisions=decisions)

    def _Resume(self, cmd: Resume) -> Result:
        self.halted = False
        self.emit("engine.state", "engine resumed")
        return Result.success(message="engine resumed")

    def _GetEvents(self, cmd: GetEvents) -> Result:
        kept = [e for e in self.history if cmd.debug or e.severity != "debug"]
        return Result.success(events=[e.model_dump(mode="json") for e in kept[-cmd.limit :]])

    def _NtStatus(self, cmd: NtStatus) -> Result:
        return Result.success(
            plan={
                "date": "2026-11-24",
                "symbol": "SPX",
                "trading_class": "SPXW",
                "target_delta": 0.065,
                "delta_range": [0.055, 0.075],
                "scheduled_at": "09:45",
                "entry_window": "09:45-15:30",
                "dry_run": False,
                "contracts": 1,
            },
            trade={
                "trade_id": 7,
                "symbol": "SPX",
                "strike": 5650.0,
                "expiry": "20261124",
                "quantity": 1,
                "delta": -0.064,
                "widen_steps": 1,
                "entry_price": 1.2,
                "premium": 120.0,
                "pnl": 35.0,
            },
            bracket={
                "status": "working",
                "take_profit": {"order_id": 41, "price": 0.6, "status": "Submitted"},
                "stop": {"order_id": 42, "price": 3.6, "status": "Submitted"},
            },
            message=None,
        )

    def _NtRun(self, cmd: NtRun) -> Result:
        return Result.refused("today's NakedTrader trade is already open", code="nt_done")

    def _GetSettings(self, cmd: GetSettings) -> Result:
        return Result.success(settings=copy.deepcopy(self.settings))

    def _SaveSettings(self, cmd: SaveSettings) -> Result:
        merged = copy.deepcopy(self.settings)

        def merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
            for k, v in src.items():
                if isinstance(v, dict) and isinstance(dst.get(k), dict):
                    merge(dst[k], v)
                else:
                    dst[k] = v

        merge(merged, cmd.changes)
        try:
            cfg = PutdeskConfig.model_validate(merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            return Result.fail(f"{where}: {err['msg']}", code="invalid_settings")
        self.settings = cfg.model_dump(mode="json")
        self.saved.append(cmd.changes)
        return Result.success(message="settings saved")


def _run_summary(code: str, text: str) -> Result:
    """ExecuteNow's answer as the engine gives it (ExecutionSummary.as_dict)."""
    return Result.success(ok=True, reason_code=code, reason=text, decisions=[], recovery="")
