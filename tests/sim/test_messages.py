"""Every encoder decodes with ib_async's own Decoder at server version 178."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ib_async.contract import Contract
from ib_async.decoder import Decoder
from ib_async.objects import CommissionReport, Execution
from ib_async.order import LimitOrder, OrderState

from engine.sim import decode as d
from engine.sim import messages as m
from engine.sim.server import exec_time_text
from engine.sim.wire import FrameBuffer, split_fields


class Recorder:
    """Captures wrapper calls (and fails loudly if the decoder logs an exception)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

        class _IB:
            TimezoneTWS = ""

        self.ib = _IB()
        self.defaultTimezone = dt.UTC

    def __getattr__(self, name: str) -> Any:
        def rec(*args: Any) -> None:
            self.calls.append((name, args))

        return rec


def decode(msg: bytes) -> tuple[Recorder, list[str]]:
    rec = Recorder()
    dec = Decoder(rec, 178)
    fields = split_fields(FrameBuffer().feed(msg)[0])
    handler = dec.handlers[int(fields[0])]
    handler(list(fields))
    return rec, fields


OPT = Contract(
    secType="OPT",
    conId=123,
    symbol="SPX",
    lastTradeDateOrContractMonth="20261127",
    strike=5900.0,
    right="P",
    multiplier="100",
    exchange="SMART",
    currency="USD",
    localSymbol="SPXW  261127P05900000",
    tradingClass="SPXW",
)


def test_open_order_has_135_fields_and_round_trips() -> None:
    o = LimitOrder("SELL", 2, 1.25, orderRef="pd-1", tif="DAY", account="DU1234567")
    o.orderId, o.clientId, o.permId, o.parentId, o.ocaGroup = 7, 1, 99, 6, "oca1"
    rec, fields = decode(m.open_order(OPT, o, OrderState(status="Submitted")))
    assert len(fields) == 135
    [(name, (oid, c, order, st))] = rec.calls
    assert name == "openOrder" and oid == 7
    assert (c.conId, c.tradingClass, c.strike) == (123, "SPXW", 5900.0)
    assert (order.action, order.totalQuantity, order.lmtPrice) == ("SELL", 2.0, 1.25)
    assert (order.orderRef, order.parentId, order.ocaGroup, order.permId) == ("pd-1", 6, "oca1", 99)
    assert st.status == "Submitted"


def test_what_if_open_order_carries_margin_numbers() -> None:
    o = LimitOrder("SELL", 1, 1.0, whatIf=True)
    st = OrderState(status="PreSubmitted", initMarginChange="750.00", maintMarginChange="750.00")
    rec, _ = decode(m.open_order(OPT, o, st))
    [(_, (_, _, order, state))] = rec.calls
    assert order.whatIf is True
    assert float(state.initMarginChange) == 750.0


def test_completed_order_round_trips() -> None:
    o = LimitOrder("BUY", 1, 0.5)
    o.permId = 5
    st = OrderState(status="Filled", completedTime="20261124 15:00:00", completedStatus="Filled")
    rec, _ = decode(m.completed_order(OPT, o, st))
    [(name, (c, order, state))] = rec.calls
    assert name == "completedOrder" and c.conId == 123 and order.permId == 5
    assert state.completedStatus == "Filled"


def test_tick_price_is_seven_fields() -> None:
    rec, fields = decode(m.tick_price(3, 1, 1.5, Decimal(10), 1))
    assert len(fields) == 7
    assert rec.calls == [("priceSizeTick", (3, 1, 1.5, 10.0))]


def test_position_portfolio_commission_exact_counts() -> None:
    rec, f = decode(m.position("DU1", OPT, Decimal(-2), 125.5))
    assert len(f) == 16 and rec.calls[0][0] == "position"
    rec, f = decode(m.portfolio_value(OPT, Decimal(-2), 1.0, -200.0, 125.5, 51.0, 0.0, "DU1"))
    assert len(f) == 20 and rec.calls[0][0] == "updatePortfolio"
    rec, f = decode(m.commission_report(CommissionReport("e1", 1.05, "USD", 0.0)))
    assert len(f) == 8 and rec.calls[0][1][0].commission == 1.05


def test_exec_details_time_is_aware_utc() -> None:
    ex = Execution(execId="e1", acctNumber="DU1", side="SLD", shares=1.0, price=1.25, permId=9)
    when = dt.datetime(2026, 11, 24, 15, 30, 5, tzinfo=dt.UTC)
    rec, _ = decode(m.exec_details(-1, OPT, ex, exec_time_text(when)))
    [(name, (req_id, c, got))] = rec.calls
    assert name == "execDetails" and req_id == -1 and c.conId == 123
    assert got.time == when and got.execId == "e1" and got.pendingPriceRevision is False


def test_option_computation_and_contract_data() -> None:
    rec, f = decode(m.tick_option_computation(4, 13, 0.2, -0.3, 1.2, 0.0, 0.01, 0.1, -0.05, 5900))
    assert len(f) == 12 and rec.calls[0][1][:3] == (4, 13, 1)
    msg = m.contract_data(
        5,
        OPT,
        market_name="SPXW",
        min_tick=0.05,
        order_types="LMT",
        valid_exchanges="SMART",
        under_con_id=416904,
        long_name="S&P 500 Stock Index",
        contract_month="202611",
        industry="Indices",
        category="Broad",
        subcategory="",
        time_zone_id="US/Eastern",
        trading_hours="",
        liquid_hours="",
        last_trade_time="16:00:00",
    )
    rec, _ = decode(msg)
    [(name, (req_id, cd))] = rec.calls
    assert name == "contractDetails" and req_id == 5
    assert cd.contract.lastTradeDateOrContractMonth == "20261127" and cd.lastTradeTime == "16:00:00"
    assert cd.underConId == 416904 and cd.minSize == 1.0 and cd.category == "Broad"


def test_place_order_decodes_client_layout() -> None:
    """The exact bytes ib_async's Client.placeOrder writes parse back into the order."""
    from ib_async.client import Client

    sent: list[str] = []
    client = Client(Recorder())
    client._serverVersion = 178
    client.connState = Client.CONNECTED
    client.sendMsg = sent.append  # type: ignore[method-assign]
    o = LimitOrder("SELL", 3, 1.35, tif="GTC", orderRef="r1", account="U1", transmit=False)
    o.parentId, o.ocaGroup, o.auxPrice, o.whatIf = 4, "g", 2.5, True
    client.placeOrder(9, OPT, o)
    req = d.parse(sent[0].split("\0")[:-1])
    assert isinstance(req, d.PlaceOrder) and req.order_id == 9
    got = req.order
    assert (got.action, got.totalQuantity, got.lmtPrice, got.auxPrice) == ("SELL", 3.0, 1.35, 2.5)
    assert (got.tif, got.orderRef, got.account, got.parentId, got.ocaGroup) == (
        "GTC",
        "r1",
        "U1",
        4,
        "g",
    )
    assert got.transmit is False and got.whatIf is True
    assert req.contract.conId == 123 and req.contract.tradingClass == "SPXW"
