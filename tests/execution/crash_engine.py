"""The engine process of the crash tests: `python -m tests.execution.crash_engine MODE SIM_PORT
CONTROL_PORT` with PUTDESK_STATE_DIR set. MODE `setup` stages one approved lineup entry on a
real simulated option (when none is staged); MODE `run` also runs two-tier execution
(PUTDESK_CRASH_AT may kill it).

Time follows the simulator's stepped clock: every wait asks the simulator's control port to
advance its clock and sets this process's clock to the answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from decimal import Decimal
from typing import Any

from config.models import PutdeskConfig
from engine.execution.service import install
from engine.market.clock import SteppedClock
from engine.runtime.engine import Engine, EngineOptions
from engine.sim.control import send_command

SYMBOL = "AAPL"


def sim_now(ctrl: int, seconds: float = 0.0) -> dt.datetime:
    reply = send_command(ctrl, "advance", seconds=seconds)
    return dt.datetime.fromisoformat(reply["result"]["now"])


def config() -> PutdeskConfig:
    return PutdeskConfig.model_validate(
        {
            "ibkr": {
                "simulated": True,
                "reconnect_initial_s": 0.05,
                "reconnect_max_s": 0.4,
                "connect_timeout_s": 5,
                "request_timeout_s": 8,
            },
            "selection": {"min_premium": "0.10", "min_otm_pct": 8.0, "max_spread_pct": 150.0},
            "execution": {
                "tier1_price": "ask_minus_tick",
                "tier2_wait_s": 30,
                "tier2_step": 1.0,
                "after_tier2": "cancel",
                "partial_fill": "complete",
                "take_profit_pct": 50.0,
                "stop_multiple": 3.0,
                "min_liquidity_oi": 0,
            },
        }
    )


async def setup(eng: Engine) -> dict[str, Any]:
    ms = eng.services
    und = await ms.qualify_underlying(SYMBOL)
    uq = await ms.underlying_quote(und)
    price = uq.last or uq.mid or 0.0
    chains = await ms.option_chain(und)
    chain = next(c for c in chains if c.trading_class == SYMBOL)
    for expiry in chain.expirations[2:]:
        opts = await ms.expiry_strikes(und, expiry, chain.trading_class, "P")
        near = [o for o in opts if 0.85 * price <= o.strike <= 0.90 * price]
        quotes = await ms.option_quotes(near)
        ok = [
            o
            for o in sorted(near, key=lambda o: -o.strike)
            if (q := quotes.get(o.con_id)) and q.bid and q.bid >= 0.30 and q.ask
        ]
        if ok:
            o = ok[0]
            q = quotes[o.con_id]
            assert eng.store is not None
            now = eng.now().isoformat()
            lid = await eng.store.insert(
                "lineup",
                {
                    "account_id": eng.session.account,
                    "symbol": SYMBOL,
                    "sector": "Tech",
                    "con_id": o.con_id,
                    "expiry": expiry,
                    "strike": format(Decimal(str(o.strike)), "f"),
                    "right": "P",
                    "quantity": 3,
                    "limit_price": str(q.bid),
                    "premium": str(q.bid),
                    "otm_pct": (price - o.strike) / price * 100,
                    "status": "approved",
                    "stale": 0,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            return {"lineup_id": lid, "con_id": o.con_id, "strike": o.strike, "expiry": expiry}
    raise SystemExit("no suitable option in the simulated chain")


async def main(mode: str, sim_port: int, ctrl: int) -> int:
    clock = SteppedClock(await asyncio.to_thread(sim_now, ctrl))
    eng = Engine(
        config(),
        EngineOptions(
            sim_port=sim_port, install_subsystems=False, serve_socket=False, clock=clock, rng_seed=1
        ),
    )
    svc = install(eng)
    await eng.start(wait_ready=15)
    try:
        assert eng.store is not None
        if await eng.store.fetchone("SELECT id FROM lineup") is None:
            print(json.dumps(await setup(eng)))
        if mode == "setup":
            return 0

        async def sleep(seconds: float) -> None:
            clock.set(await asyncio.to_thread(sim_now, ctrl, seconds))
            await asyncio.sleep(0.05)  # let the gateway's messages arrive

        wf = svc.workflow(sleep=sleep, poll_s=5.0, cancel_timeout_s=20.0)
        et_open = dt.datetime.combine(clock.now().date(), dt.time(14, 30), dt.UTC)
        summary = await wf.run(open_at=et_open)
        await sleep(0)
        await wf.sync()
        print(json.dumps(summary.as_dict(), default=str))
        return 0 if summary.ok else 3
    finally:
        await eng.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
