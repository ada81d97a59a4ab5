"""The composition root: `Engine` builds every part from a PutdeskConfig and owns the lifecycle.

    engine = Engine(cfg, EngineOptions(live=False))
    await engine.start()          # lock, store, bus sink, simulator (if ibkr.simulated),
                                  # session (connects in the background), subsystems
    await engine.request(GetStatus())
    await engine.stop()

Parts (attributes): cfg, options, paths, clock, calendar, bus, pacer, session, services
(MarketServices), regime (RegimeFeed), orders (OrderGateway), registry (CommandRegistry),
store, lock, sim.
Subsystems install themselves: for each area in SUBSYSTEMS, if `engine.<area>.service` exists,
its `install(engine)` is called once the core is built (before the session connects).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import importlib.util
import json
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.models import AutomationLevel, PutdeskConfig
from engine.api.models import Cmd, Event, Result
from engine.broker.orders import OrderGateway
from engine.broker.pacing import Pacer
from engine.broker.regime_feed import RegimeFeed
from engine.broker.services import MarketServices
from engine.broker.session import Session
from engine.domain import Reason
from engine.runtime.bus import EventBus
from engine.runtime.lock import AccountLock
from engine.runtime.paths import EnginePaths, simulated_account
from engine.runtime.registry import CommandRegistry
from engine.store.db import Store

log = logging.getLogger(__name__)

SUBSYSTEMS = ("selection", "execution", "nakedtrader", "records", "scheduler")
HALT_KEY = "halted"


@dataclass
class EngineOptions:
    """How this engine was started (command line), beside the config."""

    live: bool = False
    level: AutomationLevel | None = None
    clock: Any = None  # engine.market.clock.Clock; default from config
    sim_port: int | None = None  # connect to a simulator already listening here
    account: str | None = None
    config_path: Path | None = None
    install_subsystems: bool = True
    serve_socket: bool = True  # listen on the account's local socket while running
    rng_seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Engine:
    """Everything one account's engine is made of."""

    def __init__(self, cfg: PutdeskConfig, options: EngineOptions | None = None):
        self.options = options or EngineOptions()
        self.cfg = cfg.for_account(self.options.account)  # the account's profile, if any
        self.paths = EnginePaths.of(self.cfg, self.options.account)
        self.level = self.options.level or self.cfg.automation_level
        self.simulated = self.cfg.ibkr.simulated
        self.clock: Any = self.options.clock or self._default_clock()
        self.calendar: Any = self._make_calendar()
        self.bus = EventBus(account=self.cfg.ibkr.account, clock=self.now)
        self.pacer = Pacer(self.cfg.ibkr.max_messages_per_s, self.cfg.ibkr.market_data_lines)
        self.session = Session(
            self.cfg.ibkr,
            self.bus,
            self.pacer,
            live=self.options.live,
            simulated=self.simulated,
            port=self.options.sim_port,
            host="127.0.0.1" if self.simulated else None,
            rng=random.Random(self.options.rng_seed),
        )
        self.services = MarketServices(
            self.session,
            sector_overrides=self.cfg.selection.sector_overrides,
            now=self.now,
        )
        self.regime = RegimeFeed(self.services, self.now)
        self.orders = OrderGateway(self.session, self.bus)
        self.registry = CommandRegistry()
        self.lock = AccountLock(self.paths.state, self.paths.key)
        self.store: Store | None = None
        self.sim: Any = None
        self.started_at: dt.datetime | None = None
        self.installed: list[str] = []
        self.install_errors: dict[str, str] = {}
        self.socket_server: Any = None
        self._event_queue: asyncio.Queue[Event | None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.on_stop: list[Any] = []
        self._status_snapshot: Any = None
        from engine.runtime.core_commands import install_core

        install_core(self)
        if self.options.install_subsystems:
            self._install_subsystems()

    # -- construction helpers ----------------------------------------------------------------
    def now(self) -> dt.datetime:
        t: dt.datetime = self.clock.now()
        return t

    def _default_clock(self) -> Any:
        """Real time against IBKR. The embedded simulator's demo clock starts
        `sim.minutes_before_open` before the next NYSE open (or now, while the market is
        open, or with `sim.start: now`) and runs at `sim.speed`; never before the simulated
        time its saved state reached (`engine.sim.clock.demo_start`)."""
        from engine.market.clock import RealClock

        if not self.simulated or self.options.sim_port is not None:
            return RealClock()
        from engine.sim.clock import demo_clock

        sim = self.cfg.sim
        return demo_clock(sim.start, sim.minutes_before_open, sim.speed, self._sim_state_file())

    def _sim_account(self) -> str:
        return simulated_account(self.cfg)

    def _sim_state_file(self) -> Path:
        return self.paths.state / f"sim-{self._sim_account()}.json"

    def _make_calendar(self) -> Any:
        from engine.market.calendar import MarketCalendar

        return MarketCalendar()

    def _install_subsystems(self) -> None:
        for area in SUBSYSTEMS:
            name = f"engine.{area}.service"
            try:
                spec = importlib.util.find_spec(name)
            except ModuleNotFoundError:
                spec = None
            if spec is None:
                continue
            try:
                mod = importlib.import_module(name)
                install = getattr(mod, "install", None)
                if install is None:
                    continue
                install(self)
                self.installed.append(area)
            except Exception as exc:
                log.exception("installing %s failed", name)
                self.install_errors[area] = f"{type(exc).__name__}: {exc}"

    @property
    def account(self) -> str | None:
        return self.session.account or self.cfg.ibkr.account

    @property
    def halted(self) -> Reason | None:
        return self.session.kill_reason

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, *, wait_ready: float | None = None) -> None:
        """Take the account lock, open the store, start the simulator (if configured) and the
        session. With `wait_ready`, wait up to that long for READY (no error if not)."""
        self.lock.acquire({"socket": str(self.paths.socket), "key": self.paths.key})
        try:
            self.store = await Store.open(self.paths.database)
            self._event_queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_events(), name="putdesk-events")
            self.bus.add_sink(self._queue_event)
            await self._restore_halt()
            if self.options.serve_socket:
                from engine.api.socket_server import SocketServer

                server = SocketServer(self.paths.socket, self.registry, self.bus)
                await server.start()
                self.socket_server = server
            if self.simulated and self.options.sim_port is None:
                await self._start_sim()
            self.started_at = dt.datetime.now(dt.UTC)
            self.bus.publish(
                "engine.state",
                f"engine starting for {self.paths.key} (level {self.level.value}, "
                f"{'SIMULATED' if self.simulated else 'IBKR ' + self.session.host})",
                data={"state": "starting", "level": self.level.value, "live": self.options.live},
            )
            await self.session.start()
            if wait_ready:
                await self.session.wait_ready(wait_ready)
        except BaseException:  # failed or cancelled half-way: nothing may go on running
            with contextlib.suppress(Exception):
                await self.session.stop()
            await self._teardown()
            raise

    async def _start_sim(self) -> None:
        from engine.sim.server import SimGateway  # type: ignore[import-not-found,unused-ignore]

        self.sim = SimGateway(
            seed=self.cfg.sim.seed,
            clock=self.clock,
            account_id=self._sim_account(),
            port=self.cfg.sim.port,
            state_file=self._sim_state_file(),
        )
        await self.sim.start()
        self.session.port = int(self.sim.port)
        # The simulated account's Flex Web Service, so the nightly sync and reconcile-eod work
        # in the demo too (records.service finds it as engine.sim.flex).
        from engine.sim.flex_service import FlexService

        flex = FlexService(self.sim.book, port=self.cfg.sim.flex_port)
        await flex.start()
        self.sim.flex = flex

    async def stop(self) -> None:
        if self._stopped.is_set():
            return
        self.bus.publish("engine.state", "engine stopping", data={"state": "stopping"})
        for cb in list(self.on_stop):
            with contextlib.suppress(Exception):
                res = cb()
                if asyncio.iscoroutine(res):
                    await res
        await self.session.stop()
        await self._teardown()

    async def _teardown(self) -> None:
        """Stop what runs, then close the store and give up the lock. The last two happen
        even when the teardown itself is cancelled (a console closing while this engine was
        still starting): an open store keeps its database thread, and with it the whole
        process, alive."""
        try:
            if self.socket_server is not None:
                with contextlib.suppress(Exception):
                    await self.socket_server.close()
                self.socket_server = None
            if self.sim is not None:
                flex = getattr(self.sim, "flex", None)
                if flex is not None:
                    with contextlib.suppress(Exception):
                        await flex.stop()
                with contextlib.suppress(Exception):
                    await self.sim.stop()
                self.sim = None
            if self._event_queue is not None and self._writer is not None:
                self._event_queue.put_nowait(None)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._writer, 5)
                self._writer = None
        finally:
            if self._writer is not None:
                self._writer.cancel()
                self._writer = None
            store, self.store = self.store, None
            try:
                if store is not None:
                    await store.close()
            finally:
                self.lock.release()
                self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def request(self, cmd: Cmd) -> Result:
        return await self.registry.dispatch(cmd)

    # -- events into the store ---------------------------------------------------------------
    def _queue_event(self, event: Event) -> None:
        if self._event_queue is not None:
            self._event_queue.put_nowait(event)

    async def _write_events(self) -> None:
        assert self._event_queue is not None
        while True:
            ev = await self._event_queue.get()
            if ev is None or self.store is None:
                self._event_queue.task_done()
                return
            try:
                await self.store.log_event(
                    ev.kind,
                    ev.message,
                    severity=ev.severity,
                    code=ev.code,
                    account_id=ev.account or self.account,
                    data=ev.data or None,
                    ts=ev.ts.isoformat(timespec="microseconds"),
                )
            except Exception:
                log.exception("could not store event")
            finally:
                self._event_queue.task_done()

    async def flush_events(self, timeout: float = 5.0) -> None:
        """Wait until every event published so far is in the store."""
        if self._event_queue is not None and self._writer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event_queue.join(), timeout)

    # -- kill switch persistence ---------------------------------------------------------------
    async def _restore_halt(self) -> None:
        assert self.store is not None
        raw = await self.store.get_state(self.paths.key, HALT_KEY)
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                data = {}
            if data.get("halted"):
                self.session.kill_reason = Reason(
                    data.get("code", "engine.killed"), data.get("text", "halted")
                )

    async def persist_halt(self, reason: Reason | None) -> None:
        assert self.store is not None
        value = (
            {
                "halted": True,
                "code": reason.code,
                "text": reason.text,
                "at": self.now().isoformat(),  # the engine's clock, as every event
            }
            if reason
            else {"halted": False}
        )
        await self.store.set_state(self.paths.key, HALT_KEY, json.dumps(value))

    def info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "account_key": self.paths.key,
            "level": self.level.value,
            "live_flag": self.options.live,
            "simulated": self.simulated,
            "label": "SIMULATED"
            if self.simulated
            else (self.session.kind.upper() if self.session.account else ""),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "now": self.now().isoformat(),
            "database": str(self.paths.database),
            "socket": str(self.paths.socket),
            "installed": list(self.installed),
            "install_errors": dict(self.install_errors),
            "commands": self.registry.commands,
        }
