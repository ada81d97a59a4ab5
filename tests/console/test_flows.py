"""Pilot tests of the main console flows against the fake engine."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Select
from textual.widgets.data_table import ColumnKey

from console.screens.confirm import ConfirmScreen
from console.widgets.activity import ActivityLog
from console.widgets.budget import BudgetGauges
from console.widgets.header import StatusHeader
from console.widgets.lineup import LineupDoneTable, LineupTable
from console.widgets.scanner import RejectionTable, ScannerTable
from console.widgets.settings import SettingsForm
from engine.api.models import ExecuteNow, Kill, SaveSettings, Scan, SetQuantity
from tests.console.conftest import make_app, settle
from tests.console.fake_api import FakeEngineAPI


async def test_scan_autoselect_edit_approve() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "SIMULATED" in app.main.query_one(StatusHeader).who_text().plain
        await pilot.press("s")
        await settle(pilot)
        table = app.main.query_one(ScannerTable)
        assert table.row_count == 8
        assert set(app.main.query_one(RejectionTable)._rows) == {"GOOGL", "META"}
        assert "Scan #1 finished" in str(app.main.query_one("#scan-progress").render())

        await pilot.press("a")
        await settle(pilot)
        assert app.main.active_pane == "lineup"
        lineup = app.main.query_one(LineupTable)
        assert lineup.row_count == len(fake.lineup) > 0
        first = lineup.current()
        assert first is not None and first["quantity"] == 1
        before = app.main.query_one(BudgetGauges).query_one("#budget-numbers").render()

        lineup.focus()
        await pilot.press("plus")
        await pilot.pause()
        # the projection moves at once, before the engine answers
        after = app.main.query_one(BudgetGauges).query_one("#budget-numbers").render()
        assert str(before) != str(after)
        await settle(pilot)
        assert any(isinstance(c, SetQuantity) and c.quantity == 2 for c in fake.requests)
        assert fake.lineup[0]["quantity"] == 2

        await pilot.press("p")
        await settle(pilot)
        assert {e["status"] for e in fake.lineup} == {"approved"}
        assert "approved" in str(lineup.get_row(str(fake.lineup[0]["id"]))[-1])
        # the column grows with its longer status ("staged" -> "approved"), nothing truncated
        assert lineup.columns[ColumnKey("status")].content_width >= len("approved")


async def test_auto_select_before_any_scan_scans_first() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        sent = [c for c in fake.requests if isinstance(c, Scan)]
        assert len(sent) == 1 and sent[0].auto_select
        assert app.main.active_pane == "lineup"
        assert app.main.query_one(LineupTable).row_count == len(fake.lineup) > 0
        await pilot.press("1")
        await settle(pilot)
        assert app.main.query_one(ScannerTable).row_count == 8


async def test_invalid_setting_is_refused_and_valid_one_saved() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        form = app.main.query_one(SettingsForm)
        field = form.query_one("#set-selection-delta-target", Input)
        assert field.value == "0.065"
        field.focus()
        field.value = ""
        await pilot.press(*"0.5")
        await pilot.pause()
        error = str(form.query_one("#set-selection-delta-target-error").render())
        assert "delta_target 0.5 must lie within" in error
        assert field.has_class("-invalid")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not any(isinstance(c, SaveSettings) for c in fake.requests)
        assert fake.saved == []

        field.value = ""
        await pilot.press(*"0.07")
        await pilot.pause()
        assert str(form.query_one("#set-selection-delta-target-error").render()) == ""
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert fake.saved == [{"selection": {"delta_target": 0.07}}]


async def test_weights_must_sum_to_one_shows_on_the_field() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        form = app.main.query_one(SettingsForm)
        form.set_value(("selection", "weights", "safety"), "0.5")
        await pilot.pause()
        err = str(form.query_one("#set-selection-weights-safety-error").render())
        assert "weights must sum to 1" in err
        assert form.problems


async def test_kill_switch_asks_first() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("K")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert not any(isinstance(c, Kill) for c in fake.requests)
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert not any(isinstance(c, Kill) for c in fake.requests)

        await pilot.press("K")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert any(isinstance(c, Kill) for c in fake.requests)
        assert fake.halted
        assert "HALTED" in app.main.query_one(StatusHeader).who_text().plain


async def test_confirm_dialogs_say_what_will_happen() -> None:
    """The kill switch names the orders it cancels and the positions it leaves without exits;
    Execute now names what it sends (here: nothing approved); NakedTrader shows its plan."""
    app = make_app()

    async def ask(pilot: Any, key: str) -> str:
        """The dialog's text after `key`; answered no."""
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        text = app.screen.message
        await pilot.press("n")
        await settle(pilot)
        return text

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = await ask(pilot, "K")
        assert "Cancel ALL 2 working putdesk orders (1 take-profit, 1 stop)" in text, text
        assert "1 open position loses its exits and stays open, UNPROTECTED: SPX 5650P" in text
        assert "Nothing is approved, so this run sends nothing" in await ask(pilot, "x")
        text = await ask(pilot, "n")
        assert "today's SPX put now: target |delta| 0.065" in text
        assert "Today's trade exists already: SELL 1 SPX 5650P Nov24" in text


async def test_execute_on_live_account_needs_typed_word() -> None:
    app = make_app(FakeEngineAPI(simulated=False, mode="live"))
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert " LIVE " in app.main.query_one(StatusHeader).who_text().plain
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # y alone is not enough
        word = app.screen.query_one("#confirm-word", Input)
        assert word.value == "y"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # a wrong word is not enough
        assert not any(isinstance(c, ExecuteNow) for c in fake.requests)
        word.value = ""
        await pilot.press(*"LIVE", "enter")
        await settle(pilot)
        sent = [c for c in fake.requests if isinstance(c, ExecuteNow)]
        assert sent and sent[0].live_confirmed is True


async def test_closed_market_scan_refused_then_override_marks_stale() -> None:
    app = make_app(FakeEngineAPI(market_open=False))
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "opens in 00:05:00" in app.main.query_one(StatusHeader).when_text().plain
        await pilot.press("s")
        await settle(pilot)
        log = app.main.query_one(ActivityLog)
        assert any("scan refused: market closed" in line for line in log.lines_text)
        assert all(" ET · Wed 01:" in line and "AEDT" in line for line in log.lines_text)
        assert app.main.query_one(ScannerTable).row_count == 0

        await pilot.press("o")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app.override_closed
        await pilot.press("s")
        await settle(pilot)
        scans = [c for c in fake.requests if isinstance(c, Scan)]
        assert scans[-1].override_closed is True
        table = app.main.query_one(ScannerTable)
        assert table.row_count == 8
        assert "STALE" in str(table.get_row("AAPL")[-1])


async def test_reattaches_when_the_engine_comes_back() -> None:
    """The engine behind the socket goes away (its event stream ends): the console says so,
    closes that connection and attaches again (only to a running engine) once one answers."""
    first, second = FakeEngineAPI(), FakeEngineAPI()
    tries: list[int] = []

    async def reattach() -> FakeEngineAPI:
        tries.append(1)
        if len(tries) < 3:  # the engine is still restarting
            raise ConnectionRefusedError("no engine is running for the account")
        return second

    app = make_app(first, reattach_factory=reattach, reattach_s=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.api is first
        await first.close()  # the engine's event stream ends
        for _ in range(100):
            await pilot.pause(0.05)
            if app.api is second:
                break
        await settle(pilot)
        assert app.api is second and first.closed and len(tries) == 3
        log = "\n".join(app.main.query_one(ActivityLog).lines_text)
        assert "the engine closed the event stream; reattaching every 0.05 s" in log
        assert "reattached" in log
        assert "GetStatus" in second.names()  # refreshed from the new engine
        assert "SIMULATED" in app.main.query_one(StatusHeader).who_text().plain


async def test_execute_with_nothing_approved_warns_instead_of_done() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")  # staged, not approved
        await settle(pilot)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert any(isinstance(c, ExecuteNow) for c in fake.requests)
        staged = len(fake.lineup)
        text = f"execute now: nothing approved to send ({staged} staged entries wait for approval)"
        [note] = [n for n in app._notifications if "execute now" in str(n.message)]
        assert str(note.message) == text and note.severity == "warning"
        assert text in "\n".join(app.main.query_one(ActivityLog).lines_text)


async def test_executed_entries_move_to_the_done_table_with_reasons() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("p", "x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert any(isinstance(c, ExecuteNow) for c in fake.requests)
        n = len(fake.lineup)
        assert any(
            str(m.message) == f"execute now: {n} approved: {n - 1} working, 1 cancelled"
            for m in app._notifications
        )
        assert app.main.query_one(LineupTable).row_count == 0  # nothing staged/approved left
        done = app.main.query_one(LineupDoneTable)
        assert done.row_count == len(fake.lineup) > 1
        rows = [[str(c) for c in done.get_row_at(i)] for i in range(done.row_count)]
        assert rows[0][4] == "cancelled" and "no strike within 3" in rows[0][6]
        assert {r[4] for r in rows[1:]} == {"submitted"}
        # when: ET and the local clock (Sydney, the next day there)
        assert rows[0][5] == "Tue 09:25 ET · Wed 01:25 AEDT"


async def test_regime_guard_is_switched_on_in_the_settings_form() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        form = app.main.query_one(SettingsForm)
        switch = form.query_one("#set-selection-regime-guard-enabled", Select)
        assert switch.value == "off"
        assert form.query_one("#set-selection-regime-guard-max-vix", Input).value == "30.0"
        form.set_value(("selection", "regime_guard", "enabled"), "on")
        form.set_value(("selection", "regime_guard", "max_vix"), "-1")
        await pilot.pause()
        assert "greater than 0" in str(
            form.query_one("#set-selection-regime-guard-max-vix-error").render()
        )
        form.set_value(("selection", "regime_guard", "max_vix"), "25")
        form.query_one("#set-selection-regime-guard-max-vix", Input).focus()
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert fake.saved == [{"selection": {"regime_guard": {"enabled": True, "max_vix": 25.0}}}]
        # unchanged: choosing "off" again on a fresh form is no edit
        form.load(fake.settings)
        await settle(pilot)
        assert switch.value == "on" and form.edits == {}


async def test_every_settings_field_scrolls_into_view_when_focused() -> None:
    """The form is taller than the panel: focusing a field (tab) scrolls it into view; none
    is clipped out of reach (the last ones were, once the form outgrew the panel)."""
    from console.widgets.settings import FIELDS

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        form = app.main.query_one(SettingsForm)
        contents = app.main.query_one("#settings-panel Contents")
        for f in FIELDS:
            widget = form.query_one("#" + f.dom_id)
            widget.focus()
            await settle(pilot)
            assert contents.region.contains_region(widget.region), f.path
