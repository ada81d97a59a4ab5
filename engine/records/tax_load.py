"""Builds `TaxLot`s from the booked trades (the edge of the tax report: reads the database).

Commissions are split by the executions behind each trade: the opening fills' commission
goes to the cost of a long position and off the proceeds of a short one, the closing fills'
the other way round (a trade without executions carries all of it in its cost). A short
option closed by assignment or exercise is not a disposal when it delivered a position: its
premium is in that leg's `basis_adjustment` (per share: minus for a sold option), so it is
left out. Without a delivered leg in the records it is reported as closed at its exit price
(index options settle in cash; for others the report says to check).
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal

from engine.domain import INDEX_SYMBOLS
from engine.market.calendar import to_et
from engine.records.tax import TaxLot, money
from engine.store.db import Store
from engine.store.trades import TradeRow, TradesRepo

OPTION_TYPES = ("OPT", "FOP")
DELIVERY_REASONS = ("assigned", "exercised")
#: Index options settle in cash: their assignment or exercise is a disposal at its price.
CASH_SETTLED = INDEX_SYMBOLS


def _date(t: dt.datetime) -> dt.date:
    return to_et(t).date()


def describe(t: TradeRow) -> str:
    """Form 8949 column (a): "1 ORCL 15SEP17 50 P" or "100 sh ORCL"."""
    qty = f"{t.quantity:g}" if isinstance(t.quantity, float) else str(t.quantity)
    if t.sec_type in OPTION_TYPES:
        exp = ""
        if t.expiry:
            try:
                exp = dt.datetime.strptime(t.expiry[:8], "%Y%m%d").strftime("%d%b%y").upper()
            except ValueError:
                exp = t.expiry
        strike = format(t.strike.normalize(), "f") if t.strike is not None else "?"
        return f"{qty} {t.symbol} {exp} {strike} {t.right or '?'}".replace("  ", " ")
    return f"{qty} sh {t.symbol}"


def section_1256(t: TradeRow) -> bool:
    """Futures, futures options and broad-based index options (SPX, XSP, VIX, NDX, RUT, DJX)
    are Section 1256 contracts: 60 % long-term / 40 % short-term on Form 6781, marked to
    market at the year end; they are not Form 8949 rows. SPY options are equity options."""
    if t.sec_type in ("FUT", "FOP"):
        return True
    return t.sec_type == "OPT" and t.symbol in INDEX_SYMBOLS


def split_commission(t: TradeRow, fills: list[tuple[str, Decimal]]) -> tuple[Decimal, Decimal]:
    """(opening, closing) commission of a trade from its fills (BOT / SLD as the API says,
    BUY / SELL as Flex does); what the trade
    carries beyond its fills (a Flex correction) counts on the cost side."""
    opening_side = "SELL" if t.side == "short" else "BUY"
    sides = [("BUY" if side in ("BUY", "BOT", "B") else "SELL", c) for side, c in fills]
    opening = sum((c for side, c in sides if side == opening_side), Decimal(0))
    closing = sum((c for side, c in sides if side != opening_side), Decimal(0))
    extra = abs(t.commission) - opening - closing
    if extra > 0:
        if t.side == "short":
            closing += extra
        else:
            opening += extra
    return opening, closing


Problem = tuple[dt.date | None, str]


async def load_tax_lots(store: Store) -> tuple[list[TaxLot], list[Problem]]:
    """Every filled trade as a lot (open ones too: they can be wash-sale replacements), and
    the problems: trades that cannot be reported and why, each with the date it closed (None
    while open), so a report keeps those of its year."""
    trades = [
        t
        for t in await TradesRepo(store).trades_since(None)
        if t.status in ("open", "closed") and t.quantity
    ]
    delivered = {t.related_trade_id for t in trades if t.related_trade_id is not None}
    fills = await _commission_fills(store)
    lots: list[TaxLot] = []
    problems: list[Problem] = []
    for t in trades:
        is_option = t.sec_type in OPTION_TYPES
        when = _date(t.exit_time) if t.status == "closed" and t.exit_time else None
        if section_1256(t):
            continue  # Form 6781, summarised by `section_1256_summary`
        if (t.currency or "USD") != "USD":
            if t.status == "closed":
                problems.append(
                    (
                        when,
                        f"trade #{t.id} {describe(t)}: in {t.currency}, not reported (Form 8949 "
                        "wants USD at the rates of the trade dates)",
                    )
                )
            continue
        if t.entry_time is None or t.entry_price is None:
            problems.append(
                (
                    when,
                    f"trade #{t.id} {describe(t)}: entry date or price unknown, not reported "
                    "(import the Flex history that opened it)",
                )
            )
            continue
        if is_option and t.status == "closed" and t.exit_reason in DELIVERY_REASONS:
            if t.id in delivered:
                continue  # its premium is in the delivered position's basis or proceeds
            if t.symbol not in CASH_SETTLED:
                problems.append(
                    (
                        when,
                        f"trade #{t.id} {describe(t)}: {t.exit_reason}, but no position delivered "
                        "by it is in the records: reported as closed at its exit price; check "
                        "whether it was cash-settled",
                    )
                )
        opening, closing = split_commission(t, fills.get(t.id, []))
        units = Decimal(t.quantity) * t.multiplier
        adj = (t.basis_adjustment or Decimal(0)) * units
        long = t.side != "short"
        exit_price = t.exit_price if t.status == "closed" and t.exit_time else None
        if t.status == "closed" and exit_price is None:
            problems.append((when, f"trade #{t.id} {describe(t)}: closed without an exit price"))
            continue
        cost: Decimal | None
        proceeds: Decimal | None
        if long:
            cost = money(t.entry_price * units + adj + opening)
            proceeds = None if exit_price is None else money(exit_price * units - closing)
        else:
            proceeds = money(t.entry_price * units - adj - opening)
            cost = None if exit_price is None else money(exit_price * units + closing)
        opened = _date(t.entry_time)
        lots.append(
            TaxLot(
                lot_id=f"T{t.id}",
                trade_id=t.id,
                symbol=t.symbol,
                contract=(f"{t.symbol} {t.expiry} {t.strike} {t.right}" if is_option else t.symbol),
                description=describe(t),
                side="long" if long else "short",
                is_option=is_option,
                quantity=Decimal(t.quantity),
                opened=opened,
                acquired=opened,
                closed=_date(t.exit_time) if exit_price is not None and t.exit_time else None,
                proceeds=proceeds,
                cost=cost,
            )
        )
        if t.estimated:
            problems.append(
                (
                    when,
                    f"trade #{t.id} {describe(t)}: entry price estimated (opened outside the "
                    "records): check its basis",
                )
            )
    return lots, problems


async def _commission_fills(store: Store) -> dict[int, list[tuple[str, Decimal]]]:
    """(side, commission) of every booked execution, by trade."""
    fills: dict[int, list[tuple[str, Decimal]]] = {}
    for row in await store.fetchall(
        "SELECT trade_id, side, commission FROM executions WHERE trade_id IS NOT NULL"
    ):
        fills.setdefault(int(row["trade_id"]), []).append(
            (str(row["side"] or "").upper(), abs(Decimal(str(row["commission"] or "0"))))
        )
    return fills


@functools.lru_cache(maxsize=16)
def last_session(year: int) -> dt.date:
    """The year's last NYSE session: the report date of its year-end marks."""
    from engine.market.calendar import MarketCalendar

    return MarketCalendar().session_on_or_before(dt.date(year, 12, 31))


async def year_end_marks(store: Store, year: int) -> dict[int, Decimal]:
    """con_id -> mark price at the year's last session, from the Flex OpenPositions stored
    (an Activity statement whose period ends on that day carries them)."""
    day = last_session(year).isoformat()
    rows = await store.fetchall(
        "SELECT con_id, mark_price FROM position_marks WHERE report_date = ?", (day,)
    )
    return {int(r["con_id"]): Decimal(str(r["mark_price"])) for r in rows}


def marked_gain(
    t: TradeRow, marks: dict[int, Decimal], opening_commission: Decimal
) -> Decimal | None:
    """What a Section 1256 position would have made if sold at its mark in `marks` (per unit)
    on the mark date: proceeds less cost, the opening commission in the cost (none is paid on
    a deemed sale). None without a mark or an entry price."""
    mark = marks.get(t.con_id) if t.con_id is not None else None
    if mark is None or t.entry_price is None:
        return None
    units = Decimal(abs(t.quantity)) * Decimal(t.multiplier or 1)
    entry, at_mark = t.entry_price * units, mark * units
    gross = entry - at_mark if t.side == "short" else at_mark - entry
    return gross - opening_commission


async def section_1256_summary(store: Store, year: int) -> tuple[dict[str, str], list[str]]:
    """Section 1256 results of `year` split 60 / 40 for Form 6781, and the problems.

    Contracts closed in the year count their net P&L after commissions, less what an earlier
    year-end already marked; contracts open at the year end are marked to market at the
    year's last session (the mark of the Flex OpenPositions of that day) and count that
    gain or loss. A contract needing a year-end mark that is not stored is listed (import
    the Activity statement of that day) and counts without it."""
    total = Decimal(0)
    closed_n = marked_n = 0
    problems: list[str] = []
    end = dt.date(year, 12, 31)
    contracts = [
        t
        for t in await TradesRepo(store).trades_since(None)
        if section_1256(t) and t.status in ("open", "closed")
    ]
    # the calendar and the marks only when there is something to mark
    marks_now = await year_end_marks(store, year) if contracts else {}
    marks_before = await year_end_marks(store, year - 1) if contracts else {}
    fills = await _commission_fills(store) if contracts else {}
    for t in contracts:
        opened = _date(t.entry_time) if t.entry_time else None
        closed = _date(t.exit_time) if t.status == "closed" and t.exit_time else None
        what = f"trade #{t.id} {describe(t)}: Section 1256"
        if (t.currency or "USD") != "USD":
            if closed is not None and closed.year == year:
                problems.append(f"{what}, in {t.currency}")
            continue
        open_before = opened is not None and opened.year < year
        opening_commission = split_commission(t, fills.get(t.id, []))[0]
        # what the end of the year before marked (and counted then): the opening commission
        # is in it, so the rest of the P&L is what this year adds
        already = Decimal(0)
        if open_before and (closed is None or closed.year >= year):
            marked = marked_gain(t, marks_before, opening_commission)
            if marked is None:
                problems.append(
                    f"{what}, open at the end of {year - 1} and no mark of "
                    f"{last_session(year - 1)} is stored: counted from its opening, not from "
                    "that year-end mark"
                )
            else:
                already = marked
        if closed is not None and closed.year == year:
            if t.net_pnl is None:
                problems.append(f"{what}, closed without a P&L")
                continue
            total += t.net_pnl - already
            closed_n += 1
        elif opened is not None and opened <= end and (closed is None or closed > end):
            gain = marked_gain(t, marks_now, opening_commission)
            if gain is None:
                problems.append(
                    f"{what} contract open at the end of {year}: Form 6781 marks it to market; "
                    f"no mark of {last_session(year)} is stored (import the Activity Flex "
                    "statement of that day): not counted"
                )
                continue
            total += gain - already
            marked_n += 1
    long_part = money(total * Decimal("0.6"))
    return {
        "contracts": str(closed_n + marked_n),
        "closed": str(closed_n),
        "marked_to_market": str(marked_n),
        "net": format(money(total), "f"),
        "long_term_60": format(long_part, "f"),
        "short_term_40": format(money(total) - long_part, "f"),
    }, problems
