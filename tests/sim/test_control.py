"""The control channel (JSON lines on 127.0.0.1) and the `putdesk sim` command."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ib_async import Stock

from engine.sim.control import ControlServer, send_command
from engine.sim.testing import connected_ib, running_sim
from tests.sim.fakes import FakeMarket

REPO = Path(__file__).resolve().parents[2]


async def _until(cond, timeout: float = 3.0) -> bool:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if cond():
            return True
        await asyncio.sleep(0.02)
    return bool(cond())


async def test_control_commands_reach_the_gateway() -> None:
    fake = FakeMarket()
    async with running_sim(market=fake, tick_interval=0.02) as gw, connected_ib(gw) as ib:
        control = ControlServer(gw)
        await control.start()
        try:
            errors: list[int] = []
            ib.errorEvent += lambda rid, code, msg, c: errors.append(code)

            async def cmd(action: str, **kw: object) -> dict:  # type: ignore[type-arg]
                return await asyncio.to_thread(send_command, control.port, action, **kw)

            stats = await cmd("stats")
            assert stats["ok"] and stats["result"]["clients"] == [1]
            assert (await cmd("connectivity", code=1101))["ok"]
            assert await _until(lambda: 1101 in errors)
            assert (await cmd("set_price", symbol="AAPL", price=250.0))["ok"]
            assert fake.price("AAPL") == 250.0
            assert (await cmd("gap", symbol="AAPL", pct=-0.1))["ok"]
            assert round(fake.price("AAPL"), 2) == 225.0
            adv = await cmd("advance", seconds=60)
            assert adv["ok"] and adv["result"]["now"].startswith("2026-11-24T15:01")
            greeks = await cmd("greeks", withhold=True)
            assert greeks["result"]["withhold"] is True
            bad = await cmd("nonsense")
            assert not bad["ok"] and "unknown action" in bad["error"]
            assert (await cmd("drop"))["result"]["dropped"] == 1
            assert await _until(lambda: not ib.isConnected())
        finally:
            await control.stop()


async def test_withheld_then_released_greeks() -> None:
    async with running_sim(tick_interval=0.02) as gw, connected_ib(gw) as ib:
        from ib_async import Option

        gw.set_greeks(withhold=True)
        [und] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
        chains = await ib.reqSecDefOptParamsAsync("SPY", "", "STK", und.conId)
        ch = chains[0]
        details = await ib.reqContractDetailsAsync(
            Option("SPY", ch.expirations[0], 0, "P", "SMART", tradingClass=ch.tradingClass)
        )
        t = ib.reqMktData(details[len(details) // 2].contract)
        assert await _until(lambda: t.bid == t.bid)
        await asyncio.sleep(0.2)
        assert t.modelGreeks is None
        gw.set_greeks(withhold=False)
        assert await _until(lambda: t.modelGreeks is not None)


def test_putdesk_sim_cli_runs_reports_and_saves_state(tmp_path: Path) -> None:
    state = tmp_path / "book.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.cli.main",
            "sim",
            "--port",
            "0",
            "--json",
            "--state",
            str(state),
            "--start",
            "now",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["port"] > 0 and info["account"] == "DU1234567"
        out = subprocess.run(
            [sys.executable, "-m", "engine.cli.main", "sim", "stats", "--json"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["data"]["port"] == info["port"]
        ctl = subprocess.run(
            [
                sys.executable,
                "-m",
                "engine.cli.main",
                "sim",
                "control",
                "connectivity",
                "code=1102",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert ctl.returncode == 0 and json.loads(ctl.stdout)["ok"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0
    assert json.loads(state.read_text())["account_id"] == "DU1234567"
