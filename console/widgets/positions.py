"""Positions with live P&L and bracket status, and the open orders behind the brackets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text

from console.format import DASH, expiry, integer, money, num
from console.widgets.plain_table import PlainTable
from console.widgets.tones import tone

Cell = str | Text


#: IBKR statuses of an order still working (engine.execution.ports.WORKING)
WORKING_STATUSES = frozenset(
    {"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel"}
)


def positions_title(positions: Sequence[dict[str, Any]]) -> str:
    """The Positions section's title: how many are open, how many lack exits, their P&L."""
    if not positions:
        return "Positions · none open"
    parts = [f"Positions · {len(positions)} open"]
    bare = sum(1 for p in positions if p.get("bracket_status") == "unprotected")
    if bare:
        parts.append(f"{bare} UNPROTECTED")
    pnls = [p.get("unrealized_pnl") for p in positions]
    if all(v is not None for v in pnls):
        parts.append(f"unrealised P&L {money(sum(float(v) for v in pnls), 2)}")  # type: ignore[arg-type]
    return " · ".join(parts)


def orders_title(orders: Sequence[dict[str, Any]]) -> str:
    """The orders section's title: how many of the listed orders are still working."""
    working = sum(1 for o in orders if o.get("status") in WORKING_STATUSES)
    if not orders:
        return "Orders and brackets · none"
    return f"Orders and brackets · {working} working of {len(orders)}"


class KeyedTable(PlainTable[Cell]):
    """A DataTable brought up to date by key with cell-level diffs (never cleared)."""

    COLUMNS: list[tuple[str, str]] = []

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._cells: dict[str, tuple[Cell, ...]] = {}

    def on_mount(self) -> None:
        for key, label in self.COLUMNS:
            self.add_column(label, key=key)

    def apply_rows(
        self,
        rows: Sequence[dict[str, Any]],
        key: Callable[[dict[str, Any]], str],
        cells: Callable[[dict[str, Any]], tuple[Cell, ...]],
    ) -> None:
        incoming = {key(r): cells(r) for r in rows}
        with self.app.batch_update():
            for k in [k for k in self._cells if k not in incoming]:
                self.remove_row(k)
                del self._cells[k]
            for k, new in incoming.items():
                old = self._cells.get(k)
                if old is None:
                    self.add_row(*new, key=k)
                elif old != new:
                    for (col, _), a, b in zip(self.COLUMNS, new, old, strict=True):
                        if a != b:
                            self.update_cell(k, col, a, update_width=True)
                self._cells[k] = new


class PositionsTable(KeyedTable):
    COLUMNS = [
        ("symbol", "Sym"),
        ("contract", "Contract"),
        ("qty", "Qty"),
        ("avg", "Avg"),
        ("mark", "Mark"),
        ("pnl", "P&L"),
        ("bracket", "Bracket"),
        ("strategy", "Strategy"),
    ]

    def apply(self, positions: Sequence[dict[str, Any]]) -> None:
        self.apply_rows(positions, self._key, self._cells_of)

    @staticmethod
    def _key(p: dict[str, Any]) -> str:
        return str(p.get("con_id") or f"{p.get('symbol')}-{p.get('expiry')}-{p.get('strike')}")

    def _cells_of(self, p: dict[str, Any]) -> tuple[Cell, ...]:
        pnl = p.get("unrealized_pnl")
        if pnl is None:
            pnl_cell: Cell = DASH
        else:
            pnl_cell = Text(
                money(pnl, 2), style=tone(self, "profit" if float(pnl) >= 0 else "loss")
            )
        right = p.get("right") or ""
        contract = (
            f"{num(p.get('strike'), 1)}{right} {expiry(p.get('expiry'))}"
            if p.get("strike")
            else str(p.get("sec_type") or "STK")
        )
        return (
            str(p.get("symbol") or DASH),
            contract,
            integer(p.get("quantity")),
            num(p.get("avg_price")),
            num(p.get("market_price")),
            pnl_cell,
            self._bracket_cell(p.get("bracket_status")),
            str(p.get("strategy") or DASH),
        )

    def _bracket_cell(self, status: Any) -> Cell:
        """An open position without working exits is shown in the loss colour, one with only
        one of them in the warning colour."""
        text = str(status or DASH)
        if text == "unprotected":
            return Text("UNPROTECTED", style=f"bold {tone(self, 'loss')}")
        if text in ("stop_only", "take_profit_only"):
            return Text(text, style=tone(self, "warning-domain"))
        return text


#: How each bracket role is shown (engine.broker.orders.bracket_role).
ROLE_LABELS = {"entry": "entry", "take_profit": "take-profit", "stop": "stop", "child": "child"}


class OrdersTable(KeyedTable):
    COLUMNS = [
        ("id", "Order"),
        ("symbol", "Sym"),
        ("role", "Role"),
        ("side", "Side"),
        ("type", "Type"),
        ("qty", "Qty/Fill"),
        ("price", "Price"),
        ("status", "Status"),
    ]

    def apply(self, orders: Sequence[dict[str, Any]]) -> None:
        self.apply_rows(
            orders, lambda o: str(o.get("order_id") or o.get("order_ref")), self._cells_of
        )

    @staticmethod
    def _cells_of(o: dict[str, Any]) -> tuple[Cell, ...]:
        price = o.get("limit") if o.get("limit") is not None else o.get("aux_price")
        return (
            str(o.get("order_id") or DASH),
            str(o.get("symbol") or DASH),
            ROLE_LABELS.get(str(o.get("role")), str(o.get("role") or DASH)),
            str(o.get("action") or DASH),
            str(o.get("order_type") or DASH),
            f"{integer(o.get('quantity'))}/{integer(o.get('filled'))}",
            num(price),
            str(o.get("status") or DASH),
        )
