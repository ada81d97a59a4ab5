"""Nightly reconcile-positions: the database's open option trades against IBKR's positions.

Short option positions IBKR holds that no open trade explains (opened by hand in TWS) are
imported as trades with the best entry price available (IBKR's average cost) and flagged
`estimated`; quantity differences and trades IBKR no longer holds are reported with reasons.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.domain import Reason
from engine.execution.ports import BrokerPosition
from engine.execution.records import Recorder, iso
from engine.store.db import Store, insert_row, money


@dataclass(frozen=True)
class Mismatch:
    con_id: int
    symbol: str
    db_quantity: int
    ibkr_quantity: int
    reason: Reason


@dataclass
class ReconcileReport:
    matched: int = 0
    imported: list[int] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "imported_trade_ids": self.imported,
            "mismatches": [
                {
                    "con_id": m.con_id,
                    "symbol": m.symbol,
                    "db": m.db_quantity,
                    "ibkr": m.ibkr_quantity,
                    "code": m.reason.code,
                    "reason": m.reason.text,
                }
                for m in self.mismatches
            ],
        }


def compare(
    db_short: dict[int, tuple[str, int]], positions: list[BrokerPosition]
) -> tuple[int, list[BrokerPosition], list[Mismatch]]:
    """Pure: (matched count, positions to import, mismatches). Quantities are contracts short."""
    ib_short = {p.con_id: p for p in positions if p.sec_type == "OPT" and p.quantity < 0}
    matched = 0
    to_import: list[BrokerPosition] = []
    mismatches: list[Mismatch] = []
    for con_id, p in ib_short.items():
        if con_id not in db_short:
            to_import.append(p)
            continue
        symbol, qty = db_short[con_id]
        if qty == -p.quantity:
            matched += 1
        else:
            mismatches.append(
                Mismatch(
                    con_id,
                    symbol,
                    qty,
                    -p.quantity,
                    Reason(
                        "reconcile.quantity", f"{symbol}: database {qty} short, IBKR {-p.quantity}"
                    ),
                )
            )
    for con_id, (symbol, qty) in db_short.items():
        if con_id not in ib_short:
            mismatches.append(
                Mismatch(
                    con_id,
                    symbol,
                    qty,
                    0,
                    Reason(
                        "reconcile.missing_at_ibkr",
                        f"{symbol}: database holds {qty} short, IBKR none "
                        "(closed by hand, expired or "
                        "assigned: see the watcher and reconcile-eod)",
                    ),
                )
            )
    return matched, to_import, mismatches


async def reconcile_positions(
    store: Store,
    account_id: str,
    positions: list[BrokerPosition],
    recorder: Recorder,
    now: dt.datetime,
) -> ReconcileReport:
    rows = await store.fetchall(
        "SELECT con_id, symbol, SUM(quantity) AS q FROM trades WHERE account_id IS ? AND "
        "status='open' AND sec_type='OPT' AND con_id IS NOT NULL GROUP BY con_id, symbol",
        (account_id,),
    )
    db_short = {int(r["con_id"]): (str(r["symbol"]), int(r["q"])) for r in rows}
    matched, to_import, mismatches = compare(db_short, positions)
    report = ReconcileReport(matched=matched, mismatches=mismatches)
    async with store.transaction() as conn:
        for p in to_import:
            entry = (
                (p.avg_cost / p.multiplier).quantize(Decimal("0.0001")).normalize()
                if p.multiplier
                else p.avg_cost
            )
            tid = await insert_row(
                conn,
                "trades",
                {
                    "account_id": account_id,
                    "trade_strategy": "manual",
                    "symbol": p.symbol,
                    "sec_type": "OPT",
                    "con_id": p.con_id,
                    "right": p.right,
                    "strike": money(p.strike) if p.strike is not None else None,
                    "expiry": p.expiry,
                    "multiplier": p.multiplier,
                    "quantity": -p.quantity,
                    "entry_time": iso(now),
                    "entry_price": money(entry),
                    "status": "open",
                    "estimated": 1,
                    "notes": "imported by reconcile-positions (opened outside "
                    "putdesk); entry price from IBKR average cost",
                    "created_at": iso(now),
                    "updated_at": iso(now),
                },
            )
            report.imported.append(tid)
            recorder.event(
                "records",
                f"imported {-p.quantity} {p.symbol} {p.expiry} "
                f"{p.strike}{p.right} opened by hand (estimated entry {entry})",
                now,
                reason=Reason("reconcile.imported", "position opened outside putdesk"),
                severity="warning",
                data={"trade_id": tid, "con_id": p.con_id},
            )
        for m in mismatches:
            recorder.event(
                "records",
                m.reason.text,
                now,
                reason=m.reason,
                severity="warning",
                data={"con_id": m.con_id},
            )
        recorder.event(
            "records",
            f"reconcile-positions: {matched} matched, "
            f"{len(report.imported)} imported, {len(mismatches)} mismatches",
            now,
            reason=Reason("reconcile.done", "positions reconciled"),
        )
        events = await recorder.write(conn)
    await recorder.announce(events)
    return report
