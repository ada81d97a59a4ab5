"""Auto-Select and the staging guard: budget, sector caps, one entry per symbol."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from config.models import BudgetConfig, SelectionConfig
from engine.selection.lineup import LineupEntry, budget_state, may_send
from engine.selection.portfolio import (
    BudgetState,
    Holding,
    PortfolioCandidate,
    auto_select,
    check_stage,
    suggested_quantity,
)


def cand(i: int, sym: str, sector: str, score: float, margin: str | None) -> PortfolioCandidate:
    return PortfolioCandidate(
        i, sym, sector, score, None if margin is None else Decimal(margin), Decimal("0.50")
    )


def state(nlv: str = "100000", used: str = "0", pct: float = 20.0) -> BudgetState:
    return BudgetState(Decimal(nlv), Decimal(used), pct)


def test_greedy_in_score_order_within_budget() -> None:
    cands = [
        cand(1, "A", "Tech", 90, "8000"),
        cand(2, "B", "Tech", 80, "13000"),
        cand(3, "C", "Energy", 70, "3000"),
        cand(4, "D", "Energy", 60, None),
    ]
    sel = auto_select(cands, state(), SelectionConfig(), BudgetConfig())
    assert [p.candidate.symbol for p in sel.picks] == ["A", "C"]
    skipped = {c.symbol: r.code for c, r in sel.skipped}
    assert skipped == {"B": "over_budget", "D": "margin_unavailable"}


def test_sector_cap_and_existing_lineup() -> None:
    st0 = state()
    st0.holdings.append(Holding("X", "Tech", Decimal("1000")))
    cands = [cand(1, "A", "Tech", 90, "100"), cand(2, "X", "Energy", 95, "100")]
    sel = auto_select(cands, st0, SelectionConfig(), BudgetConfig(max_per_sector=1))
    assert sel.picks == []
    assert {c.symbol: r.code for c, r in sel.skipped} == {
        "A": "sector_cap",
        "X": "symbol_already_staged",
    }


def test_margin_in_use_counts() -> None:
    sel = auto_select(
        [cand(1, "A", "Tech", 90, "5000")], state(used="16000"), SelectionConfig(), BudgetConfig()
    )
    assert sel.picks == [] and sel.skipped[0][1].code == "over_budget"


def test_quantity_fixed_and_reduced_to_fit() -> None:
    sel_cfg = SelectionConfig(contracts_per_trade=5)
    sel = auto_select([cand(1, "A", "Tech", 90, "6000")], state(), sel_cfg, BudgetConfig())
    assert sel.picks[0].quantity == 3 and sel.picks[0].margin == Decimal("18000")


def test_margin_share_sizing() -> None:
    cfg = SelectionConfig(sizing="margin_share", max_contracts_per_symbol=10)
    c = cand(1, "A", "Tech", 90, "1000")
    assert suggested_quantity(c, cfg, Decimal("20000"), 4) == 5
    assert suggested_quantity(c, cfg, Decimal("500"), 4) == 1
    assert suggested_quantity(c, cfg, Decimal("1000000000"), 1) == 10


def test_check_stage_reasons_text() -> None:
    r = check_stage(cand(1, "A", "Tech", 90, "30000"), 1, state(), BudgetConfig())
    assert r is not None and r.code == "over_budget" and "20000" in r.text


def test_stale_entries_never_sent_live() -> None:
    e = LineupEntry(
        1,
        "A",
        "Tech",
        "20261127",
        Decimal("90"),
        1,
        Decimal("1000"),
        Decimal("0.5"),
        "approved",
        True,
    )
    assert may_send(e, account_is_live=True) is not None
    assert may_send(e, account_is_live=False) is None
    s = budget_state(Decimal("100000"), Decimal("0"), 20.0, [e])
    assert s.lineup_margin == Decimal("1000")
    assert budget_state(Decimal("100000"), Decimal("0"), 20.0, [e], exclude=1).lineup_margin == 0


candidates_st = st.lists(
    st.tuples(
        st.sampled_from([f"S{i}" for i in range(15)]),
        st.sampled_from(["Tech", "Energy", "Health", "Fin"]),
        st.floats(0, 100),
        st.one_of(st.none(), st.integers(50, 40_000)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    raw=candidates_st,
    nlv=st.integers(10_000, 2_000_000),
    used_pct=st.floats(0, 30),
    pct=st.floats(1, 100),
    cap=st.integers(1, 5),
    qty=st.integers(1, 10),
    sizing=st.sampled_from(["fixed", "margin_share"]),
)
def test_auto_select_invariants(
    raw: list[tuple[str, str, float, int | None]],
    nlv: int,
    used_pct: float,
    pct: float,
    cap: int,
    qty: int,
    sizing: str,
) -> None:
    cands = [
        cand(i, s, sec, score, None if m is None else str(m))
        for i, (s, sec, score, m) in enumerate(raw)
    ]
    used = (Decimal(nlv) * Decimal(str(round(used_pct, 2))) / 100).quantize(Decimal("0.01"))
    st0 = BudgetState(Decimal(nlv), used, pct)
    sel_cfg = SelectionConfig(contracts_per_trade=qty, sizing=sizing)  # type: ignore[arg-type]
    budget = BudgetConfig(max_per_sector=cap)
    sel = auto_select(cands, st0, sel_cfg, budget)
    total = used + sum((p.margin for p in sel.picks), Decimal(0))
    if sel.picks:
        assert total <= st0.ceiling
    syms = [p.candidate.symbol for p in sel.picks]
    assert len(syms) == len(set(syms))
    per_sector = Counter(p.candidate.sector for p in sel.picks)
    assert all(n <= cap for n in per_sector.values())
    for p in sel.picks:
        assert 1 <= p.quantity <= sel_cfg.max_contracts_per_symbol
        assert p.margin == p.candidate.margin_per_contract * p.quantity  # type: ignore[operator]
    assert len(sel.picks) + len(sel.skipped) == len(cands)
    scores = [p.candidate.score for p in sel.picks]
    assert scores == sorted(scores, reverse=True)
