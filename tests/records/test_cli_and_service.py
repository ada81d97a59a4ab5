"""The command line (no engine needed), the engine handlers and the historical backfill."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from config.models import PutdeskConfig
from config.secrets import Secret
from engine.api.models import GetOutcomes, GetTrades, ImportHistorical, ReconcileEod
from engine.cli.main import main
from engine.market.clock import SteppedClock
from engine.records.flex_client import FlexClient
from engine.records.historical import import_historical, split_range
from engine.records.service import default_eod_date, install
from engine.runtime.bus import EventBus
from engine.runtime.registry import CommandRegistry
from engine.sim.book import Book
from engine.sim.flex_service import FlexService
from engine.store import Store
from tests.records.conftest import EAE, ORCL
from tests.sim_book.conftest import EXPIRY, START, make_market
from tests.sim_book.fakes import contract, lmt


def test_cli_reconcile_file_then_trades(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile-eod", "--file", str(ORCL), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["data"]  # docs/cli.md document
    assert out["rows_new"] == 9 and out["counts"]["assigned"] == 1
    assert main(["reconcile-eod", "--file", str(ORCL), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)["data"]
    assert again["rows_new"] == 0 and again["status"] == "unchanged"
    assert main(["trades", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["data"]
    stock = next(t for t in data["trades"] if t["symbol"] == "ORCL" and t["sec_type"] == "STK")
    assert stock["basis_per_share"] == "49.47"
    assert main(["trades", "--since", "2017-09-01"]) == 0
    text = capsys.readouterr().out
    assert "ORCL" in text and "assigned" in text and "BMWd" not in text


def test_cli_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "putdesk.yaml"
    real.write_text("ibkr:\n  simulated: false\n")  # IB Gateway, no Flex query set up
    monkeypatch.setenv("PUTDESK_CONFIG", str(real))
    broken = tmp_path / "broken.xml"
    broken.write_bytes(EAE.read_bytes()[:5000])
    assert main(["reconcile-eod", "--file", str(broken)]) == 1
    assert "not complete XML" in capsys.readouterr().err
    assert main(["reconcile-eod", "--file", str(tmp_path / "missing.xml")]) == 2
    rc = main(
        ["import-historical-trades", "--start-date", "2025-02-01", "--end-date", "2025-01-01"]
    )
    assert rc == 2
    assert main(["reconcile-eod", "--json"]) == 1  # no Flex query configured
    assert "flex.activity_query_id" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["trades", "--since", "yesterday"])
    assert info.value.code == 2


def test_split_range() -> None:
    d = dt.date
    assert split_range(d(2025, 1, 1), d(2025, 1, 1)) == [(d(2025, 1, 1), d(2025, 1, 1))]
    chunks = split_range(d(2023, 1, 1), d(2025, 6, 30))
    assert chunks[0] == (d(2023, 1, 1), d(2023, 12, 31))
    assert all((b - a).days < 365 for a, b in chunks)
    assert all(
        chunks[i][1] + dt.timedelta(days=1) == chunks[i + 1][0] for i in range(len(chunks) - 1)
    )
    assert chunks[-1][1] == d(2025, 6, 30) and len(chunks) == 3
    with pytest.raises(ValueError):
        split_range(d(2025, 1, 2), d(2025, 1, 1))


def test_default_eod_date_is_previous_weekday() -> None:
    monday = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
    assert default_eod_date(monday) == dt.date(2026, 11, 20)


@pytest.fixture
async def flex() -> AsyncIterator[FlexService]:
    market = make_market()
    book = Book(market, SteppedClock(START), listener=lambda e: None)
    ko45 = market.add_option("KO", EXPIRY, "45", "P", "0.50", "0.55")
    book.place(1, contract(ko45), lmt(1, "SELL", 1, 0.50, orderRef="pd-h-1"))
    book.on_tick()
    svc = FlexService(book, rate_limit=False)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


async def _no_sleep(_: float) -> None:
    return None


async def test_historical_in_365_day_requests(flex: FlexService, store: Store) -> None:
    client = FlexClient(flex.base_url, Secret(flex.token), sleep=_no_sleep)
    lines: list[str] = []
    out = await import_historical(
        store,
        client,
        flex.activity_query_id,
        dt.date(2025, 1, 1),
        dt.date(2026, 12, 31),
        progress=lines.append,
    )
    assert len(out.chunks) == 2 and out.totals()["rows_new"] == 1
    assert any(line.startswith("chunk 1/2") for line in lines)
    again = await import_historical(
        store, client, flex.activity_query_id, dt.date(2025, 1, 1), dt.date(2026, 12, 31)
    )
    assert again.totals()["rows_new"] == 0
    [t] = await store.fetchall("SELECT * FROM trades")
    assert t["entry_order_ref"] == "pd-h-1" and t["trade_strategy"] == "manual"
    kinds = [r["kind"] for r in await store.fetchall("SELECT kind FROM flex_imports")]
    assert kinds == ["historical"] * 4


async def test_engine_handlers(flex: FlexService, store: Store) -> None:
    bus = EventBus(account="DU1234567")
    sub = bus.subscribe()
    engine: Any = SimpleNamespace(
        store=store,
        cfg=PutdeskConfig(),
        bus=bus,
        registry=CommandRegistry(),
        sim=SimpleNamespace(flex=flex),
    )
    install(engine)
    res = await engine.registry.dispatch(ReconcileEod(date=START.date()))
    assert res.ok, res.error
    assert res.data["rows_new"] == 1
    event = await sub.get()
    assert event is not None and event.kind == "records" and "reconcile-eod" in event.message
    res = await engine.registry.dispatch(GetTrades())
    assert res.ok and res.data["trades"][0]["entry_price"] == "0.5"
    out = await engine.registry.dispatch(GetOutcomes(by="strategy"))
    assert out.ok and out.data["trades"] == 1 and out.data["rows"][0]["trades"] == 1
    bad_by = await engine.registry.dispatch(GetOutcomes(by="moon"))
    assert not bad_by.ok and bad_by.exit_code == 2 and "unknown dimension" in str(bad_by.error)
    res = await engine.registry.dispatch(
        ImportHistorical(start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31))
    )
    assert res.ok and res.data["totals"]["rows_new"] == 0
    bad = await engine.registry.dispatch(
        ImportHistorical(start=dt.date(2026, 2, 1), end=dt.date(2026, 1, 1))
    )
    assert not bad.ok and bad.exit_code == 2
    assert Decimal(res.data["totals"].get("fills", 0)) == 0
