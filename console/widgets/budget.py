"""Margin budget gauges: NLV, margin in use, working orders' margin (shown when there is
some), lineup margin, budget and headroom."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static

from console.format import DASH, money, short_money

WARN_AT = 0.85  # fraction of the budget at which the gauges turn the warning colour


def budget_numbers(budget: dict[str, Any], lineup_margin: float | None = None) -> dict[str, float]:
    """Normalise a budget payload; `lineup_margin` (a local projection) wins when given."""

    def f(key: str) -> float:
        try:
            return float(budget.get(key) or 0.0)
        except (TypeError, ValueError):
            return 0.0

    keys = ("nlv", "margin_in_use", "budget", "budget_pct", "lineup_margin", "working_margin")
    out = {k: f(k) for k in keys}
    if lineup_margin is not None:
        out["lineup_margin"] = lineup_margin
    committed = out["margin_in_use"] + out["working_margin"] + out["lineup_margin"]
    out["headroom"] = out["budget"] - committed
    out["usage"] = committed / out["budget"] if out["budget"] else 0.0
    return out


def level(usage: float) -> str:
    """'ok', 'warning' (near the ceiling) or 'error' (over it)."""
    if usage > 1.0:
        return "error"
    if usage >= WARN_AT:
        return "warning"
    return "ok"


def numbers_text(
    n: dict[str, float], have: bool, fmt: Any, pct: str, *, narrow: bool = False
) -> str:
    """The numbers line: NLV, in use, working (when some), lineup, budget, headroom. Narrow:
    headroom first, so what is cut off at the right edge is the least needed."""

    def m(key: str) -> str:
        return str(fmt(n[key])) if have else DASH

    parts = [
        f"NLV {m('nlv')}",
        f"in use {m('margin_in_use')}",
        *([f"working {m('working_margin')}"] if n["working_margin"] else []),
        f"lineup {m('lineup_margin')}",
        f"budget {m('budget')}" + (pct if n["budget_pct"] else ""),
    ]
    room = f"headroom {m('headroom')}"
    return "  ".join([room, *parts] if narrow else [*parts, room])


class BudgetGauges(Vertical):
    """Numbers on one line (short amounts when the line would not fit), then a gauge of
    (margin in use + working orders + lineup) against the budget."""

    _shown: tuple[dict[str, Any], float | None] = ({}, None)

    def compose(self) -> ComposeResult:
        yield Static(id="budget-numbers")
        with Horizontal(id="budget-bars"):
            yield Static("in use+lineup", classes="gauge-label")
            yield ProgressBar(total=100, show_eta=False, id="budget-gauge")

    def on_mount(self) -> None:
        self.show({})

    def on_resize(self) -> None:
        self.show(*self._shown)

    def show(self, budget: dict[str, Any], lineup_margin: float | None = None) -> None:
        self._shown = (budget, lineup_margin)
        n = budget_numbers(budget, lineup_margin)
        lvl = level(n["usage"])
        have = bool(budget)
        text = numbers_text(n, have, money, f" ({n['budget_pct']:g}% of NLV)")
        width = self.size.width if self.is_mounted else 0
        if (
            0 < width < len(text) + 2
        ):  # narrow (padding 0 1): short amounts, so headroom stays in sight
            text = numbers_text(n, have, short_money, f" ({n['budget_pct']:g}%)", narrow=True)
        self.query_one("#budget-numbers", Static).update(text)
        bar = self.query_one("#budget-gauge", ProgressBar)
        bar.update(total=100, progress=min(100.0, n["usage"] * 100))
        for name in ("ok", "warning", "error"):
            self.set_class(lvl == name, f"-{name}")
