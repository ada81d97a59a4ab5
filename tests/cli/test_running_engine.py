"""With an engine already running for the account, commands talk to it over its local socket
(and never stop it); `events --follow` streams until that engine goes away."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from config.loader import load_config
from engine.api.models import Event
from engine.runtime.engine import Engine, EngineOptions
from tests.cli.conftest import Run, doc_of


class BackgroundEngine:
    """An Engine on its own event loop in a thread (the test's `putdesk` calls use asyncio.run
    in the main thread)."""

    def __init__(self, config: Path):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.engine = Engine(load_config(config), EngineOptions(config_path=config))

    def call(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def __enter__(self) -> BackgroundEngine:
        self.thread.start()
        self.call(self.engine.start(wait_ready=20)).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.engine.stop()).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def engine(config_file: Path) -> Iterator[BackgroundEngine]:
    with BackgroundEngine(config_file) as bg:
        yield bg


def test_commands_use_the_running_engine(run: Run, engine: BackgroundEngine) -> None:
    code, out, _ = run("status", "--json")
    doc = doc_of(out)
    assert code == 0
    assert doc["data"]["engine"]["started_at"] == engine.engine.started_at.isoformat()  # type: ignore[union-attr]
    code, out, _ = run("kill", "--json", "--reason", "socket kill")
    assert code == 0 and doc_of(out)["data"]["halted"] is True
    assert engine.engine.halted is not None and engine.engine.halted.text == "socket kill"
    code, _, err = run("execute-two-tier")
    assert code == 3 and "socket kill" in err
    code, out, _ = run("resume")
    assert code == 0 and engine.engine.halted is None
    assert engine.thread.is_alive() and engine.engine.started_at is not None


def test_sim_stats_reach_the_simulator_embedded_in_the_running_engine(
    run: Run, engine: BackgroundEngine
) -> None:
    """No standalone `putdesk sim` runs: `sim stats` asks the engine (a console's or `putdesk
    engine`'s) for its embedded simulator's counters, which match the simulator's own."""
    code, out, _ = run("positions", "--json")  # traffic through the running engine
    assert code == 0
    code, out, _ = run("sim", "stats", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["ok"] and doc["command"] == "sim stats"
    data = doc["data"]
    sim = engine.engine.sim
    assert data["port"] == sim.port and data["account"] == sim.account_id
    assert 0 < data["messages_received"] <= sim.stats()["messages_received"]
    assert {"peak_msgs_per_sec", "peak_market_data_lines", "errors_by_code", "fills"} <= set(data)
    code, out, _ = run("sim", "stats")
    assert code == 0 and "messages_received" in out


def test_events_follow_streams_until_the_engine_stops(run: Run, config_file: Path) -> None:
    bg = BackgroundEngine(config_file)
    bg.__enter__()
    eng = bg.engine

    async def publish_then_stop() -> None:
        base = len(eng.bus._subs)
        for _ in range(1000):  # wait for the follower's subscription
            if len(eng.bus._subs) > base:
                break
            await asyncio.sleep(0.02)
        eng.bus.publish("notice", "hello follower", code="test.follow")
        await asyncio.sleep(0.1)
        await eng.stop()

    stopper = bg.call(publish_then_stop())
    try:
        code, out, _ = run("events", "--follow", "--json", "--limit", "3")
    finally:
        stopper.result(30)
        bg.loop.call_soon_threadsafe(bg.loop.stop)
        bg.thread.join(10)
        bg.loop.close()
    assert code == 0
    lines = [json.loads(x) for x in out.splitlines()]
    assert all(x["schema_version"] == 1 for x in lines)
    streamed = [
        Event.model_validate({k: v for k, v in x.items() if k != "schema_version"})
        for x in lines[-5:]
    ]
    assert any(e.code == "test.follow" and e.message == "hello follower" for e in streamed)
