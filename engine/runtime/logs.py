"""Logging for the engine: a rotating file in the state directory, optionally stdout too."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_MARK = "_putdesk_handler"


def setup_logging(
    log_dir: Path,
    account_key: str,
    *,
    stdout: bool = True,
    level: int = logging.INFO,
    stem: str | None = None,
) -> Path:
    """Attach putdesk's handlers to the root logger (idempotent); returns the log file,
    `engine-<account>.log` (or `<stem>.log`: the console's process logs to `console.log`)."""
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = log_dir / f"{stem or f'engine-{account_key}'}.log"
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _MARK, False):
            root.removeHandler(h)
            h.close()
    fmt = logging.Formatter(FORMAT)
    fmt.converter = __import__("time").gmtime
    fh = logging.handlers.RotatingFileHandler(
        path, maxBytes=5_000_000, backupCount=5, encoding="utf-8"
    )
    fh.setFormatter(fmt)
    setattr(fh, _MARK, True)
    root.addHandler(fh)
    if stdout:
        sh = logging.StreamHandler(sys.stdout)
        sh.setFormatter(fmt)
        setattr(sh, _MARK, True)
        root.addHandler(sh)
    root.setLevel(level)
    logging.getLogger("ib_async").setLevel(max(level, logging.WARNING))
    return path
