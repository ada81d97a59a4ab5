"""Parse a Flex statement with `ibflex`, row by row, so one odd row never loses the night.

The XML is read once with `xml.etree`; every `<Trade>`, `<TradeConfirm>`, `<OptionEAE>` and
`<UnbundledCommissionDetail>` row is then converted by ibflex on its own. A row ibflex
rejects because of a field putdesk does not book (an unknown `orderType` such as SNAPMID,
ibflex issue #113) is converted again without that field and reported as a warning; a row
whose booked fields are bad (quantity, price, side, contract) is dropped and reported as an
error. A truncated or non-XML answer raises `FlexFormatError` before anything is booked.

Times in Flex are the account's exchange time (America/New_York); they become UTC here.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from engine.records.pnl import commission_cost

FLEX_TZ = ZoneInfo("America/New_York")

# Fields putdesk books: a row whose value here cannot be read is dropped, not salvaged.
ESSENTIAL = frozenset(
    {
        "quantity",
        "tradePrice",
        "price",
        "buySell",
        "assetCategory",
        "conid",
        "symbol",
        "putCall",
        "strike",
        "expiry",
        "multiplier",
        "currency",
        "tradeDate",
        "dateTime",
        "transactionType",
        "date",
    }
)
# Fields converted through ibflex (the rest of a row is kept verbatim in the payload only).
FILL_FIELDS = frozenset(
    {
        "transactionType",
        "openCloseIndicator",
        "buySell",
        "orderType",
        "assetCategory",
        "accountId",
        "currency",
        "symbol",
        "conid",
        "description",
        "multiplier",
        "strike",
        "expiry",
        "putCall",
        "tradeID",
        "tradeDate",
        "tradeTime",
        "dateTime",
        "quantity",
        "tradePrice",
        "price",
        "ibCommission",
        "commission",
        "ibCommissionCurrency",
        "ibOrderID",
        "transactionID",
        "ibExecID",
        "orderReference",
        "underlyingConid",
        "underlyingSymbol",
    }
)
EAE_FIELDS = frozenset(
    {
        "transactionType",
        "assetCategory",
        "accountId",
        "currency",
        "symbol",
        "conid",
        "underlyingSymbol",
        "putCall",
        "date",
        "quantity",
        "tradePrice",
        "commisionsAndTax",
        "tradeID",
    }
)
_BAD_ATTR = re.compile(r"^(?:\w+)\.(\w+) - |^(\w+): ")


class FlexFormatError(Exception):
    """The answer is not a usable Flex statement (truncated, not XML, wrong root)."""


@dataclass(frozen=True)
class RowProblem:
    """A row that was dropped (severity 'error') or imported without a field ('warning')."""

    section: str
    index: int  # 1-based position within its section
    row_id: str | None
    severity: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "index": self.index,
            "row_id": self.row_id,
            "severity": self.severity,
            "message": self.message,
        }

    def __str__(self) -> str:
        rid = f" ({self.row_id})" if self.row_id else ""
        return f"{self.section} row {self.index}{rid}: {self.message}"


@dataclass(frozen=True)
class FlexFill:
    """One execution from a `<Trade>` or `<TradeConfirm>` row, normalised."""

    key: str
    kind: str  # 'trade' or 'confirm'
    seq: int
    account_id: str | None
    symbol: str
    underlying_symbol: str | None
    underlying_con_id: int | None
    con_id: int | None
    sec_type: str
    right: str | None
    strike: Decimal | None
    expiry: str | None  # YYYYMMDD
    multiplier: int
    currency: str
    quantity: Decimal  # signed: + bought, - sold
    price: Decimal
    time: dt.datetime  # UTC
    trade_date: dt.date
    commission: Decimal  # positive = cost
    commission_currency: str | None
    open_close: str | None  # 'O', 'C', 'C;O' or None when the query omits it
    notes: tuple[str, ...]
    transaction_type: str | None
    exec_id: str | None
    order_id: int | None
    order_ref: str | None
    trade_id: str | None
    transaction_id: str | None
    payload: dict[str, str]

    @property
    def side(self) -> str:
        return "BUY" if self.quantity > 0 else "SELL"

    @property
    def abs_qty(self) -> int:
        return int(abs(self.quantity))

    @property
    def is_option(self) -> bool:
        return self.sec_type in ("OPT", "FOP")


@dataclass(frozen=True)
class FlexEAE:
    """One `<OptionEAE>` row: an assignment, exercise or expiry (or its stock/future leg)."""

    key: str
    seq: int
    account_id: str | None
    con_id: int | None
    symbol: str
    underlying_symbol: str | None
    sec_type: str
    right: str | None
    date: dt.date | None
    action: str  # Assignment, Exercise, Expiration, Buy, Sell, Cash Settlement
    quantity: Decimal
    trade_price: Decimal | None
    commission: Decimal
    payload: dict[str, str]


@dataclass(frozen=True)
class FlexMark:
    """One `<OpenPosition>` row (summary level): a position held at the statement's report
    date and its mark. The year-end ones mark Section 1256 contracts to market."""

    account_id: str
    report_date: dt.date
    con_id: int
    symbol: str
    asset_category: str | None
    currency: str
    position: Decimal  # signed: - short
    mark_price: Decimal
    multiplier: Decimal


#: The OpenPosition attributes a mark needs (others are not converted).
MARK_FIELDS = frozenset(
    {
        "accountId",
        "reportDate",
        "conid",
        "symbol",
        "assetCategory",
        "currency",
        "position",
        "markPrice",
        "multiplier",
        "levelOfDetail",
    }
)


@dataclass
class ParsedStatement:
    """Everything putdesk books from one Flex answer (possibly several statements)."""

    sha256: str
    query_name: str | None = None
    query_type: str | None = None
    account_id: str | None = None
    from_date: dt.date | None = None
    to_date: dt.date | None = None
    when_generated: dt.datetime | None = None
    fills: list[FlexFill] = field(default_factory=list)
    eaes: list[FlexEAE] = field(default_factory=list)
    commissions: dict[str, Decimal] = field(default_factory=dict)  # tradeID -> total cost
    marks: list[FlexMark] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rows_total: int = 0

    @property
    def errors(self) -> list[RowProblem]:
        return [p for p in self.problems if p.severity == "error"]


def parse_statement(data: bytes | str) -> ParsedStatement:
    """Parse a Flex answer; raises FlexFormatError when it is not a usable statement."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    sha = hashlib.sha256(raw).hexdigest()
    if not raw.strip():
        raise FlexFormatError("the Flex answer is empty")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        raise FlexFormatError(
            f"the Flex answer is not complete XML (truncated or corrupt at line {line}, "
            f"column {col}: {exc.msg if hasattr(exc, 'msg') else exc}); nothing was imported"
        ) from None
    if root.tag == "FlexStatementResponse":
        code = (root.findtext("ErrorCode") or "").strip()
        msg = (root.findtext("ErrorMessage") or "").strip()
        raise FlexFormatError(
            f"the answer is a Flex Web Service status, not a statement (code {code}: {msg})"
        )
    if root.tag != "FlexQueryResponse":
        raise FlexFormatError(
            f"the answer is XML but not a Flex statement (root element <{root.tag}>)"
        )
    out = ParsedStatement(sha256=sha, query_name=root.get("queryName"), query_type=root.get("type"))
    from ibflex import parser as ibparser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        containers = root.findall("FlexStatements")
        statements = [s for c in containers for s in c.findall("FlexStatement")]
        for c in containers:
            declared = c.get("count")
            if declared is not None and declared.isdigit() and int(declared) != len(c):
                out.problems.append(
                    RowProblem(
                        "FlexStatements",
                        0,
                        None,
                        "warning",
                        f"declares count={declared} but holds {len(c)} statement(s); "
                        "imported what is there",
                    )
                )
        if not statements:
            raise FlexFormatError("the Flex answer holds no <FlexStatement>; nothing to import")
        seq = 0
        for st in statements:
            _read_header(st, out, ibparser)
            for section_tag, row_tag in (
                ("Trades", "Trade"),
                ("TradeConfirms", "TradeConfirm"),
            ):
                for sec in st.findall(section_tag):
                    fills_seen: dict[str, int] = {}
                    for i, el in enumerate(sec, 1):
                        if el.tag != row_tag:
                            continue
                        lod = el.get("levelOfDetail")
                        if lod not in (None, "", "EXECUTION"):
                            continue
                        out.rows_total += 1
                        seq += 1
                        fill = _convert_fill(el, section_tag, i, seq, out, ibparser, fills_seen)
                        if fill is not None:
                            out.fills.append(fill)
            for sec in st.findall("OptionEAE"):
                eae_seen: dict[str, int] = {}
                for i, el in enumerate(sec, 1):
                    if el.tag != "OptionEAE":
                        continue
                    out.rows_total += 1
                    seq += 1
                    eae = _convert_eae(el, i, seq, out, ibparser, eae_seen)
                    if eae is not None:
                        out.eaes.append(eae)
            for sec in st.findall("OpenPositions"):
                for i, el in enumerate(sec, 1):
                    if el.tag != "OpenPosition" or el.get("levelOfDetail") not in (
                        None,
                        "",
                        "SUMMARY",
                    ):
                        continue
                    mark = _convert_mark(el, i, out, ibparser, st.get("accountId"))
                    if mark is not None:
                        out.marks.append(mark)
            for sec in st.findall("UnbundledCommissionDetails"):
                for i, el in enumerate(sec, 1):
                    obj = _parse_row(el, "UnbundledCommissionDetails", i, out, ibparser)
                    if obj is None:
                        continue
                    tid = getattr(obj, "tradeID", None)
                    total = getattr(obj, "totalCommission", None)
                    if tid and total is not None:
                        out.commissions[tid] = out.commissions.get(tid, Decimal(0)) + (-total)
    return out


def _convert_mark(
    el: ET.Element, index: int, out: ParsedStatement, ibparser: Any, account: str | None
) -> FlexMark | None:
    """An OpenPosition row as a FlexMark; a row without what a mark needs is a warning."""
    obj = _parse_row(el, "OpenPositions", index, out, ibparser, MARK_FIELDS)
    if obj is None:
        return None
    con_id = _int_or_none(obj.conid)
    acct = obj.accountId or account
    missing = [
        name
        for name, value in (
            ("accountId", acct),
            ("reportDate", obj.reportDate),
            ("conid", con_id),
            ("position", obj.position),
            ("markPrice", obj.markPrice),
        )
        if value is None
    ]
    if missing:
        out.problems.append(
            RowProblem(
                "OpenPositions",
                index,
                el.get("symbol"),
                "warning",
                f"no mark kept: {', '.join(missing)} missing",
            )
        )
        return None
    assert acct is not None and con_id is not None
    return FlexMark(
        account_id=acct,
        report_date=obj.reportDate,
        con_id=con_id,
        symbol=obj.symbol or "",
        asset_category=_enum_value(obj.assetCategory),
        currency=obj.currency or "USD",
        position=Decimal(obj.position),
        mark_price=Decimal(obj.markPrice),
        multiplier=Decimal(obj.multiplier) if obj.multiplier is not None else Decimal(1),
    )


def _read_header(st: ET.Element, out: ParsedStatement, ibparser: Any) -> None:
    from ibflex import Types

    def conv(name: str) -> Any:
        value = st.get(name)
        if value in (None, ""):
            return None
        try:
            return ibparser.parse_element_attr(Types.FlexStatement, name, value)[1]
        except Exception:
            out.problems.append(
                RowProblem("FlexStatement", 0, None, "warning", f"{name}={value!r} unreadable")
            )
            return None

    out.account_id = out.account_id or st.get("accountId")
    fd, td, wg = conv("fromDate"), conv("toDate"), conv("whenGenerated")
    if fd is not None and (out.from_date is None or fd < out.from_date):
        out.from_date = fd
    if td is not None and (out.to_date is None or td > out.to_date):
        out.to_date = td
    if isinstance(wg, dt.datetime):
        out.when_generated = _to_utc(wg)


def _row_id(el: ET.Element) -> str | None:
    for k in ("transactionID", "tradeID", "ibExecID"):
        v = el.get(k)
        if v:
            return f"{k}={v}"
    return None


def _parse_row(
    el: ET.Element,
    section: str,
    index: int,
    out: ParsedStatement,
    ibparser: Any,
    fields: frozenset[str] | None = None,
) -> Any:
    """ibflex-convert one row; drop unbooked bad fields with a warning, else report + None."""
    attrib = (
        dict(el.attrib) if fields is None else {k: v for k, v in el.attrib.items() if k in fields}
    )
    dropped: list[str] = []
    for _ in range(8):
        try:
            obj = _ibflex_row(el.tag, attrib, ibparser)
        except ibparser.FlexParserError as exc:
            msg = str(exc)
            m = _BAD_ATTR.match(msg)
            name = (m.group(1) or m.group(2)) if m else None
            if name and name in attrib and name not in ESSENTIAL:
                dropped.append(f"{name}={attrib.pop(name)!r} ({_short(msg)})")
                continue
            out.problems.append(
                RowProblem(section, index, _row_id(el), "error", f"dropped: {_short(msg)}")
            )
            return None
        if dropped:
            out.problems.append(
                RowProblem(
                    section,
                    index,
                    _row_id(el),
                    "warning",
                    "imported without unreadable field(s): " + "; ".join(dropped),
                )
            )
        return obj
    out.problems.append(
        RowProblem(section, index, _row_id(el), "error", "dropped: too many bad fields")
    )
    return None


def _ibflex_row(tag: str, attrib: dict[str, str], ibparser: Any) -> Any:
    """`ibflex.parser.parse_data_element` for a flat row, with each attribute conversion
    memoised (dates, enums, symbols repeat across thousands of rows)."""
    from ibflex import Types

    cls = getattr(Types, tag, None)
    if cls is None:
        raise ibparser.FlexParserError(f"unknown element type {tag!r}")
    values = {}
    for k, v in attrib.items():
        try:
            values[k] = _convert_attr(tag, k, v)
        except KeyError:
            continue  # an attribute ibflex does not know: ignored, as ibflex does
    try:
        return cls(**values)
    except Exception as exc:
        raise ibparser.FlexParserError(f"{tag} - {exc}") from None


@functools.lru_cache(maxsize=200_000)
def _convert_attr(tag: str, name: str, value: str) -> Any:
    from ibflex import Types, parser

    return parser.parse_element_attr(getattr(Types, tag), name, value)[1]


_CODES: frozenset[str] | None = None


def _known_codes() -> frozenset[str]:
    global _CODES
    if _CODES is None:
        from ibflex import enums

        _CODES = frozenset(str(c.value) for c in enums.Code)
    return _CODES


def _short(msg: str) -> str:
    return msg if len(msg) <= 200 else msg[:197] + "..."


def _to_utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None:
        t = t.replace(tzinfo=FLEX_TZ)
    return t.astimezone(dt.UTC)


def _enum_value(v: Any) -> str | None:
    if v is None:
        return None
    return str(getattr(v, "value", v))


def _int_or_none(v: Any) -> int | None:
    if v in (None, ""):
        return None
    try:
        return int(Decimal(str(v)))
    except Exception:
        return None


def _key(el: ET.Element, prefix: str, seen: dict[str, int]) -> str:
    tx = el.get("transactionID")
    if tx:
        return tx if prefix == "" else f"{prefix}{tx}"
    tid = el.get("tradeID")
    if tid:
        return f"{prefix}trade:{tid}"
    ex = el.get("ibExecID")
    if ex:
        return f"{prefix}exec:{ex}"
    body = "\x1f".join(f"{k}={v}" for k, v in sorted(el.attrib.items()))
    digest = hashlib.sha1(body.encode("utf-8")).hexdigest()[:24]
    n = seen.get(digest, 0)
    seen[digest] = n + 1
    return f"{prefix}row:{digest}" + (f"#{n}" if n else "")


def _convert_fill(
    el: ET.Element,
    section: str,
    index: int,
    seq: int,
    out: ParsedStatement,
    ibparser: Any,
    seen: dict[str, int],
) -> FlexFill | None:
    obj = _parse_row(el, section, index, out, ibparser, FILL_FIELDS)
    if obj is None:
        return None

    def bad(why: str) -> None:
        out.problems.append(RowProblem(section, index, _row_id(el), "error", f"dropped: {why}"))

    qty = obj.quantity
    price = obj.tradePrice if obj.tradePrice is not None else getattr(obj, "price", None)
    if qty is None or qty == 0:
        bad("no quantity")
        return None
    if price is None:
        bad("no trade price")
        return None
    if not obj.symbol:
        bad("no symbol")
        return None
    when = obj.dateTime
    if when is None and obj.tradeDate is not None:
        when = dt.datetime.combine(obj.tradeDate, obj.tradeTime or dt.time(0))
    if when is None:
        bad("no trade date")
        return None
    trade_date = obj.tradeDate or when.date()
    buy_sell = _enum_value(obj.buySell)
    if buy_sell and buy_sell.startswith("SELL") and qty > 0:
        qty = -qty
    if buy_sell and buy_sell.startswith("BUY") and qty < 0:
        qty = -qty
    ib_comm = obj.ibCommission
    if ib_comm is None and section == "TradeConfirms":
        ib_comm = getattr(obj, "commission", None)
    commission = commission_cost(ib_comm)
    if ib_comm is None and obj.tradeID and obj.tradeID in out.commissions:
        commission = out.commissions[obj.tradeID]
    raw_notes = el.get("notes") or ""
    notes = tuple(n for n in raw_notes.replace(",", ";").split(";") if n)
    unknown = [n for n in notes if n not in _known_codes()]
    if unknown:
        out.problems.append(
            RowProblem(
                section,
                index,
                _row_id(el),
                "warning",
                f"unknown notes code(s) {', '.join(unknown)} (not in ibflex); kept as text",
            )
        )
    mult = obj.multiplier if obj.multiplier is not None else Decimal(1)
    sec_type = _enum_value(obj.assetCategory) or "STK"
    prefix = "" if section == "Trades" else "confirm:"
    occ = _occ_parts(str(obj.symbol)) if sec_type == "OPT" else (None, None, None)
    if occ[2] is None and sec_type in ("OPT", "FOP"):
        occ = (occ[0], occ[1], _description_strike(obj.description))
    return FlexFill(
        key=_key(el, prefix, seen),
        kind="trade" if section == "Trades" else "confirm",
        seq=seq,
        account_id=obj.accountId or out.account_id,
        symbol=_base_symbol(obj.symbol, obj.underlyingSymbol, sec_type),
        underlying_symbol=obj.underlyingSymbol,
        underlying_con_id=_int_or_none(obj.underlyingConid),
        con_id=_int_or_none(obj.conid),
        sec_type=sec_type,
        right=_enum_value(obj.putCall) or _subcategory_right(el) or occ[1],
        strike=obj.strike if obj.strike is not None else occ[2],
        expiry=obj.expiry.strftime("%Y%m%d") if obj.expiry else occ[0],
        multiplier=int(mult),
        currency=obj.currency or "USD",
        quantity=qty,
        price=price,
        time=_to_utc(when),
        trade_date=trade_date,
        commission=commission,
        commission_currency=obj.ibCommissionCurrency,
        open_close=_enum_value(obj.openCloseIndicator),
        notes=notes,
        transaction_type=_enum_value(obj.transactionType),
        exec_id=obj.ibExecID,
        order_id=_int_or_none(obj.ibOrderID),
        order_ref=obj.orderReference,
        trade_id=obj.tradeID,
        transaction_id=obj.transactionID,
        payload=dict(el.attrib),
    )


def _convert_eae(
    el: ET.Element,
    index: int,
    seq: int,
    out: ParsedStatement,
    ibparser: Any,
    seen: dict[str, int],
) -> FlexEAE | None:
    obj = _parse_row(el, "OptionEAE", index, out, ibparser, EAE_FIELDS)
    if obj is None:
        return None
    action = _enum_value(obj.transactionType)
    if not action:
        out.problems.append(
            RowProblem("OptionEAE", index, _row_id(el), "error", "dropped: no transactionType")
        )
        return None
    sec_type = _enum_value(obj.assetCategory) or "OPT"
    return FlexEAE(
        key=_key(el, "eae:", seen),
        seq=seq,
        account_id=obj.accountId or out.account_id,
        con_id=_int_or_none(obj.conid),
        symbol=str(obj.symbol or "").strip(),
        underlying_symbol=obj.underlyingSymbol,
        sec_type=sec_type,
        right=_enum_value(obj.putCall) or _subcategory_right(el),
        date=obj.date,
        action=action,
        quantity=obj.quantity or Decimal(0),
        trade_price=obj.tradePrice,
        commission=commission_cost(obj.commisionsAndTax),
        payload=dict(el.attrib),
    )


def _base_symbol(symbol: str, underlying: str | None, sec_type: str) -> str:
    """The underlying's ticker for options ('ORCL  170915P00050000' -> 'ORCL')."""
    if sec_type in ("OPT", "FOP"):
        if underlying:
            return underlying.strip()
        return symbol.split()[0] if symbol.split() else symbol
    return symbol.strip()


_OCC = re.compile(r"^\S+\s+(\d{6})([PC])(\d{8})$")


def _occ_parts(symbol: str) -> tuple[str | None, str | None, Decimal | None]:
    """Expiry, right and strike from an OCC option symbol ('SA    250919C00017000')."""
    m = _OCC.match(symbol.strip())
    if not m:
        return None, None, None
    return "20" + m.group(1), m.group(2), Decimal(m.group(3)) / 1000


def _description_strike(description: str | None) -> Decimal | None:
    """The strike from an IBKR description ('CHF 24OCT25 1.265 C' -> 1.265)."""
    parts = (description or "").split()
    if len(parts) >= 3 and parts[-1] in ("P", "C"):
        try:
            return Decimal(parts[-2])
        except Exception:
            return None
    return None


def _subcategory_right(el: ET.Element) -> str | None:
    sub = el.get("subCategory")
    return sub if sub in ("P", "C") else None
