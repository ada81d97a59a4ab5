"""Auto-Select (level B) and the staging guard (level A): spend the margin budget in score
order without breaking the budget or a sector cap. Pure functions.

Budget = margin_pct_of_nlv % of net liquidation. Projected margin = margin already in use
(FullMaintMarginReq) + margin of the entries whose orders are working (sent, not yet filled,
so not yet in IBKR's figure) + margin of the lineup + margin of the new entry. Sector caps
count distinct underlyings per sector across the positions held, the working entries and the
lineup. One entry per symbol among the lineup and the working entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from config.models import BudgetConfig, SelectionConfig
from engine.domain import Reason

R_OVER_BUDGET = "over_budget"
R_SECTOR_CAP = "sector_cap"
R_SYMBOL_STAGED = "symbol_already_staged"
R_NO_MARGIN = "margin_unavailable"
R_STALE = "stale_candidate"


@dataclass(frozen=True)
class PortfolioCandidate:
    """What portfolio building needs of one scored candidate."""

    candidate_id: int
    symbol: str
    sector: str
    score: float
    margin_per_contract: Decimal | None
    premium: Decimal
    stale: bool = False


LINEUP, WORKING, HELD = "lineup", "working", "held"


@dataclass(frozen=True)
class Holding:
    """An underlying already committed: a lineup entry (`lineup`), an entry whose order is
    working at IBKR (`working`), or a position held (`held`, its margin is already in IBKR's
    margin in use, so `margin` is 0). Each counts in its sector."""

    symbol: str
    sector: str
    margin: Decimal
    kind: str = LINEUP


@dataclass
class BudgetState:
    """Net liquidation, margin in use, the ceiling and what the lineup already adds."""

    net_liquidation: Decimal
    margin_in_use: Decimal
    budget_pct: float
    holdings: list[Holding] = field(default_factory=list)

    @property
    def ceiling(self) -> Decimal:
        return (self.net_liquidation * Decimal(str(self.budget_pct)) / 100).quantize(
            Decimal("0.01")
        )

    @property
    def lineup_margin(self) -> Decimal:
        return sum((h.margin for h in self.holdings if h.kind == LINEUP), Decimal(0))

    @property
    def working_margin(self) -> Decimal:
        """Margin of entries sent but not yet filled (IBKR's margin in use lacks it)."""
        return sum((h.margin for h in self.holdings if h.kind == WORKING), Decimal(0))

    @property
    def projected(self) -> Decimal:
        return self.margin_in_use + self.working_margin + self.lineup_margin

    @property
    def headroom(self) -> Decimal:
        return self.ceiling - self.projected

    def sector_counts(self) -> Counter[str]:
        return Counter({s: len(syms) for s, syms in self._sector_symbols().items()})

    def _sector_symbols(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for h in self.holdings:
            out.setdefault(h.sector, set()).add(h.symbol)
        return out

    def symbols(self) -> set[str]:
        """Symbols in the lineup or with a working entry (held positions excluded)."""
        return {h.symbol for h in self.holdings if h.kind != HELD}

    def held_symbols(self) -> set[str]:
        return {h.symbol for h in self.holdings if h.kind == HELD}

    def summary(self) -> dict[str, str]:
        return {
            "net_liquidation": str(self.net_liquidation),
            "margin_in_use": str(self.margin_in_use),
            "budget": str(self.ceiling),
            "lineup_margin": str(self.lineup_margin),
            "working_margin": str(self.working_margin),
            "projected": str(self.projected),
            "headroom": str(self.headroom),
            "held_symbols": ",".join(sorted(self.held_symbols())),
        }


@dataclass(frozen=True)
class Pick:
    candidate: PortfolioCandidate
    quantity: int
    margin: Decimal


@dataclass
class AutoSelection:
    picks: list[Pick] = field(default_factory=list)
    skipped: list[tuple[PortfolioCandidate, Reason]] = field(default_factory=list)


def suggested_quantity(
    cand: PortfolioCandidate, cfg: SelectionConfig, headroom: Decimal, n_candidates: int
) -> int:
    """`fixed`: contracts_per_trade. `margin_share`: an equal share of the headroom per
    candidate, in whole contracts. Both within [1, max_contracts_per_symbol]."""
    if cfg.sizing == "fixed" or not cand.margin_per_contract or cand.margin_per_contract <= 0:
        qty = cfg.contracts_per_trade
    else:
        share = headroom / max(n_candidates, 1)
        qty = int((share / cand.margin_per_contract).to_integral_value(rounding=ROUND_FLOOR))
    return max(1, min(qty, cfg.max_contracts_per_symbol))


def check_stage(
    cand: PortfolioCandidate, quantity: int, state: BudgetState, budget: BudgetConfig
) -> Reason | None:
    """Level A guard: None when `quantity` contracts of `cand` fit, else why not."""
    if cand.margin_per_contract is None or cand.margin_per_contract <= 0:
        return Reason(R_NO_MARGIN, f"{cand.symbol}: no IBKR what-if margin for this strike")
    if cand.symbol in state.symbols():
        working = any(h.symbol == cand.symbol and h.kind == WORKING for h in state.holdings)
        where = "has an order working at IBKR" if working else "is already in the lineup"
        return Reason(R_SYMBOL_STAGED, f"{cand.symbol} {where}")
    counts = state.sector_counts()
    in_sector = state._sector_symbols().get(cand.sector, set())
    if cand.symbol not in in_sector and counts.get(cand.sector, 0) >= budget.max_per_sector:
        held = sorted(
            {h.symbol for h in state.holdings if h.kind == HELD and h.sector == cand.sector}
        )
        of_which = f", {len(held)} of them held ({', '.join(held)})" if held else ""
        return Reason(
            R_SECTOR_CAP,
            f"sector {cand.sector} already has {counts[cand.sector]} underlyings"
            f"{of_which} (cap {budget.max_per_sector})",
        )
    need = cand.margin_per_contract * quantity
    if state.projected + need > state.ceiling:
        return Reason(
            R_OVER_BUDGET,
            f"{cand.symbol} x{quantity} needs {need} margin; projected "
            f"{state.projected + need} > budget {state.ceiling} "
            f"({state.budget_pct:g}% of NLV {state.net_liquidation})",
        )
    return None


def auto_select(
    candidates: Iterable[PortfolioCandidate],
    state: BudgetState,
    sel: SelectionConfig,
    budget: BudgetConfig,
) -> AutoSelection:
    """Greedy in score order: suggested quantity, reduced to what fits, one entry per symbol,
    never over the budget, never over a sector cap. `state.holdings` grows with each pick."""
    ordered: Sequence[PortfolioCandidate] = sorted(
        candidates, key=lambda c: (-c.score, c.symbol, c.candidate_id)
    )
    out = AutoSelection()
    start_headroom = max(state.headroom, Decimal(0))
    n = len({c.symbol for c in ordered})
    for cand in ordered:
        qty = suggested_quantity(cand, sel, start_headroom, n)
        problem = check_stage(cand, 1, state, budget)
        if problem is not None:
            out.skipped.append((cand, problem))
            continue
        assert cand.margin_per_contract is not None
        fits = int(
            (state.headroom / cand.margin_per_contract).to_integral_value(rounding=ROUND_FLOOR)
        )
        qty = min(qty, fits)
        margin = cand.margin_per_contract * qty
        out.picks.append(Pick(cand, qty, margin))
        state.holdings.append(Holding(cand.symbol, cand.sector, margin))
    return out
