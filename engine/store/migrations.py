"""Versioned schema migrations, tracked with `PRAGMA user_version`.

Each migration is a module `engine/store/schema/mNNNN_<name>.py` defining VERSION, DESCRIPTION
and SQL. Versions only grow; gaps are allowed (a fresh database applies every migration in
order). Booked money columns are TEXT holding a canonical Decimal string, so values round-trip
exactly.
"""

from __future__ import annotations

import importlib
import pkgutil

from engine.store import schema


def _discover() -> list[tuple[int, str, str]]:
    found = []
    for info in pkgutil.iter_modules(schema.__path__):
        if not info.name.startswith("m"):
            continue
        mod = importlib.import_module(f"{schema.__name__}.{info.name}")
        found.append((int(mod.VERSION), str(mod.DESCRIPTION), str(mod.SQL)))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


MIGRATIONS: list[tuple[int, str, str]] = _discover()


def latest_version() -> int:
    return max(v for v, _, _ in MIGRATIONS)
