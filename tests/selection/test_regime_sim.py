"""The market regime end to end: read from the simulated gateway's VIX, VIX3M and SPX daily
bars through the real engine (ib_async, pacer), cached, shown in the status, and the regime
guard refusing Auto-Select and Stage when it trips."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from config.models import PutdeskConfig, RegimeGuardConfig
from engine.api.models import AutoSelect, GetLineup, GetRegime, GetStatus, Scan, Stage
from engine.market.calendar import to_et
from engine.market.regime import SMA_DAYS, sma
from engine.runtime.engine import Engine, EngineOptions
from engine.sim.testing import default_clock

SYMBOLS = ["NVDA", "AMD", "AVGO", "UNH", "META"]


async def start(cfg: PutdeskConfig) -> Engine:
    eng = Engine(cfg, EngineOptions(clock=default_clock()))
    await eng.start(wait_ready=30)
    return eng


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    eng = await start(PutdeskConfig())
    try:
        yield eng
    finally:
        await eng.stop()


def guarded(max_vix: float) -> PutdeskConfig:
    cfg = PutdeskConfig()
    cfg.selection.regime_guard = RegimeGuardConfig(enabled=True, max_vix=max_vix)
    return cfg


async def test_regime_is_the_gateways_closes_read_once_per_ttl(engine: Engine) -> None:
    assert (await engine.request(GetStatus())).data["regime"]["reading"] is None
    sent0 = engine.pacer.sent
    r = await engine.request(GetRegime())
    assert r.ok, r.error
    reading = r.data["reading"]
    market, today = engine.sim.market, to_et(engine.now()).date()
    assert reading["vix"] == market.historical_bars("VIX", today, 5)[-1].close
    assert reading["vix3m"] == market.historical_bars("VIX3M", today, 5)[-1].close
    spx = [b.close for b in market.historical_bars("SPX", today, 366)]
    assert reading["spx"] == spx[-1]
    assert reading["spx_sma200"] == pytest.approx(sma(spx, SMA_DAYS), abs=0.01)
    assert reading["label"].startswith(f"VIX {reading['vix']:.1f} ")
    assert r.data["guard"] == {
        "enabled": False,
        "blocks": False,
        "reason_code": None,
        "reason": None,
    }
    assert engine.pacer.sent - sent0 == 6  # three contract lookups, three daily-bar requests
    again = await engine.request(GetRegime())
    assert again.data["reading"] == reading and engine.pacer.sent - sent0 == 6  # cached
    status = (await engine.request(GetStatus())).data["regime"]
    assert status["reading"] == reading and status["age_s"] == 0
    scan = await engine.request(Scan(symbols=SYMBOLS[:1]))
    assert scan.data["scan"]["summary"]["regime"] == reading  # kept with the scan


async def test_guard_refuses_auto_select_and_stage_when_vix_is_over_its_limit() -> None:
    eng = await start(guarded(max_vix=5.0))  # the simulator's VIX is well above 5
    try:
        r = await eng.request(Scan(symbols=SYMBOLS, auto_select=True))
        assert r.ok, r.error
        sel = r.data["auto_select"]
        assert not sel["ok"] and sel["exit_code"] == 3
        assert sel["reason_code"] == "regime.vix" and "max_vix 5" in sel["error"]
        cand = next(c for c in r.data["candidates"] if c["status"] == "candidate")
        staged = await eng.request(Stage(candidate_id=cand["id"]))
        assert not staged.ok and staged.reason_code == "regime.vix"
        assert (await eng.request(GetLineup())).data["entries"] == []
        status = (await eng.request(GetStatus())).data["regime"]
        assert status["guard"]["blocks"] and status["guard"]["reason_code"] == "regime.vix"
        # the limit raised above the VIX: the same scan's candidates go into the lineup
        eng.cfg.selection.regime_guard = RegimeGuardConfig(enabled=True, max_vix=80.0)
        sel2 = await eng.request(AutoSelect(scan_id=r.data["scan"]["id"]))
        assert sel2.ok and sel2.data["added"], sel2.error
    finally:
        await eng.stop()
