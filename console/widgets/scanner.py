"""Scanner widgets: the live candidate table (keyed diff updates), detail pane, rejections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import BindingType
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from console.format import DASH, clip, expiry, integer, money, num, pct
from console.keymap import SCANNER_BINDINGS
from console.widgets.plain_table import PlainTable
from console.widgets.tones import tone

Cell = str | Text

#: (column key, label) in display order.
COLUMNS: list[tuple[str, str]] = [
    ("symbol", "Sym"),
    ("sector", "Sector"),
    ("price", "Price"),
    ("strike", "Strike"),
    ("expiry", "Exp/DTE"),
    ("delta", "Delta"),
    ("otm", "OTM%"),
    ("bidask", "Bid/Ask"),
    ("mid", "Mid"),
    ("iv", "IV"),
    ("oivol", "OI/Vol"),
    ("margin", "Margin"),
    ("rom", "RoM"),
    ("score", "Score"),
    ("parts", "S/L/A/E"),
    ("ai", "AI"),
    ("status", "Status"),
]

#: Sort cycle: (label, function of a candidate, default reverse).
SORTS: list[tuple[str, Callable[[dict[str, Any]], Any], bool]] = [
    ("score", lambda c: float(c.get("score") or 0), True),
    ("return", lambda c: float(c.get("return_on_margin") or 0), True),
    ("delta", lambda c: abs(float(c.get("delta") or 0)), False),
    ("OTM", lambda c: float(c.get("otm_pct") or 0), True),
    ("DTE", lambda c: int(c.get("dte") or 0), False),
    ("symbol", lambda c: str(c.get("symbol") or ""), False),
]


def _times100(v: Any) -> float | None:
    """Fractions (0.067) shown as percent (6.7)."""
    try:
        return None if v is None else float(v) * 100
    except (TypeError, ValueError):
        return None


def candidate_key(c: dict[str, Any]) -> str:
    """Rows are keyed by symbol: one best strike per symbol, so the cursor survives rescans."""
    return str(c.get("symbol") or c.get("id"))


class ScannerTable(PlainTable[Cell]):
    """Live scanner results. `apply()` diffs rows by key and updates only changed cells."""

    BINDINGS: ClassVar[list[BindingType]] = list(SCANNER_BINDINGS)

    class Highlighted(Message):
        """The cursor moved to a candidate (or to none)."""

        def __init__(self, candidate: dict[str, Any] | None) -> None:
            super().__init__()
            self.candidate = candidate

    class StageRequested(Message):
        def __init__(self, candidate: dict[str, Any]) -> None:
            super().__init__()
            self.candidate = candidate

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.candidates: dict[str, dict[str, Any]] = {}
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self.sort_index = 0
        self.sort_reverse = SORTS[0][2]
        self.updates = 0
        self._shown: dict[str, Any] | None = None

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    # -- rendering ---------------------------------------------------------------------
    def row_cells(self, c: dict[str, Any]) -> tuple[Cell, ...]:
        comps = c.get("components") or {}
        parts = "/".join(
            DASH if comps.get(k) is None else f"{float(comps[k]):.0f}"
            for k in ("safety", "liquidity", "ai", "efficiency")
        )
        status = str(c.get("status") or "candidate")
        if c.get("stale"):
            status_cell: Cell = Text(f"{status} STALE", style=tone(self, "stale"))
        elif status in {"staged", "approved"}:
            status_cell = Text(status, style=tone(self, "live"))
        elif status == "rejected":
            status_cell = Text(status, style=tone(self, "loss"))
        else:
            status_cell = status
        score = c.get("score")
        score_cell: Cell = Text(num(score, 1), style="bold") if score is not None else DASH
        ai_line = c.get("ai_line") or (f"{c['ai_score']:.0f}" if c.get("ai_score") else DASH)
        return (
            str(c.get("symbol") or DASH),
            clip(str(c.get("sector") or DASH), 12),
            num(c.get("underlying_price")),
            num(c.get("strike"), 1),
            f"{expiry(c.get('expiry'))}/{integer(c.get('dte'))}",
            num(c.get("delta"), 3),
            pct(c.get("otm_pct")),
            f"{num(c.get('bid'))}/{num(c.get('ask'))}",
            num(c.get("mid")),
            pct(None if c.get("iv") is None else float(c["iv"]) * 100, 0),
            f"{integer(c.get('open_interest'))}/{integer(c.get('volume'))}",
            money(c.get("margin")),
            pct(_times100(c.get("return_on_margin")), 2),
            score_cell,
            parts,
            clip(str(ai_line), 28),
            status_cell,
        )

    # -- diff update ---------------------------------------------------------------------
    def apply(self, candidates: Sequence[dict[str, Any]]) -> None:
        """Bring the table to `candidates`: remove vanished keys, update changed cells only,
        add new rows. Never clears (the cursor and scroll stay where the user left them)."""
        incoming = {candidate_key(c): c for c in candidates}
        with self.app.batch_update():
            if self.candidates and not incoming.keys() & self.candidates.keys():
                # no row stays (another scan or account): one clear, not n row removals
                # (each of which costs O(rows) in DataTable)
                self.clear()
                self._cells.clear()
            for key in [k for k in self.candidates if k not in incoming and k in self._cells]:
                try:
                    self.remove_row(key)
                except RowDoesNotExist:
                    pass
                self._cells.pop(key, None)
            added = False
            for key, c in incoming.items():
                if self.candidates.get(key) == c and key in self._cells:
                    continue  # unchanged candidate: nothing to format or compare
                cells = self.row_cells(c)
                old = self._cells.get(key)
                if old is None:
                    self.add_row(*cells, key=key)
                    added = True
                elif old != cells:
                    for (col, _), new, prev in zip(COLUMNS, cells, old, strict=True):
                        if new != prev:
                            self.update_cell(key, col, new, update_width=True)
                self._cells[key] = cells
            self.candidates = incoming
            if added or self.sort_index != 0 or self.sort_reverse != SORTS[0][2]:
                self.resort()
        self.updates += 1
        current = self.current()
        if current != self._shown:
            self._shown = current
            self.post_message(self.Highlighted(current))

    def resort(self) -> None:
        _, fn, _ = SORTS[self.sort_index]
        cands = self.candidates

        def key(symbol: Any) -> Any:
            c = cands.get(str(symbol))
            return fn(c) if c is not None else 0

        if self.row_count:
            self.sort("symbol", key=key, reverse=self.sort_reverse)

    def current(self) -> dict[str, Any] | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:
            return None
        return self.candidates.get(str(row_key.value))

    @property
    def sort_label(self) -> str:
        return SORTS[self.sort_index][0] + (" ↓" if self.sort_reverse else " ↑")

    # -- actions ---------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._shown = self.current()
        self.post_message(self.Highlighted(self._shown))

    def action_stage(self) -> None:
        c = self.current()
        if c is None:
            self.notify("No candidate selected", severity="warning")
            return
        self.post_message(self.StageRequested(c))

    def action_cycle_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self.sort_reverse = SORTS[self.sort_index][2]
        self.resort()
        self.notify(f"Sorted by {self.sort_label}", timeout=2)

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.resort()


class CandidateDetail(Static):
    """Everything known about the highlighted candidate."""

    def on_mount(self) -> None:
        self.show(None)

    def show(self, c: dict[str, Any] | None) -> None:
        if c is None:
            self.update("No candidate selected.\nPress s to scan.")
            return
        comps = c.get("components") or {}
        t = Text()
        t.append(
            f"{c.get('symbol')}  {num(c.get('strike'), 1)}P {expiry(c.get('expiry'))}", style="bold"
        )
        t.append(f"  ({integer(c.get('dte'))} DTE)\n")
        t.append(f"{c.get('sector') or DASH} · underlying {num(c.get('underlying_price'))}\n")
        t.append(f"bid/ask {num(c.get('bid'))}/{num(c.get('ask'))}  mid {num(c.get('mid'))}\n")
        t.append(
            f"Δ {num(c.get('delta'), 3)}  Γ {num(c.get('gamma'), 4)}  "
            f"Θ {num(c.get('theta'), 3)}  V {num(c.get('vega'), 3)}\n"
        )
        iv = c.get("iv")
        t.append(
            f"IV {pct(None if iv is None else float(iv) * 100)}  OTM {pct(c.get('otm_pct'))}\n"
        )
        t.append(
            f"OI {integer(c.get('open_interest'))}  vol {integer(c.get('volume'))}  "
            f"margin {money(c.get('margin'))}  RoM {pct(_times100(c.get('return_on_margin')), 2)}\n"
        )
        t.append(f"score {num(c.get('score'), 1)} = ", style="bold")
        t.append(
            "  ".join(
                f"{k[:4]} {DASH if comps.get(k) is None else f'{float(comps[k]):.0f}'}"
                for k in ("safety", "liquidity", "ai", "efficiency")
            )
            + "\n"
        )
        if c.get("suggested_qty"):
            t.append(f"suggested qty {c['suggested_qty']}\n")
        if c.get("ai_line"):
            t.append(f"AI: {c['ai_line']}\n", style="italic")
        if c.get("stale"):
            t.append(
                "STALE: selected under the closed-market override\n", style=tone(self, "stale")
            )
        if c.get("reason"):
            t.append(f"{c['reason']}\n")
        _append_strikes(t, c.get("strike_rejections") or [], "other strikes, not chosen")
        self.update(t)

    def show_rejection(self, r: dict[str, Any]) -> None:
        """A symbol without a candidate: its reason, then every strike's own reason."""
        t = Text()
        t.append(f"{r.get('symbol')}  rejected\n", style="bold")
        t.append(f"{r.get('code') or DASH}: {r.get('reason') or DASH}\n")
        _append_strikes(t, r.get("strike_rejections") or [], "strikes looked at")
        self.update(t)


#: Strike reasons listed in the detail pane (the rest are counted).
MAX_STRIKE_LINES = 12


def strike_lines(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(where, why) lines for a symbol's strikes not chosen: each quoted or estimated strike
    with its own reason, then, per expiry, one line for the strikes too near the money (under
    min OTM %), which were never quoted."""
    out: list[tuple[str, str]] = []
    near: dict[str, list[float]] = {}
    for r in rows:
        if r.get("code") == "otm_below_min" and r.get("strike"):
            near.setdefault(str(r.get("expiry") or ""), []).append(float(r["strike"]))
            continue
        # strike 0 marks a reason about the whole expiry (its strike list not requested)
        strike = num(r.get("strike"), 1) if r.get("strike") else "all"
        out.append(
            (f"{expiry(r.get('expiry'))} {strike}", str(r.get("text") or r.get("code") or DASH))
        )
    for exp, strikes in near.items():
        lo, hi = min(strikes), max(strikes)
        span = num(lo, 1) if lo == hi else f"{num(lo, 1)}-{num(hi, 1)}"
        n = len(strikes)
        out.append(
            (
                f"{expiry(exp)} {span}",
                f"{n} strike{'s' if n != 1 else ''} under min OTM % (nearer the money), not quoted",
            )
        )
    return out


def _append_strikes(t: Text, rows: Sequence[dict[str, Any]], title: str) -> None:
    if not rows:
        return
    t.append(f"\n{title} ({len(rows)}):\n", style="bold")
    lines = strike_lines(rows)
    for where, why in lines[:MAX_STRIKE_LINES]:
        t.append(f"  {where}: ", style="bold")
        t.append(f"{why}\n")
    if len(lines) > MAX_STRIKE_LINES:
        t.append(f"  ... {len(lines) - MAX_STRIKE_LINES} more (putdesk scan --json)\n")


class RejectionTable(PlainTable[Cell]):
    """Symbols with no candidate, each with its reason code and text (keyed by symbol); the
    highlighted one's strike-by-strike reasons go to the detail pane."""

    class Highlighted(Message):
        def __init__(self, rejection: dict[str, Any]) -> None:
            super().__init__()
            self.rejection = rejection

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self._rows: dict[str, tuple[str, str]] = {}
        self.rejections: dict[str, dict[str, Any]] = {}

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        r = self.rejections.get(str(event.row_key.value))
        if r is not None and self.has_focus:
            self.post_message(self.Highlighted(r))

    def on_focus(self) -> None:
        if self.row_count:
            key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
            r = self.rejections.get(str(key.value))
            if r is not None:
                self.post_message(self.Highlighted(r))

    def on_mount(self) -> None:
        self.add_column("Rejected", key="symbol")
        self.add_column("Code", key="code")
        self.add_column("Reason", key="reason")

    def apply(self, rejections: Sequence[dict[str, Any]]) -> None:
        incoming = {
            str(r.get("symbol")): (str(r.get("code") or DASH), str(r.get("reason") or DASH))
            for r in rejections
        }
        self.rejections = {str(r.get("symbol")): dict(r) for r in rejections}
        with self.app.batch_update():
            for key in [k for k in self._rows if k not in incoming]:
                self.remove_row(key)
            for key, (code, reason) in incoming.items():
                old = self._rows.get(key)
                if old is None:
                    self.add_row(key, code, reason, key=key)
                elif old != (code, reason):
                    self.update_cell(key, "code", code, update_width=True)
                    self.update_cell(key, "reason", reason, update_width=True)
            self._rows = incoming
