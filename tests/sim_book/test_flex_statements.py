"""Statements the simulated Flex service produces parse with ibflex, rows and ids intact."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from ibflex import Types, enums, parser

from engine.sim.flex_statements import (
    activity_statement,
    generate_statement,
    trade_confirm_statement,
)

from .conftest import EXPIRY, Env
from .fakes import contract, lmt


def history(env: Env) -> None:
    """Sell KO 45P x2 and SPX 4800P; buy one KO back; expiry: KO assigned, SPX cash-settled;
    KO 40P expires worthless."""
    spx = env.market.add_option("SPX", EXPIRY, "4800", "P", "5.00", "5.20")
    ko40 = env.market.add_option("KO", EXPIRY, "40", "P", "0.10", "0.12")
    env.book.place(1, contract(env.ko45), lmt(1, "SELL", 2, 0.50, orderRef="pd-ko45"))
    env.book.place(1, contract(spx), lmt(2, "SELL", 1, 5.00, orderRef="pd-spx"))
    env.book.place(1, contract(ko40), lmt(3, "SELL", 1, 0.10, orderRef="pd-ko40"))
    env.book.on_tick()
    env.clock.advance(timedelta(days=1))
    env.market.set_quote(env.ko45, "0.30", "0.35")
    env.book.place(1, contract(env.ko45), lmt(4, "BUY", 1, 0.35, orderRef="pd-ko45-close"))
    env.book.on_tick()
    env.market.settlements[("KO", EXPIRY)] = Decimal("44")
    env.market.settlements[("SPX", EXPIRY)] = Decimal("4750")
    env.book.end_of_day(EXPIRY)


def test_activity_statement_parses(env: Env) -> None:
    history(env)
    env.clock.advance(timedelta(days=3))
    raw = activity_statement(env.book)
    response = parser.parse(raw)
    assert response.type == "AF"
    [stmt] = response.FlexStatements
    assert stmt.accountId == "DU1234567"
    trades = [t for t in stmt.Trades if isinstance(t, Types.Trade)]
    assert all(t.levelOfDetail == "EXECUTION" for t in trades)
    assert len(trades) == len(env.book.ledger.trades) == 8
    ids = [t.transactionID for t in trades]
    assert len(set(ids)) == len(ids) and all(ids)
    opening = trades[0]
    assert opening.buySell == enums.BuySell.SELL
    assert opening.openCloseIndicator == enums.OpenClose.OPEN
    assert opening.quantity == -2 and opening.tradePrice == Decimal("0.5")
    assert opening.proceeds == 100 and opening.ibCommission == Decimal("-1.35")
    assert opening.netCash == Decimal("98.65")
    assert opening.orderReference == "pd-ko45" and opening.ibExecID and opening.ibOrderID
    assert opening.putCall == enums.PutCall.PUT and opening.strike == 45
    assert opening.expiry == EXPIRY and opening.multiplier == 100
    assert opening.underlyingSymbol == "KO" and opening.conid == str(env.ko45.con_id)
    assert opening.assetCategory == enums.AssetClass.OPTION
    assert opening.transactionType == enums.TradeType.EXCHTRADE
    assert opening.dateTime is not None and opening.tradeDate == date(2026, 11, 24)
    closing = next(t for t in trades if t.orderReference == "pd-ko45-close")
    assert closing.openCloseIndicator == enums.OpenClose.CLOSE
    assert closing.fifoPnlRealized is not None and closing.fifoPnlRealized > 0
    notes = {
        (t.symbol, t.assetCategory, t.notes) for t in trades if t.transactionType == "BookTrade"
    }
    assert ("KO", enums.AssetClass.STOCK, (enums.Code.ASSIGNMENT,)) in notes
    assert any(n == (enums.Code.EXPIRED,) for _, _, n in notes)
    stock = next(t for t in trades if t.assetCategory == enums.AssetClass.STOCK)
    assert stock.quantity == 100 and stock.tradePrice == 45 and stock.ibExecID in ("", None)
    eae = {(e.symbol, e.transactionType) for e in stmt.OptionEAE}
    kinds = sorted(str(e.transactionType.value) for e in stmt.OptionEAE)
    assert kinds == ["Assignment", "Assignment", "Buy", "Cash Settlement", "Expiration"]
    assert ("KO", enums.OptionAction.BUY) in eae


def test_date_range_is_honoured(env: Env) -> None:
    history(env)
    first = parser.parse(activity_statement(env.book, date(2026, 11, 24), date(2026, 11, 24)))
    [stmt] = first.FlexStatements
    assert stmt.fromDate == stmt.toDate == date(2026, 11, 24)
    assert len(stmt.Trades) == 3 and stmt.OptionEAE == ()
    expiry = parser.parse(activity_statement(env.book, EXPIRY, EXPIRY)).FlexStatements[0]
    assert {t.transactionType for t in expiry.Trades} == {enums.TradeType.BOOKTRADE}


def test_trade_confirms_parse(env: Env) -> None:
    history(env)
    raw = trade_confirm_statement(env.book, date(2026, 11, 24), date(2026, 11, 25))
    response = parser.parse(raw)
    assert response.type == "TCF"
    confirms = response.FlexStatements[0].TradeConfirms
    assert len(confirms) == 4
    assert {c.orderReference for c in confirms} == {
        "pd-ko45",
        "pd-spx",
        "pd-ko40",
        "pd-ko45-close",
    }
    assert all(c.commission is not None and c.commission < 0 for c in confirms)


def test_generated_statement_has_n_trades() -> None:
    raw = generate_statement(500, seed=11)
    assert raw == generate_statement(500, seed=11)
    [stmt] = parser.parse(raw).FlexStatements
    trades = [t for t in stmt.Trades if isinstance(t, Types.Trade)]
    assert len(trades) == 500
    assert len({t.transactionID for t in trades}) == 500
    assert stmt.OptionEAE
    assert {t.notes for t in trades} <= {(), (enums.Code.EXPIRED,), (enums.Code.ASSIGNMENT,)}


def test_trade_confirms_include_book_trades(env: Env) -> None:
    history(env)
    response = parser.parse(trade_confirm_statement(env.book, date(2026, 11, 24), EXPIRY))
    confirms = response.FlexStatements[0].TradeConfirms
    assert len(confirms) == len(env.book.ledger.trades)
    codes = {c.code for c in confirms}
    assert (enums.Code.CLOSING, enums.Code.EXPIRED) in codes
    assert (enums.Code.OPENING, enums.Code.ASSIGNMENT) in codes
