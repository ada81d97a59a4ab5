"""Command palette provider: every console action, searchable by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

#: (title, help, action string run on the App)
ACTIONS: list[tuple[str, str, str]] = [
    ("Scan now", "Scan the universe for put candidates", "scan"),
    (
        "Auto-select best",
        "Fill Tonight's Lineup from the latest scan (scans first if none)",
        "auto_select",
    ),
    ("Approve lineup", "Approve every staged entry", "approve"),
    ("Execute now", "Send the approved lineup now (asks first)", "execute_now"),
    ("Clear lineup", "Remove every staged entry (asks first)", "clear_lineup"),
    ("Toggle closed-market override", "Allow scans while closed (marked stale)", "toggle_override"),
    ("Kill switch", "Cancel all putdesk orders and halt (asks first)", "kill"),
    ("Resume engine", "Resume after a kill", "resume"),
    (
        "Protect open positions",
        "Place exits for open trades left without any (asks first)",
        "protect",
    ),
    ("Run NakedTrader", "Select and place today's index trade (asks first)", "nt_run"),
    ("Settings", "Open or close the settings panel", "toggle_settings"),
    ("Refresh", "Reload everything from the engine", "refresh"),
    ("Switch account", "Show another configured IBKR account", "switch_account"),
    ("Show Scanner", "Pane 1", "show_pane('scanner')"),
    ("Show Lineup", "Pane 2: Tonight's Lineup and budget", "show_pane('lineup')"),
    ("Show Positions", "Pane 3: positions, orders, brackets", "show_pane('positions')"),
    ("Show NakedTrader", "Pane 4", "show_pane('nakedtrader')"),
    ("Show Activity", "Pane 5: the activity log", "show_pane('activity')"),
    ("Theme: putdesk-dark", "Dark theme", "set_theme('putdesk-dark')"),
    ("Theme: putdesk-light", "Light theme", "set_theme('putdesk-light')"),
    ("Keys", "List every key", "help"),
]


class PutdeskCommands(Provider):
    """One hit per console action."""

    def _run(self, action: str) -> Callable[[], object]:
        return partial(self.app.run_action, action)

    async def discover(self) -> Hits:
        for title, help_text, action in ACTIONS:
            yield DiscoveryHit(title, self._run(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in ACTIONS:
            score = rank(title, query, matcher.match(title))
            if score > 0:
                yield Hit(score, matcher.highlight(title), self._run(action), help=help_text)


def rank(title: str, query: str, fuzzy: float) -> float:
    """The fuzzy score, with a title that starts with what was typed first: "switch" is
    "Switch account" before "Kill switch" (enter takes the top hit)."""
    if fuzzy <= 0:
        return fuzzy
    typed = query.strip().lower()
    if typed and title.lower().startswith(typed):
        return 1.0
    return min(fuzzy, 0.99)
