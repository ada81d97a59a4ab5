"""The EngineAPI handlers over a fake engine (real store, registry and bus; fake market):
closed-market refusal and override, persistence, auto-select, staging guards, lineup edits."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from config.models import PutdeskConfig
from engine.api.models import (
    Approve,
    AutoSelect,
    ClearLineup,
    GetLineup,
    GetScan,
    Scan,
    SetQuantity,
    Stage,
    Unstage,
)
from engine.domain import Reason
from engine.runtime.bus import EventBus
from engine.runtime.registry import CommandRegistry
from engine.selection.ai import AIVerdict
from engine.selection.service import install
from engine.store import Store
from engine.store.scans import get_config_snapshot
from tests.selection.fakes import NOW, FakeMarketData, make_specs


@dataclass
class FakeCalendar:
    open_: bool = True

    def session_of(self, t: dt.datetime) -> dt.date | None:
        return t.date() if self.open_ else None

    def next_open(self, t: dt.datetime) -> dt.datetime:
        return t + dt.timedelta(days=2)


@dataclass
class FakeSession:
    kind: str = "paper"
    data_ok: bool = True

    def data_allowed(self) -> tuple[bool, Reason]:
        if self.data_ok:
            return True, Reason("ok", "market data available")
        return False, Reason("session.disconnected", "not connected to IBKR: connection refused")


class FakeAdvisor:
    def __init__(self, on: bool = True) -> None:
        self.on = on
        self.seen: list[str] = []

    async def assess(self, candidates: Any, portfolio: Any) -> AIVerdict:
        self.seen = [c.symbol for c in candidates]
        if not self.on:
            return AIVerdict(False, "AI off: no API key (set ANTHROPIC_API_KEY)")
        return AIVerdict(True, "AI on", {c.symbol: (50.0, "ok") for c in candidates})


@dataclass
class FakeEngine:
    store: Store
    services: FakeMarketData
    cfg: PutdeskConfig = field(default_factory=PutdeskConfig)
    calendar: FakeCalendar = field(default_factory=FakeCalendar)
    bus: EventBus = field(default_factory=EventBus)
    registry: CommandRegistry = field(default_factory=CommandRegistry)
    session: FakeSession = field(default_factory=FakeSession)
    account: str | None = "DU1234567"
    selection: Any = None

    def now(self) -> dt.datetime:
        return NOW


@pytest.fixture
async def eng(tmp_path: Path) -> AsyncIterator[FakeEngine]:
    store = await Store.open(tmp_path / "t.db")
    md = FakeMarketData(make_specs(24, seed=5), nlv=Decimal("100000"), maint=Decimal("2000"))
    e = FakeEngine(store, md)
    install(e, advisor=FakeAdvisor())
    yield e
    await store.close()


async def req(e: FakeEngine, cmd: Any) -> Any:
    return await e.registry.dispatch(cmd)


async def test_scan_refused_without_ibkr_data(eng: FakeEngine) -> None:
    """No IBKR, no scan: one refusal with the session's reason, no scan row, no symbol asked."""
    eng.session.data_ok = False
    r = await req(eng, Scan(symbols=list(eng.services.specs)))
    assert not r.ok and r.exit_code == 3 and r.reason_code == "session.disconnected"
    assert r.error == "no scan: not connected to IBKR: connection refused"
    assert await eng.store.fetchall("SELECT id FROM scans") == []


async def test_scan_refused_when_closed_unless_override(eng: FakeEngine) -> None:
    eng.calendar.open_ = False
    r = await req(eng, Scan(symbols=["S000"]))
    assert not r.ok and r.exit_code == 3 and r.reason_code == "market_closed"
    r = await req(eng, Scan(symbols=["S000", "S001"], override_closed=True))
    assert r.ok and r.data["scan"]["stale"] == 1
    assert r.data["candidates"] and all(c["stale"] for c in r.data["candidates"])


async def test_scan_persists_candidates_rejections_and_events(eng: FakeEngine) -> None:
    sub = eng.bus.subscribe()
    r = await req(eng, Scan(symbols=[*eng.services.specs, "NOPE"]))
    assert r.ok
    scan = r.data["scan"]
    assert scan["status"] == "finished" and scan["symbols_done"] == 25
    assert scan["ai_status"] == "on"
    rows = r.data["candidates"]
    best = [c for c in rows if c["status"] == "candidate"]
    rejected = [c for c in rows if c["status"] == "rejected"]
    assert best and rejected
    assert len({c["symbol"] for c in best}) == len(best)
    nope = next(c for c in rejected if c["symbol"] == "NOPE")
    assert nope["reason_code"] == "qualify_failed"
    for c in rejected:
        assert c["reason_code"] and c["reason_text"]
    for c in best:
        assert Decimal(c["margin"]) > 0 and c["score_ai"] == 50.0
        assert all(rj["code"] and rj["text"] for rj in c["rejections_json"])
        for k in ("score_safety", "score_liquidity", "score_efficiency"):
            assert 0 <= c[k] <= 100
    snap = await get_config_snapshot(eng.store, scan["config_snapshot_id"])
    assert snap is not None and snap["body"]["selection"]["delta_target"] == 0.065
    kinds = []
    while not sub._queue.empty():
        kinds.append((await sub.get()).kind)  # type: ignore[union-attr]
    assert kinds[0] == "scan.started" and kinds[-1] == "scan.finished"
    assert kinds.count("scan.progress") == 25 and kinds.count("scan.candidate") == len(best)
    got = await req(eng, GetScan())
    assert got.ok and got.data["scan"]["id"] == scan["id"]


async def test_ai_off_recorded(eng: FakeEngine) -> None:
    eng.selection._advisor = FakeAdvisor(on=False)
    r = await req(eng, Scan(symbols=list(eng.services.specs)[:6]))
    assert r.data["scan"]["ai_status"] == "off"
    assert r.data["scan"]["ai_reason"].startswith("AI off: no API key")
    assert all(c["score_ai"] is None for c in r.data["candidates"])


async def test_auto_select_fills_lineup_within_budget(eng: FakeEngine) -> None:
    r = await req(eng, Scan(auto_select=True, symbols=list(eng.services.specs)))
    assert r.ok
    sel = r.data["auto_select"]["data"]
    assert sel["added"]
    lineup = (await req(eng, GetLineup())).data
    entries = lineup["entries"]
    assert len(entries) == len(sel["added"])
    total = sum(Decimal(e["margin_per_contract"]) * e["quantity"] for e in entries)
    assert Decimal("2000") + total <= Decimal("20000")
    assert Decimal(lineup["budget"]["lineup_margin"]) == total
    for e in entries:
        assert e["config_snapshot_id"] == r.data["scan"]["config_snapshot_id"]
        assert e["status"] == "staged" and not e["stale"]
        cand = next(c for c in r.data["candidates"] if c["id"] == e["candidate_id"])
        assert e["margin_per_contract"] == cand["margin"]
    # every skipped candidate says why
    assert all(s["code"] in ("over_budget", "sector_cap") for s in sel["skipped"])


async def test_stage_guards_and_lineup_edits(eng: FakeEngine) -> None:
    r = await req(eng, Scan(symbols=list(eng.services.specs)))
    best = [c for c in r.data["candidates"] if c["status"] == "candidate"]
    first = best[0]
    st = await req(eng, Stage(candidate_id=first["id"], quantity=1))
    assert st.ok
    lid = st.data["lineup_id"]
    again = await req(eng, Stage(candidate_id=first["id"], quantity=1))
    assert again.exit_code == 3 and again.reason_code == "symbol_already_staged"
    huge = await req(eng, Stage(candidate_id=best[1]["id"], quantity=100))
    assert huge.exit_code == 3 and huge.reason_code == "over_budget"
    rej = next(c for c in r.data["candidates"] if c["status"] == "rejected")
    no = await req(eng, Stage(candidate_id=rej["id"]))
    assert no.exit_code == 3 and no.reason_code == rej["reason_code"]
    big = await req(eng, SetQuantity(lineup_id=lid, quantity=5))
    over = Decimal(first["margin"]) * 5 + Decimal("2000") > Decimal("20000")
    assert big.ok != over
    ap = await req(eng, Approve())
    assert ap.ok and ap.data["approved"] == [lid]
    rm = await req(eng, Unstage(lineup_ids=[lid]))
    assert rm.data["removed"] == [lid]
    assert (await req(eng, GetLineup())).data["entries"] == []
    eng.services.account_ok = False
    refused = await req(eng, Stage(candidate_id=best[2]["id"]))
    assert refused.exit_code == 3 and refused.reason_code == "no_account_data"


async def test_lineup_done_lists_recent_sent_filled_and_cancelled_with_reasons(
    eng: FakeEngine,
) -> None:
    await req(eng, Scan(symbols=list(eng.services.specs), auto_select=True))
    ids = [e["id"] for e in (await req(eng, GetLineup())).data["entries"]]
    assert len(ids) >= 4
    recent = (NOW - dt.timedelta(hours=2)).isoformat()
    old = (NOW - dt.timedelta(hours=30)).isoformat()
    changes = [
        (ids[0], "cancelled", "stage2.cancel", "no strike within 3 keeps the premium", recent),
        (ids[1], "filled", None, None, recent),
        (ids[2], "cancelled", "tier2.cancel", "unfilled after tier 2", old),  # yesterday
    ]
    async with eng.store.transaction() as conn:
        for lid, status, code, text, at in changes:
            await conn.execute(
                "UPDATE lineup SET status=?, reason_code=?, reason_text=?, updated_at=? WHERE id=?",
                (status, code, text, at, lid),
            )
    await req(eng, Unstage(lineup_ids=[ids[3]]))  # removed by the user: not "done"
    data = (await req(eng, GetLineup())).data
    assert [e["id"] for e in data["entries"]] == ids[4:]
    done = {e["id"]: e for e in data["done"]}
    assert set(done) == {ids[0], ids[1]}
    assert done[ids[0]]["status"] == "cancelled"
    assert done[ids[0]]["reason_text"] == "no strike within 3 keeps the premium"
    assert done[ids[1]]["status"] == "filled"


async def test_stale_lineup_refused_on_live_account(eng: FakeEngine) -> None:
    eng.calendar.open_ = False
    r = await req(eng, Scan(symbols=list(eng.services.specs)[:8], override_closed=True))
    best = next(c for c in r.data["candidates"] if c["status"] == "candidate")
    st = await req(eng, Stage(candidate_id=best["id"], quantity=1))
    entry = (await req(eng, GetLineup())).data["entries"][0]
    assert st.ok and entry["stale"] is True
    eng.session.kind = "live"
    ap = await req(eng, Approve())
    assert ap.exit_code == 3 and ap.reason_code == "stale_on_live"
    cleared = await req(eng, ClearLineup())
    assert cleared.data["removed"] == [entry["id"]]


async def test_auto_select_refused_without_account(eng: FakeEngine) -> None:
    await req(eng, Scan(symbols=list(eng.services.specs)[:4]))
    eng.services.account_ok = False
    r = await req(eng, AutoSelect())
    assert r.exit_code == 3 and r.reason_code == "no_account_data"


async def test_auto_select_counts_working_orders_and_positions_held(eng: FakeEngine) -> None:
    """A second auto-select while orders work: their unsold margin counts against the budget
    (IBKR's margin in use does not have it yet), their symbols are not staged again, and the
    underlyings of positions held fill their sector's cap."""
    eng.cfg = eng.cfg.model_copy(
        update={"budget": eng.cfg.budget.model_copy(update={"max_per_sector": 2})}
    )
    r = await req(eng, Scan(symbols=list(eng.services.specs), auto_select=True))
    first = (await req(eng, GetLineup())).data["entries"]
    assert len(first) >= 3
    sent, other = first[0], first[1]
    async with eng.store.transaction() as conn:
        await conn.execute(
            "UPDATE lineup SET status='submitted', quantity=3 WHERE id=?", (sent["id"],)
        )
        await conn.execute(
            "INSERT INTO executions (exec_id, order_ref, side, quantity, price, time) "
            "VALUES ('e1', ?, 'SLD', '1', '0.50', ?)",
            (f"pd-L{sent['id']}-entry", NOW.isoformat()),
        )
    await req(eng, Unstage(lineup_ids=[e["id"] for e in first[1:]]))
    held_sector = other["sector"]
    same = list(
        dict.fromkeys(c["symbol"] for c in r.data["candidates"] if c["sector"] == held_sector)
    )
    assert len(same) >= 3
    eng.services.held = [(s, "OPT", -1) for s in same[:2]] + [("SPX", "OPT", -1)]

    lineup = (await req(eng, GetLineup())).data
    budget = lineup["budget"]
    working = Decimal(sent["margin_per_contract"]) * 2  # 3 sent, 1 sold
    assert Decimal(budget["working_margin"]) == working
    assert Decimal(budget["projected"]) == Decimal("2000") + working
    assert budget["held_symbols"] == ",".join(sorted(same[:2]))

    again = await req(eng, AutoSelect())
    skipped = {s["symbol"]: s for s in again.data["skipped"]}
    assert skipped[sent["symbol"]]["code"] == "symbol_already_staged"
    assert "order working" in skipped[sent["symbol"]]["text"]
    added = (await req(eng, GetLineup())).data["entries"]
    in_held_sector = {e["symbol"] for e in added if e["sector"] == held_sector}
    assert in_held_sector <= set(same[:2])  # the cap is full of held underlyings
    assert again.data["added"]
    capped = [s for s in again.data["skipped"] if s["code"] == "sector_cap"]
    assert any(s["symbol"] in same[2:] and "held" in s["text"] for s in capped)
    assert Decimal("2000") + working + sum(
        Decimal(e["margin_per_contract"]) * e["quantity"] for e in added
    ) <= Decimal("20000")


async def test_held_symbols_sector_asked_of_ibkr_once_a_day(eng: FakeEngine) -> None:
    """The status poll computes the budget every few seconds: a held symbol whose sector is
    not in the store is qualified once (and an unknown one not again that day)."""
    eng.services.held = [("NOPE", "OPT", -1), ("S001", "STK", 100)]
    before = eng.services.calls["qualify"]
    for _ in range(3):
        budget = (await req(eng, GetLineup())).data["budget"]
        assert budget["held_symbols"] == "NOPE,S001"
    assert eng.services.calls["qualify"] == before + 2


def test_closed_market_reason_says_when_scans_are_allowed_again() -> None:
    """Saturday noon: the next open is Monday 09:30 ET, and scans are allowed from 04:00 ET;
    said in New York time (and UTC), not as an ISO timestamp."""
    from engine.market.calendar import MarketCalendar
    from engine.selection.service import market_closed

    cal = MarketCalendar()
    assert market_closed(cal, dt.datetime(2026, 11, 30, 9, 5, tzinfo=dt.UTC)) is None  # 04:05
    why = market_closed(cal, dt.datetime(2026, 11, 28, 17, 0, tzinfo=dt.UTC))
    assert why is not None and why.code == "market_closed"
    assert why.text.startswith(
        "the market is closed (next open Mon 30 Nov 09:30 ET, 14:30 UTC; scans from 04:00 ET)"
    )
