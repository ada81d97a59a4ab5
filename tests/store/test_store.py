"""Migrations (fresh, re-run, upgrade) and exact Decimal round trips."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.store import Store, dec, money
from engine.store.db import insert_row, utcnow_iso
from engine.store.migrations import MIGRATIONS, latest_version


async def test_migrations_apply_on_empty_database(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "a.db")
    try:
        assert await store.user_version() == latest_version()
        tables = {
            r["name"]
            for r in await store.fetchall("SELECT name FROM sqlite_master WHERE type='table'")
        }
        for t in (
            "accounts",
            "config_snapshots",
            "scans",
            "candidates",
            "lineup",
            "order_intents",
            "orders",
            "executions",
            "trades",
            "flex_imports",
            "events",
            "job_runs",
        ):
            assert t in tables
        mode = await store.fetchone("PRAGMA journal_mode")
        assert mode is not None and next(iter(mode.values())) == "wal"
        fk = await store.fetchone("PRAGMA foreign_keys")
        assert fk is not None and next(iter(fk.values())) == 1
    finally:
        await store.close()


async def test_rerun_is_a_noop(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = await Store.open(path)
    await store.close()
    store = await Store.open(path)
    try:
        assert await store.migrate() == []
        assert await store.user_version() == latest_version()
    finally:
        await store.close()


async def test_older_database_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    first_version, _, first_sql = MIGRATIONS[0]
    conn = sqlite3.connect(path)
    conn.executescript(first_sql)
    conn.execute(f"PRAGMA user_version={first_version}")
    conn.execute(
        "INSERT INTO events(ts, kind, message) "
        "VALUES ('2026-01-01T00:00:00+00:00', 'notice', 'kept')"
    )
    conn.commit()
    conn.close()
    store = await Store.open(path)
    try:
        assert await store.user_version() == latest_version()
        row = await store.fetchone("SELECT message FROM events")
        assert row == {"message": "kept"}
    finally:
        await store.close()


async def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.store import db as dbmod

    broken = [*MIGRATIONS, (9999, "broken", "CREATE TABLE zz (a INT); SELECT * FROM no_such_table")]
    monkeypatch.setattr(dbmod, "MIGRATIONS", broken)
    with pytest.raises(Exception, match="no_such_table"):
        await Store.open(tmp_path / "b.db")
    monkeypatch.setattr(dbmod, "MIGRATIONS", MIGRATIONS)
    store = await Store.open(tmp_path / "b.db")
    try:
        names = {r["name"] for r in await store.fetchall("SELECT name FROM sqlite_master")}
        assert "zz" not in names
        assert await store.user_version() == latest_version()
    finally:
        await store.close()


async def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "c.db")
    try:
        with pytest.raises(RuntimeError):
            async with store.transaction() as conn:
                await insert_row(
                    conn, "events", {"ts": utcnow_iso(), "kind": "notice", "message": "x"}
                )
                raise RuntimeError("boom")
        assert await store.fetchall("SELECT * FROM events") == []
    finally:
        await store.close()


@settings(max_examples=60, deadline=None)
@given(
    st.decimals(
        min_value=Decimal("-1e12"),
        max_value=Decimal("1e12"),
        allow_nan=False,
        allow_infinity=False,
        places=6,
    )
)
def test_money_text_round_trip_is_exact(value: Decimal) -> None:
    assert dec(money(value) or "0") == value


async def test_decimals_round_trip_through_trades(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "d.db")
    values = [
        Decimal("0.53"),
        Decimal("-3.4999"),
        Decimal("123456789.123456"),
        Decimal("0.1") + Decimal("0.2"),
    ]
    try:
        ids = []
        for v in values:
            ids.append(
                await store.insert(
                    "trades",
                    {
                        "trade_strategy": "scanner",
                        "symbol": "ORCL",
                        "quantity": 1,
                        "entry_price": v,
                        "commission": v,
                        "net_pnl": v,
                        "created_at": utcnow_iso(),
                        "updated_at": utcnow_iso(),
                    },
                )
            )
        for i, v in zip(ids, values, strict=True):
            row = await store.fetchone(
                "SELECT entry_price, commission, net_pnl FROM trades WHERE id=?", (i,)
            )
            assert row is not None
            assert (
                dec(row["entry_price"]) == v
                and dec(row["commission"]) == v
                and dec(row["net_pnl"]) == v
            )
            assert str(dec(row["entry_price"])) == str(v)
    finally:
        await store.close()


def test_float_money_is_refused() -> None:
    with pytest.raises(TypeError):
        money(0.1)  # type: ignore[arg-type]
