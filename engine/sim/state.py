"""JSON persistence of the simulated book (engine.sim.book.Book.to_state/from_state).

Saves are atomic: write a temporary file in the same directory, fsync, then rename.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.sim.book import Book
from engine.sim.events import BookEvent


def save_book(book: Book, path: Path) -> None:
    """Write the whole book to `path` atomically."""
    save_state(book.to_state(), path)


def save_state(state: dict[str, Any], path: Path) -> None:
    """Write a state dict as JSON to `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_state(path: Path) -> dict[str, Any]:
    """Read a state dict written by save_state."""
    with Path(path).open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def saved_sim_time(path: Path) -> dt.datetime | None:
    """The simulated time a gateway's state file was saved at (`sim_time`); None when there
    is no file or it cannot be read (the gateway itself reports a broken file at load)."""
    try:
        raw = load_state(path).get("sim_time")
        t = dt.datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except (OSError, ValueError):
        return None
    if t is None or t.tzinfo is None:
        return None
    return t


def load_book(
    market: Any,
    clock: Any,
    path: Path,
    listener: Callable[[BookEvent], None] | None = None,
) -> Book:
    """Rebuild a Book saved with save_book."""
    return Book.from_state(market, clock, load_state(path), listener=listener)
