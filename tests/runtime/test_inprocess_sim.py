"""The engine's own simulated gateway: its Flex service serves reconcile-eod, and the
simulated account (positions, orders) survives an engine restart."""

from __future__ import annotations

import asyncio
import datetime as dt

from ib_async import LimitOrder

from engine.api.models import GetPositions, ReconcileEod
from engine.market.clock import SteppedClock
from engine.runtime.engine import Engine, EngineOptions
from tests.broker.conftest import sim_config


def _engine(clock: SteppedClock) -> Engine:
    return Engine(sim_config(), EngineOptions(clock=clock, serve_socket=False, rng_seed=1))


async def test_inprocess_sim_serves_flex_and_keeps_its_account() -> None:
    clock = SteppedClock(dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC))  # 10:00 ET
    eng = _engine(clock)
    await eng.start(wait_ready=10)
    try:
        assert eng.sim is not None and eng.sim.flex.port > 0
        und = await eng.services.qualify_underlying("MSFT")
        chain = (await eng.services.option_chain(und))[0]
        refs = await eng.services.expiry_strikes(und, chain.expirations[1], chain.trading_class)
        ref = refs[len(refs) // 4]
        contract = eng.services.option_contract(ref)
        await eng.orders.place(contract, LimitOrder("SELL", 1, 0.01, orderRef="pd-keep-1"))
        held: list[dict[str, object]] = []
        for _ in range(200):
            eng.sim.advance_clock(30)
            await asyncio.sleep(0.01)
            res = await eng.request(GetPositions())
            held = [p for p in res.data["positions"] if p["con_id"] == ref.con_id]
            if held:
                break
        assert held and held[0]["position"] == -1
        synced = await eng.request(ReconcileEod(date=dt.date(2026, 11, 24)))
        assert synced.ok, synced.error
        assert synced.data["rows_new"] == 1 and synced.data["counts"]["fills"] == 1
        # the commission is booked once: by the watcher from IBKR's commission report (it
        # wakes on the fill), else by this Flex sync; never twice
        assert synced.data["commission_booked"] in ("0", "1.02")
        assert eng.store is not None
        ex = await eng.store.fetchall(
            "SELECT commission FROM executions WHERE order_ref='pd-keep-1'"
        )
        assert [r["commission"] for r in ex] == ["1.02"]
    finally:
        await eng.stop()

    again = _engine(SteppedClock(clock.now() + dt.timedelta(minutes=5)))
    await again.start(wait_ready=10)
    try:
        res = await again.request(GetPositions())
        assert [p["position"] for p in res.data["positions"] if p["con_id"] == ref.con_id] == [-1]
    finally:
        await again.stop()


def test_demo_engine_goes_on_from_its_simulators_saved_time() -> None:
    """Without a given clock, the demo engine's clock starts where the saved simulated
    account left off when that is later than the next pre-open (restarting the demo no
    longer sends the simulated day back before its own orders and fills)."""
    import json

    from engine.sim.clock import ScaledClock

    eng = Engine(sim_config(), EngineOptions(serve_socket=False, rng_seed=1))
    far = dt.datetime(2031, 3, 4, 15, 0, tzinfo=dt.UTC)
    state = eng._sim_state_file()
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"sim_time": far.isoformat()}))
    again = Engine(sim_config(), EngineOptions(serve_socket=False, rng_seed=1))
    assert isinstance(again.clock, ScaledClock)
    assert far <= again.now() < far + dt.timedelta(minutes=5)
    assert eng.now() < far
