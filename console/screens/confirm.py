"""A yes/no confirmation dialog; with `word`, the user must type that word to confirm."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from console.keymap import CONFIRM_BINDINGS


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True only on an explicit yes (or the typed word)."""

    BINDINGS: ClassVar[list[BindingType]] = list(CONFIRM_BINDINGS)

    def __init__(self, title: str, message: str, *, word: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.word = word

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(self.title_text, id="confirm-title")
            yield Static(self.message, id="confirm-message", markup=False)
            if self.word:
                yield Static(f"Type {self.word} and press enter to confirm, escape to cancel.")
                yield Input(id="confirm-word", compact=True)
            else:
                yield Static("y: yes   n / escape: no", id="confirm-keys")

    def on_mount(self) -> None:
        if self.word:
            self.query_one("#confirm-word", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() == self.word:
            self.dismiss(True)
        else:
            self.notify(f"Type exactly {self.word} to confirm", severity="warning")

    def action_confirm(self) -> None:
        if self.word:
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
