"""The key bar: the keys that matter in the current pane, with the user's keymap applied.

A single Static updated when the pane changes (Textual's Footer recomposes on every focus
change, which made each pane switch several times slower).
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static

from console.keymap import ALL_BINDINGS

GLOBAL = [
    "putdesk.help",
    "putdesk.scan",
    "putdesk.auto_select",
    "putdesk.approve",
    "putdesk.execute_now",
    "putdesk.kill",
    "putdesk.settings",
    "putdesk.quit",
]
PANE_KEYS: dict[str, list[str]] = {
    "scanner": ["scanner.stage", "scanner.sort"],
    "settings": ["settings.save", "settings.close"],
    "lineup": ["lineup.qty_up", "lineup.qty_down", "lineup.remove", "lineup.approve_one"],
    "nakedtrader": ["putdesk.nt_run"],
    "positions": [],
    "activity": [],
}
_NAMES = {
    "question_mark": "?",
    "equals_sign": "=",
    "plus": "+",
    "minus": "-",
    "delete": "del",
    "backspace": "bksp",
    "escape": "esc",
}


def shown_key(keys: str) -> str:
    first = keys.split(",")[0].strip()
    return _NAMES.get(first, first.replace("ctrl+", "^"))


def key_bar_text(pane: str, keymap: Mapping[str, str]) -> Text:
    by_id = {b.id: b for b in ALL_BINDINGS}
    text = Text()
    for bid in [*PANE_KEYS.get(pane, []), *GLOBAL]:
        b = by_id[bid]
        text.append(f" {shown_key(keymap.get(bid, b.key))} ", style="bold reverse")
        text.append(f" {b.description} ")
    text.append(" ^p ", style="bold reverse")
    text.append(" palette")
    return text


class KeyBar(Static):
    def show_for(self, pane: str, keymap: Mapping[str, str]) -> None:
        self.update(key_bar_text(pane, keymap))
