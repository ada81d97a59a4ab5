"""Shared snapshot scenarios: every screen, reached by keys from a fresh app on the fake."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.pilot import Pilot
from textual.widgets import Input

from console.widgets.settings import SettingsForm
from tests.console.conftest import settle


def _still(pilot: Pilot[int]) -> None:
    """No blinking cursors and no toasts: the snapshot shows the screen itself."""
    pilot.app.clear_notifications()
    for inp in pilot.app.query(Input):
        inp.cursor_blink = False
    for screen in pilot.app.screen_stack:
        for inp in screen.query(Input):
            inp.cursor_blink = False


def _headless_morning(pilot: Pilot[int]) -> None:
    """The fake as a headless engine at level C whose scheduler ran the pre-open scan."""
    fake = pilot.app.fake  # type: ignore[attr-defined]
    fake.settings["automation_level"] = "C"
    fake.scheduler_running = True
    fake.job_runs = {"scan": ("ok", "scan of 12 symbols: 9 candidates; 4 staged, approved")}


def scenario(
    *keys: str, invalid: bool = False, headless: bool = False
) -> Callable[[Pilot[int]], Awaitable[None]]:
    async def run(pilot: Pilot[int]) -> None:
        if headless:
            _headless_morning(pilot)
        await settle(pilot)
        for k in keys:
            await pilot.press(k)
            await settle(pilot, 2)
        if invalid:
            form = pilot.app.main.query_one(SettingsForm)  # type: ignore[attr-defined]
            form.set_value(("selection", "delta_target"), "0.5")
            form.set_value(("budget", "max_per_sector"), "0")
            await settle(pilot, 2)
        _still(pilot)
        await pilot.pause()

    return run


SCENARIOS: dict[str, Callable[[Pilot[int]], Awaitable[None]]] = {
    "scanner_empty": scenario(),
    "scanner": scenario("s"),
    "scanner_settings": scenario("s", "e"),
    "settings_invalid": scenario("e", invalid=True),
    "lineup": scenario("s", "a"),
    "positions": scenario("3"),
    "nakedtrader": scenario("4"),
    "activity": scenario("s", "5", headless=True),
    "help": scenario("question_mark"),
    "kill_confirm": scenario("K"),
}
