"""The main screen: header, the five panes in tabs, key bar. Panes render only when shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.lazy import Lazy
from textual.screen import Screen
from textual.widgets import Collapsible, Label, Static, TabbedContent, TabPane

from console.widgets.activity import ActivityLog
from console.widgets.budget import BudgetGauges
from console.widgets.header import StatusHeader
from console.widgets.keybar import KeyBar
from console.widgets.lineup import LineupDoneTable, LineupTable, lineup_title
from console.widgets.nakedtrader import NakedTraderView
from console.widgets.positions import (
    OrdersTable,
    PositionsTable,
    orders_title,
    positions_title,
)
from console.widgets.scanner import CandidateDetail, RejectionTable, ScannerTable
from console.widgets.schedule import ScheduleView
from console.widgets.settings import SettingsForm

PANES = ("scanner", "lineup", "positions", "nakedtrader", "activity")
NARROW_BELOW = 110


class ScannerPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("No scan yet. Press s to scan.", id="scan-progress")
        with Collapsible(title="Settings (e)", collapsed=True, id="settings-panel"):
            # the form (about 150 widgets) is mounted on first opening: a smaller DOM
            # keeps start-up and every pane switch fast
            yield Vertical(id="settings-holder")
        with Horizontal(id="scan-main"):
            yield ScannerTable(id="scanner-table")
            yield CandidateDetail(id="candidate-detail")
        yield RejectionTable(id="rejections")


class LineupPane(Vertical):
    def compose(self) -> ComposeResult:
        yield BudgetGauges(id="budget")
        yield Label(lineup_title([]), id="lineup-title", classes="section-title")
        yield LineupTable(id="lineup-table")
        yield Label("Sent, filled and cancelled (last 24 h)", classes="section-title")
        yield LineupDoneTable(id="lineup-done")


class PositionsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Label(positions_title([]), id="positions-title", classes="section-title")
        yield PositionsTable(id="positions-table")
        yield Label(orders_title([]), id="orders-title", classes="section-title")
        yield OrdersTable(id="orders-table")


class NakedTraderPane(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield NakedTraderView(id="nt-view")


class MainScreen(Screen[None]):
    """Holds no state of its own: the App pushes data in through `render_section`."""

    def __init__(self, now: Callable[[], dt.datetime], local_zone: dt.tzinfo) -> None:
        super().__init__()
        self._now = now
        self._zone = local_zone
        self.dirty: set[str] = set()

    def compose(self) -> ComposeResult:
        yield StatusHeader(self._now, self._zone, id="header")
        with TabbedContent(initial="scanner", id="panes"):
            with TabPane("1 Scanner", id="scanner"):
                yield ScannerPane()
            with TabPane("2 Lineup", id="lineup"):
                yield Lazy(LineupPane())
            with TabPane("3 Positions", id="positions"):
                yield Lazy(PositionsPane())
            with TabPane("4 NakedTrader", id="nakedtrader"):
                yield Lazy(NakedTraderPane())
            with TabPane("5 Activity", id="activity"):
                yield ScheduleView(id="schedule-view")
                yield ActivityLog(id="activity-log")
        yield KeyBar(id="keybar")

    def on_mount(self) -> None:
        self.set_class(self.size.width < NARROW_BELOW, "-narrow")
        self.update_keys()

    def update_keys(self) -> None:
        """Show the keys of the active pane (the settings keys while the panel is open)."""
        pane = self.active_pane
        if not pane:  # being taken down
            return
        if pane == "scanner" and not self.query_one("#settings-panel", Collapsible).collapsed:
            pane = "settings"
        keymap = getattr(self.app, "keymap", {})
        self.query_one(KeyBar).show_for(pane, keymap)

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW_BELOW, "-narrow")

    @on(Collapsible.Expanded, "#settings-panel")
    def _settings_opened(self) -> None:
        self.ensure_settings_form()
        self.update_keys()

    @on(Collapsible.Collapsed, "#settings-panel")
    def _settings_closed(self) -> None:
        self.update_keys()

    def ensure_settings_form(self) -> SettingsForm:
        """The settings form, mounting it (with the engine's settings) on first use."""
        found = self.query(SettingsForm)
        if found:
            return found.first()
        form = SettingsForm(id="settings-form")
        self.query_one("#settings-holder", Vertical).mount(form)
        return form

    @property
    def active_pane(self) -> str:
        """The pane shown; "" while the screen is being taken down (its tabs already gone):
        a message handled during shutdown then renders nothing, never fails."""
        panes = self.query("#panes").results(TabbedContent)
        for tabs in panes:
            return str(tabs.active or "scanner")
        return ""

    def show_pane(self, name: str) -> None:
        if name == self.active_pane:
            # no TabActivated follows: keep the focus, or give the pane its own (its keys
            # need a focused widget)
            if self.focused is None:
                self._focus_pane(name)
            return
        # drop focus first: a focused widget left in a hidden pane would switch back to it
        self.set_focus(None)
        self.query_one("#panes", TabbedContent).active = name

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        name = self.active_pane
        self.update_keys()
        if name in self.dirty:
            self.call_after_refresh(self.render_section, name)
        self._focus_pane(name)

    def _focus_pane(self, name: str) -> None:
        target = {
            "scanner": "#scanner-table",
            "lineup": "#lineup-table",
            "positions": "#positions-table",
            "activity": "#activity-log",
            "nakedtrader": "NakedTraderPane",
        }.get(name)
        if target:
            found = self.query(target)
            if found:
                found.first().focus()

    def render_section(self, name: str) -> None:
        """Push the App's state for `name` into its pane; hidden panes are only marked dirty."""
        if name != self.active_pane:
            self.dirty.add(name)
            return
        self.dirty.discard(name)
        state: dict[str, Any] = self.app.state  # type: ignore[attr-defined]
        if name == "scanner":
            self._render_scanner(state)
        elif name == "lineup":
            lineup = self.query(LineupTable)
            if not lineup:
                self.dirty.add(name)
                self.call_after_refresh(self._retry, name)
                return
            table = lineup.first()
            entries = state["lineup"].get("entries") or []
            table.apply(entries)
            self.query_one("#lineup-title", Label).update(lineup_title(entries))
            self.query_one(LineupDoneTable).apply(state["lineup"].get("done") or [])
        elif name == "positions":
            pos = self.query(PositionsTable)
            if not pos:
                self.dirty.add(name)
                self.call_after_refresh(self._retry, name)
                return
            positions = state["positions"].get("positions") or []
            orders = state["orders"].get("orders") or []
            pos.first().apply(positions)
            self.query_one(OrdersTable).apply(orders)
            self.query_one("#positions-title", Label).update(positions_title(positions))
            self.query_one("#orders-title", Label).update(orders_title(orders))
        elif name == "nakedtrader":
            nt = self.query(NakedTraderView)
            if not nt:
                self.dirty.add(name)
                self.call_after_refresh(self._retry, name)
                return
            nt.first().show(state["nt"])
        elif name == "activity":
            status = state.get("status") or {}
            self.query_one(ScheduleView).show(status.get("schedule") or {})

    def _retry(self, name: str) -> None:
        if name in self.dirty and name == self.active_pane:
            self.render_section(name)

    def _render_scanner(self, state: dict[str, Any]) -> None:
        scan = state["scan"]
        table = self.query_one(ScannerTable)
        table.apply(scan.get("candidates") or [])
        self.query_one(RejectionTable).apply(scan.get("rejections") or [])
        self.update_progress()

    def update_progress(self) -> None:
        state: dict[str, Any] = self.app.state  # type: ignore[attr-defined]
        scan = state["scan"].get("scan") or {}
        progress = state.get("progress") or scan.get("progress") or {}
        table = self.query_one(ScannerTable)
        parts: list[str] = []
        if scan:
            st = scan.get("state") or "finished"
            done, total = progress.get("done"), progress.get("total")
            if st == "running":
                sym = progress.get("symbol")
                parts.append(f"Scanning {done or 0}/{total or '?'}" + (f" {sym}" if sym else ""))
            else:
                parts.append(f"Scan #{scan.get('id', '?')} {st}")
            parts.append(f"{len(table.candidates)} candidates")
            rej = len(state["scan"].get("rejections") or [])
            if rej:
                parts.append(f"{rej} rejected")
            if scan.get("stale") or scan.get("override_closed"):
                parts.append("STALE (closed-market override)")
        else:
            parts.append("No scan yet. Press s to scan.")
        parts.append(f"sort {table.sort_label}")
        if getattr(self.app, "override_closed", False):
            parts.append("override ON")
        self.query_one("#scan-progress", Static).update("  ·  ".join(parts))
