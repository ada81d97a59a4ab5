"""Records in the engine: handlers for ReconcileEod, ImportHistorical, GetTrades and
GetOutcomes.

`install(engine)` registers the handlers; results are published as "records" events. The
same functions (`run_reconcile_eod`, `run_import_historical`) serve the command line when no
engine is running.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config.models import PutdeskConfig
from engine.api.models import (
    ExitCode,
    GetOutcomes,
    GetTrades,
    ImportHistorical,
    ReconcileEod,
    Result,
)
from engine.records.flex_client import FlexClient, FlexError
from engine.records.historical import HistoricalSummary, Progress, import_historical
from engine.records.importer import FlexFormatError, parse_statement
from engine.records.outcomes import DIMENSIONS, compare_arms, outcome_report
from engine.records.outcomes_load import load_outcomes
from engine.records.reconcile import ReconcileSummary, reconcile_statement
from engine.records.tax import (
    WASH_POLICIES,
    Form8949Row,
    WashPolicy,
    apply_wash_sales,
    deferred_losses,
    form_8949,
)
from engine.records.tax_load import load_tax_lots, section_1256_summary
from engine.store.db import Store
from engine.store.trades import TradesRepo

NY = ZoneInfo("America/New_York")


def default_eod_date(now: dt.datetime | None = None) -> dt.date:
    """The session to reconcile by default: the previous weekday in New York (Activity Flex
    is complete only the morning after)."""
    today = (now or dt.datetime.now(dt.UTC)).astimezone(NY).date()
    d = today - dt.timedelta(days=1)
    while d.weekday() >= 5:
        d -= dt.timedelta(days=1)
    return d


async def run_reconcile_eod(
    store: Store,
    cfg: PutdeskConfig,
    *,
    date: dt.date | None = None,
    file: Path | None = None,
    client: FlexClient | None = None,
    progress: Progress | None = None,
) -> ReconcileSummary:
    """Book one day's statement: from `file`, else downloaded through the Flex Web Service.

    Raises FlexError (download) or FlexFormatError (unusable answer); nothing is written then.
    """
    if file is not None:
        data = Path(file).read_bytes()
        stmt = parse_statement(data)
        return await reconcile_statement(store, stmt, kind="reconcile-eod")
    day = date or default_eod_date()
    query = cfg.flex.activity_query_id or cfg.flex.trade_confirm_query_id
    if not query:
        raise FlexError(
            "no Flex query configured: set flex.activity_query_id (or "
            "flex.trade_confirm_query_id) in putdesk.yaml",
            permanent=True,
        )
    client = client or FlexClient.from_config(cfg.flex)
    dl = await client.fetch(query, from_date=day, to_date=day, progress=progress)
    stmt = parse_statement(dl.data)
    return await reconcile_statement(
        store, stmt, kind="reconcile-eod", query_id=query, reference_code=dl.reference_code
    )


async def run_import_historical(
    store: Store,
    cfg: PutdeskConfig,
    start: dt.date,
    end: dt.date,
    *,
    client: FlexClient | None = None,
    progress: Progress | None = None,
) -> HistoricalSummary:
    query = cfg.flex.activity_query_id
    if not query:
        raise FlexError(
            "no Activity Flex query configured: set flex.activity_query_id in putdesk.yaml",
            permanent=True,
        )
    client = client or FlexClient.from_config(cfg.flex)
    return await import_historical(store, client, query, start, end, progress=progress)


async def trades_payload(
    store: Store, since: dt.date | None = None, strategy: str | None = None
) -> dict[str, Any]:
    repo = TradesRepo(store)
    trades = await repo.trades_since(since, strategy=strategy)
    summary = await repo.pnl_summary(since, strategy=strategy)
    return {
        "trades": [t.as_json() for t in trades],
        "pnl": [s.as_dict() for s in summary],
    }


async def outcomes_payload(
    store: Store, by: str, since: dt.date | None = None, strategy: str | None = None
) -> dict[str, Any]:
    """The outcome report by `by` (ValueError for an unknown dimension)."""
    if by not in DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}: one of {', '.join(DIMENSIONS)}")
    outcomes = await load_outcomes(store, since, strategy)
    rows = outcome_report(outcomes, by)
    return {
        "by": by,
        "since": since.isoformat() if since else None,
        "strategy": strategy,
        "trades": len(outcomes),
        "closed": sum(1 for o in outcomes if o.closed),
        "rows": [r.as_dict() for r in rows],
        "comparisons": [c.as_dict() for c in compare_arms(outcomes)] if by == "arm" else [],
    }


POLICY_TEXT = {
    "identical": "the same stock, and the same option contract on the same side",
    "underlying": "the same stock, and any option on the same underlying on the same side",
}


def _totals(rows: list[Form8949Row]) -> dict[str, str]:
    def s(attr: str) -> str:
        from decimal import Decimal

        return format(sum((getattr(r, attr) for r in rows), Decimal("0.00")), "f")

    return {
        "rows": str(len(rows)),
        "proceeds": s("proceeds"),
        "cost": s("cost"),
        "adjustment": s("adjustment"),
        "gain": s("gain"),
    }


async def tax_payload(
    store: Store, year: int, policy: str = "identical"
) -> tuple[dict[str, Any], list[Form8949Row]]:
    """The tax report of `year` (JSON-ready) and its Form 8949 rows (for CSV / TXF)."""
    if policy not in WASH_POLICIES:
        raise ValueError(f"unknown wash-sale policy {policy!r}: one of {', '.join(WASH_POLICIES)}")
    lots, dated_problems = await load_tax_lots(store)
    problems = [text for when, text in dated_problems if when is None or when.year == year]
    s1256, problems_1256 = await section_1256_summary(store, year)
    p: WashPolicy = "underlying" if policy == "underlying" else "identical"
    adjusted = apply_wash_sales(lots, p)
    rows = form_8949(adjusted, year)
    short = [r for r in rows if r.term == "short"]
    long_ = [r for r in rows if r.term == "long"]
    return {
        "year": year,
        "wash_sale_policy": policy,
        "wash_sale_policy_text": (
            f"substantially identical: {POLICY_TEXT[policy]} (policy {policy}; the IRS rules "
            "on options of other strikes or expiries are unsettled, so this is a setting)"
        ),
        "short_term": _totals(short),
        "long_term": _totals(long_),
        "wash_sales": sum(1 for r in rows if r.code == "W"),
        "deferred": [
            {"lot": d.lot_id, "description": d.description, "amount": format(d.amount, "f")}
            for d in deferred_losses(adjusted, year)
        ],
        "section_1256": s1256,
        "problems": problems + problems_1256,
        "rows": [r.as_dict() for r in rows],
    }, rows


def install(engine: Any) -> None:
    """Register the records commands on a running engine (`engine.registry`)."""

    def store() -> Store:
        if engine.store is None:
            raise RuntimeError("the engine's database is not open")
        s: Store = engine.store
        return s

    def cfg() -> PutdeskConfig:
        c: PutdeskConfig = getattr(engine, "cfg", None) or engine.config
        return c

    def publish(message: str, *, severity: str = "info", data: dict[str, Any]) -> None:
        bus = getattr(engine, "bus", None)
        if bus is not None:
            bus.publish("records", message, severity=severity, data=data)

    def sim_client() -> tuple[FlexClient | None, PutdeskConfig]:
        """With the embedded simulator's Flex service running, talk to it instead."""
        flex = getattr(getattr(engine, "sim", None), "flex", None)
        c = cfg()
        if flex is None or not getattr(flex, "base_url", None):
            return None, c
        from config.secrets import Secret

        c = c.model_copy(
            update={
                "flex": c.flex.model_copy(
                    update={
                        "base_url": flex.base_url,
                        "activity_query_id": flex.activity_query_id,
                        "trade_confirm_query_id": flex.trade_confirm_query_id,
                    }
                )
            }
        )
        return FlexClient(flex.base_url, Secret(flex.token), poll_initial_s=0.5), c

    async def on_reconcile(cmd: ReconcileEod) -> Result:
        client, c = sim_client()
        try:
            summary = await run_reconcile_eod(store(), c, date=cmd.date, client=client)
        except (FlexError, FlexFormatError) as exc:
            publish(f"reconcile-eod failed: {exc}", severity="error", data={})
            return Result.fail(str(exc), code="records.flex")
        publish(
            f"reconcile-eod: {summary.headline()}",
            severity="warning" if summary.problems else "info",
            data=summary.as_dict(),
        )
        return Result.success(**summary.as_dict())

    async def on_historical(cmd: ImportHistorical) -> Result:
        if cmd.end < cmd.start:
            return Result.fail(
                "end date is before start date", code="records.usage", exit_code=ExitCode.USAGE
            )

        def progress(line: str) -> None:
            publish(line, data={"progress": line})

        client, c = sim_client()
        try:
            out = await run_import_historical(
                store(), c, cmd.start, cmd.end, client=client, progress=progress
            )
        except (FlexError, FlexFormatError) as exc:
            publish(f"import-historical-trades failed: {exc}", severity="error", data={})
            return Result.fail(str(exc), code="records.flex")
        publish("import-historical-trades finished", data=out.as_dict())
        return Result.success(**out.as_dict())

    async def on_trades(cmd: GetTrades) -> Result:
        return Result.success(**await trades_payload(store(), cmd.since, cmd.strategy))

    engine.registry.register(ReconcileEod, on_reconcile)
    engine.registry.register(ImportHistorical, on_historical)

    async def on_outcomes(cmd: GetOutcomes) -> Result:
        try:
            return Result.success(
                **await outcomes_payload(store(), cmd.by, cmd.since, cmd.strategy)
            )
        except ValueError as exc:
            return Result.fail(str(exc), code="records.usage", exit_code=ExitCode.USAGE)

    engine.registry.register(GetTrades, on_trades)
    engine.registry.register(GetOutcomes, on_outcomes)
