"""`putdesk` entry point: discovers `engine/cli/cmd_*.py` modules, each adding its commands.

Every command module defines `register(sub: argparse._SubParsersAction) -> None` and sets
`func=<callable(args) -> int>` on its parsers. Exit codes: 0 ok, 1 error, 2 usage,
3 refused by a guard (docs/cli.md).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from engine import cli as cli_pkg


def common_options(p: argparse.ArgumentParser) -> None:
    """Options every command accepts (`--config`, `--account`, `--json`, `--live`)."""
    p.add_argument("--config", metavar="FILE", help="config file (default: $PUTDESK_CONFIG)")
    p.add_argument("--account", metavar="ID", help="IBKR account id (default: from config)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--live", action="store_true", help="allow orders on a live account")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="putdesk",
        description="Operator console and engine for selling puts through Interactive Brokers.",
    )
    parser.add_argument("--version", action="version", version="putdesk 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("cmd_"):
            mod = importlib.import_module(f"{cli_pkg.__name__}.{info.name}")
            mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`putdesk trades | head`): no traceback, and nothing more
        # written to the closed pipe when Python flushes stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports it


if __name__ == "__main__":
    sys.exit(main())
