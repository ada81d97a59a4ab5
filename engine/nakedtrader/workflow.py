"""Today's NakedTrader run: guards, chain, selection, bracket plan, then (unless dry run) send.

Order of decisions, each with its Reason:
1. entry window: a NYSE session day, `entry_start` <= now (New York) < `entry_end`
   (a dry run still shows the plan outside the window, marked not placeable);
2. daily limit: entries already written today (New York date) < `max_daily_trades`; runs are
   serialised by the caller, so running `nt` again the same day never exceeds the limit;
3. the session allows trading (connected, account confirmed, not halted, live guard);
4. chain, strike selection (with widening), bracket plan;
5. intents, trade row, bracket sent (engine.nakedtrader.orders).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from config.nakedtrader import NakedTraderConfig
from engine.domain import MarketData, Reason
from engine.execution.intents import IntentRepo
from engine.market.calendar import to_et
from engine.nakedtrader.chain import fetch_chain
from engine.nakedtrader.orders import (
    BracketGateway,
    bracket_dict,
    place_nt_bracket,
    plan_nt_bracket,
)
from engine.nakedtrader.recorder import NtRecorder
from engine.nakedtrader.selector import select_strike

Status = Literal["placed", "planned", "refused", "failed"]
TradingAllowed = Callable[[], tuple[bool, Reason]]
ContractOf = Callable[[Any], Any]


@dataclass
class RunOutcome:
    """What one `nt` run did; `as_dict()` is NtRun's Result data."""

    status: Status
    reason: Reason
    dry_run: bool
    plan: dict[str, Any] | None = None
    trade_id: int | None = None
    order_ref: str | None = None
    entries_today: int = 0
    max_daily_trades: int = 0
    window_ok: bool = True
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason_code": self.reason.code,
            "reason": self.reason.text,
            "dry_run": self.dry_run,
            "plan": self.plan,
            "trade_id": self.trade_id,
            "order_ref": self.order_ref,
            "entries_today": self.entries_today,
            "max_daily_trades": self.max_daily_trades,
            "window_ok": self.window_ok,
            "rejected": self.rejected,
        }


def window_bounds(
    day: dt.date, cfg: NakedTraderConfig, calendar: Any
) -> tuple[dt.time, dt.time] | None:
    """The entry window of `day` in New York time (its end no later than the session's
    close: an early close shortens it); None when `day` is not an NYSE session."""
    if not calendar.is_session(day):
        return None
    close = to_et(calendar.session_close(day)).time()
    return cfg.entry_start, min(cfg.entry_end, close)


def entry_window(now: dt.datetime, cfg: NakedTraderConfig, calendar: Any) -> tuple[bool, Reason]:
    """Whether `now` is inside today's entry window (New York time, session days only)."""
    et = to_et(now)
    day = et.date()
    bounds = window_bounds(day, cfg, calendar)
    if bounds is None:
        return False, Reason("nt.not_session", f"{day.isoformat()} is not an NYSE session")
    end = bounds[1]
    if not cfg.entry_start <= et.time() < end:
        return False, Reason(
            "nt.outside_window",
            f"{et:%H:%M} ET is outside the entry window {cfg.entry_start:%H:%M}-{end:%H:%M} ET",
        )
    return True, Reason("nt.in_window", f"{et:%H:%M} ET inside {cfg.entry_start:%H:%M}-{end:%H:%M}")


def daily_limit(entries_today: int, cfg: NakedTraderConfig) -> tuple[bool, Reason]:
    if entries_today >= cfg.max_daily_trades:
        return False, Reason(
            "nt.daily_limit",
            f"{entries_today} NakedTrader entr{'y' if entries_today == 1 else 'ies'} today "
            f"already (max_daily_trades {cfg.max_daily_trades})",
        )
    return True, Reason("nt.daily_ok", f"{entries_today} of {cfg.max_daily_trades} used today")


class NtWorkflow:
    """One account's NakedTrader run, over injected edges (broker, gateway, store, clock)."""

    def __init__(
        self,
        *,
        md: MarketData,
        gateway: BracketGateway,
        intents: IntentRepo,
        recorder: NtRecorder,
        calendar: Any,
        trading_allowed: TradingAllowed,
        contract_of: ContractOf,
    ):
        self.md = md
        self.gateway = gateway
        self.intents = intents
        self.recorder = recorder
        self.calendar = calendar
        self.trading_allowed = trading_allowed
        self.contract_of = contract_of

    async def run(self, cfg: NakedTraderConfig, now: dt.datetime, *, dry_run: bool) -> RunOutcome:
        today = to_et(now).date()
        used = await self.recorder.entries_on(today)

        def done(status: Status, reason: Reason, **kw: Any) -> RunOutcome:
            kw.setdefault("entries_today", used)
            return RunOutcome(
                status, reason, dry_run=dry_run, max_daily_trades=cfg.max_daily_trades, **kw
            )

        in_window, why_window = entry_window(now, cfg, self.calendar)
        if not in_window and not dry_run:
            return done("refused", why_window, window_ok=False)
        ok, why_limit = daily_limit(used, cfg)
        if not ok and not dry_run:
            return done("refused", why_limit)
        if not dry_run:
            allowed, why = self.trading_allowed()
            if not allowed:
                return done("refused", why)
        chain, why_chain = await fetch_chain(self.md, cfg, today, self.calendar)
        if chain is None:
            return done("failed", why_chain)
        outcome = select_strike(
            chain.options, chain.quotes, cfg, symbol=chain.underlying.symbol, now=now
        )
        rejected = [
            {"strike": s, "reason_code": r.code, "reason": r.text} for s, r in outcome.rejected
        ]
        plan: dict[str, Any] = {
            "instrument": cfg.instrument,
            "underlying_price": chain.underlying_price,
            "trading_class": chain.trading_class,
            "expiry": chain.expiry,
            "dte": chain.dte,
            "contracts": cfg.contracts,
            "chain_reason": why_chain.text,
            "selection_reason": outcome.reason.text,
            "selection_code": outcome.reason.code,
        }
        sel = outcome.selection
        if sel is None:
            return done("failed", outcome.reason, plan=plan, rejected=rejected)
        plan["selection"] = sel.as_dict()
        key = await self.recorder.next_key(today)
        bracket, why_bracket = plan_nt_bracket(sel, cfg, key)
        if bracket is None:
            return done("failed", why_bracket, plan=plan, rejected=rejected)
        plan["bracket"] = bracket_dict(bracket)
        plan["bracket_reason"] = why_bracket.text
        if dry_run:
            blocker = why_window if not in_window else (why_limit if not ok else None)
            reason = Reason(
                "nt.dry_run",
                f"dry run: would {why_bracket.text} on {sel.option.trading_class} "
                f"{sel.option.expiry} {sel.option.strike:g}P"
                + (f" (not placeable now: {blocker.text})" if blocker else ""),
            )
            return done("planned", reason, plan=plan, rejected=rejected, window_ok=in_window)
        snapshot = await self.recorder.snapshot_config(cfg, now)
        placed, why_placed = await place_nt_bracket(
            bracket,
            sel.option,
            self.contract_of(sel.option),
            gateway=self.gateway,
            intents=self.intents,
            recorder=self.recorder,
            now=now,
            config_snapshot_id=snapshot,
            notes=f"nakedtrader: {outcome.reason.text}",
            payload={"plan": plan, "config": cfg.model_dump(mode="json")},
        )
        if placed is None:
            return done("refused", why_placed, plan=plan, rejected=rejected)
        return done(
            "placed",
            why_placed,
            plan=plan,
            trade_id=placed.trade_id,
            order_ref=placed.order_ref,
            rejected=rejected,
            entries_today=used + 1,
        )
