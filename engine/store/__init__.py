"""SQLite persistence (aiosqlite, WAL, foreign keys, versioned migrations)."""

from engine.store.db import Store, dec, dec_or_none, money

__all__ = ["Store", "dec", "dec_or_none", "money"]
