"""NakedTrader on the simulated gateway: the stop on a sell-off, expiry worthless at the close,
and the daily limit when `nt` runs again the same day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from engine.api.models import NtRun
from tests.nakedtrader.conftest import NtHarness


async def _intents(nt: NtHarness, ref: str) -> dict[str, str]:
    assert nt.engine.store is not None
    rows = await nt.engine.store.fetchall(
        "SELECT order_ref, status, purpose FROM order_intents WHERE order_ref LIKE ?", (ref + "%",)
    )
    return {r["order_ref"]: r["status"] for r in rows}


async def test_stop_child_fills_on_a_selloff(nt: NtHarness) -> None:
    res = await nt.request(NtRun(overrides={"instrument": "SPX", "limit_price": "bid"}))
    assert res.ok, res.error
    tid = res.data["trade_id"]
    stop = Decimal(res.data["plan"]["bracket"]["stop"]["stop_price"])
    await nt.advance_until(
        tid, lambda t: t["status"] == "open", step_s=30, max_steps=20, what="entry fill"
    )
    nt.gw.apply_gap("SPX", -0.04)
    t = await nt.advance_until(
        tid, lambda t: t["status"] == "closed", step_s=30, max_steps=20, what="stop fill"
    )
    assert t["exit_reason"] == "stop" and t["bracket_status"] == "stop_filled"
    assert Decimal(t["exit_price"]) >= stop
    assert Decimal(t["net_pnl"]) < 0
    assert Decimal(t["net_pnl"]) == Decimal(t["gross_pnl"]) - Decimal(t["commission"])


async def test_expiry_worthless_at_the_close_closes_the_trade(nt: NtHarness) -> None:
    res = await nt.request(NtRun(overrides={"instrument": "XSP", "dte": 0, "limit_price": "bid"}))
    assert res.ok, res.error
    assert res.data["plan"]["expiry"] == "20261124"
    tid = res.data["trade_id"]
    t = await nt.advance_until(
        tid, lambda t: t["status"] == "open", step_s=30, max_steps=20, what="entry fill"
    )
    entry = Decimal(t["entry_price"])
    # straight past the 16:00 ET close: the simulator expires the put at its end of day
    close = dt.datetime(2026, 11, 24, 21, 0, tzinfo=dt.UTC)
    await nt.advance((close - nt.engine.now()).total_seconds() + 300)
    t = await nt.trade(tid)
    assert t["status"] == "closed", t
    assert t["exit_reason"] == "expired" and t["bracket_status"] == "expired"
    assert Decimal(t["exit_price"]) == 0
    commission = Decimal(t["commission"])
    assert Decimal(t["net_pnl"]) == entry * 100 - commission
    # the exits left working on the expired option are cancelled, and say why
    assert nt.engine.store is not None
    exits = await nt.engine.store.fetchall(
        "SELECT status, reason_code, reason_text FROM order_intents WHERE order_ref LIKE '%-tp' "
        "OR order_ref LIKE '%-sl'"
    )
    assert len(exits) == 2
    for x in exits:
        assert (x["status"], x["reason_code"]) == ("cancelled", "nt.settled")
        assert x["reason_text"] == f"trade {tid} expired: its exit is cancelled"


async def test_rerunning_nt_the_same_day_respects_the_daily_limit(nt: NtHarness) -> None:
    first = await nt.request(NtRun(overrides={"instrument": "SPX"}))
    assert first.ok and first.data["status"] == "placed"
    again = await nt.request(NtRun(overrides={"instrument": "SPX"}))
    assert not again.ok and again.exit_code == 3
    assert again.reason_code == "nt.daily_limit"
    assert again.data["entries_today"] == 1
    ours = [t for t in nt.engine.session.ib.trades() if str(t.order.orderRef).startswith("pd-nt-")]
    assert len(ours) == 3  # one bracket only
    # a higher limit lets a second one through, then stops again
    second = await nt.request(NtRun(overrides={"instrument": "SPX", "max_daily_trades": 2}))
    assert second.ok and second.data["order_ref"].endswith("-2")
    third = await nt.request(NtRun(overrides={"instrument": "SPX", "max_daily_trades": 2}))
    assert third.reason_code == "nt.daily_limit"
    status = await nt.status()
    assert status["entries_today"] == 2 and len(status["open"]) == 2
    # the console pane's keys (console/widgets/nakedtrader.py)
    assert status["plan"]["symbol"] == "XSP" and status["plan"]["delta_range"] == [0.055, 0.075]
    assert status["plan"]["entry_window"] == "09:45-15:30"
    trade = status["trade"]
    assert trade["trade_id"] == second.data["trade_id"] and trade["delta"] < 0
    assert trade["widen_steps"] == second.data["plan"]["selection"]["widen_steps"]
    legs = second.data["plan"]["bracket"]
    bracket = status["bracket"]
    assert bracket["take_profit"]["price"] == float(legs["take_profit"]["limit_price"])
    assert bracket["stop"]["price"] == float(legs["stop"]["stop_price"])
    assert bracket["take_profit"]["status"] in ("PreSubmitted", "Submitted")
    assert status["message"].startswith("refused: ")


async def test_protect_names_a_nakedtrader_trade_left_without_exits(nt_full: NtHarness) -> None:
    """The kill switch also cancels a NakedTrader trade's exits: ProtectPositions (lineup
    trades only) names it, with what to do, instead of passing over it."""
    from engine.api.models import Kill, ProtectPositions, Resume

    nt = nt_full
    res = await nt.request(NtRun(overrides={"instrument": "XSP", "limit_price": "bid"}))
    assert res.ok, res.error
    tid = res.data["trade_id"]
    await nt.advance_until(
        tid, lambda t: t["status"] == "open", step_s=30, max_steps=20, what="entry fill"
    )
    assert (await nt.request(Kill(reason="nt protect"))).ok
    await nt.settle()
    assert (await nt.request(Resume())).ok
    out = await nt.request(ProtectPositions())
    assert out.ok, out.error
    [d] = out.data["decisions"]
    assert d["code"] == "exits.other_strategy" and f"trade {tid} XSP (nakedtrader)" in d["text"]
