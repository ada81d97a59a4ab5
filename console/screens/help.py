"""The help screen: every key with what it does (reflecting the user's keymap)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from console.keymap import APP_BINDINGS, LINEUP_BINDINGS, SCANNER_BINDINGS, SETTINGS_BINDINGS
from console.widgets.plain_table import PlainTable

#: #help-box in putdesk.tcss: 100 columns at most, 98 % of the screen; its border takes 2.
BOX_WIDTH, BOX_SHARE, BORDER = 100, 0.98, 2
#: Per column, the table pads one cell each side; and one more for the scrollbar.
CELL_PAD, SCROLLBAR = 2, 1

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
            table: PlainTable[str] = PlainTable(id="help-table", cursor_type="row")
            yield table

    def on_mount(self) -> None:
        table = self.query_one("#help-table", PlainTable)
        rows = key_rows(self.keymap)
        # keys and what they do first, what they do wrapped to the box: on an 80-column
        # terminal the whole description is read without scrolling sideways
        keys_w = max(len("Keys"), *(len(r[1]) for r in rows))
        inner = min(BOX_WIDTH, int(self.app.size.width * BOX_SHARE)) - BORDER
        what_w = max(24, inner - keys_w - 2 * CELL_PAD - SCROLLBAR)
        table.add_column("Keys", width=keys_w)
        table.add_column("What it does", width=what_w)
        table.add_columns("Where", "Id")
        for where, keys, what, binding_id in rows:
            table.add_row(keys, what, where, binding_id, height=None)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
