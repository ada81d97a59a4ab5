"""A/B test of scoring weights: the day's arm (pure), and a scan on the simulated gateway that
ranks with the arm's weights and stamps the arm on the scan and the lineup."""

from __future__ import annotations

import datetime as dt

import pytest

from config.models import ABTestConfig, PutdeskConfig, SelectionConfig, Weights
from engine.api.models import GetLineup, Scan
from engine.market.calendar import to_et
from engine.runtime.engine import Engine, EngineOptions
from engine.selection.ab_test import arm_for, with_arm
from engine.selection.scoring import Components, composite
from engine.sim.testing import DEFAULT_START, default_clock

B_WEIGHTS = Weights(safety=0.70, liquidity=0.10, ai=0.10, efficiency=0.10)


def test_arms_alternate_by_date_and_only_when_enabled() -> None:
    off = SelectionConfig()
    day = dt.date(2026, 11, 25)
    assert arm_for(day, off) is None and with_arm(off, None) is off
    on = SelectionConfig(ab_test=ABTestConfig(enabled=True, name="t1", weights_b=B_WEIGHTS))
    arms = [arm_for(day + dt.timedelta(days=i), on) for i in range(4)]
    assert [a.name for a in arms if a] == (["A", "B", "A", "B"] if day.toordinal() % 2 == 0
                                           else ["B", "A", "B", "A"])  # fmt: skip
    b = next(a for a in arms if a and a.name == "B")
    assert with_arm(on, b).weights == B_WEIGHTS and with_arm(on, b).delta_min == on.delta_min
    assert b.as_dict()["test"] == "t1"


@pytest.mark.parametrize("days_later", [0, 1])  # one of two consecutive sessions is arm B
async def test_scan_ranks_with_the_days_arm_and_the_lineup_keeps_it(days_later: int) -> None:
    cfg = PutdeskConfig()
    cfg.selection.ab_test = ABTestConfig(enabled=True, name="t1", weights_b=B_WEIGHTS)
    clock = default_clock(DEFAULT_START + dt.timedelta(days=days_later))
    eng = Engine(cfg, EngineOptions(clock=clock))
    await eng.start(wait_ready=30)
    try:
        arm = arm_for(to_et(eng.now()).date(), cfg.selection)  # the simulated session's date
        assert arm is not None
        r = await eng.request(Scan(symbols=["NVDA", "AMD", "AVGO", "UNH"], auto_select=True))
        assert r.ok, r.error
        assert r.data["scan"]["summary"]["ab_test"]["arm"] == arm.name
        for c in r.data["candidates"]:
            if c["status"] != "candidate":
                continue
            parts = Components(c["score_safety"], c["score_liquidity"], c["score_efficiency"], None)
            assert c["score"] == pytest.approx(composite(parts, arm.weights), abs=0.01)
        entries = (await eng.request(GetLineup())).data["entries"]
        assert entries and all(e["selection"]["ab_arm"] == arm.name for e in entries)
        assert all(e["selection"]["ab_test"] == "t1" for e in entries)
    finally:
        await eng.stop()
