"""The IBKR session: connect, re-sync, reconnect with backoff, 1100/1101/1102, paper/live guard.

States: DISCONNECTED -> CONNECTING -> SYNCING -> READY; READY -> HALTED (1100, connectivity
lost: no order leaves) -> READY on 1102, or via a resubscribe on 1101; DATA_UNAVAILABLE after
10197 (competing live session) until data flows again or the session restarts. Every change is a
"connection" event on the bus. A (re)connect reports READY only after ib_async's start-up sync
(positions, open and completed orders, account values, executions) finished without a timeout,
the account was confirmed and every registered resubscriber ran: incomplete data fails closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from ib_async import IB

from config.models import IBKRConfig
from engine.broker import errors as E
from engine.broker.errors import BrokerError
from engine.broker.pacing import Pacer
from engine.domain import MarketDataType, Reason
from engine.runtime.bus import EventBus

log = logging.getLogger(__name__)

#: How many other client ids are tried after error 326 before giving up.
MAX_CLIENT_ID_TRIES = 3


class ConnState(StrEnum):
    DISCONNECTED = "DISCONNECTED"
    CONNECTING = "CONNECTING"
    SYNCING = "SYNCING"
    READY = "READY"
    HALTED = "HALTED"
    DATA_UNAVAILABLE = "DATA_UNAVAILABLE"


def backoff_delay(attempt: int, initial: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, never above `cap`."""
    base = min(cap, initial * (2 ** max(0, attempt)))
    return base / 2 + rng.uniform(0, base / 2)


def account_kind(account: str | None, simulated: bool) -> str:
    """'simulated', 'paper' (DU/DF...) or 'live'."""
    if simulated:
        return "simulated"
    if account and account[:2] in {"DU", "DF"}:
        return "paper"
    return "live"


def is_paper_id(account: str | None) -> bool:
    return bool(account) and str(account)[:2] in {"DU", "DF"}


Resubscriber = Callable[[], Awaitable[None]]


class Session:
    """One ib_async connection kept alive for the engine's lifetime."""

    def __init__(
        self,
        cfg: IBKRConfig,
        bus: EventBus,
        pacer: Pacer,
        *,
        live: bool = False,
        simulated: bool = False,
        host: str | None = None,
        port: int | None = None,
        rng: random.Random | None = None,
        ib: IB | None = None,
    ):
        self.cfg = cfg
        self.bus = bus
        self.pacer = pacer
        self.live = live
        self.simulated = simulated
        self.host = host or cfg.host
        self.port = port or cfg.port
        self.ib = ib or IB()
        self.ib.RequestTimeout = cfg.request_timeout_s
        # ib_async resubscribes the account summary itself on 1102 (a duplicate stream): we
        # handle 1102 here instead.
        self.ib.errorEvent -= self.ib._onError
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected
        pacer.attach(self.ib.client)
        self.rng = rng or random.Random()
        self.state = ConnState.DISCONNECTED
        self.reason: Reason | None = Reason("session.not_started", "not connected yet")
        self.account: str | None = None
        self.accounts: list[str] = []
        self.client_id = cfg.client_id
        self.market_data_type = MarketDataType(cfg.market_data_type)
        self.connected_at: dt.datetime | None = None
        self.connects = 0
        self.kill_reason: Reason | None = None
        self._resubscribers: list[tuple[str, Resubscriber]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._disconnected = asyncio.Event()
        self._ready = asyncio.Event()
        self._saw_326 = False
        self._id_tries = 0
        self._bg: set[asyncio.Task[Any]] = set()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._supervise(), name="putdesk-session")

    async def stop(self) -> None:
        self._stopping = True
        self._disconnected.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for t in list(self._bg):
            t.cancel()
        self.ib.disconnect()
        self.pacer.reset()
        self._set_state(ConnState.DISCONNECTED, Reason("session.stopped", "engine stopped"))

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """True once READY (or HALTED/DATA_UNAVAILABLE after having been ready) within timeout."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def add_resubscriber(self, name: str, fn: Resubscriber) -> None:
        """`fn` runs after every (re)connect before READY, and after 1101."""
        self._resubscribers.append((name, fn))

    # -- guards ------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.ib.isConnected()

    @property
    def kind(self) -> str:
        return account_kind(self.account, self.simulated)

    def data_allowed(self) -> tuple[bool, Reason]:
        if self.state in (ConnState.READY,):
            return True, Reason("ok", "market data available")
        return False, self._state_reason()

    def trading_allowed(self) -> tuple[bool, Reason]:
        """Whether an order may leave now, and why (not)."""
        if self.cfg.read_only:
            return False, Reason("guard.read_only", "ibkr.read_only is set: no order is sent")
        if self.kill_reason is not None:
            return False, Reason("guard.halted", f"engine halted: {self.kill_reason.text}")
        if self.state != ConnState.READY:
            return False, self._state_reason()
        if not self.account:
            return False, Reason("guard.no_account", "no account confirmed by IBKR")
        if not is_paper_id(self.account):
            if not self.live:
                return False, Reason(
                    "guard.live_flag",
                    f"{self.account} is a live account: start the engine with --live to trade",
                )
            if self.cfg.account != self.account:
                return False, Reason(
                    "guard.live_account",
                    f"{self.account} is a live account and ibkr.account in the config is "
                    f"{self.cfg.account or 'unset'}: they must match",
                )
        return True, Reason("ok", "trading allowed")

    def _state_reason(self) -> Reason:
        if self.state == ConnState.READY:
            return Reason("ok", "ready")
        text = self.reason.text if self.reason else ""
        code = {
            ConnState.DISCONNECTED: "session.disconnected",
            ConnState.CONNECTING: "session.connecting",
            ConnState.SYNCING: "session.syncing",
            ConnState.HALTED: "session.halted",
            ConnState.DATA_UNAVAILABLE: "session.data_unavailable",
        }[self.state]
        label = {
            ConnState.DISCONNECTED: "not connected to IBKR",
            ConnState.CONNECTING: "connecting to IBKR",
            ConnState.SYNCING: "re-synchronising with IBKR",
            ConnState.HALTED: "IBKR connectivity lost (1100): trading halted",
            ConnState.DATA_UNAVAILABLE: "market data unavailable",
        }[self.state]
        return Reason(code, f"{label}: {text}" if text else label)

    def halt(self, reason: Reason) -> None:
        """Kill switch: no order leaves until `resume()`."""
        self.kill_reason = reason
        self._publish("trading halted: " + reason.text, severity="warning")

    def resume(self) -> None:
        self.kill_reason = None
        self._publish("trading resumed")

    def note_data_ok(self) -> None:
        """Services call this when a quote arrived: clears DATA_UNAVAILABLE."""
        if self.state == ConnState.DATA_UNAVAILABLE and self.connected:
            self._set_state(ConnState.READY, None)

    def note_market_data_type(self, mdt: int) -> None:
        with contextlib.suppress(ValueError):
            self.market_data_type = MarketDataType(mdt)

    def status(self) -> dict[str, Any]:
        allowed, why = self.trading_allowed()
        return {
            "state": self.state.value,
            "reason_code": self.reason.code if self.reason else None,
            "reason": self.reason.text if self.reason else None,
            "account": self.account,
            "accounts": list(self.accounts),
            "account_kind": self.kind if self.account else None,
            "simulated": self.simulated,
            "host": self.host,
            "port": self.port,
            "client_id": self.client_id,
            "server_version": self.ib.client.serverVersion() if self.connected else None,
            # the requested type only means something while data can flow
            "market_data_type": (self.market_data_type.label if self.data_allowed()[0] else "none"),
            "connected_at": self.connected_at.isoformat() if self.connected_at else None,
            "connects": self.connects,
            "trading_allowed": allowed,
            "trading_reason_code": why.code,
            "trading_reason": why.text,
            "live_flag": self.live,
            "read_only": self.cfg.read_only,
        }

    # -- internals ---------------------------------------------------------------------------
    def _publish(self, message: str, *, severity: str = "info", code: str | None = None) -> None:
        self.bus.publish(
            "connection",
            message,
            severity=severity,
            code=code or (self.reason.code if self.reason else None),
            data={
                "state": self.state.value,
                "account": self.account,
                "client_id": self.client_id,
                "market_data_type": self.market_data_type.label,
                "simulated": self.simulated,
            },
        )

    def _set_state(self, state: ConnState, reason: Reason | None) -> None:
        changed = state != self.state or reason != self.reason
        self.state = state
        self.reason = reason
        if state == ConnState.READY:
            self._ready.set()
        elif state in (ConnState.DISCONNECTED, ConnState.CONNECTING, ConnState.SYNCING):
            self._ready.clear()
        if changed:
            sev = (
                "info"
                if state in (ConnState.READY, ConnState.CONNECTING, ConnState.SYNCING)
                else "warning"
            )
            msg = state.value.lower() + (f": {reason.text}" if reason else "")
            log.info("session %s", msg)
            self._publish(msg, severity=sev)

    async def _supervise(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                await self._connect_once()
                attempt = 0
                await self._disconnected.wait()
            except asyncio.CancelledError:
                raise
            except BrokerError as exc:
                self.ib.disconnect()
                self._set_state(ConnState.DISCONNECTED, exc.reason)
            except Exception as exc:
                log.exception("connect failed")
                self.ib.disconnect()
                self._set_state(
                    ConnState.DISCONNECTED,
                    Reason("session.connect_failed", f"{type(exc).__name__}: {exc}"),
                )
            if self._stopping:
                break
            delay = backoff_delay(
                attempt, self.cfg.reconnect_initial_s, self.cfg.reconnect_max_s, self.rng
            )
            attempt += 1
            text = (self.reason.text if self.reason else "disconnected") + (
                f"; retrying in {delay:.1f}s"
            )
            self._set_state(
                ConnState.DISCONNECTED,
                Reason(self.reason.code if self.reason else "session.disconnected", text),
            )
            await asyncio.sleep(delay)

    async def _connect_once(self) -> None:
        self._disconnected.clear()
        self._saw_326 = False
        self.pacer.reset()
        self.ib.wrapper.reset()
        self._set_state(
            ConnState.CONNECTING,
            Reason("session.connecting", f"{self.host}:{self.port} client id {self.client_id}"),
        )
        try:
            await self.ib.connectAsync(
                self.host,
                self.port,
                self.client_id,
                timeout=self.cfg.connect_timeout_s,
                account=self.cfg.account or "",
                raiseSyncErrors=True,
            )
        except (TimeoutError, ConnectionError, OSError) as exc:
            if self._saw_326:
                self._id_tries += 1
                if self._id_tries <= MAX_CLIENT_ID_TRIES:
                    old = self.client_id
                    self.client_id += 1
                    raise BrokerError.of(
                        "ib.326",
                        f"client id {old} is already in use on the gateway; "
                        f"trying client id {self.client_id}",
                    ) from None
                raise BrokerError.of(
                    "ib.326",
                    f"client ids {self.cfg.client_id}..{self.client_id} are all in use: close the "
                    "other API clients or set ibkr.client_id",
                ) from None
            raise BrokerError.of(
                "session.connect_failed",
                f"cannot connect to {self.host}:{self.port}: {type(exc).__name__}: {exc}".rstrip(
                    ": "
                ),
            ) from None
        self._set_state(ConnState.SYNCING, Reason("session.syncing", "account, orders, executions"))
        self.accounts = list(self.ib.client.getAccounts())
        wanted = self.cfg.account
        if wanted and wanted not in self.accounts:
            raise BrokerError.of(
                "session.account_mismatch",
                f"ibkr.account is {wanted} but the gateway manages {', '.join(self.accounts)}",
            )
        if not wanted and len(self.accounts) != 1:
            raise BrokerError.of(
                "session.account_ambiguous",
                f"the gateway manages {', '.join(self.accounts)}: set ibkr.account",
            )
        self.account = wanted or self.accounts[0]
        if not self.simulated and is_paper_id(self.account) != (self.cfg.expected_mode == "paper"):
            self.bus.publish(
                "notice",
                f"connected to {self.account} ({'paper' if is_paper_id(self.account) else 'live'}"
                f") but ibkr.expected_mode is {self.cfg.expected_mode}",
                severity="warning",
                code="session.unexpected_mode",
            )
        if self.bus.account is None:
            self.bus.account = self.account
        if not any(v.account == self.account for v in self.ib.accountValues()):
            raise BrokerError.of(
                "session.sync_incomplete",
                f"no account values for {self.account} after connecting: not trading on "
                "incomplete data",
            )
        self.ib.reqMarketDataType(self.cfg.market_data_type)
        for name, fn in list(self._resubscribers):
            try:
                await asyncio.wait_for(fn(), self.cfg.request_timeout_s)
            except Exception as exc:
                raise BrokerError.of(
                    "session.resubscribe_failed", f"{name}: {type(exc).__name__}: {exc}"
                ) from None
        if not self.ib.isConnected():
            raise BrokerError.of("session.connect_failed", "connection lost while syncing")
        self._id_tries = 0
        self.connects += 1
        self.connected_at = dt.datetime.now(dt.UTC)
        self._set_state(
            ConnState.READY,
            Reason(
                "session.ready",
                f"{self.account} at connect: "
                f"{len(self.ib.positions())} positions, {len(self.ib.openTrades())} open "
                f"orders, {len(self.ib.fills())} executions",
            ),
        )

    def _on_disconnected(self) -> None:
        if self.state != ConnState.DISCONNECTED and not self._stopping:
            self._set_state(
                ConnState.DISCONNECTED, Reason("session.disconnected", "connection to IBKR lost")
            )
        self.pacer.reset()
        self._disconnected.set()

    def _on_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        if code == E.CLIENT_ID_IN_USE:
            self._saw_326 = True
            return
        if code == E.CONNECTIVITY_LOST:
            self._set_state(ConnState.HALTED, E.reason_for_ib_error(code, message))
        elif code == E.RESTORED_DATA_LOST:
            self._spawn(self._resubscribe_all(E.reason_for_ib_error(code, message)))
        elif code == E.RESTORED_DATA_KEPT:
            if self.connected and self.state in (ConnState.HALTED, ConnState.DATA_UNAVAILABLE):
                self._set_state(ConnState.READY, E.reason_for_ib_error(code, message))
        elif code == E.COMPETING_SESSION:
            if self.state in (ConnState.READY,):
                self._set_state(ConnState.DATA_UNAVAILABLE, E.reason_for_ib_error(code, message))
        elif code in E.PACING_CODES:
            self.bus.publish(
                "notice",
                str(E.reason_for_ib_error(code, message)),
                severity="error",
                code=f"ib.{code}",
            )

    async def _resubscribe_all(self, why: Reason) -> None:
        self._set_state(ConnState.SYNCING, why)
        try:
            for _name, fn in list(self._resubscribers):
                await asyncio.wait_for(fn(), self.cfg.request_timeout_s)
        except Exception as exc:
            self._set_state(
                ConnState.HALTED,
                Reason("session.resubscribe_failed", f"{type(exc).__name__}: {exc}"),
            )
            return
        if self.connected:
            self._set_state(ConnState.READY, why)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)
