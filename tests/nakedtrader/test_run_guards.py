"""NtRun on the simulated gateway: widening, dry run, entry window, config and override errors,
cash settlement of an in-the-money SPX put at the close."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from engine.api.models import NtRun
from engine.market.calendar import ET
from tests.nakedtrader.conftest import NtHarness


async def _entry_intents(nt: NtHarness) -> int:
    assert nt.engine.store is not None
    row = await nt.engine.store.fetchone(
        "SELECT COUNT(*) AS n FROM order_intents WHERE purpose='nt_entry'"
    )
    assert row is not None
    return int(row["n"])


async def test_widening_when_no_strike_meets_the_band_and_dry_run_places_nothing(
    nt: NtHarness,
) -> None:
    exact = {"instrument": "SPX", "delta_target": 0.065, "delta_min": 0.065, "delta_max": 0.065}
    res = await nt.request(NtRun(dry_run=True, overrides={**exact, "widen_step": 0.005}))
    assert res.ok and res.data["status"] == "planned", res.error
    sel = res.data["plan"]["selection"]
    assert sel["widen_steps"] >= 1 and res.data["plan"]["selection_code"] == "nt.selected_widened"
    assert sel["band"][0] <= sel["delta"] <= sel["band"][1]
    assert res.data["plan"]["bracket"]["entry"]["action"] == "SELL"
    assert res.reason_code == "nt.dry_run"
    assert await _entry_intents(nt) == 0
    assert not [t for t in nt.engine.session.ib.trades() if t.order.orderRef.startswith("pd-")]

    res = await nt.request(NtRun(dry_run=True, overrides={**exact, "widen_limit": 0}))
    assert not res.ok and res.exit_code == 1
    assert res.reason_code == "nt.no_strike_in_band"
    assert "after 0 widening(s)" in (res.error or "")


async def test_outside_the_entry_window_is_refused_but_a_dry_run_shows_the_plan(
    nt: NtHarness,
) -> None:
    nt.gw.clock.set(dt.datetime(2026, 11, 24, 15, 40, tzinfo=ET).astimezone(dt.UTC))
    await nt.settle()
    res = await nt.request(NtRun(dry_run=False, overrides={"instrument": "SPX"}))
    assert not res.ok and res.exit_code == 3 and res.reason_code == "nt.outside_window"
    res = await nt.request(NtRun(dry_run=True, overrides={"instrument": "SPX"}))
    assert res.ok and res.data["status"] == "planned" and not res.data["window_ok"]
    assert "not placeable now" in res.data["reason"]
    assert await _entry_intents(nt) == 0


async def test_override_errors_name_the_option(nt: NtHarness) -> None:
    res = await nt.request(NtRun(overrides={"contracts": "two"}))
    assert not res.ok and res.exit_code == 2 and res.reason_code == "config.invalid"
    assert "--contracts" in (res.error or "")
    res = await nt.request(NtRun(overrides={"delta_min": "0.09"}))
    assert res.exit_code == 2
    assert "delta range is inverted" in (res.error or "") and "--delta-min 0.09" in (
        res.error or ""
    )
    res = await nt.request(NtRun(overrides={"instrument": "NDX"}))
    assert res.exit_code == 2 and "--instrument" in (res.error or "")
    res = await nt.request(NtRun(overrides={"dte": None}))
    assert (
        res.exit_code == 2
        and "--dte" in (res.error or "")
        and "cannot be none" in (res.error or "")
    )
    res = await nt.request(
        NtRun(dry_run=True, overrides={"instrument": "SPX", "stop_multiple": None})
    )
    assert res.ok and "stop" not in res.data["plan"]["bracket"]
    assert res.data["config"]["stop_multiple"] is None
    assert await _entry_intents(nt) == 0


async def test_in_the_money_spx_put_is_cash_settled_at_the_close(nt: NtHarness) -> None:
    res = await nt.request(NtRun(overrides={"instrument": "SPX", "dte": 0, "limit_price": "bid"}))
    assert res.ok, res.error
    tid = res.data["trade_id"]
    t = await nt.advance_until(
        tid, lambda t: t["status"] == "open", step_s=30, max_steps=20, what="entry fill"
    )
    strike = Decimal(t["strike"])
    # a crash and the close in one step: the put settles in the money before any stop can fill
    close = dt.datetime(2026, 11, 24, 21, 0, tzinfo=dt.UTC)
    nt.gw.apply_gap("SPX", -0.05)
    await nt.advance((close - nt.engine.now()).total_seconds() + 300)
    t = await nt.trade(tid)
    assert t["status"] == "closed" and t["exit_reason"] == "cash_settled", t
    assert t["bracket_status"] == "cash_settled"
    exit_ = Decimal(t["exit_price"])
    settle = nt.gw.market.price("SPX")
    assert exit_ == (strike - Decimal(str(settle))).quantize(Decimal("0.01"))
    gross = (Decimal(t["entry_price"]) - exit_) * 100
    assert Decimal(t["net_pnl"]) == gross - Decimal(t["commission"]) < 0


async def test_live_account_defaults_to_a_dry_run_and_the_live_guard_holds(
    nt_live: NtHarness,
) -> None:
    nt = nt_live
    assert not (nt.engine.account or "").startswith("DU")
    res = await nt.request(NtRun(overrides={"instrument": "SPX"}))
    assert res.ok and res.data["status"] == "planned" and res.data["dry_run"], res.error
    res = await nt.request(NtRun(dry_run=False, overrides={"instrument": "SPX"}))
    assert not res.ok and res.exit_code == 3 and res.reason_code == "guard.live_flag"
    assert await _entry_intents(nt) == 0
