"""The aiosqlite connection: WAL, foreign keys, migrations, transactions, Decimal helpers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite

from engine.store.migrations import MIGRATIONS


def money(value: Decimal | int | str | None) -> str | None:
    """Canonical TEXT for a booked amount (exact, no float on the way)."""
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("booked money must be Decimal, not float")
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return format(d, "f")


def dec(value: str | int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def dec_or_none(value: str | int | Decimal | None) -> Decimal | None:
    return None if value is None else dec(value)


def utcnow_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True)


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return format(o, "f")
    if isinstance(o, dt.datetime | dt.date | dt.time):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class Store:
    """One SQLite database. Use `await Store.open(path)`; writes go through `transaction()`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path | str):
        self.conn = conn
        self.path = path
        self._tx_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Store:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute("PRAGMA synchronous=NORMAL")
        store = cls(conn, path)
        if migrate:
            await store.migrate()
        return store

    async def close(self) -> None:
        await self.conn.close()

    async def user_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> list[int]:
        """Apply every migration newer than the database; returns the versions applied."""
        applied = []
        current = await self.user_version()
        for version, _desc, script in sorted(MIGRATIONS):
            if version <= current:
                continue
            async with self._tx_lock:
                await self.conn.execute("BEGIN IMMEDIATE")
                try:
                    for stmt in _split_sql(script):
                        await self.conn.execute(stmt)
                    await self.conn.execute(f"PRAGMA user_version={int(version)}")
                    await self.conn.execute("COMMIT")
                except BaseException:
                    await self.conn.execute("ROLLBACK")
                    raise
            applied.append(version)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error. Not re-entrant."""
        async with self._tx_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def fetchall(
        self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()
    ) -> list[dict[str, Any]]:
        async with self.conn.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return [dict(r) for r in rows]

    async def fetchone(
        self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()
    ) -> dict[str, Any] | None:
        async with self.conn.execute(sql, params) as cur:
            row = await cur.fetchone()
        return dict(row) if row is not None else None

    async def insert(self, table: str, values: Mapping[str, Any]) -> int:
        """Insert one row in its own transaction; returns the row id."""
        async with self.transaction() as conn:
            return await insert_row(conn, table, values)

    async def log_event(
        self,
        kind: str,
        message: str,
        *,
        severity: str = "info",
        code: str | None = None,
        account_id: str | None = None,
        data: Any = None,
        ts: str | None = None,
    ) -> int:
        return await self.insert(
            "events",
            {
                "ts": ts or utcnow_iso(),
                "account_id": account_id,
                "kind": kind,
                "severity": severity,
                "code": code,
                "message": message,
                "data_json": to_json(data) if data is not None else None,
            },
        )

    async def get_state(self, account_id: str, key: str) -> str | None:
        row = await self.fetchone(
            "SELECT value FROM engine_state WHERE account_id=? AND key=?", (account_id, key)
        )
        return None if row is None else str(row["value"])

    async def set_state(self, account_id: str, key: str, value: str) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO engine_state(account_id, key, value, updated_at) VALUES (?,?,?,?) "
                "ON CONFLICT(account_id, key) DO UPDATE SET value=excluded.value, "
                "updated_at=excluded.updated_at",
                (account_id, key, value, utcnow_iso()),
            )


async def insert_row(conn: aiosqlite.Connection, table: str, values: Mapping[str, Any]) -> int:
    """INSERT inside an open transaction; Decimal values are stored as exact TEXT."""
    cols = list(values)
    params = [money(v) if isinstance(v, Decimal) else v for v in values.values()]
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    cur = await conn.execute(sql, params)
    return int(cur.lastrowid or 0)


async def update_row(
    conn: aiosqlite.Connection, table: str, row_id: int, values: Mapping[str, Any]
) -> None:
    cols = list(values)
    params = [money(v) if isinstance(v, Decimal) else v for v in values.values()]
    sql = f"UPDATE {table} SET {', '.join(c + '=?' for c in cols)} WHERE id=?"
    await conn.execute(sql, [*params, row_id])


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
