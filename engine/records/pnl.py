"""Commissions and P&L: pure Decimal arithmetic and summaries over booked trades.

A trade's gross P&L is (exit - entry) * multiplier * quantity for a long trade and
(entry - exit) * multiplier * quantity for a short one (a sold put); net P&L subtracts the
trade's commissions (a positive number is a cost, a negative one a rebate).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

ZERO = Decimal(0)


def gross_pnl(
    side: str, entry_price: Decimal, exit_price: Decimal, multiplier: int | Decimal, quantity: int
) -> Decimal:
    """Gross P&L of a closed trade; `side` is 'short' or 'long'; quantity is positive."""
    per_unit = entry_price - exit_price if side == "short" else exit_price - entry_price
    return per_unit * Decimal(multiplier) * Decimal(quantity)


def net_pnl(gross: Decimal, commission: Decimal) -> Decimal:
    """Net P&L after fees (commission is a cost when positive)."""
    return gross - commission


def commission_cost(ib_commission: Decimal | None) -> Decimal:
    """IBKR reports commissions negative (a cost); putdesk books them as a positive cost."""
    return ZERO if ib_commission is None else -ib_commission


class PnlTrade(Protocol):
    """What a P&L summary needs to know about a trade."""

    @property
    def trade_strategy(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def commission(self) -> Decimal: ...
    @property
    def gross_pnl(self) -> Decimal | None: ...
    @property
    def net_pnl(self) -> Decimal | None: ...
    @property
    def exit_reason(self) -> str | None: ...
    @property
    def exit_time(self) -> dt.datetime | None: ...


@dataclass
class PnlSummary:
    """Totals for one (strategy, currency) group of closed trades."""

    strategy: str
    currency: str
    closed: int = 0
    wins: int = 0
    losses: int = 0
    gross: Decimal = ZERO
    commission: Decimal = ZERO
    net: Decimal = ZERO
    unpriced: int = 0  # closed trades whose entry price is unknown (no P&L)
    by_exit_reason: dict[str, int] = field(default_factory=dict)

    @property
    def win_rate(self) -> float | None:
        decided = self.wins + self.losses
        return None if decided == 0 else self.wins / decided

    def as_dict(self) -> dict[str, object]:
        return {
            "strategy": self.strategy,
            "currency": self.currency,
            "closed": self.closed,
            "wins": self.wins,
            "losses": self.losses,
            "gross": format(self.gross, "f"),
            "commission": format(self.commission, "f"),
            "net": format(self.net, "f"),
            "unpriced": self.unpriced,
            "win_rate": self.win_rate,
            "by_exit_reason": dict(sorted(self.by_exit_reason.items())),
        }


def summarize(trades: Iterable[PnlTrade]) -> list[PnlSummary]:
    """Net P&L after fees per (strategy, currency) over closed trades, sorted by key."""
    groups: dict[tuple[str, str], PnlSummary] = {}
    for t in trades:
        if t.status != "closed":
            continue
        key = (t.trade_strategy, t.currency)
        s = groups.get(key)
        if s is None:
            s = groups[key] = PnlSummary(strategy=key[0], currency=key[1])
        s.closed += 1
        reason = t.exit_reason or "closed"
        s.by_exit_reason[reason] = s.by_exit_reason.get(reason, 0) + 1
        if t.net_pnl is None or t.gross_pnl is None:
            s.unpriced += 1
            continue
        s.gross += t.gross_pnl
        s.commission += t.commission
        s.net += t.net_pnl
        if t.net_pnl > 0:
            s.wins += 1
        elif t.net_pnl < 0:
            s.losses += 1
    return [groups[k] for k in sorted(groups)]


def total_net(summaries: Iterable[PnlSummary]) -> dict[str, Decimal]:
    """Net P&L per currency across strategies."""
    out: dict[str, Decimal] = {}
    for s in summaries:
        out[s.currency] = out.get(s.currency, ZERO) + s.net
    return dict(sorted(out.items()))
