"""`putdesk reconcile-eod`, `putdesk import-historical-trades`, `putdesk trades`,
`putdesk outcomes`, `putdesk tax-report`.

These open the account's database directly (SQLite in WAL mode, safe beside a running
engine), so they work with or without an engine. On the simulated gateway with no Flex query
of your own configured, reconcile-eod and import-historical-trades go through the engine
instead (the running one, else one started for the command), whose simulated Flex Web Service
serves the simulated account's statements. Progress goes to stderr; `--json` prints one JSON
document on stdout. Exit codes: 0 ok, 1 error, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from engine.cli.main import common_options


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser(
        "reconcile-eod",
        help="book a day's Flex statement: prices, commissions, expiries, assignments",
    )
    common_options(r)
    r.add_argument("--date", type=_date, help="session date (default: previous weekday)")
    r.add_argument("--file", metavar="XML", help="import this Flex XML file instead of downloading")
    r.set_defaults(func=_reconcile)

    h = sub.add_parser(
        "import-historical-trades", help="backfill trades from an Activity Flex Query"
    )
    common_options(h)
    h.add_argument("--start-date", type=_date, required=True, help="first day (YYYY-MM-DD)")
    h.add_argument("--end-date", type=_date, required=True, help="last day (YYYY-MM-DD)")
    h.set_defaults(func=_historical)

    t = sub.add_parser("trades", help="list booked trades with net P&L after commissions")
    common_options(t)
    t.add_argument("--since", type=_date, help="only trades opened or closed since this date")
    t.add_argument(
        "--strategy", help="only this trade_strategy (e.g. putdesk, nakedtrader, manual)"
    )
    t.set_defaults(func=_trades)

    from engine.records.outcomes import DIMENSIONS

    o = sub.add_parser(
        "outcomes",
        help="results of booked trades grouped by regime, delta, DTE, sector, score or setting",
    )
    common_options(o)
    o.add_argument(
        "--by", choices=DIMENSIONS, default="regime", help="how to group (default: regime)"
    )
    o.add_argument("--since", type=_date, help="only trades opened or closed since this date")
    o.add_argument("--strategy", help="only this trade_strategy (e.g. putdesk, nakedtrader)")
    o.set_defaults(func=_outcomes)

    x = sub.add_parser(
        "tax-report", help="Form 8949 rows for a tax year: basis, wash sales, CSV and TXF"
    )
    common_options(x)
    x.add_argument("--year", type=int, required=True, help="tax year (e.g. 2026)")
    x.add_argument(
        "--wash-policy",
        choices=("identical", "underlying"),
        default="identical",
        help="what is substantially identical for wash sales (default: identical)",
    )
    x.add_argument("--csv", metavar="FILE", help="write the Form 8949 rows as CSV")
    x.add_argument("--txf", metavar="FILE", help="write the rows as TXF v042")
    x.set_defaults(func=_tax_report)


def _load(args: argparse.Namespace) -> Any:
    from config.loader import ConfigError, default_config_path, load_config

    path = Path(args.config) if getattr(args, "config", None) else default_config_path()
    try:
        return load_config(path).for_account(getattr(args, "account", None))
    except (ConfigError, ValueError) as exc:
        _fail(args, str(exc))
        return None


def _with_store(args: argparse.Namespace, work: Callable[[Any, Any], Awaitable[int]]) -> int:
    cfg = _load(args)
    if cfg is None:
        return 1
    from engine.runtime.paths import EnginePaths
    from engine.store.db import Store

    db = EnginePaths.of(cfg, getattr(args, "account", None)).database

    async def main() -> int:
        store = await Store.open(db)
        try:
            return await work(store, cfg)
        finally:
            await store.close()

    return asyncio.run(main())


def _progress(args: argparse.Namespace) -> Callable[[str], None]:
    def show(line: str) -> None:
        if sys.stderr.isatty():  # progress only on a terminal (docs/cli.md)
            print(line, file=sys.stderr, flush=True)

    return show


def _fail(args: argparse.Namespace, message: str, code: int = 1) -> int:
    from engine.cli.common import fail

    return fail(args, message, code)


def _json_ok(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """The versioned JSON document (docs/cli.md) for a successful command."""
    from engine.cli.common import command_name, json_document, print_json

    print_json(json_document(command_name(args), ok=True, exit_code=0, data=data))


def _via_simulator(cfg: Any) -> bool:
    """Simulated gateway and no Flex query of the user's: the engine's simulated Flex Web
    Service answers instead."""
    flex = cfg.flex
    return bool(cfg.ibkr.simulated) and not (flex.activity_query_id or flex.trade_confirm_query_id)


def _print_reconcile(d: dict[str, Any]) -> None:
    c = d.get("counts") or {}
    print(
        f"{d['rows_new']} new row(s), {d['rows_skipped']} already booked; "
        f"opened {c.get('opened', 0)}, closed {c.get('closed', 0)} "
        f"(expired {c.get('expired', 0)}, assigned {c.get('assigned', 0)}), "
        f"corrected {c.get('corrected', 0)}, manual {c.get('manual', 0)}; "
        f"{len(d['problems'])} problem row(s)"
    )
    for ch in d["changes"]:
        print(f"  {ch['kind']:>12}  {ch['text']}")
    for p in d["problems"]:
        print(f"  problem: {p['section']} row {p['index']} ({p['row_id']}): {p['message']}")
    for cur, net in d["net_pnl_closed"].items():
        print(f"  net P&L of trades closed in this run: {net} {cur}")


def _print_historical(d: dict[str, Any]) -> None:
    tot = d["totals"]
    print(
        f"{d['start']} .. {d['end']}: {len(d['chunks'])} request(s), "
        f"{tot['rows_new']} new row(s), {tot['rows_skipped']} already booked, "
        f"{tot.get('opened', 0)} opened, {tot.get('closed', 0)} closed, "
        f"{tot['problems']} problem row(s)"
    )


def _reconcile(args: argparse.Namespace) -> int:
    from engine.records.flex_client import FlexError
    from engine.records.importer import FlexFormatError
    from engine.records.service import run_reconcile_eod

    if args.file and not Path(args.file).is_file():
        return _fail(args, f"no such file: {args.file}", 2)
    if not args.file:
        cfg = _load(args)
        if cfg is None:
            return 1
        if _via_simulator(cfg):
            from engine.api.models import ReconcileEod
            from engine.cli import common

            return common.run(
                args, ReconcileEod(date=args.date), _print_reconcile, progress_kinds=("records",)
            )

    async def work(store: Any, cfg: Any) -> int:
        try:
            summary = await run_reconcile_eod(
                store,
                cfg,
                date=args.date,
                file=Path(args.file) if args.file else None,
                progress=_progress(args),
            )
        except (FlexError, FlexFormatError) as exc:
            return _fail(args, str(exc))
        if args.json:
            _json_ok(args, summary.as_dict())
            return 0
        _print_reconcile(summary.as_dict())
        return 0

    return _with_store(args, work)


def _historical(args: argparse.Namespace) -> int:
    from engine.records.flex_client import FlexError
    from engine.records.importer import FlexFormatError
    from engine.records.service import run_import_historical

    if args.end_date < args.start_date:
        return _fail(args, "--end-date is before --start-date", 2)
    cfg = _load(args)
    if cfg is None:
        return 1
    if _via_simulator(cfg):
        from engine.api.models import ImportHistorical
        from engine.cli import common

        return common.run(
            args,
            ImportHistorical(start=args.start_date, end=args.end_date),
            _print_historical,
            progress_kinds=("records",),
        )

    async def work(store: Any, cfg: Any) -> int:
        try:
            out = await run_import_historical(
                store, cfg, args.start_date, args.end_date, progress=_progress(args)
            )
        except (FlexError, FlexFormatError) as exc:
            return _fail(args, str(exc))
        if args.json:
            _json_ok(args, out.as_dict())
            return 0
        _print_historical(out.as_dict())
        return 0

    return _with_store(args, work)


def _trades(args: argparse.Namespace) -> int:
    from engine.records.service import trades_payload

    return _report(
        args, lambda store: trades_payload(store, args.since, args.strategy), _print_trades
    )


def _outcomes(args: argparse.Namespace) -> int:
    from engine.records.service import outcomes_payload

    return _report(
        args,
        lambda store: outcomes_payload(store, args.by, args.since, args.strategy),
        _print_outcomes,
    )


def _report(
    args: argparse.Namespace,
    load: Callable[[Any], Awaitable[dict[str, Any]]],
    show: Callable[[dict[str, Any]], None],
) -> int:
    """A read-only report from the account's database: the JSON document, or `show` it."""

    async def work(store: Any, cfg: Any) -> int:
        data = await load(store)
        if args.json:
            _json_ok(args, data)
        else:
            show(data)
        return 0

    return _with_store(args, work)


def _tax_report(args: argparse.Namespace) -> int:
    from engine.records.service import tax_payload
    from engine.records.tax_export import csv_8949, txf

    async def work(store: Any, cfg: Any) -> int:
        data, rows = await tax_payload(store, args.year, args.wash_policy)
        written = []
        try:
            if args.csv:
                Path(args.csv).write_text(csv_8949(rows))
                written.append(args.csv)
            if args.txf:
                Path(args.txf).write_text(txf(rows, dt.date.today()))
                written.append(args.txf)
        except OSError as exc:
            from engine.cli.common import fail

            fail(args, f"cannot write {exc.filename}: {exc.strerror}", 1, "records.io")
            return 1
        data["written"] = written
        if args.json:
            _json_ok(args, data)
            return 0
        _print_tax(data)
        return 0

    return _with_store(args, work)


def _print_tax(data: dict[str, Any]) -> None:
    print(f"Tax report {data['year']} (Form 8949)")
    parts = (
        ("short-term (Part I, box A)", "short_term"),
        ("long-term (Part II, box D)", "long_term"),
    )
    for part, key in parts:
        t = data[key]
        print(
            f"  {part}: {t['rows']} row(s), proceeds {t['proceeds']}, cost {t['cost']}, "
            f"wash-sale adjustments {t['adjustment']}, gain or loss {t['gain']}"
        )
    s1256 = data["section_1256"]
    print(
        f"  Section 1256 (Form 6781, not in the rows): {s1256['closed']} closed, "
        f"{s1256['marked_to_market']} marked to market at the year end, "
        f"net {s1256['net']} = 60% long-term {s1256['long_term_60']} + 40% short-term "
        f"{s1256['short_term_40']}"
    )
    print(f"  wash sales: {data['wash_sales']}; {data['wash_sale_policy_text']}")
    for d in data["deferred"]:
        print(f"  deferred into an open position: {d['amount']} in {d['description']} ({d['lot']})")
    for p in data["problems"]:
        print(f"  problem: {p}")
    for f in data["written"]:
        print(f"  written: {f}")
    rows = data["rows"]
    if rows:
        print("description\tacquired\tsold\tproceeds\tcost\tcode\tadjustment\tgain\tterm")
        for r in rows:
            print(
                "\t".join(
                    str(r[k])
                    for k in (
                        "description",
                        "acquired",
                        "sold",
                        "proceeds",
                        "cost",
                        "code",
                        "adjustment",
                        "gain",
                        "term",
                    )
                )
            )


def _comparison_line(c: dict[str, Any]) -> str:
    """One A/B comparison: means, difference, win rates, p-value and the statistic."""
    (na, nb), (ma, mb), (wa, wb) = c["closed"], c["mean_net_pnl"], c["win_rate"]
    return (
        f"A/B test {c['test']}: B - A = {c['difference']} net P&L per closed trade "
        f"(A {ma} over {na}, B {mb} over {nb}; win rate A {_rate(wa)}, B {_rate(wb)}); "
        f"p = {c['p_value']:.4f}, {c['statistic']}"
    )


def _rate(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}%"


#: (short header, meaning) of the outcome table's columns after the bucket
OUTCOME_COLUMNS = (
    ("n", "trades"),
    ("cl", "closed (the rest are open)"),
    ("win", "win rate"),
    ("CI95", "its Wilson 95% interval"),
    ("net", "net P&L after commissions"),
    ("avg", "per closed trade"),
    ("kept", "net / premium received"),
    ("RoM", "net / margin at selection"),
    ("asg", "assigned"),
)


def _outcome_cells(r: dict[str, Any]) -> list[str]:
    ci = r.get("win_rate_ci95")
    closed = bool(r["closed"])
    return [
        str(r["trades"]),
        str(r["closed"]),
        _rate(r["win_rate"]),
        f"{100 * ci[0]:.0f}-{100 * ci[1]:.0f}%" if ci else "-",
        r["net_pnl"] if closed else "-",
        r["avg_net_pnl"] or "-",
        _rate(r["kept"]),
        _rate(r["return_on_margin"]),
        str(r["assigned"]),
    ]


def _print_outcomes(data: dict[str, Any]) -> None:
    title = f"Outcomes by {data['by']}: {data['trades']} option trade(s), {data['closed']} closed"
    if data.get("since"):
        title += f" since {data['since']}"
    if data.get("strategy"):
        title += f" ({data['strategy']})"
    if not sys.stdout.isatty():  # tab-separated for scripts, like `trades`
        print("# " + title)
        print("\t".join([data["by"], *(head for head, _m in OUTCOME_COLUMNS)]))
        for r in data["rows"]:
            print("\t".join([r["bucket"], *_outcome_cells(r)]))
        for c in data.get("comparisons") or []:
            print("# " + _comparison_line(c))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    widest = max([len(data["by"]), *(len(r["bucket"]) for r in data["rows"])])
    table.add_column(data["by"], no_wrap=True, min_width=widest)
    for head, _meaning in OUTCOME_COLUMNS:
        table.add_column(head, justify="right", no_wrap=True, min_width=len(head))
    for r in data["rows"]:
        table.add_row(r["bucket"], *_outcome_cells(r))
    con = Console()
    con.print(table)
    for c in data.get("comparisons") or []:
        con.print(_comparison_line(c))
    con.print(
        "  ".join(f"{h}: {m}" for h, m in OUTCOME_COLUMNS)
        + ". Closed trades only for money and rates; an assigned put counts with the stock "
        "delivered, once sold. A few trades say little: read the interval."
    )


COLUMNS = (
    ("id", "id"),
    ("strategy", "trade_strategy"),
    ("symbol", "symbol"),
    ("type", "sec_type"),
    ("contract", None),
    ("side", "side"),
    ("qty", "quantity"),
    ("opened", "entry_time"),
    ("entry", "entry_price"),
    ("closed", "exit_time"),
    ("exit", "exit_price"),
    ("reason", "exit_reason"),
    ("comm", "commission"),
    ("net P&L", "net_pnl"),
    ("status", "status"),
)


def _cell(t: dict[str, Any], key: str | None) -> str:
    if key is None:
        if t["sec_type"] in ("OPT", "FOP"):
            return f"{t['expiry'] or ''} {t['strike'] or ''}{t['right'] or ''}".strip()
        return ""
    v = t.get(key)
    if v is None:
        return "-"
    if key == "entry_price" and t.get("estimated"):
        return f"{v}*"
    if key in ("entry_time", "exit_time"):
        return et_day(v)
    return str(v)


def et_day(v: Any) -> str:
    """An ISO time as its New York trading date (what IBKR and the tax report call the day)."""
    from engine.market.calendar import parse_utc, to_et

    t = parse_utc(v)
    return to_et(t).date().isoformat() if t is not None else str(v)


def _print_trades(data: dict[str, Any]) -> None:
    trades = data["trades"]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(trades)} trade(s)")
        for name, _ in COLUMNS:
            table.add_column(
                name,
                justify="right" if name in ("qty", "entry", "exit", "comm", "net P&L") else "left",
            )
        for t in trades:
            table.add_row(*(_cell(t, k) for _, k in COLUMNS))
        console = Console()
        console.print(table)
        pnl = Table(title="net P&L after commissions (closed trades)")
        for name in (
            "strategy",
            "currency",
            "closed",
            "wins",
            "losses",
            "gross",
            "commission",
            "net",
        ):
            pnl.add_column(name)
        for s in data["pnl"]:
            pnl.add_row(
                *(
                    str(s[k])
                    for k in (
                        "strategy",
                        "currency",
                        "closed",
                        "wins",
                        "losses",
                        "gross",
                        "commission",
                        "net",
                    )
                )
            )
        console.print(pnl)
        return
    print("\t".join(name for name, _ in COLUMNS))
    for t in trades:
        print("\t".join(_cell(t, k) for _, k in COLUMNS))
    for s in data["pnl"]:
        print(
            f"# {s['strategy']} {s['currency']}: {s['closed']} closed, gross {s['gross']}, "
            f"commission {s['commission']}, net {s['net']}"
        )
