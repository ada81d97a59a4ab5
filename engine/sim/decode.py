"""Parse client -> server messages (the layouts `ib_async.client` writes at version 178).

`parse(fields)` returns a typed request object for the message ids the simulated gateway
serves, or `Unsupported` for anything else. placeOrder is rebuilt into ib_async's own
`Contract` and `Order` so the order book needs no second vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ib_async.contract import ComboLeg, Contract, DeltaNeutralContract, TagValue
from ib_async.objects import ExecutionFilter, ScannerSubscription
from ib_async.order import Order, OrderComboLeg

from engine.sim.wire import UNSET_DOUBLE, UNSET_INTEGER

# Outgoing message ids (client -> server).
REQ_MKT_DATA = 1
CANCEL_MKT_DATA = 2
PLACE_ORDER = 3
CANCEL_ORDER = 4
REQ_OPEN_ORDERS = 5
REQ_ACCT_DATA = 6
REQ_EXECUTIONS = 7
REQ_IDS = 8
REQ_CONTRACT_DATA = 9
REQ_AUTO_OPEN_ORDERS = 15
REQ_ALL_OPEN_ORDERS = 16
REQ_MANAGED_ACCTS = 17
REQ_HISTORICAL_DATA = 20
REQ_SCANNER_SUBSCRIPTION = 22
CANCEL_SCANNER_SUBSCRIPTION = 23
REQ_SCANNER_PARAMETERS = 24
CANCEL_HISTORICAL_DATA = 25
REQ_CURRENT_TIME = 49
REQ_GLOBAL_CANCEL = 58
REQ_MARKET_DATA_TYPE = 59
REQ_POSITIONS = 61
REQ_ACCOUNT_SUMMARY = 62
CANCEL_ACCOUNT_SUMMARY = 63
CANCEL_POSITIONS = 64
START_API = 71
REQ_ACCOUNT_UPDATES_MULTI = 76
CANCEL_ACCOUNT_UPDATES_MULTI = 77
REQ_SEC_DEF_OPT_PARAMS = 78
REQ_COMPLETED_ORDERS = 99


class Fields:
    """Sequential reader over one message's text fields (missing fields read as empty)."""

    __slots__ = ("_f", "_i")

    def __init__(self, fields: list[str], start: int = 0) -> None:
        self._f = fields
        self._i = start

    def s(self) -> str:
        i = self._i
        self._i = i + 1
        return self._f[i] if i < len(self._f) else ""

    def i(self, default: int = 0) -> int:
        v = self.s()
        if v == "":
            return default
        try:
            return int(v)
        except ValueError:
            return int(float(v))

    def f(self, default: float = UNSET_DOUBLE) -> float:
        v = self.s()
        if v == "":
            return default
        if v == "Infinite":
            return float("inf")
        return float(v)

    def b(self) -> bool:
        v = self.s()
        return v not in ("", "0", "false", "False")

    def tags(self) -> list[TagValue]:
        """A `tag=value;tag=value;` list field."""
        out = []
        for part in self.s().split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                out.append(TagValue(k, v))
        return out

    def contract(self) -> Contract:
        """The 12-field contract block ib_async's `send()` writes for a Contract."""
        c = Contract()
        c.conId = self.i()
        c.symbol = self.s()
        c.secType = self.s()
        c.lastTradeDateOrContractMonth = self.s()
        c.strike = self.f(0.0)
        c.right = self.s()
        c.multiplier = self.s()
        c.exchange = self.s()
        c.primaryExchange = self.s()
        c.currency = self.s()
        c.localSymbol = self.s()
        c.tradingClass = self.s()
        return c

    @property
    def remaining(self) -> int:
        return max(0, len(self._f) - self._i)


@dataclass
class StartApi:
    client_id: int
    capabilities: str = ""


@dataclass
class ReqMktData:
    req_id: int
    contract: Contract
    generic_ticks: list[int]
    snapshot: bool
    regulatory_snapshot: bool


@dataclass
class CancelMktData:
    req_id: int


@dataclass
class PlaceOrder:
    order_id: int
    contract: Contract
    order: Order


@dataclass
class CancelOrder:
    order_id: int
    manual_time: str = ""


@dataclass
class ReqContractDetails:
    req_id: int
    contract: Contract


@dataclass
class ReqSecDefOptParams:
    req_id: int
    symbol: str
    fut_fop_exchange: str
    sec_type: str
    con_id: int


@dataclass
class ReqExecutions:
    req_id: int
    filter: ExecutionFilter


@dataclass
class ReqAccountUpdates:
    subscribe: bool
    account: str


@dataclass
class ReqAccountSummary:
    req_id: int
    group: str
    tags: str


@dataclass
class ReqAccountUpdatesMulti:
    req_id: int
    account: str
    model_code: str
    ledger_and_nlv: bool


@dataclass
class ReqHistoricalData:
    req_id: int
    contract: Contract
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


@dataclass
class ReqScanner:
    req_id: int
    subscription: ScannerSubscription


@dataclass
class ReqIds:
    num_ids: int


@dataclass
class ReqMarketDataType:
    data_type: int


@dataclass
class ReqById:
    """A request identified only by its reqId (cancels)."""

    msg_id: int
    req_id: int


@dataclass
class Simple:
    """A request without parameters that matter (reqOpenOrders, reqPositions, ...)."""

    msg_id: int
    flag: bool = False


@dataclass
class Unsupported:
    msg_id: int
    fields: list[str] = field(default_factory=list)


Request = (
    StartApi
    | ReqMktData
    | CancelMktData
    | PlaceOrder
    | CancelOrder
    | ReqContractDetails
    | ReqSecDefOptParams
    | ReqExecutions
    | ReqAccountUpdates
    | ReqAccountSummary
    | ReqAccountUpdatesMulti
    | ReqHistoricalData
    | ReqScanner
    | ReqIds
    | ReqMarketDataType
    | ReqById
    | Simple
    | Unsupported
)


def _generic_ticks(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if part.isdigit():
            out.append(int(part))
    return out


def parse_place_order(fields: list[str]) -> PlaceOrder:
    """placeOrder exactly as ib_async.client.placeOrder writes it at 178."""
    r = Fields(fields, 1)
    order_id = r.i()
    c = r.contract()
    c.secIdType = r.s()
    c.secId = r.s()
    o = Order()
    o.orderId = order_id
    o.action = r.s()
    o.totalQuantity = float(r.s() or 0)
    o.orderType = r.s()
    o.lmtPrice = r.f()
    o.auxPrice = r.f()
    o.tif = r.s()
    o.ocaGroup = r.s()
    o.account = r.s()
    o.openClose = r.s()
    o.origin = r.i()
    o.orderRef = r.s()
    o.transmit = r.b()
    o.parentId = r.i()
    o.blockOrder = r.b()
    o.sweepToFill = r.b()
    o.displaySize = r.i()
    o.triggerMethod = r.i()
    o.outsideRth = r.b()
    o.hidden = r.b()
    if c.secType == "BAG":
        for _ in range(r.i()):
            leg = ComboLeg(
                conId=r.i(),
                ratio=r.i(),
                action=r.s(),
                exchange=r.s(),
                openClose=r.i(),
                shortSaleSlot=r.i(),
                designatedLocation=r.s(),
                exemptCode=r.i(-1),
            )
            c.comboLegs.append(leg)
        for _ in range(r.i()):
            o.orderComboLegs.append(OrderComboLeg(price=r.f()))
        for _ in range(r.i()):
            o.smartComboRoutingParams.append(TagValue(r.s(), r.s()))
    r.s()  # deprecated sharesAllocation
    o.discretionaryAmt = r.f(0.0)
    o.goodAfterTime = r.s()
    o.goodTillDate = r.s()
    o.faGroup = r.s()
    o.faMethod = r.s()
    o.faPercentage = r.s()
    o.modelCode = r.s()
    o.shortSaleSlot = r.i()
    o.designatedLocation = r.s()
    o.exemptCode = r.i(-1)
    o.ocaType = r.i()
    o.rule80A = r.s()
    o.settlingFirm = r.s()
    o.allOrNone = r.b()
    o.minQty = r.i(UNSET_INTEGER)
    o.percentOffset = r.f()
    o.eTradeOnly = r.b()
    o.firmQuoteOnly = r.b()
    o.nbboPriceCap = r.f()
    o.auctionStrategy = r.i()
    o.startingPrice = r.f()
    o.stockRefPrice = r.f()
    o.delta = r.f()
    o.stockRangeLower = r.f()
    o.stockRangeUpper = r.f()
    o.overridePercentageConstraints = r.b()
    o.volatility = r.f()
    o.volatilityType = r.i(UNSET_INTEGER)
    o.deltaNeutralOrderType = r.s()
    o.deltaNeutralAuxPrice = r.f()
    if o.deltaNeutralOrderType:
        o.deltaNeutralConId = r.i()
        o.deltaNeutralSettlingFirm = r.s()
        o.deltaNeutralClearingAccount = r.s()
        o.deltaNeutralClearingIntent = r.s()
        o.deltaNeutralOpenClose = r.s()
        o.deltaNeutralShortSale = r.b()
        o.deltaNeutralShortSaleSlot = r.i()
        o.deltaNeutralDesignatedLocation = r.s()
    o.continuousUpdate = r.b()
    o.referencePriceType = r.i(UNSET_INTEGER)
    o.trailStopPrice = r.f()
    o.trailingPercent = r.f()
    o.scaleInitLevelSize = r.i(UNSET_INTEGER)
    o.scaleSubsLevelSize = r.i(UNSET_INTEGER)
    o.scalePriceIncrement = r.f()
    if 0 < o.scalePriceIncrement < UNSET_DOUBLE:
        o.scalePriceAdjustValue = r.f()
        o.scalePriceAdjustInterval = r.i(UNSET_INTEGER)
        o.scaleProfitOffset = r.f()
        o.scaleAutoReset = r.b()
        o.scaleInitPosition = r.i(UNSET_INTEGER)
        o.scaleInitFillQty = r.i(UNSET_INTEGER)
        o.scaleRandomPercent = r.b()
    o.scaleTable = r.s()
    o.activeStartTime = r.s()
    o.activeStopTime = r.s()
    o.hedgeType = r.s()
    if o.hedgeType:
        o.hedgeParam = r.s()
    o.optOutSmartRouting = r.b()
    o.clearingAccount = r.s()
    o.clearingIntent = r.s()
    o.notHeld = r.b()
    if r.b():
        c.deltaNeutralContract = DeltaNeutralContract(r.i(), r.f(0.0), r.f(0.0))
    o.algoStrategy = r.s()
    if o.algoStrategy:
        for _ in range(r.i()):
            o.algoParams.append(TagValue(r.s(), r.s()))
    o.algoId = r.s()
    o.whatIf = r.b()
    o.orderMiscOptions = r.tags()
    o.solicited = r.b()
    o.randomizeSize = r.b()
    o.randomizePrice = r.b()
    if o.orderType in {"PEG BENCH", "PEGBENCH"}:
        o.referenceContractId = r.i()
        o.isPeggedChangeAmountDecrease = r.b()
        o.peggedChangeAmount = r.f(0.0)
        o.referenceChangeAmount = r.f(0.0)
        o.referenceExchangeId = r.s()
    n_conditions = r.i()
    if n_conditions:
        # Conditions are not simulated; their fields cannot be skipped without their
        # per-type layouts, so the order is kept without them.
        return PlaceOrder(order_id, c, o)
    o.adjustedOrderType = r.s()
    o.triggerPrice = r.f()
    o.lmtPriceOffset = r.f()
    o.adjustedStopPrice = r.f()
    o.adjustedStopLimitPrice = r.f()
    o.adjustedTrailingAmount = r.f()
    o.adjustableTrailingUnit = r.i()
    o.extOperator = r.s()
    o.softDollarTier.name = r.s()
    o.softDollarTier.val = r.s()
    o.cashQty = r.f()
    o.mifid2DecisionMaker = r.s()
    o.mifid2DecisionAlgo = r.s()
    o.mifid2ExecutionTrader = r.s()
    o.mifid2ExecutionAlgo = r.s()
    o.dontUseAutoPriceForHedge = r.b()
    o.isOmsContainer = r.b()
    o.discretionaryUpToLimitPrice = r.b()
    o.usePriceMgmtAlgo = r.b()
    o.duration = r.i(UNSET_INTEGER)
    o.postToAts = r.i(UNSET_INTEGER)
    o.autoCancelParent = r.b()
    o.advancedErrorOverride = r.s()
    o.manualOrderTime = r.s()
    return PlaceOrder(order_id, c, o)


def parse(fields: list[str]) -> Request:
    """Decode one client message into a request object."""
    try:
        msg_id = int(fields[0])
    except (IndexError, ValueError):
        return Unsupported(-1, fields)
    r = Fields(fields, 1)
    if msg_id == REQ_MKT_DATA:
        r.s()  # version 11
        req_id = r.i()
        c = r.contract()
        if c.secType == "BAG":
            for _ in range(r.i()):
                c.comboLegs.append(ComboLeg(conId=r.i(), ratio=r.i(), action=r.s(), exchange=r.s()))
        if r.b():
            c.deltaNeutralContract = DeltaNeutralContract(r.i(), r.f(0.0), r.f(0.0))
        ticks = _generic_ticks(r.s())
        snapshot = r.b()
        regulatory = r.b()
        return ReqMktData(req_id, c, ticks, snapshot, regulatory)
    if msg_id == CANCEL_MKT_DATA:
        r.s()
        return CancelMktData(r.i())
    if msg_id == PLACE_ORDER:
        return parse_place_order(fields)
    if msg_id == CANCEL_ORDER:
        r.s()
        return CancelOrder(r.i(), r.s())
    if msg_id == REQ_ACCT_DATA:
        r.s()
        return ReqAccountUpdates(r.b(), r.s())
    if msg_id == REQ_EXECUTIONS:
        r.s()
        req_id = r.i()
        ef = ExecutionFilter(
            clientId=r.i(),
            acctCode=r.s(),
            time=r.s(),
            symbol=r.s(),
            secType=r.s(),
            exchange=r.s(),
            side=r.s(),
        )
        return ReqExecutions(req_id, ef)
    if msg_id == REQ_IDS:
        r.s()
        return ReqIds(r.i(1))
    if msg_id == REQ_CONTRACT_DATA:
        r.s()  # version 8
        req_id = r.i()
        c = r.contract()
        c.includeExpired = r.b()
        c.secIdType = r.s()
        c.secId = r.s()
        c.issuerId = r.s()
        return ReqContractDetails(req_id, c)
    if msg_id == REQ_HISTORICAL_DATA:
        req_id = r.i()
        c = r.contract()
        c.includeExpired = r.b()
        end = r.s()
        bar_size = r.s()
        duration = r.s()
        use_rth = r.b()
        what = r.s()
        fmt_date = r.i(1)
        if c.secType == "BAG":
            for _ in range(r.i()):
                c.comboLegs.append(ComboLeg(conId=r.i(), ratio=r.i(), action=r.s(), exchange=r.s()))
        keep = r.b()
        return ReqHistoricalData(req_id, c, end, bar_size, duration, use_rth, what, fmt_date, keep)
    if msg_id == REQ_SCANNER_SUBSCRIPTION:
        req_id = r.i()
        sub = ScannerSubscription(
            numberOfRows=r.i(-1),
            instrument=r.s(),
            locationCode=r.s(),
            scanCode=r.s(),
            abovePrice=r.f(),
            belowPrice=r.f(),
            aboveVolume=r.i(UNSET_INTEGER),
        )
        return ReqScanner(req_id, sub)
    if msg_id == REQ_MARKET_DATA_TYPE:
        r.s()
        return ReqMarketDataType(r.i(1))
    if msg_id == REQ_ACCOUNT_SUMMARY:
        r.s()
        return ReqAccountSummary(r.i(), r.s(), r.s())
    if msg_id == START_API:
        r.s()
        return StartApi(r.i(), r.s())
    if msg_id == REQ_ACCOUNT_UPDATES_MULTI:
        r.s()
        return ReqAccountUpdatesMulti(r.i(), r.s(), r.s(), r.b())
    if msg_id == REQ_SEC_DEF_OPT_PARAMS:
        return ReqSecDefOptParams(r.i(), r.s(), r.s(), r.s(), r.i())
    if msg_id in (
        CANCEL_SCANNER_SUBSCRIPTION,
        CANCEL_HISTORICAL_DATA,
        CANCEL_ACCOUNT_SUMMARY,
        CANCEL_ACCOUNT_UPDATES_MULTI,
    ):
        r.s()
        return ReqById(msg_id, r.i())
    if msg_id == REQ_AUTO_OPEN_ORDERS:
        r.s()
        return Simple(msg_id, r.b())
    if msg_id == REQ_COMPLETED_ORDERS:
        return Simple(msg_id, r.b())
    if msg_id in (
        REQ_OPEN_ORDERS,
        REQ_ALL_OPEN_ORDERS,
        REQ_MANAGED_ACCTS,
        REQ_SCANNER_PARAMETERS,
        REQ_CURRENT_TIME,
        REQ_GLOBAL_CANCEL,
        REQ_POSITIONS,
        CANCEL_POSITIONS,
    ):
        return Simple(msg_id)
    return Unsupported(msg_id, fields)
