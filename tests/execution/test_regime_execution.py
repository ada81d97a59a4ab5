"""The market regime in execution: the guard at Stage 2 and the label on each trade opened."""

from __future__ import annotations

from engine.domain import Reason
from engine.store.db import Store
from tests.execution.helpers import add_lineup, config, lineup_row, make_exchange, workflow
from tests.execution.test_workflow import bid_to


async def test_regime_guard_at_stage2_cancels_the_approved_entries_with_its_reason(
    store: Store,
) -> None:
    ex = make_exchange()
    lid = await add_lineup(store, ex)
    calls = 0

    async def check() -> Reason | None:
        nonlocal calls
        calls += 1
        return Reason("regime.vix", "regime guard: VIX 34.20 >= max_vix 30 (stress)")

    summary = await workflow(store, ex, config(), regime_check=check).run()
    row = await lineup_row(store, lid)
    assert calls == 1
    assert row["status"] == "cancelled" and row["reason_code"] == "regime.vix"
    assert "VIX 34.20" in row["reason_text"]
    assert not ex.place_calls, "nothing may reach IBKR when the regime guard trips"
    assert any(d["code"] == "regime.vix" for d in summary.decisions)


async def test_a_clear_regime_lets_execution_proceed_and_labels_the_trade(store: Store) -> None:
    ex = make_exchange()
    lid = await add_lineup(store, ex)

    async def clear() -> Reason | None:
        return None

    wf = workflow(
        store,
        ex,
        config(),
        hook=bid_to(90.0, 0.50),
        regime_check=clear,
        regime_label=lambda: "VIX 17.1 normal, contango, trend up",
    )
    await wf.run()
    row = await lineup_row(store, lid)
    assert row["status"] == "filled", (row["reason_code"], row["reason_text"])
    trade = await store.fetchone("SELECT regime FROM trades WHERE lineup_id=?", (lid,))
    assert trade is not None and trade["regime"] == "VIX 17.1 normal, contango, trend up"
