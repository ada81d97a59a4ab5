"""The EngineAPI vocabulary: commands (console/CLI -> engine), results and events (engine -> UI).

Everything is a pydantic model so the in-process form and the JSON-lines socket form carry
exactly the same data. `SCHEMA_VERSION` versions the JSON shapes documented in docs/cli.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class Cmd(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GetStatus(Cmd):
    cmd: Literal["status"] = "status"


class Scan(Cmd):
    cmd: Literal["scan"] = "scan"
    symbols: list[str] | None = None
    auto_select: bool = False
    override_closed: bool = False
    use_scanner: bool = False


class AutoSelect(Cmd):
    cmd: Literal["auto_select"] = "auto_select"
    scan_id: int | None = None


class GetScan(Cmd):
    cmd: Literal["get_scan"] = "get_scan"
    scan_id: int | None = None  # None = latest


class Stage(Cmd):
    cmd: Literal["stage"] = "stage"
    candidate_id: int
    quantity: int | None = Field(None, ge=1)


class Unstage(Cmd):
    cmd: Literal["unstage"] = "unstage"
    lineup_ids: list[int]


class SetQuantity(Cmd):
    cmd: Literal["set_quantity"] = "set_quantity"
    lineup_id: int
    quantity: int = Field(ge=1)


class Approve(Cmd):
    cmd: Literal["approve"] = "approve"
    lineup_ids: list[int] | None = None  # None = every staged entry


class ClearLineup(Cmd):
    cmd: Literal["clear_lineup"] = "clear_lineup"


class GetLineup(Cmd):
    cmd: Literal["get_lineup"] = "get_lineup"


class ExecuteNow(Cmd):
    cmd: Literal["execute_now"] = "execute_now"
    live_confirmed: bool = False


class ProtectPositions(Cmd):
    """Place exits (take-profit + stop) for open putdesk trades that have none working."""

    cmd: Literal["protect_positions"] = "protect_positions"
    live_confirmed: bool = False


class GetOrders(Cmd):
    cmd: Literal["get_orders"] = "get_orders"


class GetPositions(Cmd):
    cmd: Literal["get_positions"] = "get_positions"


class GetTrades(Cmd):
    cmd: Literal["get_trades"] = "get_trades"
    since: dt.date | None = None
    strategy: str | None = None


class GetOutcomes(Cmd):
    """Outcome report: booked option trades grouped by one dimension of what selected them
    (engine.records.outcomes.DIMENSIONS)."""

    cmd: Literal["get_outcomes"] = "get_outcomes"
    by: str = "regime"
    since: dt.date | None = None
    strategy: str | None = None


class Kill(Cmd):
    cmd: Literal["kill"] = "kill"
    reason: str = "kill switch pressed"


class Resume(Cmd):
    cmd: Literal["resume"] = "resume"


class GetEvents(Cmd):
    """The last `limit` events, oldest first; `debug`: with the debug ones (IBKR's raw order
    statuses, which the engine records again with their reason)."""

    cmd: Literal["get_events"] = "get_events"
    limit: int = Field(100, ge=1, le=10_000)
    debug: bool = True


class ReconcilePositions(Cmd):
    cmd: Literal["reconcile_positions"] = "reconcile_positions"


class ReconcileEod(Cmd):
    cmd: Literal["reconcile_eod"] = "reconcile_eod"
    date: dt.date | None = None


class ImportHistorical(Cmd):
    cmd: Literal["import_historical"] = "import_historical"
    start: dt.date
    end: dt.date


class NtRun(Cmd):
    cmd: Literal["nt_run"] = "nt_run"
    dry_run: bool | None = None  # None = default (dry run on live accounts)
    overrides: dict[str, Any] = Field(default_factory=dict)


class NtStatus(Cmd):
    cmd: Literal["nt_status"] = "nt_status"


class NtWatch(Cmd):
    cmd: Literal["nt_watch"] = "nt_watch"


class GetSchedule(Cmd):
    cmd: Literal["get_schedule"] = "get_schedule"


class SaveSettings(Cmd):
    """Apply a partial settings change (nested dict), validate, write YAML, snapshot."""

    cmd: Literal["save_settings"] = "save_settings"
    changes: dict[str, Any]


class GetSettings(Cmd):
    cmd: Literal["get_settings"] = "get_settings"


class GetSimStats(Cmd):
    """The counters of the simulated gateway embedded in the engine (`putdesk sim stats`)."""

    cmd: Literal["sim_stats"] = "sim_stats"


class GetRegime(Cmd):
    """The market regime (VIX bucket, VIX/VIX3M term structure, SPX vs its 200-day average),
    read from IBKR when the last reading is older than its TTL (or `refresh`), and whether the
    regime guard would refuse new puts now."""

    cmd: Literal["get_regime"] = "get_regime"
    refresh: bool = False


Command = Annotated[
    GetStatus
    | Scan
    | AutoSelect
    | GetScan
    | Stage
    | Unstage
    | SetQuantity
    | Approve
    | ClearLineup
    | GetLineup
    | ExecuteNow
    | ProtectPositions
    | GetOrders
    | GetPositions
    | GetTrades
    | GetOutcomes
    | Kill
    | Resume
    | GetEvents
    | ReconcilePositions
    | ReconcileEod
    | ImportHistorical
    | NtRun
    | NtStatus
    | NtWatch
    | GetSchedule
    | SaveSettings
    | GetSettings
    | GetSimStats
    | GetRegime,
    Field(discriminator="cmd"),
]


class ExitCode:
    """Process exit codes (docs/cli.md): also carried in every Result."""

    OK = 0
    ERROR = 1
    USAGE = 2
    REFUSED = 3


class Result(BaseModel):
    """The answer to one command. `refused` means a guard said no (exit code 3)."""

    ok: bool
    exit_code: int = ExitCode.OK
    error: str | None = None
    reason_code: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def success(cls, **data: Any) -> Result:
        return cls(ok=True, data=data)

    @classmethod
    def fail(
        cls, error: str, *, code: str | None = None, exit_code: int = ExitCode.ERROR
    ) -> Result:
        return cls(ok=False, exit_code=exit_code, error=error, reason_code=code)

    @classmethod
    def refused(cls, error: str, *, code: str) -> Result:
        return cls(ok=False, exit_code=ExitCode.REFUSED, error=error, reason_code=code)


EventKind = Literal[
    "engine.state",  # lifecycle: starting / ready / halted / stopping
    "connection",  # broker connection state and market-data type
    "account",  # account snapshot
    "scan.started",
    "scan.progress",
    "scan.candidate",
    "scan.finished",
    "lineup.changed",
    "order.status",
    "order.fill",
    "trade.opened",
    "trade.closed",
    "execution.decision",  # stage 2 adapt / cancel / tier 2 reprice, with reason
    "nakedtrader",
    "records",  # flex sync / reconcile results
    "job",  # scheduler job start / finish
    "notice",  # anything the user should read
]


class Event(BaseModel):
    """One engine event. `data` holds the kind's payload (documented in docs/cli.md)."""

    kind: EventKind
    ts: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    account: str | None = None
    severity: Literal["debug", "info", "warning", "error"] = "info"
    message: str = ""
    code: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Envelope(BaseModel):
    """A line on the local socket. Client sends {id, command}; server sends {id, result} or
    {event}."""

    id: int | None = None
    command: Command | None = None
    result: Result | None = None
    event: Event | None = None
    subscribe: bool | None = None
