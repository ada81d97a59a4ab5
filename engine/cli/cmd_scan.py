"""`putdesk scan` and `putdesk lineup`: the scanner and Tonight's Lineup from the command line.

Both talk to the account's running engine (or start one in-process) through
`engine.api.client.connect_api`. `--json` prints the command's Result as one JSON document.
Exit codes: 0 ok, 1 error, 2 usage, 3 refused by a guard (closed market, budget, sector cap,
stale entry on a live account, no IBKR account data).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from engine.cli.main import common_options


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("scan", help="scan for put candidates (one best strike per symbol)")
    common_options(s)
    s.add_argument(
        "--symbols",
        nargs="+",
        metavar="SYM",
        help="scan these instead of the universe (spaces or commas between them)",
    )
    s.add_argument("--auto-select", action="store_true", help="fill the lineup (level B)")
    s.add_argument(
        "--override-closed",
        action="store_true",
        help="scan while the market is closed, on last data (everything marked stale)",
    )
    s.add_argument("--scanner", action="store_true", help="add the IBKR market scanner's symbols")
    s.set_defaults(func=_scan)

    lp = sub.add_parser("lineup", help="show or edit Tonight's Lineup")
    common_options(lp)
    lp.add_argument(
        "action",
        nargs="?",
        default="show",
        choices=["show", "stage", "approve", "remove", "set-qty", "clear"],
    )
    lp.add_argument(
        "ids",
        nargs="*",
        type=int,
        help="lineup ids (set-qty: ID N; stage: a scan's candidate id, then N)",
    )
    lp.set_defaults(func=_lineup)


def _run(
    args: argparse.Namespace,
    cmd: Any,
    render: Any,
    progress: bool = False,
    with_lineup: bool = False,
) -> int:
    from engine.api.models import GetLineup
    from engine.cli import common

    kinds = ("scan.started", "scan.progress", "scan.finished") if progress else ()
    # a scan or lineup change also reports the lineup with its margin totals against the budget
    extra = (("lineup", GetLineup()),) if progress or with_lineup else ()
    return common.run(args, cmd, render, progress_kinds=kinds, extra=extra)


def _f(v: Any, fmt: str = "") -> str:
    if v is None or v == "":
        return "-"
    try:
        return format(float(v), fmt) if fmt else str(v)
    except (TypeError, ValueError):
        return str(v)


def _usd(v: Any) -> str:
    """Dollars ($1,313.00), "-" when there is no amount."""
    from engine.cli.common import dollars

    return "-" if v is None or v == "" else dollars(v)


def _render_scan(data: dict[str, Any]) -> None:
    scan = data.get("scan") or {}
    rows = data.get("candidates", [])
    best = [r for r in rows if r["status"] == "candidate"]
    rejected = [r for r in rows if r["status"] == "rejected"]
    stale = " STALE (closed-market override)" if scan.get("stale") else ""
    print(f"scan {scan.get('id')}: {len(best)} candidates, {len(rejected)} rejected{stale}")
    print(scan.get("ai_reason") or "")
    print(
        f"{'id':>5} {'symbol':<7} {'expiry':<9} {'strike':>8} {'bid':>6} {'delta':>7} "
        f"{'otm%':>6} {'margin':>11} {'score':>6}  sector"
    )
    for r in sorted(best, key=lambda r: -(r.get("score") or 0)):
        print(
            f"{r['id']:>5} {r['symbol']:<7} {r['expiry']:<9} {_f(r['strike'], 'g'):>8} "
            f"{_f(r['bid'], '.2f'):>6} {_f(r['delta'], '.3f'):>7} {_f(r['otm_pct'], '.1f'):>6} "
            f"{_usd(r['margin']):>11} {_f(r['score'], '.1f'):>6}  {r.get('sector') or ''}"
        )
    for r in rejected:
        print(f"      {r['symbol']:<7} rejected: {r['reason_code']}: {r['reason_text']}")
    sel = data.get("auto_select")
    if sel:
        added = sel.get("data", {}).get("added", [])
        print(
            f"auto-select: {len(added)} entries staged"
            if sel.get("ok")
            else f"auto-select refused: {sel.get('error')}"
        )
    lineup = data.get("lineup")
    if isinstance(lineup, dict) and "entries" in lineup:
        _render_lineup(lineup)


def _scan(args: argparse.Namespace) -> int:
    from engine.api.models import Scan

    cmd = Scan(
        symbols=_split_symbols(args.symbols),
        auto_select=args.auto_select,
        override_closed=args.override_closed,
        use_scanner=args.scanner,
    )
    return _run(args, cmd, _render_scan, progress=True)


def _render_lineup(data: dict[str, Any]) -> None:
    from engine.cli.common import dollars

    if "entries" not in data:
        print(json.dumps(data, default=str))
        return
    b = data.get("budget") or {}
    if b.get("available"):
        working = (
            f"working {dollars(b['working_margin'])}  "
            if b.get("working_margin", "0") not in ("0", "0.00")
            else ""
        )
        print(
            f"NLV {dollars(b['net_liquidation'])}  in use {dollars(b['margin_in_use'])}  "
            f"{working}lineup {dollars(b['lineup_margin'])}  budget {dollars(b['budget'])}  "
            f"headroom {dollars(b['headroom'])}"
        )
        if b.get("held_symbols"):
            print(f"held (count in their sector's cap): {b['held_symbols'].replace(',', ', ')}")
    else:
        print(f"budget unavailable: {b.get('reason')}")
    if not data["entries"]:
        print("lineup: empty (putdesk scan --auto-select, or putdesk lineup stage)")
    else:
        print(
            f"{'id':>5} {'status':<9} {'symbol':<7} {'expiry':<9} {'strike':>8} {'qty':>4} "
            f"{'premium':>8} {'margin/ct':>11}  flags"
        )
    for e in data["entries"]:
        print(
            f"{e['id']:>5} {e['status']:<9} {e['symbol']:<7} {e['expiry']:<9} "
            f"{_f(e['strike'], 'g'):>8} {e['quantity']:>4} {_f(e['premium'], '.2f'):>8} "
            f"{_usd(e['margin_per_contract']):>11}  {'STALE' if e['stale'] else ''}"
        )
    done = data.get("done") or []
    if done:
        print("sent, filled and cancelled in the last 24 h:")
        for e in done:
            why = e.get("reason_text") or e.get("reason_code") or ""
            print(
                f"{e['id']:>5} {e['status']:<9} {e['symbol']:<7} {e['expiry']:<9} "
                f"{_f(e['strike'], 'g'):>8} {e['quantity']:>4}  {_done_when(e.get('updated_at'))}  "
                f"{why}"
            )


def _done_when(ts: Any) -> str:
    """When an entry reached its state: weekday and time in ET, and in local time."""
    from engine.market.calendar import et_and_local, parse_utc

    t = parse_utc(ts)
    if t is None:
        return "-"
    return et_and_local(t, dt.datetime.now().astimezone().tzinfo, "%a %H:%M")


def _lineup(args: argparse.Namespace) -> int:
    from engine.api.models import (
        Approve,
        ClearLineup,
        GetLineup,
        SetQuantity,
        Stage,
        Unstage,
    )

    cmd: Any
    if args.action == "show":
        cmd = GetLineup()
    elif args.action == "stage":
        if len(args.ids) not in (1, 2) or (len(args.ids) == 2 and args.ids[1] < 1):
            print("usage: putdesk lineup stage CANDIDATE_ID [N]  (N >= 1)", file=sys.stderr)
            return 2
        cmd = Stage(candidate_id=args.ids[0], quantity=args.ids[1] if len(args.ids) == 2 else None)
    elif args.action == "approve":
        cmd = Approve(lineup_ids=args.ids or None)
    elif args.action == "remove":
        if not args.ids:
            print("usage: putdesk lineup remove ID [ID ...]", file=sys.stderr)
            return 2
        cmd = Unstage(lineup_ids=args.ids)
    elif args.action == "set-qty":
        if len(args.ids) != 2 or args.ids[1] < 1:
            print("usage: putdesk lineup set-qty ID N  (N >= 1)", file=sys.stderr)
            return 2
        cmd = SetQuantity(lineup_id=args.ids[0], quantity=args.ids[1])
    else:
        cmd = ClearLineup()

    def render(data: dict[str, Any]) -> None:
        if args.action == "show":
            _render_lineup(data)
            return
        done = {k: v for k, v in data.items() if k not in ("lineup", "budget")}
        print(
            f"{args.action}: "
            + ", ".join(f"{k} {json.dumps(v, default=str)}" for k, v in done.items())
        )
        if isinstance(data.get("lineup"), dict):
            _render_lineup(data["lineup"])

    return _run(args, cmd, render, with_lineup=args.action != "show")


def _split_symbols(raw: list[str] | None) -> list[str] | None:
    """`--symbols AAPL MSFT` and `--symbols AAPL,MSFT` alike."""
    if raw is None:
        return None
    return [part for item in raw for part in item.replace(",", " ").split()]
