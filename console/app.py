"""The putdesk console App: owns the console state, talks to the engine only via EngineAPI.

Workers (`@work`) only call the API and post messages (console.messages); the `@on`
handlers here own the state and hand it to the main screen, which renders visible panes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import os
import signal
import sys
import termios
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import BindingType
from textual.notifications import SeverityLevel
from textual.timer import Timer
from textual.widgets import Collapsible
from textual.worker import Worker, WorkerState

from config.models import PutdeskConfig
from console import messages as m
from console.commands import PutdeskCommands
from console.confirm_text import execute_text, kill_text, nt_text, protect_text
from console.engine_link import AccountLink, ApiFactory, EngineAPI, close_api
from console.keymap import APP_BINDINGS, validate_keymap
from console.screens.accounts import AccountChoice, AccountPicker
from console.screens.confirm import ConfirmScreen
from console.screens.help import HelpScreen
from console.screens.main import MainScreen
from console.shapes import (
    candidate_view,
    command_summary,
    lineup_view,
    orders_view,
    positions_view,
    scan_view,
    status_view,
)
from console.themes import CSS_FILE, DEFAULT_THEME, DOMAIN_DEFAULTS, load_themes
from console.widgets.activity import MAX_LINES, ActivityLog
from console.widgets.budget import BudgetGauges
from console.widgets.header import StatusHeader, account_kind
from console.widgets.lineup import LineupTable
from console.widgets.scanner import CandidateDetail, RejectionTable, ScannerTable
from console.widgets.settings import SettingsForm
from engine.api.models import (
    Approve,
    AutoSelect,
    ClearLineup,
    Cmd,
    Event,
    ExecuteNow,
    GetEvents,
    GetLineup,
    GetOrders,
    GetPositions,
    GetRegime,
    GetScan,
    GetSettings,
    GetStatus,
    Kill,
    NtRun,
    NtStatus,
    ProtectPositions,
    Result,
    Resume,
    SaveSettings,
    Scan,
    SetQuantity,
    Stage,
    Unstage,
)

#: How often the visible Positions / NakedTrader pane is refetched (marks move on their own).
PANE_POLL_S = 5.0
#: The console asks the engine for the market regime when the status shows none, or one older
#: than REGIME_STALE_S (engine time), at most every REGIME_ASK_S (the engine reads IBKR only
#: when its own reading is past its TTL).
REGIME_STALE_S = 15 * 60
REGIME_ASK_S = 60.0

#: Which sections an event kind makes stale (refetched after the event).
EVENT_REFRESH: dict[str, tuple[str, ...]] = {
    "engine.state": ("status",),
    "connection": ("status",),
    "account": ("status",),
    "scan.finished": ("scan", "status"),
    "lineup.changed": ("lineup", "status"),
    "execution.decision": ("lineup",),
    "order.status": ("positions", "lineup"),
    "order.fill": ("positions", "status", "lineup"),
    "trade.opened": ("positions", "nt"),
    "trade.closed": ("positions", "nt"),
    "nakedtrader": ("nt",),
    "notice": ("status", "positions"),  # e.g. an open trade left without exits
    "job": ("status",),  # a scheduled job started or finished: the Activity pane's schedule
}

#: Which sections a finished command makes stale.
COMMAND_REFRESH: dict[str, tuple[str, ...]] = {
    "scan": ("scan", "status"),
    "auto_select": ("lineup", "scan", "status"),
    "stage": ("lineup", "scan", "status"),
    "unstage": ("lineup", "scan", "status"),
    "set_quantity": ("lineup", "status"),
    "approve": ("lineup",),
    "clear_lineup": ("lineup", "scan", "status"),
    "execute_now": ("lineup", "positions", "status"),
    "kill": ("status", "positions"),
    "resume": ("status",),
    "protect_positions": ("positions", "status"),
    "nt_run": ("nt", "positions"),
    "save_settings": ("settings", "status"),
}

#: Refusals that are normal states rather than problems (e.g. no scan yet today).
QUIET_CODES = {"no_scan"}

#: Scanner redraws are coalesced: however fast quotes arrive, the table redraws at most
#: 1 / RENDER_INTERVAL_S times a second (a redraw re-renders every visible cell).
RENDER_INTERVAL_S = 0.5
#: How long a console note waits for the engine's first status (its clock) before it is
#: written with the time known then.
EARLY_NOTE_WAIT_S = 3.0
#: Engine events fetched on attach, and how long live events wait for them at most.
HISTORY_EVENTS = 200
HISTORY_WAIT_S = 5.0
#: reason codes of commands that succeeded without doing anything: shown as warnings
NOTHING_DONE = frozenset({"execution.nothing_approved"})
#: how long closing waits for engines still starting, and for each engine to stop
UNMOUNT_WAIT_S = 10.0
#: Event kinds the activity log leaves out (the scanner pane and its progress bar show them).
UNLOGGED_KINDS = frozenset({"scan.candidate", "scan.progress"})
#: How often the terminal program checks that its terminal is still there (seconds).
TERMINAL_CHECK_S = 1.0


class PutdeskApp(App[int]):
    """The operator console."""

    TITLE = "putdesk"
    CSS_PATH = str(CSS_FILE)
    BINDINGS: ClassVar[list[BindingType]] = list(APP_BINDINGS)
    COMMANDS = App.COMMANDS | {PutdeskCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        api_factory: ApiFactory,
        *,
        config: PutdeskConfig | None = None,
        now: Callable[[], dt.datetime] | None = None,
        local_zone: dt.tzinfo | None = None,
        theme: str | None = None,
        status_poll_s: float = 2.0,
        clock_tick_s: float = 1.0,
        handle_signals: bool = False,
        use_calendar: bool = True,
        reattach_factory: ApiFactory | None = None,
        reattach_s: float = 3.0,
        accounts: Sequence[AccountLink] = (),
        account: str | None = None,
        preconnect: bool = False,
    ) -> None:
        self.config = config or PutdeskConfig()
        self._started = time.perf_counter()
        super().__init__()
        self.api_factory = api_factory
        #: Attaches to a running engine only (never starts one): used every `reattach_s`
        #: after the engine went away, so a restarted `putdesk engine` is found again.
        self.reattach_factory = reattach_factory
        self.reattach_s = reattach_s
        self.api: EngineAPI | None = None
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.local_zone = local_zone or _local_zone(self.config.console.local_timezone)
        self.status_poll_s = status_poll_s
        self.clock_tick_s = clock_tick_s
        self.handle_signals = handle_signals
        self._tty_fd: int | None = None
        self.use_calendar = use_calendar
        self.override_closed = False
        self.state: dict[str, Any] = empty_state()
        #: every configured account (`A` switches); `account` is the one shown
        self.accounts: dict[str, AccountLink] = {a.account: a for a in accounts}
        self.account = account or next(iter(self.accounts), None)
        #: engines of the accounts switched away from, still attached (or running here)
        self.background: dict[str, EngineAPI] = {}
        #: reach every other account's engine in the background once the first is attached
        #: (the demo: its simulated accounts then share one simulated morning)
        self.preconnect = preconnect
        #: accounts whose engine is being reached (started or attached) right now
        self._reaching: set[str] = set()
        self.startup_ms: float | None = None
        self.keymap: dict[str, str] = dict(self.config.console.keymap)
        self._poll_timer: Timer | None = None
        #: console notes waiting for the engine's clock (see log_activity)
        self._early_notes: list[tuple[str, str, str, str | None]] = []
        self._early_timer: Timer | None = None
        #: engine events that arrive while the history is being fetched (see _history)
        self._held_events: list[Event] | None = None
        self._history_timer: Timer | None = None
        #: (ts, kind, message) of the engine events the log shows, oldest first: history and
        #: the live stream overlap, and a reattach fetches the history again
        self._shown_events: dict[tuple[dt.datetime, str, str], None] = {}
        self._pane_polled: dict[str, float] = {}
        self._regime_asked: float | None = None
        self._render_timer: Timer | None = None
        self._scanner_drawn = float("-inf")  # time.monotonic() of the last scanner redraw
        self._pending_quantity: dict[int, int] = {}
        for t in load_themes():
            self.register_theme(t)
        self._theme_name = theme or self.config.console.theme or DEFAULT_THEME
        if not self.config.console.animations:
            self.animation_level = "none"

    # -- set-up -----------------------------------------------------------------------
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications carry engine, IBKR and AI text: plain by default, never read as
        markup (an IBKR reason "[order size]" would vanish, a "[/]" would fail to render)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(DOMAIN_DEFAULTS)

    def on_mount(self) -> None:
        try:
            self.theme = self._theme_name
        except Exception:
            self.theme = DEFAULT_THEME
            self.log_activity("notice", "warning", f"unknown theme {self._theme_name!r}")
        self.push_screen(MainScreen(self.now, self.local_zone))
        self.set_keymap({k: v for k, v in self.keymap.items() if not validate_keymap({k: v})})
        self.set_interval(self.clock_tick_s, self._tick_clock)
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for name in ("SIGHUP", "SIGTERM"):
                sig = getattr(signal, name, None)
                if sig is None:
                    continue
                try:
                    loop.add_signal_handler(sig, self._terminal_gone, name)
                except (RuntimeError, ValueError):  # no signal support here
                    pass
            self._tty_fd = _stdin_fd()
            if self._tty_fd is not None and _terminal_alive(self._tty_fd):
                self.set_interval(TERMINAL_CHECK_S, self._check_terminal)
        self.attach()

    def on_ready(self) -> None:
        self.startup_ms = (time.perf_counter() - self._started) * 1000
        _freeze_long_lived()
        if self.use_calendar:
            self.load_calendar()
        self.log.info(f"putdesk console first frame after {self.startup_ms:.0f} ms")
        for problem in validate_keymap(self.keymap):
            self.log_activity("console", "warning", f"keymap: {problem}")

    def _terminal_gone(self, why: str = "SIGHUP") -> None:
        """SIGHUP/SIGTERM (the terminal or SSH session went away): leave cleanly. A hung-up
        terminal's output goes to /dev/null from here on: Textual's writer thread dies on the
        first write that fails, and the screen writes after it would then block the app for
        good. The exit watchdog ends the process should the orderly exit get stuck."""
        from console import exit_watchdog

        if self._tty_fd is not None and not _terminal_alive(self._tty_fd):
            _silence_output()
        exit_watchdog.arm(f"{why} (the terminal or session went away)")
        self.exit(0)

    def _check_terminal(self) -> None:
        """Leave when the terminal has been hung up even though no SIGHUP came: a session
        leader that waits for us (e.g. `make demo` as a tmux pane's command) receives the
        hangup and never passes it on."""
        if self._tty_fd is not None and not _terminal_alive(self._tty_fd):
            self.log.warning("the terminal went away (hung up): leaving")
            self._terminal_gone("a hung-up terminal")

    async def on_unmount(self) -> None:
        """Close every engine this console reached, all at once. Engines still being
        reached (their workers were cancelled as the app closed) finish starting or tearing
        down first, so none is left half-open: an open engine store keeps the process alive
        after its terminal went away."""
        reaching = [w for w in self.workers if w.group.startswith("engine:") or w.group == "warm"]
        try:
            await asyncio.wait_for(_settle(reaching), timeout=UNMOUNT_WAIT_S)
        except TimeoutError:
            self.log.error("engines still starting after the console closed")
        apis = list(self.background.values())
        self.background.clear()
        if self.api is not None:
            apis.append(self.api)
            self.api = None
        await asyncio.gather(*(self._close_engine(api) for api in apis))

    async def _close_engine(self, api: EngineAPI) -> None:
        try:
            await asyncio.wait_for(close_api(api), timeout=UNMOUNT_WAIT_S)
        except Exception as exc:
            self.log.error(f"closing the engine API: {exc}")

    @property
    def main(self) -> MainScreen | None:
        for s in self.screen_stack:
            if isinstance(s, MainScreen):
                return s
        return None

    def _tick_clock(self) -> None:
        if self.main is not None:
            self.main.query_one(StatusHeader).refresh_text()

    # -- workers: each only calls the API and posts messages ----------------------------
    def attach(self) -> None:
        """Reach the shown account's engine (attach, else start one here), unless that is
        already under way. The worker is never cancelled by a switch of account: an engine
        half-started would be left behind; what it reaches after a switch is kept in
        `background` instead."""
        account = self.account or ""
        if account in self._reaching:
            return
        self._reaching.add(account)
        self.run_worker(
            self._reach(account, self.api_factory),
            group=f"engine:{account}",
            exit_on_error=False,
        )

    async def _reach(self, account: str, factory: ApiFactory) -> None:
        try:
            api = await factory()
        except Exception as exc:
            if account == (self.account or ""):
                self.post_message(m.EngineLost(f"cannot reach the engine: {exc}"))
            else:
                self.log_activity(
                    "notice", "warning", f"{self.account_label(account)}: not reached ({exc})"
                )
            return
        finally:
            self._reaching.discard(account)
        if account == (self.account or "") and self.api is None:
            self.api = api
            self.post_message(m.EngineAttached(type(api).__name__))
        else:
            self.background[account] = api

    @work(exclusive=True, group="warm", exit_on_error=False)
    async def warm_accounts(self, accounts: list[str]) -> None:
        """Reach the other accounts' engines one by one and keep them in the background (the
        account shown meanwhile takes its engine from here instead of starting a second)."""
        for acct in accounts:
            link = self.accounts.get(acct)
            if link is None or acct in self.background or acct in self._reaching:
                continue
            if acct == self.account and self.api is not None:
                continue
            self._reaching.add(acct)
            await self._reach(acct, link.connect)

    @work(exclusive=True, group="reattach", exit_on_error=False)
    async def reattach(self, old: EngineAPI | None) -> None:
        """Close the lost connection, then try to attach again every `reattach_s` seconds
        until an engine answers (commands meanwhile say "not attached to the engine")."""
        if old is not None:
            try:
                await asyncio.wait_for(close_api(old), timeout=5)
            except Exception as exc:
                self.log.warning(f"closing the lost engine connection: {exc}")
        factory = self.reattach_factory
        if factory is None:
            return
        while self.api is None:
            await asyncio.sleep(self.reattach_s)
            try:
                api = await factory()
            except Exception as exc:
                self.log.info(f"reattach: {exc}")
                continue
            self.api = api
            self.post_message(m.EngineAttached(f"{type(api).__name__}, reattached"))

    @work(thread=True, exclusive=True, group="calendar", exit_on_error=False)
    def load_calendar(self) -> None:
        """The NYSE calendar (pandas underneath) loads in a thread, after the first frame."""
        from engine.market.calendar import MarketCalendar

        cal = MarketCalendar()
        cal.is_open(self.now())  # reads the schedule now, not on the UI thread later
        self.post_message(m.CalendarReady(cal))

    @work(exclusive=True, group="events", exit_on_error=False)
    async def consume_events(self) -> None:
        api = self.api
        if api is None:
            return
        try:
            async for ev in api.events():
                if ev.kind == "scan.progress":
                    self.post_message(m.ScanProgress(ev.data))
                else:
                    self.post_message(m.EngineEvent(ev))
        except Exception as exc:
            self.post_message(m.EngineLost(f"event stream ended: {exc}"))
            return
        if self.api is not None:
            self.post_message(m.EngineLost("the engine closed the event stream"))

    async def _get(self, cmd: Cmd) -> Result | None:
        api = self.api
        if api is None:
            return None
        result = await api.request(cmd)
        if not result.ok:
            self.post_message(m.RefreshFailed(str(getattr(cmd, "cmd", "")), result))
            return None
        return result

    @work(exclusive=True, group="refresh-status", exit_on_error=False)
    async def refresh_status(self) -> None:
        r = await self._get(GetStatus())
        if r is not None:
            self.post_message(m.StatusUpdated(r.data))

    @work(exclusive=True, group="refresh-regime", exit_on_error=False)
    async def refresh_regime(self) -> None:
        """GetRegime (the engine reads IBKR if its reading is stale); the status that follows
        carries it to the header. A failure shows there too (the feed's error), not as a
        notification every minute."""
        api = self.api
        if api is None:
            return
        result = await api.request(GetRegime())
        if result.ok:
            self.refresh_status()

    @work(exclusive=True, group="refresh-scan", exit_on_error=False)
    async def refresh_scan(self) -> None:
        r = await self._get(GetScan())
        if r is not None:
            self.post_message(m.ScanUpdated(r.data))

    @work(exclusive=True, group="refresh-lineup", exit_on_error=False)
    async def refresh_lineup(self) -> None:
        r = await self._get(GetLineup())
        if r is not None:
            self.post_message(m.LineupUpdated(r.data))

    @work(exclusive=True, group="refresh-positions", exit_on_error=False)
    async def refresh_positions(self) -> None:
        p = await self._get(GetPositions())
        if p is not None:
            self.post_message(m.PositionsUpdated(p.data))
        o = await self._get(GetOrders())
        if o is not None:
            self.post_message(m.OrdersUpdated(o.data))

    @work(exclusive=True, group="refresh-nt", exit_on_error=False)
    async def refresh_nt(self) -> None:
        r = await self._get(NtStatus())
        if r is not None:
            self.post_message(m.NtUpdated(r.data))

    @work(exclusive=True, group="refresh-settings", exit_on_error=False)
    async def refresh_settings(self) -> None:
        r = await self._get(GetSettings())
        if r is not None:
            self.post_message(m.SettingsLoaded(r.data))

    @work(exclusive=True, group="refresh-events", exit_on_error=False)
    async def load_history(self) -> None:
        """The engine's recent events; an empty history when they cannot be had, so the
        live events held meanwhile are written all the same."""
        r = await self._get(GetEvents(limit=HISTORY_EVENTS, debug=False))
        events: list[Event] = []
        if r is not None:
            raw = r.data.get("events") or []
            events = [e if isinstance(e, Event) else Event.model_validate(e) for e in raw]
        self.post_message(m.EventsLoaded(events))

    @work(exclusive=False, group="commands", exit_on_error=False)
    async def send(self, label: str, cmd: Cmd) -> None:
        api, account = self.api, self.account
        if api is None:
            self.post_message(
                m.CommandDone(label, Result.fail("not attached to the engine", code="no_engine"))
            )
            return
        result = await api.request(cmd)
        self.post_message(m.CommandDone(label, result, account))

    def refresh_sections(self, *names: str) -> None:
        for name in dict.fromkeys(names):
            {
                "status": self.refresh_status,
                "scan": self.refresh_scan,
                "lineup": self.refresh_lineup,
                "positions": self.refresh_positions,
                "nt": self.refresh_nt,
                "settings": self.refresh_settings,
            }[name]()

    # -- handlers: own the state ---------------------------------------------------------
    @on(m.EngineAttached)
    def _attached(self, msg: m.EngineAttached) -> None:
        self.log_activity("notice", "info", f"attached to the engine ({msg.description})")
        if self.preconnect:
            self.preconnect = False
            others = [a for a in self.accounts if a != self.account]
            if others:
                self.warm_accounts(others)
        self._hold_events()
        self.consume_events()
        self.load_history()
        self.refresh_sections("status", "scan", "lineup", "positions", "nt", "settings")

    @on(m.RefreshFailed)
    def _refresh_failed(self, msg: m.RefreshFailed) -> None:
        r = msg.result
        if msg.cmd == "nt_status":
            self.state["nt"] = {"message": f"NakedTrader: {r.error}"}
            self._render("nakedtrader")
        if r.reason_code in QUIET_CODES:
            return
        self.log_activity("console", "warning", f"{msg.cmd}: {r.error}", r.reason_code)

    @on(m.CalendarReady)
    def _calendar(self, msg: m.CalendarReady) -> None:
        if self.main is not None:
            self.main.query_one(StatusHeader).calendar = msg.calendar
            self.main.query_one(StatusHeader).refresh_text()
        _freeze_long_lived()  # the calendar's pandas objects live as long as the app

    @on(m.EngineLost)
    def _lost(self, msg: m.EngineLost) -> None:
        error = msg.error
        if self.reattach_factory is not None:
            error += f"; reattaching every {self.reattach_s:g} s"
        self.log_activity("notice", "error", error)
        if self.main is not None:
            self.main.query_one(StatusHeader).set_engine_error(error)
        self.notify(error, severity="error", timeout=8)
        if self.reattach_factory is not None:
            old, self.api = self.api, None
            self.reattach(old)

    @on(m.StatusUpdated)
    def _status(self, msg: m.StatusUpdated) -> None:
        view = status_view(msg.data)
        if view["simulated"] and "speed" not in view["clock"]:
            view["clock"]["speed"] = self.config.sim.speed
        if not view["ai"]:
            view["ai"] = self._ai_state()
        self.state["status"] = view
        main = self.main
        if main is not None:
            header = main.query_one(StatusHeader)
            link = self.accounts.get(self.account or "")
            header.label = link.label if link is not None else ""
            header.set_status(self.state["status"])
            if self._early_notes:
                self._flush_early_notes()
            main.render_section("activity")
            self._show_budget()
            self._poll_visible_pane(main.active_pane)
        self._maybe_ask_regime(view)
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._poll_timer = self.set_timer(self.status_poll_s, self.refresh_status)

    def _maybe_ask_regime(self, view: dict[str, Any]) -> None:
        """Ask for the market regime while connected when the status has none or an old one."""
        if str(view["connection"].get("state") or "").lower() not in {"connected", "ready"}:
            return
        regime = view.get("regime") or {}
        age = regime.get("age_s")
        if regime.get("reading") and age is not None and age < REGIME_STALE_S:
            return
        now = time.monotonic()
        if self._regime_asked is not None and now - self._regime_asked < REGIME_ASK_S:
            return
        self._regime_asked = now
        self.refresh_regime()

    def _poll_visible_pane(self, pane: str) -> None:
        """Marks and P&L change without an event (IBKR's portfolio updates): while Positions
        or NakedTrader is on screen, refetch it every PANE_POLL_S along with the status."""
        section = {"positions": "positions", "nakedtrader": "nt"}.get(pane)
        if section is None:
            return
        now = time.monotonic()
        if now - self._pane_polled.get(section, 0.0) >= PANE_POLL_S:
            self._pane_polled[section] = now
            self.refresh_sections(section)

    def _ai_state(self) -> dict[str, Any]:
        """AI on/off when the status does not say: the latest scan's verdict, else the
        settings; empty when nothing is known yet."""
        scan = self.state["scan"].get("scan") or {}
        if scan.get("ai_status"):
            return {"enabled": scan["ai_status"] == "on", "reason": scan.get("ai_reason")}
        ai = self.state["settings"].get("ai") or {}
        if ai.get("enabled") is False:
            return {"enabled": False, "reason": "disabled in settings"}
        return {}

    @on(m.ScanUpdated)
    def _scan(self, msg: m.ScanUpdated) -> None:
        self.state["scan"] = scan_view(msg.data)
        scan = self.state["scan"].get("scan") or {}
        if scan.get("state") != "running":
            self.state["progress"] = {}
        self._schedule_scanner_render()

    @on(m.ScanProgress)
    def _progress(self, msg: m.ScanProgress) -> None:
        self.state["progress"] = msg.data
        scan = self.state["scan"].setdefault("scan", {})
        scan["state"] = "running"
        if msg.data.get("scan_id") is not None:
            scan["id"] = msg.data["scan_id"]
        if self.main is not None and self.main.active_pane == "scanner":
            self.main.update_progress()

    @on(m.LineupUpdated)
    def _lineup(self, msg: m.LineupUpdated) -> None:
        self.state["lineup"] = lineup_view(msg.data)
        self._render("lineup")
        self._show_budget()

    @on(m.PositionsUpdated)
    def _positions(self, msg: m.PositionsUpdated) -> None:
        self.state["positions"] = positions_view(msg.data)
        self._render("positions")

    @on(m.OrdersUpdated)
    def _orders(self, msg: m.OrdersUpdated) -> None:
        self.state["orders"] = orders_view(msg.data)
        self._render("positions")

    @on(m.NtUpdated)
    def _nt(self, msg: m.NtUpdated) -> None:
        self.state["nt"] = msg.data
        self._render("nakedtrader")

    @on(m.SettingsLoaded)
    def _settings(self, msg: m.SettingsLoaded) -> None:
        settings = msg.data.get("settings") or msg.data.get("config") or {}
        self.state["settings"] = settings
        if self.main is not None and settings:
            forms = self.main.query(SettingsForm)
            if forms:
                forms.first().load(settings)

    def _hold_events(self) -> None:
        """Hold the live events for the log until the history is written (at most
        HISTORY_WAIT_S): the stream starts first, so nothing falls between the two, and
        what both carry is written once, in the engine's order."""
        if self._held_events is None:
            self._held_events = []
        if self._history_timer is not None:
            self._history_timer.stop()
        self._history_timer = self.set_timer(HISTORY_WAIT_S, self._release_events)

    def _release_events(self) -> None:
        if self._history_timer is not None:
            self._history_timer.stop()
            self._history_timer = None
        held, self._held_events = self._held_events or [], None
        for ev in held:
            self._write_event(ev)

    @on(m.EventsLoaded)
    def _history(self, msg: m.EventsLoaded) -> None:
        for ev in msg.events:
            if ev.kind not in UNLOGGED_KINDS and ev.severity != "debug":
                self._write_event(ev)
        self._release_events()

    @on(m.EngineEvent)
    def _event(self, msg: m.EngineEvent) -> None:
        ev = msg.event
        if ev.kind == "scan.candidate":
            self._upsert_candidate(candidate_view(ev.data.get("candidate") or ev.data))
        elif ev.kind == "scan.started":
            total = ev.data.get("total")
            self.state["scan"] = {
                "scan": {
                    "id": ev.data.get("scan_id"),
                    "state": "running",
                    "stale": bool(ev.data.get("stale")),
                    "progress": {"done": 0, "total": total},
                },
                "candidates": [],
                "rejections": [],
            }
            self.state["progress"] = {"done": 0, "total": total}
            self._schedule_scanner_render()
        if ev.kind not in UNLOGGED_KINDS and ev.severity != "debug":
            self._log_event(ev)
        if ev.severity in {"warning", "error"} and ev.kind in {"notice", "engine.state"}:
            self.notify(ev.message, severity=ev.severity, timeout=6)
        refresh = EVENT_REFRESH.get(ev.kind)
        if refresh:
            self.refresh_sections(*refresh)

    @on(m.CommandDone)
    def _done(self, msg: m.CommandDone) -> None:
        r = msg.result
        # sent before a switch of account: say which account; nothing shown here changed
        other = msg.account is not None and msg.account != self.account
        who = f"{self.account_label(msg.account)}: " if other else ""
        if r.ok:
            text = who + command_summary(msg.label, r.data)
            if r.data.get("reason_code") in NOTHING_DONE:  # it worked, and did nothing
                self.log_activity("console", "warning", text)
                self.notify(text, severity="warning", timeout=6)
            else:
                self.log_activity("console", "info", text)
                self.notify(text, timeout=3)
        else:
            why = r.error or "failed"
            code = f" [{r.reason_code}]" if r.reason_code else ""
            verb = "refused" if r.exit_code == 3 else "failed"
            self.log_activity("console", "error", f"{who}{msg.label} {verb}: {why}", r.reason_code)
            self.notify(f"{who}{msg.label} {verb}: {why}{code}", severity="error", timeout=8)
            if msg.label == "save_settings" and not other and self.main is not None:
                self.main.ensure_settings_form().show_engine_error(why)
        if other:
            return
        if msg.label == "set_quantity":
            return
        refresh = COMMAND_REFRESH.get(msg.label)
        if refresh and (r.ok or msg.label in {"set_quantity", "stage"}):
            self.refresh_sections(*refresh)
        if r.ok and msg.label == "auto_select" and self.main is not None:
            self.main.show_pane("lineup")

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            self.log_activity("console", "error", f"{event.worker.group} failed: {err}")
            self.notify(f"{event.worker.group} failed: {err}", severity="error", timeout=8)

    # -- widget messages -------------------------------------------------------------
    @on(ScannerTable.Highlighted)
    def _highlight(self, msg: ScannerTable.Highlighted) -> None:
        if self.main is not None:
            self.main.query_one(CandidateDetail).show(msg.candidate)

    @on(RejectionTable.Highlighted)
    def _highlight_rejection(self, msg: RejectionTable.Highlighted) -> None:
        if self.main is not None:
            self.main.query_one(CandidateDetail).show_rejection(msg.rejection)

    @on(ScannerTable.StageRequested)
    def _stage(self, msg: ScannerTable.StageRequested) -> None:
        c = msg.candidate
        if c.get("id") is None:
            self.notify("This candidate has no id yet; wait for the scan to finish")
            return
        qty = c.get("suggested_qty")
        self.send("stage", Stage(candidate_id=int(c["id"]), quantity=int(qty) if qty else None))

    @on(LineupTable.QuantityChanged)
    def _quantity(self, msg: LineupTable.QuantityChanged) -> None:
        self.send("set_quantity", SetQuantity(lineup_id=msg.lineup_id, quantity=msg.quantity))

    @on(LineupTable.RemoveRequested)
    def _remove(self, msg: LineupTable.RemoveRequested) -> None:
        self.send("unstage", Unstage(lineup_ids=[msg.lineup_id]))

    @on(LineupTable.ApproveRequested)
    def _approve_one(self, msg: LineupTable.ApproveRequested) -> None:
        self.send("approve", Approve(lineup_ids=[msg.lineup_id]))

    @on(LineupTable.ProjectionChanged)
    def _projection(self, msg: LineupTable.ProjectionChanged) -> None:
        self._show_budget(msg.margin)

    @on(SettingsForm.SaveRequested)
    def _save_settings(self, msg: SettingsForm.SaveRequested) -> None:
        self.send("save_settings", SaveSettings(changes=msg.changes))

    @on(SettingsForm.CloseRequested)
    def _close_settings(self) -> None:
        self.action_toggle_settings(open_it=False)

    # -- rendering helpers -------------------------------------------------------------
    def _render(self, name: str) -> None:
        if self.main is not None:
            self.main.render_section(name)

    def _schedule_scanner_render(self) -> None:
        """Coalesce scanner redraws: at most one per RENDER_INTERVAL_S. The first change after
        a quiet interval is drawn at once (a scan loaded, a switch of account); changes
        arriving faster wait for the next slot."""
        if self._render_timer is not None:
            return
        wait = self._scanner_drawn + RENDER_INTERVAL_S - time.monotonic()
        if wait <= 0:
            self._flush_scanner()
        else:
            self._render_timer = self.set_timer(wait, self._flush_scanner)

    def _flush_scanner(self) -> None:
        self._render_timer = None
        self._scanner_drawn = time.monotonic()
        self._render("scanner")

    def _upsert_candidate(self, cand: dict[str, Any]) -> None:
        scan = self.state["scan"]
        cands: list[dict[str, Any]] = scan.setdefault("candidates", [])
        for i, c in enumerate(cands):
            if c.get("symbol") == cand.get("symbol"):
                cands[i] = cand
                break
        else:
            cands.append(cand)
        self._schedule_scanner_render()

    def _show_budget(self, lineup_margin: float | None = None) -> None:
        main = self.main
        if main is None:
            return
        gauges = main.query(BudgetGauges)
        if not gauges:
            return
        budget = dict(self.state["status"].get("budget") or {})
        lineup_budget = self.state["lineup"].get("budget") or {}
        budget.update({k: v for k, v in lineup_budget.items() if v is not None})
        if lineup_margin is None:
            tables = main.query(LineupTable)
            if tables and tables.first().entries:
                from console.widgets.lineup import projected_margin

                lineup_margin = projected_margin(list(tables.first().entries.values()))
        gauges.first().show(budget, lineup_margin)

    def _log_event(self, ev: Event) -> None:
        """A live engine event for the log (held while the history is on its way)."""
        if self._held_events is not None:
            self._held_events.append(ev)
            return
        self._write_event(ev)

    def _write_event(self, ev: Event) -> None:
        """Write an engine event once (the history and the live stream overlap)."""
        key = (ev.ts, ev.kind, ev.message)
        if key in self._shown_events:
            return
        self._shown_events[key] = None
        while len(self._shown_events) > MAX_LINES:
            del self._shown_events[next(iter(self._shown_events))]
        self.log_activity(ev.kind, ev.severity, ev.message or ev.kind, ev.code, ev.ts)

    def log_activity(
        self,
        kind: str,
        severity: str,
        message: str,
        code: str | None = None,
        ts: dt.datetime | None = None,
    ) -> None:
        main = self.main
        if main is None:
            return
        header = main.query_one(StatusHeader)
        if ts is None and self.api is not None and not header.knows_engine_clock:
            # the console's own note before the engine's first status (its clock): held until
            # that status (or EARLY_NOTE_WAIT_S), so a simulated day's log is not stamped
            # with the real time first and the simulated time after
            self._early_notes.append((kind, severity, message, code))
            if self._early_timer is None:
                self._early_timer = self.set_timer(EARLY_NOTE_WAIT_S, self._flush_early_notes)
            return
        # stamped on the engine's clock (a simulated day's time), like the engine's own events
        when = ts or header.engine_now()
        main.query_one(ActivityLog).add(when, severity, kind, message, code)

    def _flush_early_notes(self) -> None:
        """Write the held console notes (on the engine's clock when it is known by now)."""
        if self._early_timer is not None:
            self._early_timer.stop()
            self._early_timer = None
        notes, self._early_notes = self._early_notes, []
        main = self.main
        if main is None:
            return
        when = main.query_one(StatusHeader).engine_now()
        for kind, severity, message, code in notes:
            main.query_one(ActivityLog).add(when, severity, kind, message, code)

    # -- actions (keys and command palette) -----------------------------------------------
    def action_scan(self) -> None:
        self.send("scan", Scan(override_closed=self.override_closed))

    def action_auto_select(self) -> None:
        """Auto-Select from the latest scan; with no scan yet, scan first and select from it."""
        scan_id = (self.state["scan"].get("scan") or {}).get("id")
        if scan_id is None:
            self.send("auto_select", Scan(override_closed=self.override_closed, auto_select=True))
            return
        self.send("auto_select", AutoSelect(scan_id=scan_id))

    def action_approve(self) -> None:
        self.send("approve", Approve())

    def action_refresh(self) -> None:
        self.refresh_sections("status", "scan", "lineup", "positions", "nt", "settings")

    # -- accounts ----------------------------------------------------------------------
    def account_label(self, account: str | None) -> str:
        link = self.accounts.get(account or "")
        if link is None:
            return account or "this account"
        return f"{link.label} ({link.account})" if link.label else link.account

    def account_choices(self) -> list[AccountChoice]:
        """The picker's rows: where each account's engine is, seen from this console."""
        out = []
        for acct, link in self.accounts.items():
            if acct == self.account:
                where = "shown here" if self.api is not None else "shown here (not attached)"
            elif acct in self.background:
                where = "running in the background"
            else:
                try:
                    where = link.where() if link.where is not None else "not running"
                except Exception as exc:  # a probe must never break the picker
                    where = f"unknown ({exc})"
            out.append(AccountChoice(acct, link.label, link.kind, where, acct == self.account))
        return out

    def action_switch_account(self) -> None:
        if not self.accounts:
            self.notify("No accounts are configured (accounts: in putdesk.yaml)", timeout=5)
            return
        self.push_screen(AccountPicker(self.account_choices()), self._account_chosen)

    def _account_chosen(self, account: str | None) -> None:
        if account:
            self.switch_account(account)

    def switch_account(self, account: str) -> None:
        """Show `account`: the engine left keeps running (kept attached in `background`); the
        one chosen is reattached from there, else reached like at start (attach to its
        running engine, else start one here). What was shown is cleared first, so nothing of
        one account is ever shown as another's."""
        link = self.accounts.get(account)
        if link is None or account == self.account:
            return
        for group in ("reattach", "events", *REFRESH_GROUPS):
            self.workers.cancel_group(self, group)
        left, old = self.account, self.api
        self.api = None
        if old is not None and left is not None:
            self.background[left] = old
        self.account = account
        self.api_factory = link.connect
        self.reattach_factory = link.reattach
        self.state = empty_state()
        self._pane_polled.clear()
        self._regime_asked = None
        self._pending_quantity.clear()
        main = self.main
        if main is not None:
            header = main.query_one(StatusHeader)
            header.label = link.label
            header.detach(f"attaching to {self.account_label(account)} ...")
            main.query_one(ActivityLog).clear()
            self._shown_events.clear()
            for name in ("scanner", "lineup", "positions", "nakedtrader"):
                self._render(name)
            self._show_budget()
        kept = f"; {self.account_label(left)} keeps running" if old is not None else ""
        self.log_activity("notice", "info", f"showing {self.account_label(account)}{kept}")
        api = self.background.pop(account, None)
        if api is not None:
            self.api = api
            self.post_message(m.EngineAttached(f"{type(api).__name__}, switched"))
        else:  # reached like at start (unless under way: that hands it over when reached)
            self.attach()

    def action_show_pane(self, name: str) -> None:
        if self.main is not None:
            if self.screen is not self.main:
                return
            self.main.show_pane(name)

    def action_set_theme(self, name: str) -> None:
        self.theme = name

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap))

    def action_toggle_settings(self, open_it: bool | None = None) -> None:
        main = self.main
        if main is None:
            return
        main.show_pane("scanner")
        panel = main.query_one("#settings-panel", Collapsible)
        panel.collapsed = (not panel.collapsed) if open_it is None else not open_it
        if not panel.collapsed:
            main.ensure_settings_form()
            self.call_after_refresh(self._focus_first_setting)
        else:
            main.query_one(ScannerTable).focus()

    def _focus_first_setting(self) -> None:
        main = self.main
        if main is not None:
            form = main.query_one(SettingsForm)
            first = form.query("Input, Select")
            if first:
                first.first().focus()
                form.scroll_visible()

    def _shown_positions(self) -> list[dict[str, Any]]:
        return list((self.state.get("positions") or {}).get("positions") or [])

    def _shown_orders(self) -> list[dict[str, Any]]:
        return list((self.state.get("orders") or {}).get("orders") or [])

    def _kind(self) -> str:
        return account_kind(self.state["status"]) if self.state["status"] else "UNKNOWN"

    def action_execute_now(self) -> None:
        live = self._kind() == "LIVE"

        def done(ok: bool | None) -> None:
            if ok:
                self.send("execute_now", ExecuteNow(live_confirmed=live))

        entries = (self.state.get("lineup") or {}).get("entries") or []
        self.push_screen(
            ConfirmScreen(
                "Execute now?",
                "Send the approved lineup to IBKR now, outside the scheduled open.\n"
                + execute_text(entries)
                + ("\nThis is a LIVE account." if live else ""),
                word="LIVE" if live else None,
            ),
            done,
        )

    def action_kill(self) -> None:
        def done(ok: bool | None) -> None:
            if ok:
                self.send("kill", Kill(reason="kill switch pressed in the console"))

        self.push_screen(
            ConfirmScreen("Kill switch", kill_text(self._shown_positions(), self._shown_orders())),
            done,
        )

    def action_resume(self) -> None:
        self.send("resume", Resume())

    def action_protect(self) -> None:
        live = self._kind() == "LIVE"

        def done(ok: bool | None) -> None:
            if ok:
                self.send("protect_positions", ProtectPositions(live_confirmed=live))

        self.push_screen(
            ConfirmScreen(
                "Protect open positions",
                protect_text(self._shown_positions())
                + ("\nThis is a LIVE account." if live else ""),
                word="LIVE" if live else None,
            ),
            done,
        )

    def action_clear_lineup(self) -> None:
        def done(ok: bool | None) -> None:
            if ok:
                self.send("clear_lineup", ClearLineup())

        self.push_screen(ConfirmScreen("Clear lineup", "Remove every staged entry?"), done)

    def action_nt_run(self) -> None:
        def done(ok: bool | None) -> None:
            if ok:
                self.send("nt_run", NtRun())

        self.push_screen(
            ConfirmScreen("Run NakedTrader", nt_text(self.state.get("nt") or {})),
            done,
        )

    def action_toggle_override(self) -> None:
        if self.override_closed:
            self.override_closed = False
            self.notify("Closed-market override off")
            self._after_override()
            return

        def done(ok: bool | None) -> None:
            if ok:
                self.override_closed = True
                self.notify("Closed-market override ON: results are marked stale")
                self._after_override()

        self.push_screen(
            ConfirmScreen(
                "Closed-market override",
                "Allow scans while the market is closed? Everything selected is marked STALE "
                "and can never reach a live account.",
            ),
            done,
        )

    def _after_override(self) -> None:
        if self.main is not None:
            self.main.update_progress()


#: The worker groups that load one account's state into the console.
REFRESH_GROUPS = (
    "refresh-status",
    "refresh-regime",
    "refresh-scan",
    "refresh-lineup",
    "refresh-positions",
    "refresh-nt",
    "refresh-settings",
    "refresh-events",
)


def empty_state() -> dict[str, Any]:
    """What the console holds of one account before the engine has told it anything."""
    return {
        "status": {},
        "scan": {},
        "progress": {},
        "lineup": {},
        "positions": {},
        "orders": {},
        "nt": {},
        "settings": {},
    }


def _local_zone(name: str | None) -> dt.tzinfo:
    if name:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    local = dt.datetime.now().astimezone().tzinfo
    return local or dt.UTC


async def _settle(workers: Sequence[Worker[Any]]) -> None:
    """Wait until each worker has ended, however it ends."""
    for worker in workers:
        try:
            await worker.wait()
        except Exception:  # failed or cancelled: it has ended all the same
            pass


def _silence_output() -> None:
    """Point stdout and stderr at /dev/null (their terminal has hung up)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
    finally:
        os.close(null)


def _stdin_fd() -> int | None:
    stdin = sys.__stdin__
    try:
        return stdin.fileno() if stdin is not None else None
    except (OSError, ValueError):
        return None


def _terminal_alive(fd: int) -> bool:
    """True while `fd` is a terminal that answers (a hung-up one fails with EIO)."""
    try:
        termios.tcgetattr(fd)
    except (termios.error, OSError, ValueError):
        return False
    return True


def _freeze_long_lived() -> None:
    """Move what exists now (widgets, modules, the calendar) out of the garbage collector's
    scans: full collections over them paused key handling by 50-100 ms (bench_console's
    keypress p95 went from 60-75 ms to about 30 ms). Garbage is collected first, so none of
    it is frozen for good."""
    gc.collect()
    gc.freeze()
