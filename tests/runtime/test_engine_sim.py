"""The Engine as a whole: lock, socket API, kill persistence, settings, in-process fallback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from engine.api.client import NoEngine, connect_api
from engine.api.inprocess import InProcessAPI
from engine.api.models import GetEvents, GetSettings, GetStatus, Kill, Resume, SaveSettings
from engine.api.socket_client import SocketClient
from engine.runtime.engine import Engine, EngineOptions
from engine.runtime.lock import AccountLocked
from engine.sim.testing import running_sim
from tests.broker.conftest import sim_config


def _engine(gw: object, **opts: object) -> Engine:
    return Engine(
        sim_config(),
        EngineOptions(sim_port=gw.port, install_subsystems=False, **opts),  # type: ignore[attr-defined,arg-type]
    )


async def test_second_engine_for_the_account_is_refused() -> None:
    async with running_sim() as gw:
        first = _engine(gw)
        await first.start(wait_ready=10)
        try:
            second = _engine(gw)
            with pytest.raises(AccountLocked) as exc:
                await second.start()
            assert "already running" in exc.value.reason.text
            assert first.session.connects == 1 and gw.stats()["clients"] == [17]
        finally:
            await first.stop()


async def test_socket_client_gets_status_events_and_kill_persists(tmp_path: Path) -> None:
    cfg = sim_config()
    async with running_sim() as gw:
        eng = _engine(gw)
        await eng.start(wait_ready=10)
        try:
            api = await connect_api(cfg=cfg)
            assert isinstance(api, SocketClient)
            events = api.events()
            nxt = asyncio.ensure_future(events.__anext__())
            await asyncio.sleep(0.05)
            st = await api.request(GetStatus())
            assert st.ok
            assert st.data["connection"]["state"] == "READY"
            assert st.data["connection"]["account"] == "DU1234567"
            assert st.data["engine"]["label"] == "SIMULATED"
            assert st.data["budget"]["available"] and st.data["budget"]["budget"] == "200000.00"
            killed = await api.request(Kill(reason="operator test"))
            assert killed.ok and killed.data["halted"] is True
            ev = await asyncio.wait_for(nxt, 5)
            while ev.code != "engine.killed":
                ev = await asyncio.wait_for(events.__anext__(), 5)
            assert ev.kind == "engine.state" and ev.data["cancelled"] == 0
            got = await api.request(GetEvents(limit=200))
            assert any(e["code"] == "engine.killed" for e in got.data["events"])
            await api.close()
        finally:
            await eng.stop()
        eng2 = _engine(gw)
        await eng2.start(wait_ready=10)
        try:
            assert eng2.halted is not None and eng2.halted.text == "operator test"
            assert not eng2.session.trading_allowed()[0]
            r = await eng2.request(Resume())
            assert r.ok and r.data["trading_allowed"]
        finally:
            await eng2.stop()


async def test_save_settings_validates_writes_and_snapshots(tmp_path: Path) -> None:
    path = tmp_path / "putdesk.yaml"
    path.write_text("budget:\n  margin_pct_of_nlv: 20\n")
    async with running_sim() as gw:
        eng = _engine(gw, config_path=path)
        await eng.start(wait_ready=10)
        try:
            bad = await eng.request(SaveSettings(changes={"selection": {"delta_min": 0.5}}))
            assert not bad.ok and bad.reason_code == "settings.invalid"
            assert "delta" in (bad.error or "")
            assert path.read_text() == "budget:\n  margin_pct_of_nlv: 20\n"  # untouched
            ok = await eng.request(SaveSettings(changes={"budget": {"margin_pct_of_nlv": 15}}))
            assert ok.ok and ok.data["restart_required"] is False
            saved = yaml.safe_load(path.read_text())
            assert saved["budget"]["margin_pct_of_nlv"] == 15
            # only the change joins what the file held: the engine's in-memory settings (here
            # the test's simulated gateway, as with `--demo` or PUTDESK_ overrides) stay out
            assert saved == {"budget": {"margin_pct_of_nlv": 15}}
            assert eng.cfg.budget.margin_pct_of_nlv == 15
            assert eng.cfg.ibkr.simulated is True  # still applied in memory
            assert eng.store is not None
            rows = await eng.store.fetchall("SELECT id FROM config_snapshots")
            assert [r["id"] for r in rows] == [ok.data["snapshot_id"]]
            got = await eng.request(GetSettings())
            assert got.data["settings"]["budget"]["margin_pct_of_nlv"] == 15
        finally:
            await eng.stop()


def test_first_save_starts_from_the_shipped_defaults(tmp_path: Path) -> None:
    """No settings file yet: the change is merged into the shipped putdesk.yaml (its
    watchlist and schedule kept), not written alone or over the effective config."""
    from config.loader import SHIPPED_CONFIG
    from engine.runtime.core_commands import _file_settings

    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text())
    assert _file_settings(tmp_path / "missing.yaml") == shipped
    own = tmp_path / "own.yaml"
    own.write_text("automation_level: A\n")
    assert _file_settings(own) == {"automation_level": "A"}


async def test_connect_api_without_engine_starts_one_in_process() -> None:
    cfg = sim_config()
    with pytest.raises(NoEngine):
        await connect_api(cfg=cfg, start=False)
    api = await connect_api(cfg=cfg, wait_ready=15)
    try:
        assert isinstance(api, InProcessAPI)
        events = api.events()
        await api.request(Kill(reason="in-process kill"))
        ev = await asyncio.wait_for(events.__anext__(), 5)
        while ev.code != "engine.killed":
            ev = await asyncio.wait_for(events.__anext__(), 5)
        assert "in-process kill" in ev.message
        st = await api.request(GetStatus())
        assert st.data["connection"]["state"] == "READY"
        assert st.data["engine"]["simulated"] is True
        # while it runs, a second client attaches to it over the socket
        other = await connect_api(cfg=cfg)
        assert isinstance(other, SocketClient)
        assert (await other.request(GetStatus())).ok
        await other.close()
    finally:
        await api.close()


async def test_a_cancelled_stop_still_closes_the_store_and_releases_the_lock() -> None:
    """A console closing while its engine is still starting or stopping cancels the
    teardown: the store must close anyway (its database thread would keep the process
    alive after its terminal went away) and the account lock must be free."""
    async with running_sim() as gw:
        eng = _engine(gw)
        await eng.start(wait_ready=10)
        store = eng.store
        assert store is not None
        real_server = eng.socket_server
        gate = asyncio.Event()

        class StuckServer:
            async def close(self) -> None:
                await gate.wait()

        eng.socket_server = StuckServer()  # type: ignore[assignment]
        stopping = asyncio.ensure_future(eng.stop())
        await asyncio.sleep(0.2)
        assert not stopping.done()
        stopping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stopping
        if real_server is not None:
            await real_server.close()
        store.conn._thread.join(5)
        assert not store.conn._thread.is_alive(), "the database thread outlived the engine"
        assert eng.store is None and not eng.lock.held
        again = _engine(gw)  # the account is free for the next engine
        await again.start(wait_ready=10)
        await again.stop()


async def test_status_reads_the_clock_after_its_slow_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The console extrapolates the simulated time from the status's `engine.now`: a stamp
    taken before the budget's IBKR answer would lag by that wait times the speed."""
    import datetime as dt

    from engine.market.clock import SteppedClock
    from engine.runtime import core_commands

    clock = SteppedClock(dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC))
    real_budget = core_commands._budget

    async def slow_budget(engine: Engine) -> object:
        out = await real_budget(engine)
        clock.advance(dt.timedelta(seconds=20))  # 1 s of IBKR wait at 20x
        return out

    monkeypatch.setattr(core_commands, "_budget", slow_budget)
    async with running_sim() as gw:
        eng = _engine(gw)
        await eng.start(wait_ready=10)
        try:
            eng.clock = clock
            st = await eng.request(GetStatus())
            assert st.ok
            assert st.data["engine"]["now"] == "2026-11-25T15:00:20+00:00"
        finally:
            await eng.stop()
