"""Pilot tests of the console against the real engine (in-process, simulated gateway)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from config.models import PutdeskConfig
from console.app import PutdeskApp
from console.screens.confirm import ConfirmScreen
from console.widgets.header import StatusHeader
from console.widgets.lineup import LineupTable
from console.widgets.scanner import RejectionTable, ScannerTable

pytestmark = pytest.mark.slow


async def wait_for(
    pilot: Pilot[int], cond: Callable[[], Any], what: str, limit: float = 30
) -> None:
    """Pump the app until `cond()` holds (the engine works in real time)."""
    steps = int(limit / 0.1)
    for _ in range(steps):
        if cond():
            return
        await pilot.pause(0.1)
    from console.widgets.activity import ActivityLog

    log = "\n".join(pilot.app.main.query_one(ActivityLog).lines_text)  # type: ignore[attr-defined]
    raise AssertionError(f"timed out waiting for {what}; activity:\n{log}")


def real_app() -> tuple[PutdeskApp, dict[str, Any]]:
    from engine.api.client import connect_api

    cfg = PutdeskConfig.model_validate({"ibkr": {"simulated": True}, "ai": {"enabled": False}})
    holder: dict[str, Any] = {}

    async def factory() -> Any:
        api = await connect_api(None, None, cfg=cfg)
        holder["api"] = api
        return api

    app = PutdeskApp(factory, config=cfg, status_poll_s=0.5, use_calendar=False)
    return app, holder


async def test_scan_autoselect_edit_approve_kill_on_the_real_engine() -> None:
    app, holder = real_app()
    async with app.run_test(size=(120, 40)) as pilot:
        header = lambda: app.main.query_one(StatusHeader).who_text().plain  # noqa: E731
        await wait_for(pilot, lambda: "ready" in header(), "the engine to be ready")
        assert "SIMULATED" in header()

        # the closed-market override keeps this test independent of the hour it runs at
        await pilot.press("o")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        await pilot.press("s")
        table = app.main.query_one(ScannerTable)
        rejections = app.main.query_one(RejectionTable)
        await wait_for(pilot, lambda: table.row_count > 0, "scan candidates")
        await wait_for(
            pilot,
            lambda: "finished" in str(app.main.query_one("#scan-progress").render()),
            "scan end",
        )
        assert table.row_count + rejections.row_count == len(app.config.universe.watchlist)
        first = table.current()
        assert first is not None and first["id"] and first["strike"]

        await pilot.press("a")
        await wait_for(pilot, lambda: app.main.active_pane == "lineup", "the lineup pane")
        await wait_for(
            pilot,
            lambda: (
                bool(app.main.query(LineupTable)) and app.main.query_one(LineupTable).row_count > 0
            ),
            "lineup rows",
        )
        lineup = app.main.query_one(LineupTable)
        lineup.focus()
        await pilot.press("plus")
        entry_id = lineup.current()["id"]  # type: ignore[index]
        await wait_for(
            pilot,
            lambda: any(
                e.get("id") == entry_id and int(e.get("quantity") or 0) == 2
                for e in app.state["lineup"].get("entries", [])
            ),
            "the engine to take quantity 2",
        )
        await pilot.press("p")
        await wait_for(
            pilot,
            lambda: (
                {e.get("status") for e in app.state["lineup"].get("entries", [])} == {"approved"}
            ),
            "approval",
        )

        await pilot.press("K")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: "HALTED" in header(), "the halt")
        await pilot.press("q")
    assert holder["api"] is not None
