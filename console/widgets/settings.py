"""The settings form inside the Scanner: validated live against the config models.

Every edit is checked by merging it into the engine's current settings and validating the
whole `PutdeskConfig`; the reason of any problem is shown on the field it concerns. Only a
form with no problems can be saved, and only the changed values are sent (SaveSettings).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from config.models import PutdeskConfig
from console.keymap import SETTINGS_BINDINGS

Path = tuple[str, ...]


@dataclass(frozen=True)
class Field:
    """One editable setting: its path in putdesk.yaml, a label and an input kind."""

    path: Path
    label: str
    kind: str = "number"  # number | choice | switch (a bool shown as off / on)
    choices: tuple[str, ...] = ()

    @property
    def options(self) -> tuple[str, ...]:
        return ("off", "on") if self.kind == "switch" else self.choices

    def shown(self, value: Any) -> str:
        """A setting's value as the form shows it."""
        if self.kind == "switch":
            return "on" if value is True else "off"
        return "" if value is None else str(value)

    @property
    def dom_id(self) -> str:
        return "set-" + "-".join(self.path).replace("_", "-")


FIELDS: list[Field] = [
    Field(("automation_level",), "Automation level", "choice", ("A", "B", "C")),
    Field(("selection", "weights", "safety"), "Weight: safety"),
    Field(("selection", "weights", "liquidity"), "Weight: liquidity"),
    Field(("selection", "weights", "ai"), "Weight: AI"),
    Field(("selection", "weights", "efficiency"), "Weight: efficiency"),
    Field(("selection", "delta_target"), "Delta target"),
    Field(("selection", "delta_min"), "Delta min"),
    Field(("selection", "delta_max"), "Delta max"),
    Field(("selection", "min_otm_pct"), "Min OTM %"),
    Field(
        ("selection", "dte_preference"),
        "DTE preference",
        "choice",
        ("shortest", "closest_to_target"),
    ),
    Field(("selection", "dte_min"), "DTE min"),
    Field(("selection", "dte_max"), "DTE max"),
    Field(("selection", "min_premium"), "Min premium"),
    Field(("budget", "margin_pct_of_nlv"), "Budget % of NLV"),
    Field(("budget", "max_per_sector"), "Max per sector"),
    Field(("selection", "contracts_per_trade"), "Contracts per trade"),
    Field(("selection", "sizing"), "Sizing rule", "choice", ("fixed", "margin_share")),
    Field(("selection", "regime_guard", "enabled"), "Regime guard", "switch"),
    Field(("selection", "regime_guard", "max_vix"), "Guard: max VIX"),
]


def get_path(d: dict[str, Any], path: Path) -> Any:
    cur: Any = d
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


def set_path(d: dict[str, Any], path: Path, value: Any) -> None:
    cur = d
    for p in path[:-1]:
        cur = cur.setdefault(p, {})
    cur[path[-1]] = value


def validate(base: dict[str, Any], edits: dict[Path, str]) -> tuple[dict[Path, str], Any]:
    """Validate `edits` merged into `base`. Returns (problems by field path, config or None).

    A problem whose location is a section (a cross-field rule such as "weights must sum to 1")
    is shown on every edited field inside that section."""
    merged = copy.deepcopy(base)
    for path, raw in edits.items():
        set_path(merged, path, raw.strip())
    try:
        cfg = PutdeskConfig.model_validate(merged)
    except ValidationError as exc:
        problems: dict[Path, str] = {}
        for err in exc.errors():
            loc = tuple(str(x) for x in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            targets = [f.path for f in FIELDS if f.path == loc[: len(f.path)]]
            if not targets:
                targets = [p for p in edits if p[: len(loc)] == loc] or [
                    f.path for f in FIELDS if f.path[: len(loc)] == loc
                ][:1]
            for t in targets:
                problems.setdefault(t, msg)
        return problems, None
    return {}, cfg


def changes_of(cfg: PutdeskConfig, base: dict[str, Any], edits: dict[Path, str]) -> dict[str, Any]:
    """The nested dict of edited values that differ from `base`, in JSON form."""
    dumped = cfg.model_dump(mode="json")
    out: dict[str, Any] = {}
    for path in edits:
        new = get_path(dumped, path)
        if new != get_path(base, path):
            set_path(out, path, new)
    return out


class SettingsForm(Vertical, can_focus=False):
    """The form. Posts `SaveRequested(changes)` only for a valid, changed form."""

    BINDINGS: ClassVar[list[BindingType]] = list(SETTINGS_BINDINGS)

    class SaveRequested(Message):
        def __init__(self, changes: dict[str, Any]) -> None:
            super().__init__()
            self.changes = changes

    class CloseRequested(Message):
        """Escape pressed inside the form."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.base: dict[str, Any] = PutdeskConfig().model_dump(mode="json")
        self.edits: dict[Path, str] = {}
        self.problems: dict[Path, str] = {}
        self._loading = False

    def compose(self) -> ComposeResult:
        yield Static("Edit, then ctrl+s to save. Invalid values are never saved.", classes="hint")
        for f in FIELDS:
            with Horizontal(classes="setting-row"):
                yield Label(f.label, classes="setting-label")
                if f.kind in ("choice", "switch"):
                    yield Select(
                        [(c, c) for c in f.options],
                        allow_blank=False,
                        id=f.dom_id,
                        compact=True,
                        classes="setting-input",
                    )
                else:
                    yield Input(id=f.dom_id, compact=True, classes="setting-input")
                # validation and engine messages are shown as written, never as markup
                yield Static("", id=f.dom_id + "-error", classes="setting-error", markup=False)
        yield Static("", id="settings-status", markup=False)

    def on_mount(self) -> None:
        settings = getattr(self.app, "state", {}).get("settings")
        if settings:
            self.load(settings)

    def load(self, settings: dict[str, Any]) -> None:
        """Show the engine's settings (a PutdeskConfig dump); forget local edits."""
        self.base = settings
        self.edits = {}
        self.problems = {}
        self._loading = True
        try:
            for f in FIELDS:
                value = get_path(settings, f.path)
                if f.kind in ("choice", "switch"):
                    sel = self.query_one("#" + f.dom_id, Select)
                    if f.shown(value) in f.options:
                        sel.value = f.shown(value)
                else:
                    self.query_one("#" + f.dom_id, Input).value = f.shown(value)
                self._show_error(f, None)
        finally:
            self.call_after_refresh(self._done_loading)
        self._set_status("")

    def _done_loading(self) -> None:
        self._loading = False

    def _field(self, dom_id: str | None) -> Field | None:
        return next((f for f in FIELDS if f.dom_id == dom_id), None)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._edited(self._field(event.input.id), event.value)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._edited(self._field(event.select.id), str(event.value))

    def _edited(self, f: Field | None, raw: str) -> None:
        if f is None or self._loading:
            return
        current = get_path(self.base, f.path)
        if raw.strip() == f.shown(current):
            self.edits.pop(f.path, None)
        else:
            self.edits[f.path] = raw
        self.revalidate()

    def set_value(self, path: Path, raw: str) -> None:
        """Type a value into a field (what a user does; used by the command palette too)."""
        f = next(f for f in FIELDS if f.path == path)
        if f.kind in ("choice", "switch"):
            self.query_one("#" + f.dom_id, Select).value = raw
        else:
            self.query_one("#" + f.dom_id, Input).value = raw

    def revalidate(self) -> None:
        self.problems, _ = validate(self.base, self.edits)
        for f in FIELDS:
            self._show_error(f, self.problems.get(f.path))
        if self.problems:
            self._set_status(f"{len(self.problems)} problem(s): not saved", error=True)
        elif self.edits:
            self._set_status(f"{len(self.edits)} unsaved change(s): ctrl+s to save")
        else:
            self._set_status("")

    def _show_error(self, f: Field, msg: str | None) -> None:
        err = self.query_one("#" + f.dom_id + "-error", Static)
        err.update(msg or "")
        widget = self.query_one("#" + f.dom_id)
        widget.set_class(bool(msg), "-invalid")
        err.set_class(bool(msg), "-shown")

    def _set_status(self, text: str, *, error: bool = False) -> None:
        st = self.query_one("#settings-status", Static)
        st.update(text)
        st.set_class(error, "-error")

    def show_engine_error(self, error: str) -> None:
        """The engine refused the save: show it on the field it names, or on the form."""
        hit = next((f for f in FIELDS if ".".join(f.path) in error), None)
        if hit is not None:
            self.problems[hit.path] = error
            self._show_error(hit, error)
        self._set_status(f"not saved: {error}", error=True)

    def action_save(self) -> None:
        self.revalidate()
        if self.problems:
            self.notify("Settings not saved: fix the fields marked in red", severity="error")
            return
        problems, cfg = validate(self.base, self.edits)
        if cfg is None or problems:
            return
        changes = changes_of(cfg, self.base, self.edits)
        if not changes:
            self.notify("No changes to save", timeout=2)
            return
        self._set_status("saving...")
        self.post_message(self.SaveRequested(changes))

    def action_close(self) -> None:
        self.post_message(self.CloseRequested())
