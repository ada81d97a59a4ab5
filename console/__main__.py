"""`python -m console`: the operator console program (`putdesk console` runs this).

Kept as its own program so the engine's command line never imports Textual or the console:
`putdesk console` replaces its process with this one. `--demo` runs on the simulated gateway
with its clock a few minutes before the next US open (or now, while the market is open).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEMO_MINUTES_BEFORE_OPEN = 5


def build_parser() -> argparse.ArgumentParser:
    from engine.cli.cmd_console import add_console_options

    p = argparse.ArgumentParser(
        prog="putdesk console", description="the operator console (full-screen terminal UI)"
    )
    add_console_options(p)
    return p


def demo_config(cfg: Any, speed: float | None = None) -> Any:
    """The config with the simulated gateway and the demo clock before the next open
    (`speed`: simulated seconds per real second, else the configured `sim.speed`)."""
    ibkr = cfg.ibkr.model_copy(update={"simulated": True})
    update: dict[str, Any] = {
        "start": "before_open",
        "minutes_before_open": DEMO_MINUTES_BEFORE_OPEN,
    }
    if speed is not None:
        update["speed"] = speed
    sim = cfg.sim.model_copy(update=update)
    return cfg.model_copy(update={"ibkr": ibkr, "sim": sim})


#: The demo's second simulated account (with its own budget), shown when the config names
#: no accounts, so switching accounts can be tried too.
DEMO_SECOND_ACCOUNT = "DU7654321"


def demo_accounts(cfg: Any) -> Any:
    """With no `accounts:` configured, the demo gets two simulated paper accounts: the
    configured (or default) one and DEMO_SECOND_ACCOUNT with a different budget."""
    if cfg.accounts:
        return cfg
    from config.models import PutdeskConfig

    first = cfg.ibkr.account or "DU1234567"
    if first == DEMO_SECOND_ACCOUNT:
        return cfg
    data = cfg.model_dump(mode="python")
    data["accounts"] = {
        first: {"label": "Demo"},
        DEMO_SECOND_ACCOUNT: {
            "label": "Demo 2",
            "budget": {"margin_pct_of_nlv": 35.0, "max_per_sector": 3},
        },
    }
    return PutdeskConfig.model_validate(data)


def console_logging(cfg: Any, account: str | None) -> Path | None:
    """The console's process (and every engine it runs in-process) logs to
    `<state>/logs/console.log`, never to the terminal the console draws on. None when the
    log directory cannot be written (the console still runs)."""
    from engine.runtime.logs import setup_logging
    from engine.runtime.paths import EnginePaths

    paths = EnginePaths.of(cfg, account)
    try:
        return setup_logging(paths.logs, paths.key, stdout=False, stem="console")
    except OSError:
        return None


def account_links(cfg: Any, args: argparse.Namespace, path: Path | None) -> list[Any]:
    """One AccountLink per configured account (`--account` first, else the default), each
    reaching that account's engine with its own settings. With nothing configured: one link
    for the engine's default account key."""
    from console.engine_link import AccountLink
    from engine.api.client import NoEngine, attach, connect_api, engine_running

    ids = cfg.account_ids()
    if args.account:
        ids = [args.account, *(a for a in ids if a != args.account)]
    out = []
    for acct in ids or [None]:
        acfg = cfg.for_account(acct)
        if args.demo:  # every account of the demo runs on its own simulated gateway
            acfg = demo_config(acfg, args.speed)
        kind = "simulated" if acfg.ibkr.simulated else acfg.ibkr.expected_mode
        label = cfg.accounts[acct].label if acct in cfg.accounts else ("" if acct else "default")

        def connect(acct: str | None = acct, acfg: Any = acfg) -> Any:
            return connect_api(path, acct, cfg=acfg, live=bool(args.live))

        async def reattach(acct: str | None = acct, acfg: Any = acfg) -> Any:
            """Only a running engine: after a lost one, never start our own (a restarting
            `putdesk engine` would then find its account locked)."""
            client = await attach(acfg, acct)
            if client is None:
                raise NoEngine("no engine is running for the account")
            return client

        def where(acct: str | None = acct, acfg: Any = acfg) -> str:
            return "engine running (socket)" if engine_running(acfg, acct) else "not running"

        out.append(AccountLink(acct or "", label, kind, connect, reattach, where))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from config.loader import ConfigError, load_config

    path = Path(args.config) if args.config else None
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if args.live and args.demo:
        print("--live and --demo cannot be used together", file=sys.stderr)
        return 2
    if args.speed is not None and not args.demo:
        print("--speed is for the demo's simulated clock: use it with --demo", file=sys.stderr)
        return 2
    if args.speed is not None and not 0 < args.speed <= 10_000:
        print(f"--speed must be > 0 and <= 10000, got {args.speed:g}", file=sys.stderr)
        return 2
    if args.demo:
        cfg = demo_accounts(demo_config(cfg, args.speed))

    from console.app import PutdeskApp

    try:
        links = account_links(cfg, args, path)
    except ValueError as exc:  # --account that is no account id
        print(str(exc), file=sys.stderr)
        return 2
    first = links[0]
    console_logging(cfg.for_account(first.account or None), first.account or None)
    app = PutdeskApp(
        first.connect,
        config=cfg.for_account(first.account),
        theme=args.theme,
        handle_signals=True,
        reattach_factory=first.reattach,
        accounts=links,
        account=first.account,
        preconnect=bool(args.demo),
    )
    code = int(app.run() or 0)
    from console import exit_watchdog

    exit_watchdog.arm("the console returned", code)  # threads left running end it anyway
    return code


if __name__ == "__main__":
    sys.exit(main())
