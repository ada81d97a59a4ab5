"""Two-tier execution scenarios against the in-memory exchange (stepped clock)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from engine.execution.killswitch import is_halted, kill, resume
from engine.execution.records import Recorder
from engine.store.db import Store
from tests.execution.fakes import FakeExchange
from tests.execution.helpers import (
    ACCOUNT,
    EXPIRY,
    add_lineup,
    config,
    lineup_row,
    make_exchange,
    workflow,
)

EXPIRY_LABEL = dt.datetime.strptime(EXPIRY, "%Y%m%d").strftime("%b%d")


def bid_to(strike: float, bid: float):  # type: ignore[no-untyped-def]
    def hook(ex: FakeExchange) -> None:
        c = ex.con("XYZ", EXPIRY, strike)
        ex.set_quote(c, bid, bid + 0.10)

    return hook


async def events(store, code: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return await store.fetchall("SELECT * FROM events WHERE code=?", (code,))


async def test_gap_adapts_strike_and_fills(store: Store) -> None:
    ex = make_exchange()
    lid = await add_lineup(store, ex)
    ex.gap("XYZ", -2.0)  # 98: strike 90 is now 8.2% OTM < 10%
    wf = workflow(store, ex, config(), hook=bid_to(87.5, 0.40))
    summary = await wf.run()
    assert summary.reason.text == "1 approved: 1 filled"
    row = await lineup_row(store, lid)
    assert row["strike"] == "87.5" and row["con_id"] == ex.con("XYZ", EXPIRY, 87.5)
    assert await events(store, "stage2.adapted")
    assert row["status"] == "filled", summary.decisions
    trade = await store.fetchone("SELECT * FROM trades WHERE lineup_id=?", (lid,))
    assert trade is not None and trade["quantity"] == 2 and trade["strike"] == "87.5"


async def test_stage2_judges_a_fresh_underlying_quote_after_slow_option_quotes(
    store: Store,
) -> None:
    """Streaming the option quotes takes time (20 s on the engine clock here, as a second of
    a 20x demo clock): the underlying quote is fetched after them, so it is still within
    max_quote_age_s when Stage 2 judges it, and the entry is kept."""
    ex = make_exchange()
    lid = await add_lineup(store, ex)
    slow = ex.option_quotes

    async def option_quotes(options):  # type: ignore[no-untyped-def]
        ex.clock.advance(dt.timedelta(seconds=20))  # the wait for the streamed values
        return await slow(options)  # stamped when they arrived, as MarketServices does

    ex.option_quotes = option_quotes  # type: ignore[method-assign]
    wf = workflow(store, ex, config())
    await wf.stage2()
    row = await lineup_row(store, lid)
    assert row["status"] == "stage2_ok", (row["reason_code"], row["reason_text"])


async def test_gap_too_large_cancels_with_reason(store: Store) -> None:
    ex = make_exchange()
    lid = await add_lineup(store, ex)
    ex.gap("XYZ", -12.0)
    summary = await workflow(store, ex, config()).run()
    assert summary.ok and summary.reason.text == "1 approved: 1 cancelled"
    row = await lineup_row(store, lid)
    assert row["status"] == "cancelled" and row["reason_code"] == "stage2.gap_too_large"
    assert "strikes" in row["reason_text"]
    assert ex.place_calls == []
    assert await events(store, "stage2.gap_too_large")


async def test_tier2_reprices_and_fills(store: Store) -> None:
    ex = make_exchange()
    lid = await add_lineup(store, ex)
    state = {"n": 0}

    def hook(e: FakeExchange) -> None:
        # tier 1 at mid 0.50 never fills; once repriced to 0.48 the bid meets it
        if any(r.endswith("-2") for r in e.books):
            bid_to(90.0, 0.48)(e)
        state["n"] += 1

    await workflow(store, ex, config(), hook=hook).run()
    row = await lineup_row(store, lid)
    assert row["status"] == "filled" and row["limit_price"] == "0.48"
    assert ex.books["pd-L1-1"].status == "Cancelled"
    assert ex.books["pd-L1-2"].status == "Filled"
    assert len(ex.place_calls) == len(set(ex.place_calls))  # each order sent once
    # the tier-1 order's cancel is recorded with tier 2's reason, not "IBKR reports Cancelled"
    first = await store.fetchone("SELECT * FROM order_intents WHERE order_ref='pd-L1-1'")
    assert first is not None and first["status"] == "cancelled"
    assert first["reason_code"] == "tier2.cancel" and "reprice" in first["reason_text"]
    [ev] = await store.fetchall(
        "SELECT * FROM events WHERE kind='order.status' AND message LIKE 'pd-L1-1 Cancelled%'"
    )
    assert ev["code"] == "tier2.cancel"
    # its take-profit and stop, cancelled by IBKR with it, say so too
    for leg in ("tp", "sl"):
        kid = await store.fetchone(
            "SELECT * FROM order_intents WHERE order_ref=?", (f"pd-L1-1-{leg}",)
        )
        assert kid is not None and kid["status"] == "cancelled"
        assert kid["reason_code"] == "tier2.cancel"
        assert kid["reason_text"].startswith("with its entry order: cancelled by tier 2")
    trade = await store.fetchone("SELECT * FROM trades WHERE lineup_id=?", (lid,))
    assert trade is not None and trade["entry_price"] == "0.48"
    assert await events(store, "price.tier2")


async def test_partial_fill_completed(store: Store) -> None:
    ex = make_exchange()
    ex.partial_max = 1
    lid = await add_lineup(store, ex, quantity=3)
    await workflow(store, ex, config(partial_fill="complete"), hook=bid_to(90.0, 0.50)).run()
    row = await lineup_row(store, lid)
    assert row["status"] == "filled"
    trade = await store.fetchone("SELECT * FROM trades WHERE lineup_id=?", (lid,))
    assert trade is not None and trade["quantity"] == 3
    # the log tells it in order: the first fill, the trade it opened (once), the other fills
    kinds = [
        r["kind"]
        for r in await store.fetchall(
            "SELECT kind FROM events WHERE kind IN ('order.fill', 'trade.opened') ORDER BY id"
        )
    ]
    assert kinds == ["order.fill", "trade.opened", "order.fill", "order.fill"], kinds


async def test_partial_fill_cancelled_and_protected(store: Store) -> None:
    ex = make_exchange()
    lid = await add_lineup(store, ex, quantity=3)
    fired = {"done": False}

    def hook(e: FakeExchange) -> None:
        # exactly one contract trades at 0.50, then the bid falls away
        if not fired["done"] and "pd-L1-1" in e.books:
            e.partial_max = 1
            bid_to(90.0, 0.50)(e)
            fired["done"] = True
        elif fired["done"]:
            bid_to(90.0, 0.30)(e)

    await workflow(store, ex, config(partial_fill="cancel"), hook=hook).run()
    row = await lineup_row(store, lid)
    assert row["status"] == "partial" and row["reason_code"] == "partial.cancelled"
    assert ex.books["pd-L1-1"].status == "Cancelled" and ex.books["pd-L1-1"].filled == 1
    tp = ex.books["pd-L1-1-tp"]
    assert tp.quantity == 1 and tp.status in ("Submitted", "PreSubmitted")
    assert not any(r.startswith("pd-L1-2") for r in ex.books)  # no replacement


async def test_take_profit_closes_trade_with_pnl(store: Store) -> None:
    ex = make_exchange()
    lid = await add_lineup(store, ex, quantity=2)
    await workflow(store, ex, config(), hook=bid_to(90.0, 0.50)).run()
    ex.set_quote(ex.con("XYZ", EXPIRY, 90.0), 0.20, 0.25)
    await ex.advance(60)
    wf = workflow(store, ex, config())
    await wf.sync()
    trade = await store.fetchone("SELECT * FROM trades WHERE lineup_id=?", (lid,))
    assert trade is not None and trade["status"] == "closed"
    assert trade["exit_reason"] == "take_profit" and trade["bracket_status"] == "take_profit_filled"
    assert Decimal(trade["entry_price"]) == Decimal("0.5")
    assert Decimal(trade["exit_price"]) == Decimal("0.25")
    assert Decimal(trade["gross_pnl"]) == Decimal("50.00")  # (0.50 - 0.25) x 2 x 100
    assert Decimal(trade["commission"]) == Decimal("2.60")  # 4 contracts x 0.65
    assert Decimal(trade["net_pnl"]) == Decimal("47.40")
    assert ex.books["pd-L1-1-sl"].status == "Cancelled"  # OCA sibling
    await wf.sync()  # replay stores nothing twice
    assert len(await store.fetchall("SELECT * FROM executions")) == 2


async def test_margin_rejection_recorded(store: Store) -> None:
    ex = make_exchange()
    ex.reject_next = (201, "Equity with Loan Value 1000 must exceed Initial Margin 3000")
    lid = await add_lineup(store, ex)
    summary = await workflow(store, ex, config()).run()
    row = await lineup_row(store, lid)
    assert row["status"] == "rejected" and row["reason_code"] == "ib.201"
    assert "Initial Margin" in row["reason_text"]
    intent = await store.fetchone("SELECT * FROM order_intents WHERE order_ref='pd-L1-1'")
    assert intent is not None and intent["status"] == "rejected"
    ev = await store.fetchall("SELECT * FROM events WHERE code='ib.201' AND severity='error'")
    assert ev
    assert not any(r.startswith("pd-L1-2") for r in ex.books)  # a rejection is not retried
    assert summary.ok


async def test_disconnect_during_execution_resumes_without_duplicates(store: Store) -> None:
    ex = make_exchange()
    lid = await add_lineup(store, ex)
    calls = {"n": 0}

    def hook(e: FakeExchange) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            e.drop_connection()

    wf = workflow(store, ex, config(), hook=hook)
    try:
        await wf.run()
    except ConnectionError:
        pass
    assert (await lineup_row(store, lid))["status"] == "submitted"
    ex.reconnect()
    await workflow(store, ex, config(), hook=bid_to(90.0, 0.50)).run()
    assert (await lineup_row(store, lid))["status"] == "filled"
    counts = {r: ex.place_calls.count(r) for r in ex.place_calls}
    assert all(n == 1 for n in counts.values()), counts
    entries = [b for b in ex.books.values() if b.leg.leg == "entry"]
    assert sum(b.filled for b in entries) == 2


async def test_kill_switch_cancels_and_halts(store: Store) -> None:
    ex = make_exchange()
    await add_lineup(store, ex)
    wf = workflow(store, ex, config())
    await wf.stage2()
    await wf.tier1()
    rec = Recorder(store, ACCOUNT)
    cancelled, reason = await kill(ex, store, ACCOUNT, rec, ex.clock.now(), "test")
    assert "pd-L1-1" in cancelled and reason.code == "halt.killed"
    assert await is_halted(store, ACCOUNT)
    raw = await store.get_state(ACCOUNT, "halted")
    assert raw is not None and json.loads(raw)["halted"] is True
    await ex.advance(1)
    assert ex.books["pd-L1-1"].status == "Cancelled"
    await wf.sync()  # IBKR confirms: the cancel keeps the kill's reason
    intent = await store.fetchone("SELECT * FROM order_intents WHERE order_ref='pd-L1-1'")
    assert intent is not None and intent["status"] == "cancelled"
    assert (intent["reason_code"], intent["reason_text"]) == ("halt.killed", "kill switch: test")
    row = await lineup_row(store, 1)  # the entry in execution ends with the kill's reason
    assert row["status"] == "cancelled" and row["reason_code"] == "halt.killed"
    await add_lineup(store, ex)
    summary = await workflow(store, ex, config()).run()
    assert not summary.ok and summary.reason.code == "halt.active"
    await resume(store, ACCOUNT, rec, ex.clock.now())
    assert not await is_halted(store, ACCOUNT)


async def test_kill_during_execution_ends_the_entries_with_its_reason(store: Store) -> None:
    """Killed between tier 1 and tier 2: the entry that sold part is "partial", the other
    "cancelled", both with the kill's reason."""
    from engine.domain import Reason
    from engine.execution.killswitch import close_lineup_entries

    ex = make_exchange()
    first = await add_lineup(store, ex)
    second = await add_lineup(store, ex, strike=87.5)
    wf = workflow(store, ex, config())
    await wf.stage2()
    await wf.tier1()
    await store.insert(
        "executions",
        {"exec_id": "x-1", "order_ref": f"pd-L{first}-1", "side": "SLD", "quantity": 1,
         "price": "0.50", "time": ex.clock.now().isoformat(), "account_id": ACCOUNT,
         "con_id": ex.con("XYZ", EXPIRY, 90.0)},
    )  # fmt: skip
    closed = await close_lineup_entries(
        store, ACCOUNT, Reason("engine.killed", "kill switch: test"), ex.clock.now()
    )
    assert sorted(closed) == [first, second]
    a, b = await lineup_row(store, first), await lineup_row(store, second)
    assert (a["status"], b["status"]) == ("partial", "cancelled")
    assert a["reason_text"] == b["reason_text"] == "kill switch: test"


async def test_tier2_refused_by_a_halt_cancels_the_entry(store: Store) -> None:
    """Halted while an entry waits for tier 2: tier 2 cancels the working order as usual, the
    replacement is refused by the halt, and the entry ends "cancelled" with that reason
    (not left "repricing")."""
    from engine.domain import Reason
    from engine.execution.killswitch import halt_value

    ex = make_exchange()
    lid = await add_lineup(store, ex)
    wf = workflow(store, ex, config())
    await wf.stage2()
    await wf.tier1()
    await store.set_state(
        ACCOUNT, "halted", halt_value(Reason("halt.killed", "test"), ex.clock.now())
    )
    await ex.advance(config().execution.tier2_wait_s + 1)
    await wf.tier2()
    row = await lineup_row(store, lid)
    assert row["status"] == "cancelled" and row["reason_code"] == "halt.active"
    assert not [r for r in ex.place_calls if "pd-L1-2" in str(r)]  # no replacement sent


async def test_entry_order_ended_at_ibkr_closes_the_lineup_entry(store: Store) -> None:
    """The entry was left working after tier 2 and IBKR ended it (the DAY order at the close,
    or a cancel in TWS): the next sync closes the lineup entry with that reason instead of
    leaving it "submitted" for good."""
    ex = make_exchange()
    lid = await add_lineup(store, ex)
    wf = workflow(store, ex, config())
    await wf.stage2()
    await wf.tier1()
    assert (await lineup_row(store, lid))["status"] == "submitted"
    await ex.cancel(f"pd-L{lid}-1")  # as IBKR at the close (the fake has no session close)
    await ex.advance(1)
    await wf.sync()
    row = await lineup_row(store, lid)
    assert row["status"] == "cancelled" and row["reason_code"] == "order.ended"
    assert "with 0 of 2 sold" in row["reason_text"]
    # the orders say why too: the entry as a DAY order at IBKR, its children with it
    intents = {
        r["order_ref"]: r["reason_text"]
        for r in await store.fetchall("SELECT order_ref, reason_text FROM order_intents")
    }
    ref = f"pd-L{lid}-1"
    assert intents[ref] == (
        "IBKR reports Cancelled with 0 sold: a DAY order ends at the close (else cancelled in "
        "TWS or by IBKR)"
    )
    for child in (f"{ref}-tp", f"{ref}-sl"):
        assert intents[child] == f"with its entry order {ref}, unfilled: {intents[ref]}"


async def test_tier2_reprices_every_entry_when_its_own_wait_runs_out(store: Store) -> None:
    """Tier 1 orders leave over a minute or more (each waits for its own quotes): the entry
    sent last gets its tier 2 too, at its own time (before, tier 2 ran once when the first
    entry was due, and the later ones were left working at their tier-1 price)."""
    ex = make_exchange()
    first = await add_lineup(store, ex)
    second = await add_lineup(store, ex, strike=87.5)
    slow = ex.option_quotes
    late = ex.con("XYZ", EXPIRY, 87.5)

    async def option_quotes(options):  # type: ignore[no-untyped-def]
        if any(o.con_id == late for o in options):
            ex.clock.advance(dt.timedelta(seconds=70))  # its quotes come a minute later
        return await slow(options)

    ex.option_quotes = option_quotes  # type: ignore[method-assign]
    await workflow(store, ex, config()).run()
    for lid in (first, second):
        assert f"pd-L{lid}-2" in ex.books, (lid, sorted(ex.books))
        tier2 = await store.fetchall(
            "SELECT * FROM events WHERE code='price.tier2' AND data_json LIKE ?",
            (f'%"lineup_id": {lid}%',),
        )
        assert tier2, lid
    # every decision names its entry: the activity log shows messages, not lineup ids
    decisions = await store.fetchall(
        "SELECT message FROM events WHERE kind='execution.decision' AND code LIKE 'price.%'"
    )
    labels = {m["message"].split(":")[0] for m in decisions}
    assert labels == {f"XYZ 90P {EXPIRY_LABEL}", f"XYZ 87.5P {EXPIRY_LABEL}"}, labels


SELECTION = {"delta": -0.07, "bid": 0.5, "ask": 0.55, "score": 81.0, "score_safety": 72.0}


async def test_stage2_keeps_the_selection_data_of_a_kept_entry(store: Store) -> None:
    """It used to be wiped (set to NULL) on the fast path, losing the scores and greeks the
    console shows and the outcome reports group by."""
    ex = make_exchange()
    lid = await add_lineup(store, ex)
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE lineup SET selection_json=? WHERE id=?", (json.dumps(SELECTION), lid)
        )
    await workflow(store, ex, config()).stage2()
    row = await lineup_row(store, lid)
    assert row["status"] == "stage2_ok" and row["reason_code"] == "stage2.fast_path"
    assert json.loads(row["selection_json"]) == SELECTION


async def test_stage2_adapt_records_the_new_strike_and_keeps_the_staged_one(
    store: Store,
) -> None:
    ex = make_exchange()
    lid = await add_lineup(store, ex)
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE lineup SET selection_json=? WHERE id=?", (json.dumps(SELECTION), lid)
        )
    ex.gap("XYZ", -2.0)
    await workflow(store, ex, config()).stage2()
    row = await lineup_row(store, lid)
    assert row["strike"] == "87.5", (row["reason_code"], row["reason_text"])
    sel = json.loads(row["selection_json"])
    assert sel["score"] == 81.0 and sel["score_safety"] == 72.0  # what chose the entry
    q = await ex.option_quotes([next(o for o in ex.chains[("XYZ", EXPIRY)] if o.strike == 87.5)])
    new = next(iter(q.values()))
    assert (sel["bid"], sel["delta"]) == (new.bid, new.delta)  # the strike traded
    assert Decimal(row["premium"]) == Decimal(str(new.bid)).quantize(Decimal("0.01"))
    assert sel["stage2"]["action"] == "swap" and sel["stage2"]["strikes_moved"] >= 1
    assert sel["stage2"]["staged"]["strike"] == "90.0" and sel["stage2"]["staged"]["delta"] == -0.07


async def test_exits_ended_by_a_kill_leave_the_open_trade_unprotected(store: Store) -> None:
    """The kill switch cancels the take-profit and stop of a filled entry: the open trade's
    bracket status says `unprotected` (with a warning), not a stale `working`."""
    ex = make_exchange()
    lid = await add_lineup(store, ex)
    wf = workflow(store, ex, config(), hook=bid_to(90.0, 0.50))
    await wf.run()
    trade = await store.fetchone("SELECT * FROM trades WHERE lineup_id=?", (lid,))
    assert trade is not None and trade["status"] == "open"
    assert trade["bracket_status"] == "working"
    await kill(ex, store, ACCOUNT, Recorder(store, ACCOUNT), ex.clock.now(), "test")
    await ex.advance(1)
    await wf.sync()
    trade = await store.fetchone("SELECT * FROM trades WHERE lineup_id=?", (lid,))
    assert trade is not None and trade["status"] == "open"
    assert trade["bracket_status"] == "unprotected"
    [warn] = await events(store, "bracket.unprotected")
    assert warn["severity"] == "warning" and "no exit order is working" in warn["message"]
    await wf.sync()  # nothing new: no second warning
    assert len(await events(store, "bracket.unprotected")) == 1


def test_exit_protection_of_a_trades_exit_orders() -> None:
    from engine.execution.ports import BrokerOrder
    from engine.execution.watcher import exit_protection

    def order(ref: str, status: str) -> BrokerOrder:
        return BrokerOrder(
            order_ref=ref,
            order_id=1,
            perm_id=1,
            parent_id=0,
            symbol="XYZ",
            con_id=1,
            action="BUY",
            quantity=1,
            order_type="LMT",
            limit_price=Decimal("0.25"),
            aux_price=None,
            tif="GTC",
            status=status,
            filled=0,
            remaining=1,
            avg_fill_price=None,
        )

    tp, tp_off = order("r-tp", "Submitted"), order("r-tp", "Cancelled")
    sl, sl_off = order("r-sl", "PreSubmitted"), order("r-sl", "Cancelled")
    assert exit_protection([tp], [sl]) == "working"
    assert exit_protection([tp], []) == "working"  # a bracket without a stop
    assert exit_protection([tp_off], [sl]) == "stop_only"
    assert exit_protection([tp], [sl_off]) == "take_profit_only"
    assert exit_protection([tp_off], [sl_off]) == "unprotected"
    assert exit_protection([tp_off], []) == "unprotected"
    assert exit_protection([], [sl_off]) == "unprotected"
    # the pair placed again after a kill: the ended ones no longer count
    assert exit_protection([tp_off, tp], [sl_off, sl]) == "working"
    assert exit_protection([], []) is None
    # the take-profit filled and OCA cancelled the stop, its execution not booked yet: the
    # trade is closing, not unprotected
    assert exit_protection([order("r-tp", "Filled")], [sl_off]) is None


async def test_protect_after_each_kill_places_a_new_pair_never_a_repeated_ref(
    store: Store,
) -> None:
    ex = make_exchange()
    lid = await add_lineup(store, ex)
    wf = workflow(store, ex, config(), hook=bid_to(90.0, 0.50))
    await wf.run()
    rec = Recorder(store, ACCOUNT)
    placed: list[str] = []
    for round_ in (1, 2):
        await kill(ex, store, ACCOUNT, rec, ex.clock.now(), f"kill {round_}")
        await ex.advance(1)
        before = set(ex.books)
        halted = await workflow(store, ex, config()).protect_open()  # past the guard
        assert [d["code"] for d in halted.decisions] == ["halt.active"]
        assert set(ex.books) == before  # halted: every send is refused, nothing placed
        await resume(store, ACCOUNT, rec, ex.clock.now())
        fresh = workflow(store, ex, config())
        assert await fresh.guard() is None
        summary = await fresh.protect_open()
        assert [d["code"] for d in summary.decisions] == ["exits.protected"], summary.decisions
        await ex.advance(1)
        await fresh.sync()
        new = [r for r in ex.books if r.endswith((f"p{round_}-tp", f"p{round_}-sl"))]
        assert len(new) == 2 and all(ex.books[r].status == "Submitted" for r in new), new
        placed += new
        trade = await store.fetchone("SELECT * FROM trades WHERE lineup_id=?", (lid,))
        assert trade is not None and trade["bracket_status"] == "working"
    assert len(placed) == len(set(placed)) == 4
    assert len(ex.place_calls) == len(set(ex.place_calls))


async def test_two_syncs_at_once_book_a_fill_once(store: Store) -> None:
    """The event-driven watcher and a running execution can sync at the same moment: a new
    fill is stored, and announced, by one of them only."""
    import asyncio

    ex = make_exchange()
    lid = await add_lineup(store, ex)
    await workflow(store, ex, config(), hook=bid_to(90.0, 0.50)).run()
    c = ex.con("XYZ", EXPIRY, 90.0)
    ex.set_quote(c, 0.05, 0.10)  # the put collapses: the take-profit fills
    await ex.advance(1)
    a, b = workflow(store, ex, config()), workflow(store, ex, config())
    ra, rb = await asyncio.gather(a.watcher.sync(ex.clock.now()), b.watcher.sync(ex.clock.now()))
    assert len(ra.new_fills) + len(rb.new_fills) == 1
    fills = await store.fetchall(
        "SELECT * FROM events WHERE kind='order.fill' AND message LIKE 'pd-L1-%-tp%'"
    )
    assert len(fills) == 1
    trade = await store.fetchone("SELECT * FROM trades WHERE lineup_id=?", (lid,))
    assert trade is not None and trade["status"] == "closed"


async def test_a_run_with_nothing_approved_says_so(store: Store) -> None:
    """Execute now with only staged entries sends nothing and says why, instead of "done"."""
    ex = make_exchange()
    await add_lineup(store, ex, status="staged")
    await add_lineup(store, ex, status="staged", strike=87.5)
    summary = await workflow(store, ex, config()).run()
    assert summary.ok and ex.place_calls == []
    assert summary.reason.code == "execution.nothing_approved"
    assert summary.reason.text == "nothing approved to send (2 staged entries wait for approval)"


def test_run_outcome_counts_final_statuses_in_a_fixed_order() -> None:
    from engine.execution.workflow import run_outcome

    final = ["cancelled", "filled", "repriced", "filled", "partial", "rejected", "unfilled"]
    assert run_outcome(final, 0).text == (
        "7 approved: 2 filled, 1 partly filled, 1 working, 1 unfilled, 1 cancelled, 1 rejected"
    )
    assert run_outcome([], 0).text == "nothing approved to send"
    assert run_outcome([], 1).text == "nothing approved to send (1 staged entry waits for approval)"
