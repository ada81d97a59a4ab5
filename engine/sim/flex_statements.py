"""Flex statements (XML) from the simulated book's history, in the shape of real IBKR
Activity (`type="AF"`: Trades at EXECUTION level + OptionEAE) and Trade Confirmation
(`type="TCF"`: TradeConfirms) statements, plus a synthetic big statement for benchmarks.

Times in statements are exchange time (America/New_York), `yyyymmdd;hhmmss`, as IBKR writes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import quoteattr
from zoneinfo import ZoneInfo

from engine.sim.accounts import (
    EAERecord,
    TradeRecord,
    occ_symbol,
    option_description,
    plain,
)

ET = ZoneInfo("America/New_York")
ACTIVITY_QUERY_NAME = "putdesk-sim-activity"
CONFIRM_QUERY_NAME = "putdesk-sim-confirms"


def _num(value: Decimal | None) -> str:
    return "" if value is None else plain(value)


def _d8(value: date | None) -> str:
    return "" if value is None else value.strftime("%Y%m%d")


def _dt(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(ET).strftime("%Y%m%d;%H%M%S")


def _element(tag: str, attrs: Sequence[tuple[str, str]]) -> str:
    body = " ".join(f"{name}={quoteattr(value)}" for name, value in attrs)
    return f"<{tag} {body} />"


def _contract_attrs(t: TradeRecord) -> list[tuple[str, str]]:
    opt = t.sec_type == "OPT"
    return [
        ("accountId", t.account),
        ("acctAlias", ""),
        ("model", ""),
        ("currency", "USD"),
        ("fxRateToBase", "1"),
        ("assetCategory", t.sec_type),
        ("symbol", t.local_symbol if opt else t.symbol),
        ("description", t.description),
        ("conid", str(t.con_id)),
        ("securityID", ""),
        ("securityIDType", ""),
        ("cusip", ""),
        ("isin", ""),
        ("listingExchange", ""),
        ("underlyingConid", str(t.underlying_con_id) if opt and t.underlying_con_id else ""),
        ("underlyingSymbol", t.underlying_symbol if opt else ""),
        ("underlyingSecurityID", ""),
        ("underlyingListingExchange", ""),
        ("issuer", ""),
        ("multiplier", plain(t.multiplier)),
        ("strike", _num(t.strike)),
        ("expiry", _d8(t.expiry)),
        ("tradeID", t.trade_id),
        ("putCall", t.put_call),
        ("reportDate", _d8(t.trade_date)),
        ("principalAdjustFactor", ""),
    ]


def _settle_date(t: TradeRecord) -> date:
    days = 1 if t.sec_type == "OPT" else 2
    d = t.trade_date + timedelta(days=days)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def trade_element(t: TradeRecord) -> str:
    """One `<Trade levelOfDetail="EXECUTION">` row."""
    local = t.when.astimezone(ET)
    attrs = [
        *_contract_attrs(t),
        ("dateTime", _dt(t.when)),
        ("tradeDate", _d8(t.trade_date)),
        ("tradeTime", local.strftime("%H%M%S")),
        ("settleDateTarget", _d8(_settle_date(t))),
        ("transactionType", t.transaction_type),
        ("exchange", t.exchange),
        ("quantity", plain(t.quantity)),
        ("tradePrice", plain(t.price)),
        ("tradeMoney", plain(t.quantity * t.price * t.multiplier)),
        ("proceeds", plain(t.proceeds)),
        ("taxes", "0"),
        ("ibCommission", plain(t.commission)),
        ("ibCommissionCurrency", "USD"),
        ("netCash", plain(t.net_cash)),
        ("closePrice", plain(t.price)),
        ("openCloseIndicator", t.open_close),
        ("notes", t.notes),
        ("cost", plain(t.cost)),
        ("fifoPnlRealized", plain(t.realized)),
        ("fxPnl", "0"),
        ("mtmPnl", "0"),
        ("origTradePrice", "0"),
        ("origTradeDate", ""),
        ("origTradeID", ""),
        ("origOrderID", "0"),
        ("clearingFirmID", ""),
        ("transactionID", t.transaction_id),
        ("buySell", t.buy_sell),
        ("ibOrderID", str(t.perm_id) if t.perm_id else ""),
        ("ibExecID", t.exec_id),
        ("brokerageOrderID", ""),
        ("orderReference", t.order_ref),
        ("volatilityOrderLink", ""),
        ("exchOrderId", "N/A"),
        ("extExecID", "N/A"),
        ("orderTime", _dt(t.order_time)),
        ("openDateTime", ""),
        ("holdingPeriodDateTime", ""),
        ("whenRealized", ""),
        ("whenReopened", ""),
        ("levelOfDetail", "EXECUTION"),
        ("changeInPrice", "0"),
        ("changeInQuantity", "0"),
        ("orderType", t.order_type),
        ("traderID", ""),
        ("isAPIOrder", "Y" if t.perm_id else "N"),
    ]
    return _element("Trade", attrs)


def trade_confirm_element(t: TradeRecord) -> str:
    """One `<TradeConfirm>` row (Trade Confirmation Flex)."""
    local = t.when.astimezone(ET)
    attrs = [
        *_contract_attrs(t),
        ("dateTime", _dt(t.when)),
        ("tradeDate", _d8(t.trade_date)),
        ("tradeTime", local.strftime("%H%M%S")),
        ("settleDate", _d8(_settle_date(t))),
        ("transactionType", t.transaction_type),
        ("exchange", t.exchange),
        ("quantity", plain(t.quantity)),
        ("price", plain(t.price)),
        ("amount", plain(t.quantity * t.price * t.multiplier)),
        ("proceeds", plain(t.proceeds)),
        ("netCash", plain(t.net_cash)),
        ("commission", plain(t.commission)),
        ("commissionCurrency", "USD"),
        ("tax", "0"),
        ("code", ";".join(c for c in (t.open_close, t.notes) if c)),
        ("orderType", t.order_type),
        ("levelOfDetail", "EXECUTION"),
        ("transactionID", t.transaction_id),
        ("buySell", t.buy_sell),
        ("orderID", str(t.perm_id) if t.perm_id else ""),
        ("execID", t.exec_id),
        ("brokerageOrderID", ""),
        ("orderReference", t.order_ref),
        ("orderTime", _dt(t.order_time)),
        ("traderID", ""),
        ("isAPIOrder", "Y" if t.perm_id else "N"),
    ]
    return _element("TradeConfirm", attrs)


def eae_element(e: EAERecord) -> str:
    """One `<OptionEAE>` row."""
    opt = e.sec_type == "OPT"
    attrs = [
        ("accountId", e.account),
        ("acctAlias", ""),
        ("model", ""),
        ("currency", "USD"),
        ("fxRateToBase", "1"),
        ("assetCategory", e.sec_type),
        ("subCategory", e.put_call if opt else "COMMON"),
        ("symbol", e.local_symbol if opt else e.symbol),
        ("description", e.description),
        ("conid", str(e.con_id)),
        ("securityID", ""),
        ("securityIDType", ""),
        ("cusip", ""),
        ("isin", ""),
        ("listingExchange", ""),
        ("underlyingConid", str(e.underlying_con_id) if opt and e.underlying_con_id else ""),
        ("underlyingSymbol", e.underlying_symbol if opt else ""),
        ("issuer", ""),
        ("multiplier", plain(e.multiplier)),
        ("strike", _num(e.strike)),
        ("expiry", _d8(e.expiry)),
        ("putCall", e.put_call),
        ("principalAdjustFactor", ""),
        ("date", _d8(e.day)),
        ("transactionType", e.transaction_type),
        ("quantity", plain(e.quantity)),
        ("tradePrice", plain(e.trade_price)),
        ("markPrice", plain(e.mark_price)),
        ("proceeds", plain(e.proceeds)),
        ("commisionsAndTax", "0"),
        ("costBasis", plain(e.cost_basis)),
        ("realizedPnl", plain(e.realized)),
        ("fxPnl", "0"),
        ("mtmPnl", "0"),
        ("tradeID", e.trade_id),
    ]
    return _element("OptionEAE", attrs)


def _wrap(
    query_name: str,
    kind: str,
    account_id: str,
    from_date: date,
    to_date: date,
    period: str,
    when_generated: datetime,
    sections: Iterable[str],
) -> bytes:
    head = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        f"<FlexQueryResponse queryName={quoteattr(query_name)} type={quoteattr(kind)}>\n"
        '<FlexStatements count="1">\n'
        f"<FlexStatement accountId={quoteattr(account_id)} fromDate={quoteattr(_d8(from_date))}"
        f" toDate={quoteattr(_d8(to_date))} period={quoteattr(period)}"
        f" whenGenerated={quoteattr(_dt(when_generated))}>\n"
        f'<AccountInformation accountId={quoteattr(account_id)} acctAlias="" model=""'
        ' currency="USD" />\n'
    )
    tail = "</FlexStatement>\n</FlexStatements>\n</FlexQueryResponse>\n"
    return (head + "".join(sections) + tail).encode("utf-8")


def _section(tag: str, rows: list[str]) -> str:
    if not rows:
        return f"<{tag} />\n"
    return f"<{tag}>\n" + "\n".join(rows) + f"\n</{tag}>\n"


def render_activity(
    account_id: str,
    trades: Sequence[TradeRecord],
    eae: Sequence[EAERecord],
    from_date: date,
    to_date: date,
    when_generated: datetime,
    period: str = "",
    query_name: str = ACTIVITY_QUERY_NAME,
) -> bytes:
    """An Activity statement (Trades + OptionEAE) of the rows dated from..to inclusive."""
    t_rows = [trade_element(t) for t in trades if from_date <= t.trade_date <= to_date]
    e_rows = [eae_element(e) for e in eae if from_date <= e.day <= to_date]
    return _wrap(
        query_name,
        "AF",
        account_id,
        from_date,
        to_date,
        period,
        when_generated,
        [_section("Trades", t_rows), _section("OptionEAE", e_rows)],
    )


def render_trade_confirms(
    account_id: str,
    trades: Sequence[TradeRecord],
    from_date: date,
    to_date: date,
    when_generated: datetime,
    period: str = "",
    query_name: str = CONFIRM_QUERY_NAME,
) -> bytes:
    """A Trade Confirmation statement (TradeConfirms) of the rows dated from..to."""
    rows = [trade_confirm_element(t) for t in trades if from_date <= t.trade_date <= to_date]
    return _wrap(
        query_name,
        "TCF",
        account_id,
        from_date,
        to_date,
        period,
        when_generated,
        [_section("TradeConfirms", rows)],
    )


def _book_span(book: Any, from_date: date | None, to_date: date | None) -> tuple[date, date, str]:
    today: date = book.session_day()
    if from_date is not None or to_date is not None:
        end = to_date or today
        return from_date or end, end, ""
    span = book.history_span()
    start = min(span[0], today) if span else today
    return start, max(today, span[1]) if span else today, "LastNDays"


def activity_statement(
    book: Any, from_date: date | None = None, to_date: date | None = None
) -> bytes:
    """Activity statement of `book` (engine.sim.book.Book); without dates: all history."""
    start, end, period = _book_span(book, from_date, to_date)
    return render_activity(
        book.account_id,
        book.ledger.trades,
        book.ledger.eae,
        start,
        end,
        book.clock.now().astimezone(UTC),
        period,
    )


def trade_confirm_statement(
    book: Any, from_date: date | None = None, to_date: date | None = None
) -> bytes:
    """Trade Confirmation statement of `book`; without dates: today's executions."""
    today: date = book.session_day()
    start = from_date or (to_date or today)
    end = to_date or today
    return render_trade_confirms(
        book.account_id,
        book.ledger.trades,
        start,
        end,
        book.clock.now().astimezone(UTC),
        "" if from_date or to_date else "Today",
    )


_SYMBOLS = (("AAPL", 265598), ("MSFT", 272093), ("KO", 8894), ("SPY", 756733), ("XOM", 13977))


def generate_statement(n_trades: int, seed: int) -> bytes:
    """A synthetic Activity statement with exactly `n_trades` Trade rows (short puts sold,
    about half bought back, the rest expired or assigned) plus their OptionEAE rows."""
    rng = random.Random(seed)
    trades: list[TradeRecord] = []
    eae: list[EAERecord] = []
    start = date(2025, 1, 2)
    txn = 40_000_000_001
    trade_id = 4_000_000_001
    perm = 1_200_000_001
    account = "DU1234567"

    def ids() -> tuple[str, str]:
        nonlocal txn, trade_id
        txn += 1
        trade_id += 1
        return str(txn), str(trade_id)

    def record(**kw: Any) -> TradeRecord:
        t_id, tr_id = ids()
        return TradeRecord(transaction_id=t_id, trade_id=tr_id, account=account, **kw)

    while len(trades) < n_trades:
        symbol, und_con = rng.choice(_SYMBOLS)
        day = start + timedelta(days=rng.randrange(0, 360))
        while day.weekday() >= 5:
            day += timedelta(days=1)
        expiry = day + timedelta(days=rng.randrange(1, 30))
        while expiry.weekday() != 4:
            expiry += timedelta(days=1)
        strike = Decimal(rng.randrange(40, 400))
        price = Decimal(rng.randrange(5, 500)) / 100
        n = Decimal(rng.randrange(1, 6))
        mult = Decimal(100)
        con_id = 700_000_000 + rng.randrange(0, 10_000_000)
        local = occ_symbol(symbol, expiry, "P", strike)
        desc = option_description(symbol, expiry, "P", strike)
        when = datetime(day.year, day.month, day.day, 14, rng.randrange(30, 59), tzinfo=UTC)
        commission = -(Decimal("0.67") * n + Decimal("0.33")).quantize(Decimal("0.01"))
        proceeds = n * price * mult
        perm += 1
        common: dict[str, Any] = {
            "con_id": con_id,
            "sec_type": "OPT",
            "symbol": symbol,
            "local_symbol": local,
            "description": desc,
            "underlying_symbol": symbol,
            "underlying_con_id": und_con,
            "put_call": "P",
            "strike": strike,
            "expiry": expiry,
            "multiplier": mult,
        }
        trades.append(
            record(
                when=when,
                trade_date=day,
                transaction_type="ExchTrade",
                buy_sell="SELL",
                quantity=-n,
                price=price,
                proceeds=proceeds,
                commission=commission,
                net_cash=proceeds + commission,
                cost=-(proceeds + commission),
                realized=Decimal(0),
                open_close="O",
                notes="",
                exchange="CBOE",
                exec_id=f"0000e0d5.{perm:08x}.01.01",
                perm_id=perm,
                order_ref=f"bench-{perm}",
                order_type="LMT",
                order_time=when,
                **common,
            )
        )
        if len(trades) >= n_trades:
            break
        fate = rng.random()
        basis = proceeds + commission
        close_when = datetime(expiry.year, expiry.month, expiry.day, 20, 20, tzinfo=UTC)
        if fate < 0.5:
            back = (price * Decimal(rng.randrange(10, 90)) / 100).quantize(Decimal("0.01"))
            cost_back = n * back * mult
            close_day = min(expiry, day + timedelta(days=1))
            cwhen = datetime(close_day.year, close_day.month, close_day.day, 15, 5, tzinfo=UTC)
            perm += 1
            trades.append(
                record(
                    when=cwhen,
                    trade_date=close_day,
                    transaction_type="ExchTrade",
                    buy_sell="BUY",
                    quantity=n,
                    price=back,
                    proceeds=-cost_back,
                    commission=commission,
                    net_cash=-cost_back + commission,
                    cost=basis,
                    realized=basis - cost_back + commission,
                    open_close="C",
                    notes="",
                    exchange="CBOE",
                    exec_id=f"0000e0d5.{perm:08x}.01.01",
                    perm_id=perm,
                    order_ref=f"bench-{perm}",
                    order_type="LMT",
                    order_time=cwhen,
                    **common,
                )
            )
        else:
            assigned = fate > 0.9
            trades.append(
                record(
                    when=close_when,
                    trade_date=expiry,
                    transaction_type="BookTrade",
                    buy_sell="BUY",
                    quantity=n,
                    price=Decimal(0),
                    proceeds=Decimal(0),
                    commission=Decimal(0),
                    net_cash=Decimal(0),
                    cost=basis,
                    realized=Decimal(0) if assigned else basis,
                    open_close="C",
                    notes="A" if assigned else "Ep",
                    **common,
                )
            )
            t_id, tr_id = ids()
            eae.append(
                EAERecord(
                    transaction_id=t_id,
                    trade_id=tr_id,
                    day=expiry,
                    transaction_type="Assignment" if assigned else "Expiration",
                    con_id=con_id,
                    sec_type="OPT",
                    symbol=symbol,
                    local_symbol=local,
                    description=desc,
                    quantity=n if assigned else -n,
                    trade_price=Decimal(0),
                    mark_price=Decimal(0),
                    proceeds=Decimal(0),
                    cost_basis=basis,
                    realized=Decimal(0) if assigned else basis,
                    multiplier=mult,
                    underlying_symbol=symbol,
                    underlying_con_id=und_con,
                    put_call="P",
                    strike=strike,
                    expiry=expiry,
                    account=account,
                )
            )
    trades.sort(key=lambda t: (t.when, t.transaction_id))
    return render_activity(
        account,
        trades,
        eae,
        start,
        start + timedelta(days=400),
        datetime(2026, 2, 6, 12, 0, tzinfo=UTC),
        "",
        "putdesk-sim-benchmark",
    )
