"""Start-up / reconnect reconciliation, run BEFORE anything is sent.

Every open intent is matched with IBKR's open and completed orders and executions by orderRef:
found -> its status is taken from IBKR; not found but filled -> filled; never found and only
written (pending) -> void (it never reached IBKR, so it may be planned again under a new ref);
recorded as sent but unknown to IBKR -> missing (never resent automatically). Orders with a
putdesk ref and no intent are reported. Then the watcher stores every fill not yet stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from engine.domain import Reason
from engine.execution.brackets import is_putdesk_ref
from engine.execution.intents import Intent, IntentRepo
from engine.execution.ports import BrokerOrder, OrderPort
from engine.execution.records import Recorder
from engine.execution.watcher import SyncReport, Watcher, intent_status_for


@dataclass(frozen=True)
class IntentFix:
    order_ref: str
    status: str
    reason: Reason


@dataclass
class RecoveryReport:
    fixes: list[IntentFix] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    sync: SyncReport | None = None

    @property
    def summary(self) -> str:
        counts: dict[str, int] = {}
        for f in self.fixes:
            counts[f.status] = counts.get(f.status, 0) + 1
        parts = [f"{n} {s}" for s, n in sorted(counts.items())]
        fills = len(self.sync.new_fills) if self.sync else 0
        return (
            f"recovery: {', '.join(parts) or 'no intent to fix'}; {fills} fills stored; "
            f"{len(self.orphans)} orphan orders"
        )


def plan_recovery(
    intents: list[Intent], orders: list[BrokerOrder], filled_refs: set[str]
) -> tuple[list[IntentFix], list[str]]:
    """Pure: the status each open intent must take, and putdesk orders with no intent."""
    by_ref = {o.order_ref: o for o in orders}
    fixes: list[IntentFix] = []
    for it in intents:
        if it.status not in ("pending", "sent", "working"):
            continue
        o = by_ref.get(it.order_ref)
        if o is not None:
            st = intent_status_for(o)
            if st != it.status:
                fixes.append(
                    IntentFix(
                        it.order_ref,
                        st,
                        o.error
                        or Reason(
                            "recovery.matched", f"IBKR reports {o.status} (filled {o.filled})"
                        ),
                    )
                )
        elif it.order_ref in filled_refs:
            fixes.append(
                IntentFix(
                    it.order_ref,
                    "filled",
                    Reason("recovery.fill_found", "executions found at IBKR"),
                )
            )
        elif it.status == "pending":
            fixes.append(
                IntentFix(
                    it.order_ref, "void", Reason("recovery.never_sent", "intent never reached IBKR")
                )
            )
        else:
            fixes.append(
                IntentFix(
                    it.order_ref,
                    "missing",
                    Reason("recovery.missing", "recorded as sent but IBKR has no such order"),
                )
            )
    known = {it.order_ref for it in intents}
    orphans = sorted(
        o.order_ref for o in orders if is_putdesk_ref(o.order_ref) and o.order_ref not in known
    )
    return fixes, orphans


class Recovery:
    def __init__(self, port: OrderPort, intents: IntentRepo, watcher: Watcher, recorder: Recorder):
        self.port = port
        self.intents = intents
        self.watcher = watcher
        self.rec = recorder

    async def run(self, now: dt.datetime) -> RecoveryReport:
        orders = [o for o in await self.port.orders() if is_putdesk_ref(o.order_ref)]
        fills = await self.port.fills()
        fixes, orphans = plan_recovery(
            await self.intents.all(), orders, {f.order_ref for f in fills}
        )
        for fx in fixes:
            await self.intents.set_status([fx.order_ref], fx.status, now, fx.reason)
        report = RecoveryReport(fixes=fixes, orphans=orphans)
        report.sync = await self.watcher.sync(now)
        self.rec.event(
            "execution.decision",
            report.summary,
            now,
            reason=Reason("recovery.done", report.summary),
            severity="warning" if orphans or any(f.status == "missing" for f in fixes) else "info",
            data={
                "fixes": [(f.order_ref, f.status, f.reason.code) for f in fixes],
                "orphans": orphans,
            },
        )
        await self.rec.flush()
        return report
