"""Every console key binding, each with a stable id and a tooltip.

Users remap keys with `console.keymap` in putdesk.yaml (binding id -> comma-separated keys),
applied through `App.set_keymap`. `validate_keymap` names unknown ids instead of ignoring them.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding

APP_BINDINGS: list[Binding] = [
    Binding("question_mark,f1", "help", "Help", id="putdesk.help", tooltip="List every key"),
    Binding("s", "scan", "Scan", id="putdesk.scan", tooltip="Run a scan of the universe"),
    Binding(
        "a",
        "auto_select",
        "Auto-select",
        id="putdesk.auto_select",
        tooltip="Build Tonight's Lineup from the latest scan (scans first if none)",
    ),
    Binding(
        "p",
        "approve",
        "Approve",
        id="putdesk.approve",
        tooltip="Approve every staged entry in Tonight's Lineup",
    ),
    Binding(
        "x",
        "execute_now",
        "Execute",
        id="putdesk.execute_now",
        tooltip="Execute the approved lineup now (asks first)",
    ),
    Binding(
        "o",
        "toggle_override",
        "Override",
        show=False,
        id="putdesk.override_closed",
        tooltip="Allow a scan while the market is closed (results are marked stale)",
    ),
    Binding(
        "K",
        "kill",
        "Kill",
        id="putdesk.kill",
        tooltip="Kill switch: cancel all open putdesk orders and halt (asks first)",
    ),
    Binding(
        "R",
        "resume",
        "Resume",
        show=False,
        id="putdesk.resume",
        tooltip="Resume the engine after a kill",
    ),
    Binding(
        "P",
        "protect",
        "Protect",
        show=False,
        id="putdesk.protect",
        tooltip="Place exits (take-profit, stop) for open trades left without any (asks first)",
    ),
    Binding(
        "n",
        "nt_run",
        "NT run",
        show=False,
        id="putdesk.nt_run",
        tooltip="Run today's NakedTrader trade (asks first)",
    ),
    Binding(
        "e",
        "toggle_settings",
        "Settings",
        id="putdesk.settings",
        tooltip="Open or close the settings panel in the Scanner",
    ),
    Binding("r", "refresh", "Refresh", show=False, id="putdesk.refresh", tooltip="Reload all"),
    Binding(
        "A",
        "switch_account",
        "Accounts",
        show=False,
        id="putdesk.accounts",
        tooltip="Switch to another configured IBKR account (its engine keeps running)",
    ),
    Binding(
        "1",
        "show_pane('scanner')",
        "Scanner",
        show=False,
        id="putdesk.pane.scanner",
        tooltip="Show the Scanner",
    ),
    Binding(
        "2",
        "show_pane('lineup')",
        "Lineup",
        show=False,
        id="putdesk.pane.lineup",
        tooltip="Show Tonight's Lineup and the budget",
    ),
    Binding(
        "3",
        "show_pane('positions')",
        "Positions",
        show=False,
        id="putdesk.pane.positions",
        tooltip="Show positions, orders and brackets",
    ),
    Binding(
        "4",
        "show_pane('nakedtrader')",
        "NakedTrader",
        show=False,
        id="putdesk.pane.nakedtrader",
        tooltip="Show the NakedTrader pane",
    ),
    Binding(
        "5",
        "show_pane('activity')",
        "Activity",
        show=False,
        id="putdesk.pane.activity",
        tooltip="Show the activity log",
    ),
    Binding("q,ctrl+q", "quit", "Quit", id="putdesk.quit", tooltip="Leave the console"),
]

SCANNER_BINDINGS: list[Binding] = [
    Binding(
        "t",
        "stage",
        "Stage",
        id="scanner.stage",
        tooltip="Stage the selected candidate into Tonight's Lineup",
    ),
    Binding(
        "y",
        "cycle_sort",
        "Sort",
        id="scanner.sort",
        tooltip="Sort by the next column (score, return, delta, OTM, DTE, symbol)",
    ),
    Binding(
        "Y",
        "reverse_sort",
        "Reverse",
        show=False,
        id="scanner.sort_reverse",
        tooltip="Reverse the sort order",
    ),
]

LINEUP_BINDINGS: list[Binding] = [
    Binding(
        "plus,equals_sign",
        "quantity(1)",
        "Qty +1",
        id="lineup.qty_up",
        tooltip="One more contract for the selected entry",
    ),
    Binding(
        "minus",
        "quantity(-1)",
        "Qty -1",
        id="lineup.qty_down",
        tooltip="One contract fewer for the selected entry",
    ),
    Binding(
        "delete,backspace",
        "remove",
        "Remove",
        id="lineup.remove",
        tooltip="Remove the selected entry from the lineup",
    ),
    Binding(
        "space",
        "approve_one",
        "Approve one",
        id="lineup.approve_one",
        tooltip="Approve the selected entry",
    ),
]

SETTINGS_BINDINGS: list[Binding] = [
    Binding(
        "ctrl+s",
        "save",
        "Save settings",
        id="settings.save",
        tooltip="Validate and save the settings (invalid values are never saved)",
    ),
    Binding("escape", "close", "Close", id="settings.close", tooltip="Close the settings panel"),
]

CONFIRM_BINDINGS: list[Binding] = [
    Binding("y", "confirm", "Yes", id="confirm.yes", tooltip="Confirm"),
    Binding("n,escape", "cancel", "No", id="confirm.no", tooltip="Cancel"),
]

ALL_BINDINGS: list[Binding] = [
    *APP_BINDINGS,
    *SCANNER_BINDINGS,
    *LINEUP_BINDINGS,
    *SETTINGS_BINDINGS,
    *CONFIRM_BINDINGS,
]


def binding_ids() -> set[str]:
    return {b.id for b in ALL_BINDINGS if b.id}


def validate_keymap(keymap: Mapping[str, str]) -> list[str]:
    """Problems in a user keymap: unknown binding ids and empty key lists."""
    known = binding_ids()
    problems = []
    for bid, keys in keymap.items():
        if bid not in known:
            problems.append(f"unknown binding id {bid!r} (known: {', '.join(sorted(known))})")
        elif not keys.strip():
            problems.append(f"binding {bid!r} has no keys")
    return problems
