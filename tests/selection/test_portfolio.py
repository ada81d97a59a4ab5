"""Auto-Select and the staging guard: budget, sector caps, one entry per symbol."""

from __future__ import annotations

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


def entry(i: int, sym: str, sector: str, qty: int, margin: str, status: str) -> LineupEntry:
    return LineupEntry(
        i,
        sym,
        sector,
        "20261204",
        Decimal("90"),
        qty,
        Decimal(margin),
        Decimal("0.5"),
        status,
        False,
    )


def test_working_entries_count_against_the_budget_and_block_their_symbol() -> None:
    """An entry sent but not filled is not in IBKR's margin in use yet: its unsold contracts
    count, and its symbol cannot be staged again while the order works."""
    working = entry(1, "W", "Tech", 3, "4000", "submitted")
    st0 = budget_state(
        Decimal("100000"), Decimal("4000"), 20.0, [], working=[(working, 1)]
    )  # 1 of 3 sold: its margin is in the 4000 in use, 2 x 4000 still working
    assert st0.working_margin == Decimal("8000") and st0.lineup_margin == 0
    assert st0.projected == Decimal("12000") and st0.headroom == Decimal("8000")
    sel = auto_select(
        [cand(1, "W", "Energy", 99, "100"), cand(2, "A", "Tech", 90, "9000")],
        st0,
        SelectionConfig(),
        BudgetConfig(),
    )
    assert sel.picks == []
    why = {c.symbol: r for c, r in sel.skipped}
    assert why["W"].code == "symbol_already_staged" and "order working" in why["W"].text
    assert why["A"].code == "over_budget"
    assert st0.summary()["working_margin"] == "8000"


def test_held_underlyings_count_in_sector_caps_once() -> None:
    """Positions held are underlyings of their sector (their margin is already in use): they
    fill the cap, and a held symbol may be sold again without counting twice."""
    st0 = budget_state(
        Decimal("100000"), Decimal("0"), 20.0, [], held=[("H1", "Tech"), ("H2", "Tech")]
    )
    assert st0.projected == 0 and st0.held_symbols() == {"H1", "H2"}
    cands = [
        cand(1, "A", "Tech", 90, "100"),
        cand(2, "H1", "Tech", 80, "100"),
        cand(3, "E", "Energy", 70, "100"),
    ]
    sel = auto_select(cands, st0, SelectionConfig(), BudgetConfig(max_per_sector=2))
    assert [p.candidate.symbol for p in sel.picks] == ["H1", "E"]
    ((skipped, reason),) = sel.skipped
    assert skipped.symbol == "A" and reason.code == "sector_cap"
    assert "2 of them held (H1, H2)" in reason.text


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


committed_st = st.lists(
    st.tuples(
        st.sampled_from([f"S{i}" for i in range(15)]),
        st.sampled_from(["Tech", "Energy", "Health", "Fin"]),
        st.booleans(),  # held (a position) or working (an order sent, not filled)
        st.integers(1, 5),
        st.integers(0, 5),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(
    raw=candidates_st,
    committed=committed_st,
    nlv=st.integers(10_000, 2_000_000),
    used_pct=st.floats(0, 30),
    pct=st.floats(1, 100),
    cap=st.integers(1, 5),
    qty=st.integers(1, 10),
    sizing=st.sampled_from(["fixed", "margin_share"]),
)
def test_auto_select_invariants(
    raw: list[tuple[str, str, float, int | None]],
    committed: list[tuple[str, str, bool, int, int]],
    nlv: int,
    used_pct: float,
    pct: float,
    cap: int,
    qty: int,
    sizing: str,
) -> None:
    """Over random universes, positions held and working orders: never over the budget (in
    use + working + picks), never a new underlying in a sector at its cap, one entry per
    symbol among the lineup and the working orders."""
    cands = [
        cand(i, s, sec, score, None if m is None else str(m))
        for i, (s, sec, score, m) in enumerate(raw)
    ]
    used = (Decimal(nlv) * Decimal(str(round(used_pct, 2))) / 100).quantize(Decimal("0.01"))
    sector_of: dict[str, str] = {}
    held: list[tuple[str, str]] = []
    working: list[tuple[LineupEntry, int]] = []
    for i, (sym, sec, is_held, q, sold) in enumerate(committed):
        sec = sector_of.setdefault(sym, sec)
        if is_held:
            held.append((sym, sec))
        elif sym not in {e.symbol for e, _ in working}:
            working.append((entry(100 + i, sym, sec, q, "1000", "submitted"), min(sold, q)))
    st0 = budget_state(Decimal(nlv), used, pct, [], working=working, held=held)
    before = {sec: set(syms) for sec, syms in st0._sector_symbols().items()}
    work = sum((Decimal(1000) * (e.quantity - sold) for e, sold in working), Decimal(0))
    assert st0.working_margin == work
    sel_cfg = SelectionConfig(contracts_per_trade=qty, sizing=sizing)  # type: ignore[arg-type]
    budget = BudgetConfig(max_per_sector=cap)
    sel = auto_select(cands, st0, sel_cfg, budget)
    total = used + work + sum((p.margin for p in sel.picks), Decimal(0))
    if sel.picks:
        assert total <= st0.ceiling
    syms = [p.candidate.symbol for p in sel.picks]
    assert len(syms) == len(set(syms))
    assert not set(syms) & {e.symbol for e, _ in working}
    for sec, now_syms in st0._sector_symbols().items():
        new = now_syms - before.get(sec, set())
        if new:
            assert len(now_syms) <= cap
    for p in sel.picks:
        assert 1 <= p.quantity <= sel_cfg.max_contracts_per_symbol
        assert p.margin == p.candidate.margin_per_contract * p.quantity  # type: ignore[operator]
    assert len(sel.picks) + len(sel.skipped) == len(cands)
    scores = [p.candidate.score for p in sel.picks]
    assert scores == sorted(scores, reverse=True)
