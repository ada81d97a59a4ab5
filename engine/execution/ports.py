"""What execution observes from and asks of the broker, as plain values.

The watcher and recovery work from snapshots (`orders()`, `fills()`, `positions()`), so the
same code runs at start-up, after a reconnect and in steady state, and a crash between two
snapshots loses nothing: IBKR still has the facts. `engine.execution.ibport.IbOrderPort`
implements this over `ib_async`; tests use an in-memory exchange.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from engine.domain import OptionRef, Reason
from engine.execution.brackets import OrderLeg

WORKING = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel"})
DONE = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


@dataclass(frozen=True)
class BrokerOrder:
    """One order as IBKR reports it (open or completed)."""

    order_ref: str
    order_id: int
    perm_id: int
    con_id: int
    symbol: str
    action: str
    quantity: int
    order_type: str
    limit_price: Decimal | None
    aux_price: Decimal | None
    tif: str
    status: str
    filled: int
    remaining: int
    avg_fill_price: Decimal | None = None
    parent_id: int = 0
    why_held: str = ""
    error: Reason | None = None

    @property
    def working(self) -> bool:
        return self.status in WORKING


@dataclass(frozen=True)
class BrokerFill:
    """One execution with its commission (None until the commission report arrived)."""

    exec_id: str
    order_ref: str
    order_id: int
    perm_id: int
    con_id: int
    symbol: str
    side: str  # BOT / SLD
    quantity: int
    price: Decimal
    time: dt.datetime
    commission: Decimal | None = None
    expiry: str = ""
    strike: Decimal | None = None
    right: str = ""
    sec_type: str = "OPT"


@dataclass(frozen=True)
class BrokerPosition:
    con_id: int
    symbol: str
    sec_type: str
    quantity: int
    avg_cost: Decimal  # IBKR avgCost: per contract including the multiplier for options
    expiry: str = ""
    strike: Decimal | None = None
    right: str = ""
    multiplier: int = 100


class OrderPort(Protocol):
    """The broker as execution needs it. Methods raise BrokerError when IBKR cannot answer."""

    @property
    def account(self) -> str: ...

    def connected(self) -> bool: ...

    async def place(self, option: OptionRef, legs: list[OrderLeg], oca_group: str = "") -> None:
        """Send the legs in order (a bracket: entry first, the last leg transmits)."""
        ...

    async def cancel(self, order_ref: str) -> None: ...

    async def orders(self) -> list[BrokerOrder]:
        """Every order of this account seen today (open and completed), all clients."""
        ...

    async def fills(self) -> list[BrokerFill]: ...

    async def positions(self) -> list[BrokerPosition]: ...
