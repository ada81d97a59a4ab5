"""Margin over-allocation feeder (off by default: budget.overallocation_enabled).

The lineup may be staged up to `overallocation_pct` over the margin ceiling, expecting some
orders not to fill. At the open the feeder sends entries one at a time, re-reading IBKR's
FullMaintMarginReq before each; it stops at the ceiling and cancels the rest, each with its
reason. `feed_decision` is the pure rule.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from engine.domain import Reason
from engine.text import usd

if TYPE_CHECKING:
    from engine.execution.workflow import TwoTierWorkflow

FeedAction = Literal["send", "stop"]


def ceiling(net_liquidation: Decimal, margin_pct_of_nlv: float) -> Decimal:
    return (net_liquidation * Decimal(str(margin_pct_of_nlv)) / 100).quantize(Decimal("0.01"))


def feed_decision(
    maint_margin: Decimal, limit: Decimal, next_margin: Decimal, pending: Decimal = Decimal(0)
) -> tuple[FeedAction, Reason]:
    """Send the next entry only if IBKR's maintenance margin, plus the margin of entries sent
    but not yet filled (`pending`), plus its own margin stays inside the ceiling."""
    after = maint_margin + pending + next_margin
    if after > limit:
        return "stop", Reason(
            "feeder.ceiling",
            f"margin {usd(maint_margin)} + pending {usd(pending)} + {usd(next_margin)} = "
            f"{usd(after)} would pass the ceiling {usd(limit)}",
        )
    return "send", Reason("feeder.send", f"margin after {usd(after)} <= ceiling {usd(limit)}")


async def feed_tier1(wf: TwoTierWorkflow, fills_wait_s: float = 10.0) -> None:
    """Tier 1 through the feeder: one entry at a time, watching FullMaintMarginReq."""
    await wf.sync()
    rows = await wf.lineup(("stage2_ok",))
    stopped: Reason | None = None
    sent: list[tuple[int, Decimal, int]] = []  # (lineup id, margin per contract, quantity)
    for row in rows:
        lid = int(row["id"])
        if stopped is not None:
            await wf.record(lid, stopped, status="cancelled", severity="warning")
            continue
        if await wf.already_working(lid):
            continue
        snap = await wf.market.account_snapshot()
        limit = ceiling(snap.net_liquidation, wf.cfg.budget.margin_pct_of_nlv)
        per = Decimal(str(row["margin_per_contract"] or "0"))
        pending = Decimal(0)
        for sid, sper, sqty in sent:
            pending += sper * max(sqty - await wf._sold(sid), 0)
        action, reason = feed_decision(
            snap.full_maint_margin, limit, per * int(row["quantity"]), pending
        )
        if action == "stop":
            stopped = reason
            await wf.record(lid, reason, status="cancelled", severity="warning")
            continue
        wf.decide(lid, reason)
        remaining = int(row["quantity"]) - await wf._sold(lid)
        if remaining > 0 and await wf._place_entry(row, remaining, tier=1):
            sent.append((lid, per, remaining))
            await wf.sleep(fills_wait_s)
            await wf.sync()
