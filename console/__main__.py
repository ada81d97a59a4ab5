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
        cfg = demo_config(cfg, args.speed)

    from console.app import PutdeskApp
    from engine.api.client import NoEngine, attach, connect_api

    async def factory() -> Any:
        return await connect_api(path, args.account, cfg=cfg, live=bool(args.live))

    async def reattach() -> Any:
        """Only a running engine: after a lost one, never start our own (a restarting
        `putdesk engine` would then find its account locked)."""
        client = await attach(cfg, args.account)
        if client is None:
            raise NoEngine("no engine is running for the account")
        return client

    app = PutdeskApp(
        factory, config=cfg, theme=args.theme, handle_signals=True, reattach_factory=reattach
    )
    code = app.run()
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
