"""`putdesk engine`: run one account's engine without a UI until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from config.models import AutomationLevel, PutdeskConfig
from engine.runtime.engine import Engine, EngineOptions
from engine.runtime.lock import AccountLocked
from engine.runtime.logs import setup_logging
from engine.runtime.paths import EnginePaths

log = logging.getLogger(__name__)


async def run_headless(
    cfg: PutdeskConfig,
    *,
    live: bool = False,
    level: AutomationLevel | None = None,
    account: str | None = None,
    config_path: str | None = None,
    stdout: bool = True,
    stop_event: asyncio.Event | None = None,
) -> int:
    """Run until a signal (or `stop_event`); returns the process exit code."""
    from pathlib import Path

    paths = EnginePaths.of(cfg, account)
    logfile = setup_logging(paths.logs, paths.key, stdout=stdout)
    engine = Engine(
        cfg,
        EngineOptions(
            live=live,
            level=level,
            account=account,
            config_path=Path(config_path) if config_path else None,
            extra={"headless": True},  # the scheduler runs only in headless engines
        ),
    )
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except RuntimeError:  # also covers platforms without signal handlers
            pass
    try:
        await engine.start()
    except AccountLocked as exc:
        log.error("%s", exc.reason.text)
        print(f"putdesk engine: {exc.reason.text}", file=sys.stderr)
        return 3
    log.info("engine for %s running; socket %s; log %s", paths.key, paths.socket, logfile)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await engine.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.remove_signal_handler(sig)
            except RuntimeError:  # also covers platforms without signal handlers
                pass
    return 0
