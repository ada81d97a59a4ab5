"""The scheduler's job definitions, read from `config.schedule` (America/New_York times).

Each job says when it runs (an ET time of the session day, or relative to the real close),
whether it sends orders (then only level C runs it), which job must have succeeded before it,
and whether it belongs to the open window (a stale lineup is never executed after it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from config.models import AutomationLevel, ExecutionConfig, ScheduleConfig

SCAN = "scan"
STAGE2 = "stage2"
TIER1 = "tier1"
TIER2 = "tier2"
NAKEDTRADER = "nakedtrader"
RECONCILE = "reconcile"
FLEX_SYNC = "flex_sync"

JOB_NAMES = (SCAN, STAGE2, TIER1, TIER2, NAKEDTRADER, RECONCILE, FLEX_SYNC)

#: The regular NYSE close: jobs anchored to the close keep their distance from the real close
#: (an early close at 13:00 ET moves a 16:30 reconcile to 13:30).
REGULAR_CLOSE = dt.time(16, 0)

Anchor = Literal["session", "open", "close"]
Guard = Literal["none", "connected", "data", "trading"]


@dataclass(frozen=True)
class JobSpec:
    """One daily job.

    anchor: "session" = the ET time `at` of the session date; "open" = `at` + `delay`
    (tier 2 after its wait); "close" = the real close + (`at` - 16:00 ET).
    guard: what the engine must have before the job starts (it waits for it inside its
    catch-up window): nothing, a connection, live data, or trading allowed.
    """

    name: str
    label: str
    at: dt.time
    anchor: Anchor = "session"
    delay: dt.timedelta = dt.timedelta(0)
    sends_orders: bool = False
    open_window: bool = False
    after: str | None = None
    guard: Guard = "none"
    intraday: bool = False


def job_specs(schedule: ScheduleConfig, execution: ExecutionConfig) -> list[JobSpec]:
    """The day's jobs in the order they run."""
    return [
        JobSpec(SCAN, "pre-open scan + auto-select + stage", schedule.scan_at, guard="data"),
        JobSpec(
            STAGE2,
            "Stage 2 validation",
            schedule.stage2_at,
            sends_orders=True,
            open_window=True,
            guard="trading",
        ),
        JobSpec(
            TIER1,
            "tier 1 orders at the open",
            schedule.tier1_at,
            sends_orders=True,
            open_window=True,
            after=STAGE2,
            guard="trading",
        ),
        JobSpec(
            TIER2,
            "tier 2 reprice",
            schedule.tier1_at,
            anchor="open",
            delay=dt.timedelta(seconds=execution.tier2_wait_s),
            sends_orders=True,
            after=TIER1,
            guard="trading",
        ),
        JobSpec(
            NAKEDTRADER,
            "NakedTrader daily run",
            schedule.nakedtrader_at,
            sends_orders=True,
            guard="trading",
            intraday=True,
        ),
        JobSpec(
            RECONCILE,
            "reconcile positions",
            schedule.reconcile_at,
            anchor="close",
            guard="connected",
        ),
        JobSpec(FLEX_SYNC, "Flex sync (reconcile-eod)", schedule.flex_sync_at, anchor="close"),
    ]


def level_allows(spec: JobSpec, level: AutomationLevel) -> bool:
    """Levels A and B never send an order without the user: only data jobs run for them."""
    return level == AutomationLevel.C or not spec.sends_orders
