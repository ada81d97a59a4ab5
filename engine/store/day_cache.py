"""The selection_day_cache table (m0010): the scanner's day cache as rows (day, kind, key,
JSON value). Rows of other days are dropped when a day's rows are saved."""

from __future__ import annotations

from collections.abc import Sequence

from engine.store.db import Store


class DayCacheRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def load(self, day: str) -> list[tuple[str, str, str]]:
        """(kind, key, value_json) of every row kept for `day` (ISO date, New York)."""
        rows = await self.store.fetchall(
            "SELECT kind, key, value_json FROM selection_day_cache WHERE day=?", (day,)
        )
        return [(str(r["kind"]), str(r["key"]), str(r["value_json"])) for r in rows]

    async def save(self, day: str, rows: Sequence[tuple[str, str, str]]) -> None:
        """Keep `rows` for `day`; forget every other day's."""
        async with self.store.transaction() as conn:
            await conn.execute("DELETE FROM selection_day_cache WHERE day<>?", (day,))
            await conn.executemany(
                "INSERT OR REPLACE INTO selection_day_cache (day, kind, key, value_json) "
                "VALUES (?,?,?,?)",
                [(day, kind, key, value) for kind, key, value in rows],
            )
