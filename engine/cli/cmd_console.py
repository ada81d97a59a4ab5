"""`putdesk console [--demo] [--speed X] [--config] [--account] [--theme] [--live]`: the
operator console.

The console is its own program (`python -m console`); this command replaces the `putdesk`
process with it, so the engine's command line never imports Textual or the console package
(tests/test_import_hygiene.py). Options are passed through unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys


def add_console_options(p: argparse.ArgumentParser) -> None:
    """The console's options: `putdesk console` and the console program (`python -m
    console`) parse the same ones, so they are passed through unchanged."""
    p.add_argument(
        "--demo",
        action="store_true",
        help="simulated gateway, clock a few minutes before the next open",
    )
    p.add_argument("--config", metavar="FILE", help="config file (default: $PUTDESK_CONFIG)")
    p.add_argument("--account", metavar="ID", help="IBKR account id (default: from config)")
    p.add_argument("--theme", metavar="NAME", help="putdesk-dark (default) or putdesk-light")
    p.add_argument("--live", action="store_true", help="allow orders on a live account")
    p.add_argument(
        "--speed",
        type=float,
        metavar="X",
        help="with --demo: simulated seconds per real second (e.g. 30 to see a day in 15 min)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("console", help="open the operator console (full-screen terminal UI)")
    add_console_options(p)
    p.set_defaults(func=run)


def console_argv(args: argparse.Namespace) -> list[str]:
    """The console program's command line for these options."""
    argv = [sys.executable, "-m", "console"]
    if args.demo:
        argv.append("--demo")
    if args.live:
        argv.append("--live")
    for flag, value in (("--config", args.config), ("--account", args.account),
                        ("--theme", args.theme), ("--speed", args.speed)):  # fmt: skip
        if value:
            argv += [flag, str(value)]
    return argv


def run(args: argparse.Namespace) -> int:
    argv = console_argv(args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
    return 1  # execv does not return
