"""Wires execution into the engine: `install(engine)` registers ExecuteNow and
ReconcilePositions, runs recovery on every (re)connect before the session reports READY (so
nothing is sent before IBKR and the database agree), and follows fills through the day (at
once on IBKR's order reports, else every WATCH_EVERY_S).

Kill / Resume / GetOrders / GetPositions belong to engine.runtime.core_commands; they are only
registered here when the core has not.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from engine.api.models import (
    ExecuteNow,
    Kill,
    ProtectPositions,
    ReconcilePositions,
    Result,
    Resume,
)
from engine.execution import killswitch
from engine.execution.ibport import IbOrderPort
from engine.execution.reconcile_positions import reconcile_positions
from engine.execution.records import Recorder
from engine.execution.workflow import TwoTierWorkflow
from engine.market.calendar import to_et
from engine.runtime.order_activity import OrderActivity

log = logging.getLogger(__name__)
WATCH_EVERY_S = 5.0


class ExecutionService:
    """Execution's handle inside one Engine."""

    def __init__(self, engine: Any):
        self.engine = engine
        #: What holds the execution slot now (a manual ExecuteNow or a scheduled Stage 2 /
        #: tier job), or None: two of them never send for the same lineup at once.
        self.busy: str | None = None
        self.watch_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        #: wakes the watcher on IBKR order activity; WATCH_EVERY_S stays the fallback poll
        self.activity = OrderActivity(engine.bus)

    @property
    def account_id(self) -> str:
        return str(self.engine.session.account or self.engine.account or "")

    def port(self) -> IbOrderPort:
        e = self.engine
        return IbOrderPort(e.session.ib, gateway=e.orders, account=e.session.account)

    def recorder(self) -> Recorder:
        return Recorder(
            self.engine.store, self.account_id, self.engine.bus.emit, store_events=False
        )

    def workflow(self, *, live_confirmed: bool = False, **kw: Any) -> TwoTierWorkflow:
        e = self.engine
        selection = getattr(e, "selection", None)
        feed = getattr(e, "regime", None)
        kw.setdefault("regime_check", selection.regime_block if selection is not None else None)
        kw.setdefault("regime_label", feed.label_today if feed is not None else None)
        return TwoTierWorkflow(
            store=e.store,
            account_id=self.account_id,
            port=self.port(),
            market=e.services,
            clock=e.clock,
            config=e.cfg,
            publish=e.bus.emit,
            trading_allowed=e.session.trading_allowed,
            live_confirmed=live_confirmed or bool(e.options.live),
            store_events=False,
            halt_key=e.paths.key,
            **kw,
        )

    async def recover(self) -> None:
        """Session resubscriber: reconcile intents, orders and fills before READY."""
        if self.engine.store is None:
            return
        async with self._lock:
            wf = self.workflow()
            await wf.recovery.run(wf.now())
        if self.watch_task is None or self.watch_task.done():
            self.watch_task = asyncio.create_task(self._watch(), name="putdesk-watcher")

    async def _watch(self) -> None:
        while True:
            await self.activity.wait(WATCH_EVERY_S)
            if not self.engine.session.connected or self.engine.store is None:
                continue
            try:
                async with self._lock:
                    await self.workflow().sync()
            except Exception:
                log.exception("watcher sync failed")

    def claim(self, what: str) -> str | None:
        """Take the execution slot for `what`; when it is taken, the holder's name instead.
        No await between the check and the claim, so it is atomic on the event loop."""
        if self.busy is not None:
            return self.busy
        self.busy = what
        return None

    def release(self, what: str) -> None:
        if self.busy == what:
            self.busy = None

    @contextlib.asynccontextmanager
    async def slot(self, what: str) -> AsyncIterator[str | None]:
        """`async with svc.slot("tier 1") as holder:` holder is None when the slot is ours,
        else the name of what runs (and nothing may be sent)."""
        holder = self.claim(what)
        try:
            yield holder
        finally:
            if holder is None:
                self.release(what)

    async def execute(self, cmd: ExecuteNow) -> Result:
        async def run(wf: TwoTierWorkflow) -> Result:
            summary = await wf.run(open_at=self.open_today())
            if not summary.ok:
                return Result.refused(summary.reason.text, code=summary.reason.code)
            return Result.success(**summary.as_dict())

        return await self._guarded("manual execution", cmd.live_confirmed, run)

    async def protect(self, cmd: ProtectPositions) -> Result:
        """Exits for open trades left without any (after a kill and a resume, or cancelled
        in TWS); the same guards as execution (halt, connection, live confirmation)."""

        async def run(wf: TwoTierWorkflow) -> Result:
            return Result.success(**(await wf.protect_open()).as_dict())

        return await self._guarded("protecting positions", cmd.live_confirmed, run)

    async def _guarded(
        self,
        what: str,
        live_confirmed: bool,
        run: Callable[[TwoTierWorkflow], Awaitable[Result]],
    ) -> Result:
        """`run` a workflow in the execution slot, behind the workflow's guard (halt,
        connection, live confirmation); refused with the reason otherwise."""
        async with self.slot(what) as holder:
            if holder is not None:
                return Result.refused(
                    f"execution already running ({holder}); try again when it has finished",
                    code="execution.running",
                )
            wf = self.workflow(live_confirmed=live_confirmed)
            why = await wf.guard()
            if why is not None:
                return Result.refused(why.text, code=why.code)
            return await run(wf)

    def open_today(self) -> dt.datetime | None:
        """Today's open when it is still ahead (tier 1 waits for it), else None (send now)."""
        now = self.engine.now()
        cal = self.engine.calendar
        try:
            day = to_et(now).date()
            if not cal.is_session(day):
                return None
            opens: dt.datetime = cal.session_open(day)
        except Exception:  # outside the calendar's range: no wait
            return None
        return opens if now < opens else None

    async def reconcile(self, _cmd: ReconcilePositions) -> Result:
        port = self.port()
        if not port.connected():
            return Result.refused("not connected to IBKR", code="ibkr.disconnected")
        report = await reconcile_positions(
            self.engine.store,
            self.account_id,
            await port.positions(),
            self.recorder(),
            self.engine.now(),
        )
        return Result.success(**report.as_dict())

    async def kill(self, cmd: Kill) -> Result:
        _, reason = await killswitch.kill(
            self.port(),
            self.engine.store,
            self.engine.paths.key,
            self.recorder(),
            self.engine.now(),
            cmd.reason,
        )
        return Result.success(halted=True, reason=reason.text)

    async def resume(self, _cmd: Resume) -> Result:
        reason = await killswitch.resume(
            self.engine.store, self.engine.paths.key, self.recorder(), self.engine.now()
        )
        return Result.success(halted=False, reason=reason.text)

    async def stop(self) -> None:
        if self.watch_task is not None:
            self.watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.watch_task


def install(engine: Any) -> ExecutionService:
    svc = ExecutionService(engine)
    reg = engine.registry
    reg.register(ExecuteNow, svc.execute)
    reg.register(ReconcilePositions, svc.reconcile)
    reg.register(ProtectPositions, svc.protect)
    if not reg.handles(Kill):
        reg.register(Kill, svc.kill)
    if not reg.handles(Resume):
        reg.register(Resume, svc.resume)
    engine.session.add_resubscriber("execution.recovery", svc.recover)
    engine.on_stop.append(svc.stop)
    engine.execution = svc
    return svc
