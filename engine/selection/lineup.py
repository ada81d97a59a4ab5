"""Tonight's Lineup as data: entries, their budget state and the live-account guard. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.domain import Reason
from engine.selection.portfolio import HELD, WORKING, BudgetState, Holding

ACTIVE = ("staged", "approved")
R_STALE_LIVE = "stale_on_live"


@dataclass(frozen=True)
class LineupEntry:
    """One lineup row (engine/store/lineup.py reads and writes them)."""

    id: int
    symbol: str
    sector: str
    expiry: str
    strike: Decimal
    quantity: int
    margin_per_contract: Decimal
    premium: Decimal
    status: str
    stale: bool
    candidate_id: int | None = None
    config_snapshot_id: int | None = None

    @property
    def margin(self) -> Decimal:
        return self.margin_per_contract * self.quantity

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LineupEntry:
        return cls(
            id=int(row["id"]),
            symbol=str(row["symbol"]),
            sector=str(row.get("sector") or "Unknown"),
            expiry=str(row["expiry"]),
            strike=Decimal(str(row["strike"])),
            quantity=int(row["quantity"]),
            margin_per_contract=Decimal(str(row.get("margin_per_contract") or "0")),
            premium=Decimal(str(row.get("premium") or "0")),
            status=str(row["status"]),
            stale=bool(row.get("stale")),
            candidate_id=row.get("candidate_id"),
            config_snapshot_id=row.get("config_snapshot_id"),
        )


def holdings(entries: list[LineupEntry], exclude: int | None = None) -> list[Holding]:
    """The active entries as budget holdings (optionally leaving one entry out)."""
    return [
        Holding(e.symbol, e.sector, e.margin)
        for e in entries
        if e.status in ACTIVE and e.id != exclude
    ]


def working_holdings(entries: Sequence[tuple[LineupEntry, int]]) -> list[Holding]:
    """Entries taken up by execution, each with the contracts of it sold so far: the unsold
    rest is margin IBKR does not count yet (the sold part is in its margin in use)."""
    return [
        Holding(e.symbol, e.sector, e.margin_per_contract * max(e.quantity - sold, 0), WORKING)
        for e, sold in entries
    ]


def budget_state(
    net_liquidation: Decimal,
    margin_in_use: Decimal,
    budget_pct: float,
    entries: list[LineupEntry],
    exclude: int | None = None,
    working: Sequence[tuple[LineupEntry, int]] = (),
    held: Sequence[tuple[str, str]] = (),
) -> BudgetState:
    """`working`: (entry, contracts sold) of entries in execution; `held`: (symbol, sector)
    of the underlyings of positions held (their margin is in `margin_in_use`)."""
    return BudgetState(
        net_liquidation,
        margin_in_use,
        budget_pct,
        [
            *holdings(entries, exclude),
            *working_holdings(working),
            *(Holding(sym, sector, Decimal(0), HELD) for sym, sector in held),
        ],
    )


def may_send(entry: LineupEntry, account_is_live: bool) -> Reason | None:
    """Entries selected under the closed-market override never reach a live account."""
    if entry.stale and account_is_live:
        return Reason(
            R_STALE_LIVE,
            f"{entry.symbol} was selected on stale data (closed-market override); "
            "it cannot be sent to a live account",
        )
    return None
