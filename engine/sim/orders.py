"""Orders as the simulated book keeps them: the client's ib_async Order plus its life cycle
(held / pre-submitted / submitted / filled / cancelled), fills and OCA membership."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ib_async.contract import Contract
from ib_async.order import Order, OrderState
from ib_async.util import UNSET_DOUBLE

from engine.sim.accounts import contract_from_dict, contract_to_dict

ZERO = Decimal("0")

HELD = "Held"  # transmit=False, waiting for the rest of its group (never reported)
PRE_SUBMITTED = "PreSubmitted"  # bracket child waiting for its parent to fill
SUBMITTED = "Submitted"
FILLED = "Filled"
CANCELLED = "Cancelled"
DONE = frozenset({FILLED, CANCELLED})

# Order fields kept across save/load (everything the book and the wire layer look at).
ORDER_FIELDS = (
    "orderId",
    "clientId",
    "permId",
    "action",
    "totalQuantity",
    "orderType",
    "lmtPrice",
    "auxPrice",
    "tif",
    "ocaGroup",
    "ocaType",
    "orderRef",
    "transmit",
    "parentId",
    "account",
    "outsideRth",
    "goodTillDate",
    "triggerMethod",
    "filledQuantity",
)


def dec(value: Any) -> Decimal:
    """A float/Decimal/str quantity or price as Decimal (floats via their repr)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def price_set(value: Any) -> bool:
    """True when an order price field holds a real price (not None / the unset double)."""
    return value is not None and float(value) != UNSET_DOUBLE


@dataclass
class SimOrder:
    """One order in the book, keyed by (client_id, order.orderId)."""

    client_id: int
    contract: Contract
    order: Order
    status: str
    seq: int
    placed_at: datetime
    filled: Decimal = ZERO
    avg_fill_price: Decimal = ZERO
    last_fill_price: Decimal = ZERO
    completed_at: datetime | None = None
    completed_status: str = ""
    fresh: bool = True  # not yet matched since it went live (marketable-on-arrival rule)
    oca_key: str = ""
    why_held: str = ""

    @property
    def order_id(self) -> int:
        return int(self.order.orderId)

    @property
    def perm_id(self) -> int:
        return int(self.order.permId)

    @property
    def quantity(self) -> Decimal:
        return dec(self.order.totalQuantity)

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def is_live(self) -> bool:
        return self.status in {PRE_SUBMITTED, SUBMITTED}

    @property
    def is_open(self) -> bool:
        return self.status not in DONE

    def order_state(self) -> OrderState:
        """The OrderState sent with openOrder / completedOrder."""
        state = OrderState(status=self.status if self.status != HELD else "PendingSubmit")
        state.commissionCurrency = "USD"
        if self.completed_at is not None:
            state.completedTime = self.completed_at.strftime("%Y%m%d %H:%M:%S UTC")
            state.completedStatus = self.completed_status
        return state

    def to_dict(self) -> dict[str, Any]:
        order = {name: _plain(getattr(self.order, name)) for name in ORDER_FIELDS}
        return {
            "client_id": self.client_id,
            "contract": contract_to_dict(self.contract),
            "order": order,
            "status": self.status,
            "seq": self.seq,
            "placed_at": self.placed_at.isoformat(),
            "filled": str(self.filled),
            "avg_fill_price": str(self.avg_fill_price),
            "last_fill_price": str(self.last_fill_price),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "completed_status": self.completed_status,
            "fresh": self.fresh,
            "oca_key": self.oca_key,
            "why_held": self.why_held,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimOrder:
        order = Order()
        for name, value in data["order"].items():
            if name in {"totalQuantity", "lmtPrice", "auxPrice"} and isinstance(value, str):
                value = float(value) if name != "totalQuantity" else Decimal(value)
            setattr(order, name, value)
        completed = data.get("completed_at")
        return cls(
            client_id=int(data["client_id"]),
            contract=contract_from_dict(data["contract"]),
            order=order,
            status=data["status"],
            seq=int(data["seq"]),
            placed_at=datetime.fromisoformat(data["placed_at"]),
            filled=Decimal(data["filled"]),
            avg_fill_price=Decimal(data["avg_fill_price"]),
            last_fill_price=Decimal(data["last_fill_price"]),
            completed_at=datetime.fromisoformat(completed) if completed else None,
            completed_status=data.get("completed_status", ""),
            fresh=bool(data.get("fresh", False)),
            oca_key=data.get("oca_key", ""),
            why_held=data.get("why_held", ""),
        )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value
