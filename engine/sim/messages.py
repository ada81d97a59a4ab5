"""Encoders for every server -> client message the simulated gateway sends at version 178.

Each function returns one framed message (bytes) whose fields match `ib_async.decoder`
field-for-field at server version 178. Message ids and versions are those a real gateway
writes; `tests/sim/test_messages.py` decodes each one with ib_async's own Decoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from ib_async.contract import Contract
from ib_async.objects import CommissionReport, Execution
from ib_async.order import Order, OrderState

from engine.sim.wire import UNSET_DOUBLE, UNSET_DOUBLE_TEXT, encode

# Incoming message ids (server -> client).
TICK_PRICE = 1
TICK_SIZE = 2
ORDER_STATUS = 3
ERR_MSG = 4
OPEN_ORDER = 5
ACCT_VALUE = 6
PORTFOLIO_VALUE = 7
ACCT_UPDATE_TIME = 8
NEXT_VALID_ID = 9
CONTRACT_DATA = 10
EXECUTION_DATA = 11
MANAGED_ACCTS = 15
HISTORICAL_DATA = 17
SCANNER_PARAMETERS = 19
SCANNER_DATA = 20
TICK_OPTION_COMPUTATION = 21
TICK_GENERIC = 45
TICK_STRING = 46
CURRENT_TIME = 49
CONTRACT_DATA_END = 52
OPEN_ORDER_END = 53
ACCT_DOWNLOAD_END = 54
EXECUTION_DATA_END = 55
TICK_SNAPSHOT_END = 57
MARKET_DATA_TYPE = 58
COMMISSION_REPORT = 59
POSITION_DATA = 61
POSITION_END = 62
ACCOUNT_SUMMARY = 63
ACCOUNT_SUMMARY_END = 64
ACCOUNT_UPDATE_MULTI = 73
ACCOUNT_UPDATE_MULTI_END = 74
SEC_DEF_OPT_PARAMS = 75
SEC_DEF_OPT_PARAMS_END = 76
TICK_REQ_PARAMS = 81
COMPLETED_ORDER = 101
COMPLETED_ORDERS_END = 102


def _right(c: Contract) -> str:
    return c.right or ("?" if c.secType in ("STK", "IND") else "")


def _contract_head(c: Contract) -> list[object]:
    """conId .. tradingClass as in openOrder/execDetails/position (exchange, no primary)."""
    return [
        c.conId,
        c.symbol,
        c.secType,
        c.lastTradeDateOrContractMonth,
        float(c.strike or 0.0),
        _right(c),
        c.multiplier,
        c.exchange,
        c.currency,
        c.localSymbol,
        c.tradingClass,
    ]


def _margin(v: str) -> str:
    return v if v not in ("", None) else UNSET_DOUBLE_TEXT


# ---------------------------------------------------------------------- market data


def tick_price(req_id: int, tick_type: int, price: float, size: Decimal | int, attrib: int = 0):
    """tickPrice: exactly 7 fields (id, version 6, reqId, type, price, size, attrMask)."""
    return encode((TICK_PRICE, 6, req_id, tick_type, float(price), size, attrib))


def tick_size(req_id: int, tick_type: int, size: Decimal | int) -> bytes:
    return encode((TICK_SIZE, 6, req_id, tick_type, size))


def tick_generic(req_id: int, tick_type: int, value: float) -> bytes:
    return encode((TICK_GENERIC, 6, req_id, tick_type, float(value)))


def tick_string(req_id: int, tick_type: int, value: str) -> bytes:
    return encode((TICK_STRING, 6, req_id, tick_type, value))


def tick_option_computation(
    req_id: int,
    tick_type: int,
    iv: float,
    delta: float,
    opt_price: float,
    pv_dividend: float,
    gamma: float,
    vega: float,
    theta: float,
    und_price: float,
    tick_attrib: int = 1,
) -> bytes:
    """tickOptionComputation at >= 156: no version; tickAttrib 1 = price based.
    Not computed: -1 for iv/prices, -2 for greeks."""
    return encode(
        (
            TICK_OPTION_COMPUTATION,
            req_id,
            tick_type,
            tick_attrib,
            float(iv),
            float(delta),
            float(opt_price),
            float(pv_dividend),
            float(gamma),
            float(vega),
            float(theta),
            float(und_price),
        )
    )


def tick_req_params(req_id: int, min_tick: float, bbo_exchange: str, permissions: int) -> bytes:
    return encode((TICK_REQ_PARAMS, req_id, float(min_tick), bbo_exchange, permissions))


def tick_snapshot_end(req_id: int) -> bytes:
    return encode((TICK_SNAPSHOT_END, 1, req_id))


def market_data_type(req_id: int, data_type: int) -> bytes:
    return encode((MARKET_DATA_TYPE, 1, req_id, data_type))


# ---------------------------------------------------------------------- session


def error(req_id: int, code: int, message: str, advanced_json: str = "") -> bytes:
    """error (version 2) with advancedOrderRejectJson (>= 166)."""
    return encode((ERR_MSG, 2, req_id, code, message, advanced_json))


def next_valid_id(order_id: int) -> bytes:
    return encode((NEXT_VALID_ID, 1, order_id))


def managed_accounts(accounts: Sequence[str]) -> bytes:
    return encode((MANAGED_ACCTS, 1, ",".join(accounts)))


def current_time(epoch_seconds: int) -> bytes:
    return encode((CURRENT_TIME, 1, int(epoch_seconds)))


# ---------------------------------------------------------------------- orders


def order_status(
    order_id: int,
    status: str,
    filled: Decimal | float,
    remaining: Decimal | float,
    avg_fill_price: float,
    perm_id: int,
    parent_id: int,
    last_fill_price: float,
    client_id: int,
    why_held: str = "",
    mkt_cap_price: float = 0.0,
) -> bytes:
    """orderStatus at >= 136 (MARKET_CAP_PRICE): no version field."""
    return encode(
        (
            ORDER_STATUS,
            order_id,
            status,
            filled,
            remaining,
            float(avg_fill_price),
            perm_id,
            parent_id,
            float(last_fill_price),
            client_id,
            why_held,
            float(mkt_cap_price),
        )
    )


def _fnum(v: float | Decimal | None) -> float | Decimal:
    return UNSET_DOUBLE if v is None else v


def open_order(contract: Contract, order: Order, state: OrderState) -> bytes:
    """openOrder at 178 (no version, no faProfile; duration, postToAts, autoCancelParent and
    the five PEG-BEST/MID fields at the end). deltaNeutralOrderType is written as "None"
    like a real gateway, so the eight delta-neutral fields follow."""
    c, o, st = contract, order, state
    f: list[object] = [OPEN_ORDER, o.orderId, *_contract_head(c)]
    f += [
        o.action,
        o.totalQuantity,
        o.orderType,
        _fnum(o.lmtPrice),
        _fnum(o.auxPrice),
        o.tif,
        o.ocaGroup,
        o.account,
        o.openClose,
        o.origin,
        o.orderRef,
        o.clientId,
        o.permId,
        o.outsideRth,
        o.hidden,
        float(o.discretionaryAmt),
        o.goodAfterTime,
        "",  # sharesAllocation (deprecated)
        o.faGroup,
        o.faMethod,
        o.faPercentage,
        o.modelCode,
        o.goodTillDate,
        o.rule80A,
        _fnum(o.percentOffset),
        o.settlingFirm,
        o.shortSaleSlot,
        o.designatedLocation,
        o.exemptCode,
        o.auctionStrategy,
        _fnum(o.startingPrice),
        _fnum(o.stockRefPrice),
        _fnum(o.delta),
        _fnum(o.stockRangeLower),
        _fnum(o.stockRangeUpper),
        o.displaySize,
        o.blockOrder,
        o.sweepToFill,
        o.allOrNone,
        o.minQty,
        o.ocaType,
        o.eTradeOnly,
        o.firmQuoteOnly,
        _fnum(o.nbboPriceCap),
        o.parentId,
        o.triggerMethod,
        _fnum(o.volatility),
        o.volatilityType,
        o.deltaNeutralOrderType or "None",
        _fnum(o.deltaNeutralAuxPrice),
        o.deltaNeutralConId,
        o.deltaNeutralSettlingFirm,
        o.deltaNeutralClearingAccount,
        o.deltaNeutralClearingIntent,
        o.deltaNeutralOpenClose,
        o.deltaNeutralShortSale,
        o.deltaNeutralShortSaleSlot,
        o.deltaNeutralDesignatedLocation,
        o.continuousUpdate,
        o.referencePriceType,
        _fnum(o.trailStopPrice),
        _fnum(o.trailingPercent),
        _fnum(o.basisPoints),
        o.basisPointsType,
        c.comboLegsDescrip,
        0,  # combo legs
        0,  # order combo legs
        0,  # smart combo routing params
        o.scaleInitLevelSize,
        o.scaleSubsLevelSize,
        UNSET_DOUBLE,  # scalePriceIncrement (unset: no scale fields follow)
        "",  # hedgeType (empty: no hedgeParam)
        o.optOutSmartRouting,
        o.clearingAccount,
        o.clearingIntent,
        o.notHeld,
        0,  # deltaNeutralContract present
        "",  # algoStrategy (empty: no params)
        o.solicited,
        o.whatIf,
        st.status,
        _margin(st.initMarginBefore),
        _margin(st.maintMarginBefore),
        _margin(st.equityWithLoanBefore),
        _margin(st.initMarginChange),
        _margin(st.maintMarginChange),
        _margin(st.equityWithLoanChange),
        _margin(st.initMarginAfter),
        _margin(st.maintMarginAfter),
        _margin(st.equityWithLoanAfter),
        _fnum(st.commission),
        _fnum(st.minCommission),
        _fnum(st.maxCommission),
        st.commissionCurrency,
        st.warningText,
        o.randomizeSize,
        o.randomizePrice,
        0,  # conditions
        o.adjustedOrderType,
        _fnum(o.triggerPrice),
        _fnum(o.trailStopPrice),
        _fnum(o.lmtPriceOffset),
        _fnum(o.adjustedStopPrice),
        _fnum(o.adjustedStopLimitPrice),
        _fnum(o.adjustedTrailingAmount),
        o.adjustableTrailingUnit,
        o.softDollarTier.name,
        o.softDollarTier.val,
        o.softDollarTier.displayName,
        _fnum(o.cashQty),
        o.dontUseAutoPriceForHedge,
        o.isOmsContainer,
        o.discretionaryUpToLimitPrice,
        o.usePriceMgmtAlgo,
        o.duration,
        o.postToAts,
        o.autoCancelParent,
        o.minTradeQty,
        o.minCompeteSize,
        _fnum(o.competeAgainstBestOffset),
        _fnum(o.midOffsetAtWhole),
        _fnum(o.midOffsetAtHalf),
    ]
    return encode(f)


def open_order_end() -> bytes:
    return encode((OPEN_ORDER_END, 1))


def completed_order(contract: Contract, order: Order, state: OrderState) -> bytes:
    """completedOrder at 178 (no orderId/clientId; completedTime and completedStatus)."""
    c, o, st = contract, order, state
    f: list[object] = [COMPLETED_ORDER, *_contract_head(c)]
    f += [
        o.action,
        o.totalQuantity,
        o.orderType,
        _fnum(o.lmtPrice),
        _fnum(o.auxPrice),
        o.tif,
        o.ocaGroup,
        o.account,
        o.openClose,
        o.origin,
        o.orderRef,
        o.permId,
        o.outsideRth,
        o.hidden,
        float(o.discretionaryAmt),
        o.goodAfterTime,
        o.faGroup,
        o.faMethod,
        o.faPercentage,
        o.modelCode,
        o.goodTillDate,
        o.rule80A,
        _fnum(o.percentOffset),
        o.settlingFirm,
        o.shortSaleSlot,
        o.designatedLocation,
        o.exemptCode,
        _fnum(o.startingPrice),
        _fnum(o.stockRefPrice),
        _fnum(o.delta),
        _fnum(o.stockRangeLower),
        _fnum(o.stockRangeUpper),
        o.displaySize,
        o.sweepToFill,
        o.allOrNone,
        o.minQty,
        o.ocaType,
        o.triggerMethod,
        _fnum(o.volatility),
        o.volatilityType,
        o.deltaNeutralOrderType or "None",
        _fnum(o.deltaNeutralAuxPrice),
        o.deltaNeutralConId,
        o.deltaNeutralShortSale,
        o.deltaNeutralShortSaleSlot,
        o.deltaNeutralDesignatedLocation,
        o.continuousUpdate,
        o.referencePriceType,
        _fnum(o.trailStopPrice),
        _fnum(o.trailingPercent),
        c.comboLegsDescrip,
        0,
        0,
        0,
        o.scaleInitLevelSize,
        o.scaleSubsLevelSize,
        UNSET_DOUBLE,
        "",
        o.clearingAccount,
        o.clearingIntent,
        o.notHeld,
        0,
        "",
        o.solicited,
        st.status,
        o.randomizeSize,
        o.randomizePrice,
        0,
        _fnum(o.trailStopPrice),
        _fnum(o.lmtPriceOffset),
        _fnum(o.cashQty),
        o.dontUseAutoPriceForHedge,
        o.isOmsContainer,
        o.autoCancelDate,
        _fnum(o.filledQuantity),
        o.refFuturesConId,
        o.autoCancelParent,
        o.shareholder,
        o.imbalanceOnly,
        o.routeMarketableToBbo,
        o.parentPermId,
        st.completedTime,
        st.completedStatus,
        o.minTradeQty,
        o.minCompeteSize,
        _fnum(o.competeAgainstBestOffset),
        _fnum(o.midOffsetAtWhole),
        _fnum(o.midOffsetAtHalf),
    ]
    return encode(f)


def completed_orders_end() -> bytes:
    return encode((COMPLETED_ORDERS_END,))


def exec_details(req_id: int, contract: Contract, ex: Execution, time_text: str) -> bytes:
    """execDetails at 178 (no version; lastLiquidity then pendingPriceRevision)."""
    f: list[object] = [EXECUTION_DATA, req_id, ex.orderId, *_contract_head(contract)]
    f += [
        ex.execId,
        time_text,
        ex.acctNumber,
        ex.exchange,
        ex.side,
        ex.shares,
        float(ex.price),
        ex.permId,
        ex.clientId,
        ex.liquidation,
        ex.cumQty,
        float(ex.avgPrice),
        ex.orderRef,
        ex.evRule,
        "" if not ex.evMultiplier else float(ex.evMultiplier),
        ex.modelCode,
        ex.lastLiquidity,
        ex.pendingPriceRevision,
    ]
    return encode(f)


def exec_details_end(req_id: int) -> bytes:
    return encode((EXECUTION_DATA_END, 1, req_id))


def commission_report(cr: CommissionReport) -> bytes:
    """commissionReport: exactly 8 fields; realized P&L unset on opening fills."""
    realized = cr.realizedPNL
    return encode(
        (
            COMMISSION_REPORT,
            1,
            cr.execId,
            float(cr.commission),
            cr.currency or "USD",
            UNSET_DOUBLE if realized in (None, UNSET_DOUBLE) else float(realized),
            UNSET_DOUBLE if not cr.yield_ else float(cr.yield_),
            cr.yieldRedemptionDate or "",
        )
    )


# ---------------------------------------------------------------------- account


def account_value(key: str, value: str, currency: str, account: str) -> bytes:
    return encode((ACCT_VALUE, 2, key, value, currency, account))


def portfolio_value(
    contract: Contract,
    position: Decimal | float,
    market_price: float,
    market_value: float,
    average_cost: float,
    unrealized_pnl: float,
    realized_pnl: float,
    account: str,
) -> bytes:
    """updatePortfolio (version 8): exactly 20 fields; primaryExchange, not exchange."""
    c = contract
    return encode(
        (
            PORTFOLIO_VALUE,
            8,
            c.conId,
            c.symbol,
            c.secType,
            c.lastTradeDateOrContractMonth,
            float(c.strike or 0.0),
            _right(c),
            c.multiplier,
            c.primaryExchange,
            c.currency,
            c.localSymbol,
            c.tradingClass,
            position,
            float(market_price),
            float(market_value),
            float(average_cost),
            float(unrealized_pnl),
            float(realized_pnl),
            account,
        )
    )


def account_update_time(hhmm: str) -> bytes:
    return encode((ACCT_UPDATE_TIME, 1, hhmm))


def account_download_end(account: str) -> bytes:
    return encode((ACCT_DOWNLOAD_END, 1, account))


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    return encode((ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency))


def account_summary_end(req_id: int) -> bytes:
    return encode((ACCOUNT_SUMMARY_END, 1, req_id))


def account_update_multi(
    req_id: int, account: str, model_code: str, key: str, value: str, currency: str
) -> bytes:
    return encode((ACCOUNT_UPDATE_MULTI, 1, req_id, account, model_code, key, value, currency))


def account_update_multi_end(req_id: int) -> bytes:
    return encode((ACCOUNT_UPDATE_MULTI_END, 1, req_id))


def position(account: str, contract: Contract, pos: Decimal | float, avg_cost: float) -> bytes:
    """position (version 3): exactly 16 fields."""
    return encode((POSITION_DATA, 3, account, *_contract_head(contract), pos, float(avg_cost)))


def position_end() -> bytes:
    return encode((POSITION_END, 1))


# ---------------------------------------------------------------------- reference data


def contract_data(
    req_id: int,
    c: Contract,
    *,
    market_name: str,
    min_tick: float,
    order_types: str,
    valid_exchanges: str,
    under_con_id: int,
    long_name: str,
    contract_month: str,
    industry: str,
    category: str,
    subcategory: str,
    time_zone_id: str,
    trading_hours: str,
    liquid_hours: str,
    last_trade_time: str = "",
    under_symbol: str = "",
    under_sec_type: str = "",
    market_rule_ids: str = "",
    real_expiration_date: str = "",
    stock_type: str = "",
    sec_ids: Iterable[tuple[str, str]] = (),
    agg_group: int = 1,
    min_size: Decimal | int = Decimal(1),
    size_increment: Decimal | int = Decimal(1),
    suggested_size_increment: Decimal | int = Decimal(1),
) -> bytes:
    """contractData at 164..181: no version field, no mdSizeMultiplier; lastTradeDate
    and lastTradeTime share one field (`YYYYMMDD HH:MM:SS`)."""
    last = c.lastTradeDateOrContractMonth
    if last and last_trade_time:
        last = f"{last} {last_trade_time}"
    ids = list(sec_ids)
    f: list[object] = [
        CONTRACT_DATA,
        req_id,
        c.symbol,
        c.secType,
        last,
        float(c.strike or 0.0),
        c.right,
        c.exchange,
        c.currency,
        c.localSymbol,
        market_name,
        c.tradingClass,
        c.conId,
        float(min_tick),
        c.multiplier,
        order_types,
        valid_exchanges,
        1,  # priceMagnifier
        under_con_id,
        long_name.encode("unicode-escape").decode("ascii"),
        c.primaryExchange,
        contract_month,
        industry,
        category,
        subcategory,
        time_zone_id,
        trading_hours,
        liquid_hours,
        "",  # evRule
        "",  # evMultiplier
        len(ids),
    ]
    for tag, value in ids:
        f += [tag, value]
    f += [
        agg_group,
        under_symbol,
        under_sec_type,
        market_rule_ids,
        real_expiration_date,
        stock_type,
        min_size,
        size_increment,
        suggested_size_increment,
    ]
    return encode(f)


def contract_data_end(req_id: int) -> bytes:
    return encode((CONTRACT_DATA_END, 1, req_id))


def sec_def_opt_params(
    req_id: int,
    exchange: str,
    underlying_con_id: int,
    trading_class: str,
    multiplier: str,
    expirations: Sequence[str],
    strikes: Sequence[float],
) -> bytes:
    return encode(
        (
            SEC_DEF_OPT_PARAMS,
            req_id,
            exchange,
            underlying_con_id,
            trading_class,
            multiplier,
            len(expirations),
            *expirations,
            len(strikes),
            *(float(s) for s in strikes),
        )
    )


def sec_def_opt_params_end(req_id: int) -> bytes:
    return encode((SEC_DEF_OPT_PARAMS_END, req_id))


def scanner_parameters(xml: str) -> bytes:
    return encode((SCANNER_PARAMETERS, 1, xml))


def scanner_data(req_id: int, rows: Sequence[tuple[Contract, str]]) -> bytes:
    """scannerData (version 3): rank, contract fields, marketName, distance, benchmark,
    projection, legs per row."""
    f: list[object] = [SCANNER_DATA, 3, req_id, len(rows)]
    for rank, (c, market_name) in enumerate(rows):
        f += [
            rank,
            c.conId,
            c.symbol,
            c.secType,
            c.lastTradeDateOrContractMonth,
            float(c.strike or 0.0),
            c.right,
            c.exchange,
            c.currency,
            c.localSymbol,
            market_name,
            c.tradingClass,
            "",
            "",
            "",
            "",
        ]
    return encode(f)


def historical_data(
    req_id: int,
    start: str,
    end: str,
    bars: Sequence[tuple[str, float, float, float, float, Decimal | float, float, int]],
) -> bytes:
    """historicalData at >= 124: no version; bars are (date, open, high, low, close,
    volume, wap, barCount)."""
    f: list[object] = [HISTORICAL_DATA, req_id, start, end, len(bars)]
    for date, o, h, lo, cl, vol, wap, count in bars:
        f += [date, float(o), float(h), float(lo), float(cl), vol, float(wap), int(count)]
    return encode(f)
