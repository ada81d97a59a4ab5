"""The account picker: every configured IBKR account, where its engine is, pick one to switch.

The console shows one account at a time. Switching keeps the engine it leaves running (an
engine this console started goes on in the background, an attached one stays attached), so
a lineup in execution or a watcher is never stopped by looking at another account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option


@dataclass(frozen=True)
class AccountChoice:
    """One account as the picker lists it."""

    account: str
    label: str
    kind: str  # "paper" / "live" / "simulated"
    #: where its engine is, from the console's point of view ("shown here", "running in
    #: the background", "engine running (socket)", "not running")
    where: str
    current: bool = False


def choice_text(c: AccountChoice) -> Text:
    text = Text()
    text.append("● " if c.current else "  ", style="bold")
    text.append(f"{c.label or c.account:<16}", style="bold" if c.current else "")
    text.append(f" {c.account:<12} {c.kind.upper():<9} ")
    text.append(c.where, style="dim" if c.where == "not running" else "")
    return text


class AccountPicker(ModalScreen[str | None]):
    """Dismisses with the chosen account id, or None (escape, or the account already shown)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="putdesk.accounts.cancel"),
    ]

    def __init__(self, choices: list[AccountChoice]) -> None:
        super().__init__()
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(id="accounts-box"):
            yield Label("Switch account", id="accounts-title")
            yield OptionList(
                *(Option(choice_text(c), id=c.account) for c in self.choices),
                id="accounts-list",
            )
            hint = (
                "enter: show this account   escape: stay\n"
                "Engines keep running when you switch away."
            )
            if len(self.choices) < 2:
                hint = (
                    "Only one account is configured. Add more under `accounts:` in "
                    "putdesk.yaml (see docs/configuration.md).\nescape: close"
                )
            yield Static(hint, id="accounts-keys")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        current = next((i for i, c in enumerate(self.choices) if c.current), 0)
        ol.highlighted = current
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        chosen = event.option.id
        current = next((c.account for c in self.choices if c.current), None)
        self.dismiss(chosen if chosen != current else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
