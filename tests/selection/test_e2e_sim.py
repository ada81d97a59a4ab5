"""End to end against the simulated gateway through the real engine (ib_async, pacer, store):
auto-select over 50 symbols gives a lineup whose margins are the gateway's what-if numbers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from ib_async import LimitOrder

from config.models import PutdeskConfig
from engine.api.models import GetLineup, GetStatus, Scan
from engine.broker.services import MarketServices
from engine.domain import OptionRef
from engine.runtime.engine import Engine, EngineOptions
from engine.sim.testing import default_clock
from engine.sim.universe import default_universe

pytestmark = pytest.mark.slow


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    eng = Engine(PutdeskConfig(), EngineOptions(clock=default_clock()))
    await eng.start(wait_ready=30)
    try:
        yield eng
    finally:
        await eng.stop()


def gateway_margin(eng: Engine, entry: dict, qty: int) -> Decimal:  # type: ignore[type-arg]
    ref = OptionRef(
        entry["symbol"],
        entry["expiry"],
        float(entry["strike"]),
        "P",
        int(entry["con_id"]),
        entry["symbol"],
    )
    order = LimitOrder("SELL", qty, float(entry["premium"]), transmit=True, whatIf=True)
    state = eng.sim.book.what_if(0, MarketServices.option_contract(ref), order)
    return max(Decimal(str(state.initMarginChange)), Decimal(str(state.maintMarginChange)))


async def test_auto_select_50_symbols_margins_equal_gateway_what_if(engine: Engine) -> None:
    symbols = [s.symbol for s in default_universe() if s.sec_type == "STK"][:50]
    assert len(symbols) == 50
    r = await engine.request(Scan(symbols=symbols, auto_select=True))
    assert r.ok, r.error
    scan = r.data["scan"]
    assert scan["symbols_done"] == 50 and scan["status"] == "finished"
    # stamped on the engine's clock (the stepped 10:00 ET here, the simulated time in the demo)
    assert (
        scan["started_at"] == scan["finished_at"] == engine.now().isoformat(timespec="microseconds")
    )
    assert scan["ai_status"] == "off" and "no API key" in scan["ai_reason"]
    status = await engine.request(GetStatus())  # the header's AI on/off, before any scan too
    assert status.data["ai"] == {"enabled": False, "reason": scan["ai_reason"]}
    assert scan["messages_sent"] > 0
    rows = r.data["candidates"]
    assert {c["symbol"] for c in rows} == set(symbols)
    for c in rows:
        if c["status"] == "rejected":
            assert c["reason_code"] and c["reason_text"]
    lineup = (await engine.request(GetLineup())).data
    entries = lineup["entries"]
    assert entries, (r.data["auto_select"], dict(engine.sim.counters.errors_by_code))
    assert len({e["symbol"] for e in entries}) == len(entries)
    total = Decimal(0)
    for e in entries:
        per_contract = Decimal(e["margin_per_contract"])
        assert per_contract == gateway_margin(engine, e, 1)
        assert abs(per_contract * e["quantity"] - gateway_margin(engine, e, e["quantity"])) <= (
            Decimal("0.01") * e["quantity"]
        )
        total += per_contract * e["quantity"]
        assert not e["stale"]
    budget = lineup["budget"]
    assert Decimal(budget["lineup_margin"]) == total
    assert Decimal(budget["projected"]) <= Decimal(budget["budget"])
    sectors = [e["sector"] for e in entries]
    assert max(sectors.count(s) for s in sectors) <= engine.cfg.budget.max_per_sector
