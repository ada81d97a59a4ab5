"""Tonight's Lineup: staged trades, quantity edits, removal and approval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import BindingType
from textual.message import Message

from console.format import DASH, expiry, integer, money, num, parse_time, stamp
from console.keymap import LINEUP_BINDINGS
from console.widgets.plain_table import PlainTable
from console.widgets.positions import KeyedTable
from console.widgets.tones import tone

Cell = str | Text

COLUMNS: list[tuple[str, str]] = [
    ("symbol", "Sym"),
    ("strike", "Strike"),
    ("expiry", "Exp/DTE"),
    ("qty", "Qty"),
    ("limit", "Mid"),
    ("credit", "Credit@bid"),
    ("mpc", "Margin/ct"),
    ("margin", "Margin"),
    ("score", "Score"),
    ("status", "Status"),
]


def entry_margin(e: dict[str, Any]) -> float:
    """Projected margin of one entry: margin per contract x quantity."""
    try:
        return float(e.get("margin_per_contract") or 0) * int(e.get("quantity") or 0)
    except (TypeError, ValueError):
        return 0.0


def entry_credit(e: dict[str, Any]) -> float | None:
    """The credit at the scan's bid: premium (the bid) per share x 100 x quantity. An order's
    limit never goes below the bid, so this is the least the entry is priced to take."""
    try:
        return float(e["premium"]) * 100 * int(e.get("quantity") or 0)
    except (KeyError, TypeError, ValueError):
        return None


def lineup_title(entries: Sequence[dict[str, Any]]) -> str:
    """Tonight's Lineup's title: its entries by status, or how to fill it when empty."""
    if not entries:
        return "Tonight's Lineup · empty (a: auto-select from the scan; t on the Scanner: stage)"
    counts: dict[str, int] = {}
    for e in entries:
        status = str(e.get("status") or "staged")
        counts[status] = counts.get(status, 0) + 1
    by_status = ", ".join(f"{n} {status}" for status, n in counts.items())
    return (
        f"Tonight's Lineup · {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}: {by_status}"
    )


def projected_margin(entries: Sequence[dict[str, Any]]) -> float:
    return sum(entry_margin(e) for e in entries if e.get("status") not in {"cancelled", "removed"})


class LineupTable(PlainTable[Cell]):
    """Keyed by lineup id. Quantity edits update the row and the projection at once."""

    BINDINGS: ClassVar[list[BindingType]] = list(LINEUP_BINDINGS)

    class QuantityChanged(Message):
        def __init__(self, lineup_id: int, quantity: int) -> None:
            super().__init__()
            self.lineup_id = lineup_id
            self.quantity = quantity

    class RemoveRequested(Message):
        def __init__(self, lineup_id: int, symbol: str) -> None:
            super().__init__()
            self.lineup_id = lineup_id
            self.symbol = symbol

    class ApproveRequested(Message):
        def __init__(self, lineup_id: int) -> None:
            super().__init__()
            self.lineup_id = lineup_id

    class ProjectionChanged(Message):
        def __init__(self, margin: float) -> None:
            super().__init__()
            self.margin = margin

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.entries: dict[str, dict[str, Any]] = {}
        self._cells: dict[str, tuple[Cell, ...]] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def row_cells(self, e: dict[str, Any]) -> tuple[Cell, ...]:
        status = str(e.get("status") or "staged")
        if e.get("stale"):
            st: Cell = Text(f"{status} STALE", style=tone(self, "stale"))
        elif status == "approved":
            st = Text(status, style=tone(self, "live"))
        else:
            st = status
        return (
            str(e.get("symbol") or DASH),
            num(e.get("strike"), 1),
            f"{expiry(e.get('expiry'))}/{integer(e.get('dte'))}",
            integer(e.get("quantity")),
            num(e.get("mid") or e.get("limit")),
            money(entry_credit(e), 2),
            money(e.get("margin_per_contract")),
            money(entry_margin(e)),
            num(e.get("score"), 1),
            st,
        )

    def apply(self, entries: Sequence[dict[str, Any]]) -> None:
        incoming = {str(e.get("id")): dict(e) for e in entries}
        with self.app.batch_update():
            for key in [k for k in self.entries if k not in incoming]:
                self.remove_row(key)
                self._cells.pop(key, None)
            for key, e in incoming.items():
                cells = self.row_cells(e)
                old = self._cells.get(key)
                if old is None:
                    self.add_row(*cells, key=key)
                elif old != cells:
                    for (col, _), new, prev in zip(COLUMNS, cells, old, strict=True):
                        if new != prev:
                            self.update_cell(key, col, new, update_width=True)
                self._cells[key] = cells
            self.entries = incoming
        self.post_message(self.ProjectionChanged(projected_margin(list(incoming.values()))))

    def current(self) -> dict[str, Any] | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return self.entries.get(str(row_key.value))

    def action_quantity(self, delta: int) -> None:
        e = self.current()
        if e is None:
            return
        qty = int(e.get("quantity") or 1) + delta
        if qty < 1:
            self.notify("Quantity is at least 1: use delete to remove", severity="warning")
            return
        e["quantity"] = qty
        self.apply(list(self.entries.values()))
        self.post_message(self.QuantityChanged(int(e["id"]), qty))

    def action_remove(self) -> None:
        e = self.current()
        if e is not None:
            self.post_message(self.RemoveRequested(int(e["id"]), str(e.get("symbol"))))

    def action_approve_one(self) -> None:
        e = self.current()
        if e is not None:
            self.post_message(self.ApproveRequested(int(e["id"])))


class LineupDoneTable(KeyedTable):
    """Entries that left the lineup in the last 24 h: sent, filled, or cancelled with the
    reason (Stage 2, tier 2, budget, kill switch), newest change last."""

    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("symbol", "Sym"),
        ("strike", "Strike"),
        ("expiry", "Exp"),
        ("qty", "Qty"),
        ("status", "Status"),
        ("when", "When"),
        ("reason", "Reason"),
    ]

    def apply(self, entries: Sequence[dict[str, Any]]) -> None:
        self.apply_rows(entries, lambda e: str(e.get("id")), self._cells_of)

    def _cells_of(self, e: dict[str, Any]) -> tuple[Cell, ...]:
        status = str(e.get("status") or DASH)
        style = {
            "filled": tone(self, "profit"),
            "cancelled": tone(self, "warning-domain"),
            "rejected": tone(self, "loss"),
        }.get(status)
        when = parse_time(e.get("updated_at"))
        return (
            str(e.get("symbol") or DASH),
            num(e.get("strike"), 1),
            expiry(e.get("expiry")),
            integer(e.get("quantity")),
            Text(status, style=style) if style else status,
            stamp(when, getattr(self.app, "local_zone", None), "%a %H:%M") if when else DASH,
            str(e.get("reason_text") or e.get("reason_code") or ""),
        )
