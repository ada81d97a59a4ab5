"""The scanner's day cache survives an engine restart on the same day: the second engine's
first scan asks the simulated gateway for no contract ids, option parameters or strike lists,
sends exactly what a rescan sends, and finds the same candidates. A cache row that does not
decode is skipped, not fatal."""

from __future__ import annotations

import datetime as dt
from typing import Any

from config.models import PutdeskConfig
from engine.api.models import Scan
from engine.runtime.engine import Engine, EngineOptions
from engine.selection.day_cache import DayCache
from engine.sim.testing import default_clock
from engine.store.day_cache import DayCacheRepo

SYMBOLS = ["NVDA", "AMD", "AVGO", "UNH", "META", "AAPL"]


async def _scan(eng: Engine) -> tuple[int, list[tuple[Any, ...]]]:
    s0 = eng.pacer.sent
    r = await eng.request(Scan(symbols=SYMBOLS))
    assert r.ok, r.error
    picks = sorted(
        (c["symbol"], c["status"], c["expiry"], c["strike"]) for c in r.data["candidates"]
    )
    return eng.pacer.sent - s0, picks


async def test_an_engine_started_again_the_same_day_scans_like_a_rescan() -> None:
    clock = default_clock()
    first = Engine(PutdeskConfig(), EngineOptions(clock=clock))
    await first.start(wait_ready=30)
    try:
        cold, picks = await _scan(first)
        rescan, again = await _scan(first)
    finally:
        await first.stop()
    assert again == picks and rescan < cold

    second = Engine(PutdeskConfig(), EngineOptions(clock=clock))
    await second.start(wait_ready=30)
    try:
        assert second.store is not None
        rows = await DayCacheRepo(second.store).load(clock.now().date().isoformat())
        kinds = {kind for kind, _, _ in rows}
        assert {"underlying", "chains", "strikes"} <= kinds
        restarted, after = await _scan(second)
    finally:
        await second.stop()
    assert after == picks
    assert restarted == rescan  # only quotes, greeks and margin


def test_rows_round_trip_and_a_bad_row_is_skipped() -> None:
    from engine.domain import OptionChainInfo, OptionRef, Underlying

    day = dt.date(2026, 11, 24)
    cache = DayCache()
    cache.roll(day)
    cache.underlyings["NVDA"] = Underlying("NVDA", 4815747, sector="Technology")
    cache.chains["NVDA"] = [
        OptionChainInfo("NVDA", 4815747, "NVDA", 100, ("20261127",), (120.0, 125.0))
    ]
    ref = OptionRef("NVDA", "20261127", 125.0, "P", 9_001, "NVDA")
    cache.strikes[("NVDA", "20261127", "NVDA")] = [ref]
    cache.strike_rows[("NVDA", "NVDA", 125.0)] = [ref]
    rows = cache.rows()
    back = DayCache()
    used = back.restore(day, [*rows, ("strikes", "NVDA|bad", "[{}]")])
    assert used == len(rows) == 4
    assert back.underlyings == cache.underlyings and back.chains == cache.chains
    assert back.strikes == cache.strikes and back.strike_rows == cache.strike_rows
    assert back.rows(only_new=True) == []  # all of it is in the store already
    back.underlyings["AMD"] = Underlying("AMD", 4391)
    assert [k for _, k, _ in back.rows(only_new=True)] == ["AMD"]
