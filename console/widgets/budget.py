"""Margin budget gauges: NLV, margin in use, working orders' margin (shown when there is
some), lineup margin, budget and headroom."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static

from console.format import DASH, money

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


class BudgetGauges(Vertical):
    """Numbers on one line, then a gauge of (margin in use + working orders + lineup) against
    the budget."""

    def compose(self) -> ComposeResult:
        yield Static(id="budget-numbers")
        with Horizontal(id="budget-bars"):
            yield Static("in use+lineup", classes="gauge-label")
            yield ProgressBar(total=100, show_eta=False, id="budget-gauge")

    def on_mount(self) -> None:
        self.show({})

    def show(self, budget: dict[str, Any], lineup_margin: float | None = None) -> None:
        n = budget_numbers(budget, lineup_margin)
        lvl = level(n["usage"])
        pct = f" ({n['budget_pct']:g}% of NLV)" if n["budget_pct"] else ""
        have = bool(budget)
        text = (
            f"NLV {money(n['nlv']) if have else DASH}  "
            f"in use {money(n['margin_in_use']) if have else DASH}  "
            + (f"working {money(n['working_margin'])}  " if n["working_margin"] else "")
            + f"lineup {money(n['lineup_margin']) if have else DASH}  "
            f"budget {money(n['budget']) if have else DASH}{pct}  "
            f"headroom {money(n['headroom']) if have else DASH}"
        )
        self.query_one("#budget-numbers", Static).update(text)
        bar = self.query_one("#budget-gauge", ProgressBar)
        bar.update(total=100, progress=min(100.0, n["usage"] * 100))
        for name in ("ok", "warning", "error"):
            self.set_class(lvl == name, f"-{name}")
