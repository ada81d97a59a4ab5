"""`putdesk execute-two-tier`, `putdesk protect-exits`, `putdesk reconcile-positions`,
`putdesk orders`, `putdesk positions`: execution from the command line, through the account's
engine (running, or started in-process).

Exit codes: 0 ok, 1 error, 2 usage, 3 refused by a guard (halted, not connected, live account
without --live and the typed confirmation, execution already running).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.api.models import (
    ExecuteNow,
    GetOrders,
    GetPositions,
    ProtectPositions,
    ReconcilePositions,
)
from engine.cli.main import common_options


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser(
        "execute-two-tier",
        help="Stage 2 + two-tier execution of the approved lineup now",
    )
    common_options(e)
    _yes_live(e)
    e.set_defaults(func=_execute)
    pe = sub.add_parser(
        "protect-exits",
        help="place a take-profit and stop for open trades that have no exit order working",
    )
    common_options(pe)
    _yes_live(pe)
    pe.set_defaults(func=_protect)
    r = sub.add_parser("reconcile-positions", help="database positions against IBKR's")
    common_options(r)
    r.set_defaults(func=lambda a: _call(a, ReconcilePositions(), _render_reconcile))
    if "orders" not in sub.choices:
        o = sub.add_parser("orders", help="open and today's orders")
        common_options(o)
        o.set_defaults(func=lambda a: _call(a, GetOrders(), _render_orders))
    if "positions" not in sub.choices:
        p = sub.add_parser("positions", help="IBKR positions")
        common_options(p)
        p.set_defaults(func=lambda a: _call(a, GetPositions(), _render_positions))


def _yes_live(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--yes-live",
        metavar="ACCOUNT",
        help="typed confirmation for a live account: repeat its account id",
    )


def _live_confirmed(args: argparse.Namespace) -> bool | None:
    """False on paper; with --live, True once the account id was typed (or given with
    --yes-live), None when it was not (refused)."""
    if not args.live:
        return False
    typed = args.yes_live
    if typed is None and sys.stdin.isatty() and not args.json:
        typed = input("Live account: type the account id to confirm: ").strip()
    ok = bool(typed) and (args.account is None or typed == args.account)
    return True if ok else None


def _execute(args: argparse.Namespace) -> int:
    live_confirmed = _live_confirmed(args)
    if live_confirmed is None:
        from engine.cli.common import fail

        return fail(args, "live execution needs the typed account id", 3, "live.unconfirmed")
    return _call(args, ExecuteNow(live_confirmed=live_confirmed), _render_execution)


def _protect(args: argparse.Namespace) -> int:
    live_confirmed = _live_confirmed(args)
    if live_confirmed is None:
        from engine.cli.common import fail

        return fail(args, "live orders need the typed account id", 3, "live.unconfirmed")
    return _call(args, ProtectPositions(live_confirmed=live_confirmed), _render_execution)


#: Events shown on the progress line (stderr, terminal only) while a command runs.
PROGRESS_KINDS = ("execution.decision", "order.status", "order.fill", "trade.opened")


def _call(args: argparse.Namespace, cmd: Any, render: Any) -> int:
    from engine.cli import common

    return common.run(args, cmd, render, progress_kinds=PROGRESS_KINDS)


def _render_execution(data: dict[str, Any]) -> None:
    if data.get("recovery"):
        print(data["recovery"])
    for d in data.get("decisions", []):
        lid = d.get("lineup_id")
        print(f"{'#' + str(lid) if lid else '-':>5}  {d.get('code', ''):<24} {d.get('text', '')}")
    if data.get("reason"):
        print(data["reason"])


def _render_reconcile(data: dict[str, Any]) -> None:
    print(
        f"matched {data.get('matched', 0)}, imported {len(data.get('imported_trade_ids', []))}"
        f", mismatches {len(data.get('mismatches', []))}"
    )
    for m in data.get("mismatches", []):
        print(f"  {m['code']}: {m['reason']}")


def _render_orders(data: dict[str, Any]) -> None:
    from engine.cli.common import render_orders

    render_orders(data)


def _render_positions(data: dict[str, Any]) -> None:
    from engine.cli.common import render_positions

    render_positions(data)
