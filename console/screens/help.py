"""The help screen: every key with what it does (reflecting the user's keymap)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from console.keymap import APP_BINDINGS, LINEUP_BINDINGS, SCANNER_BINDINGS, SETTINGS_BINDINGS

SECTIONS: list[tuple[str, list[Binding]]] = [
    ("Everywhere", APP_BINDINGS),
    ("Scanner table", SCANNER_BINDINGS),
    ("Lineup table", LINEUP_BINDINGS),
    ("Settings panel", SETTINGS_BINDINGS),
]


def key_rows(keymap: Mapping[str, str]) -> list[tuple[str, str, str, str]]:
    """(section, keys, description, binding id) for every binding, keymap applied."""
    rows = []
    for section, bindings in SECTIONS:
        for b in bindings:
            keys = keymap.get(b.id or "", b.key)
            shown = ", ".join(k.strip().replace("question_mark", "?") for k in keys.split(","))
            rows.append((section, shown, b.tooltip or b.description, b.id or ""))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close", tooltip="Close help"),
    ]

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = dict(keymap)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Label("putdesk keys  (escape closes; remap with console.keymap)", id="help-title")
            table: DataTable[str] = DataTable(id="help-table", cursor_type="row")
            yield table

    def on_mount(self) -> None:
        table = self.query_one("#help-table", DataTable)
        # keys and what they do first: they are what fits on an 80-column terminal
        table.add_columns("Keys", "What it does", "Where", "Id")
        for where, keys, what, binding_id in key_rows(self.keymap):
            table.add_row(keys, what, where, binding_id)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
