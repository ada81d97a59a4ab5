"""Events the simulated order book (engine.sim.book) emits; the protocol server encodes them.

The book speaks in `ib_async`'s own objects (Contract, Order, OrderState, Execution,
CommissionReport) so the wire layer needs no second vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ib_async.contract import Contract
from ib_async.objects import CommissionReport, Execution
from ib_async.order import Order, OrderState


@dataclass
class OpenOrderEvent:
    """openOrder (5) for `client_id` (what-if answers too: order.whatIf=True)."""

    client_id: int
    contract: Contract
    order: Order
    state: OrderState


@dataclass
class OrderStatusEvent:
    """orderStatus (3)."""

    client_id: int
    order_id: int
    status: str  # PendingSubmit, PreSubmitted, Submitted, Filled, Cancelled, Inactive
    filled: Decimal
    remaining: Decimal
    avg_fill_price: float
    perm_id: int
    parent_id: int
    last_fill_price: float
    why_held: str = ""


@dataclass
class OrderErrorEvent:
    """error (4) about one order (e.g. 201 margin rejection, 202 cancelled, 10148)."""

    client_id: int
    order_id: int
    code: int
    message: str


@dataclass
class ExecutionEvent:
    """execDetails (11) followed by commissionReport (59); sent to every client."""

    client_id: int  # the client that placed the order (others also receive it)
    contract: Contract
    execution: Execution
    commission: CommissionReport


@dataclass
class PositionEvent:
    """A position changed: position (61) to subscribers, updatePortfolio (7) to account
    subscribers."""

    account: str
    contract: Contract
    position: Decimal
    avg_cost: float


@dataclass
class AccountEvent:
    """Account values changed (after fills, expiries, price moves): re-send account values."""

    account: str
    values: dict[str, str] = field(default_factory=dict)


BookEvent = (
    OpenOrderEvent
    | OrderStatusEvent
    | OrderErrorEvent
    | ExecutionEvent
    | PositionEvent
    | AccountEvent
)
