"""More pilot tests: live diff updates, keymap, help and palette, panes, engine loss, quit."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from config.models import ConsoleConfig, PutdeskConfig
from console.screens.confirm import ConfirmScreen
from console.screens.help import HelpScreen
from console.widgets.activity import ActivityLog
from console.widgets.header import StatusHeader
from console.widgets.nakedtrader import NakedTraderView
from console.widgets.scanner import CandidateDetail, RejectionTable, ScannerTable
from engine.api.models import Scan
from tests.console.conftest import make_app, settle
from tests.console.fake_api import FakeEngineAPI


async def test_live_updates_keep_cursor_and_update_cells() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        table = app.main.query_one(ScannerTable)
        table.focus()
        await pilot.press("down", "down")
        row_before = table.cursor_row
        key_before = table.current()["symbol"]  # type: ignore[index]
        fake.scan["candidates"][0]["bid"] = 0.99
        del fake.scan["candidates"][-1]
        await pilot.press("r")
        await settle(pilot)
        assert table.row_count == 7
        assert table.cursor_row == row_before
        assert table.current()["symbol"] == key_before  # type: ignore[index]
        assert "0.99/" in str(table.get_row("AAPL")[7])


async def test_keymap_remaps_scan() -> None:
    cfg = PutdeskConfig(console=ConsoleConfig(keymap={"putdesk.scan": "f5"}))
    app = make_app(config=cfg)
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert not any(isinstance(c, Scan) for c in fake.requests)
        await pilot.press("f5")
        await settle(pilot)
        assert any(isinstance(c, Scan) for c in fake.requests)


async def test_help_lists_every_key_and_palette_runs_actions() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        ids = {str(table.get_row_at(i)[3]) for i in range(table.row_count)}
        assert {"putdesk.kill", "putdesk.scan", "lineup.qty_up", "settings.save"} <= ids
        first = [str(c) for c in table.get_row_at(0)]  # keys and what they do first
        assert first[:3] == ["?, f1", "List every key", "Everywhere"]
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Kill switch")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        # "switch" is "Switch account", not "Kill switch": enter runs the top hit
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"switch")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen)
        assert "No accounts are configured" in "\n".join(str(n.message) for n in app._notifications)


async def test_panes_switch_by_number_at_80x24() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key, pane in [
            ("2", "lineup"),
            ("3", "positions"),
            ("4", "nakedtrader"),
            ("5", "activity"),
            ("1", "scanner"),
        ]:
            await pilot.press(key)
            await settle(pilot, 1)
            assert app.main.active_pane == pane
        assert app.main.has_class("-narrow")


async def test_the_number_of_the_pane_shown_keeps_its_keys_working() -> None:
    """Pressing the pane's own number again (2 on the Lineup) left nothing focused, so `+`,
    `space` and `delete` did nothing; the pane's table keeps (or gets back) the focus."""
    from console.widgets.lineup import LineupTable
    from engine.api.models import SetQuantity

    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.focused, LineupTable)
        await pilot.press("plus")
        await settle(pilot)
        assert any(isinstance(c, SetQuantity) for c in fake.requests)


async def test_engine_unreachable_is_shown_and_console_stays_up() -> None:
    async def broken() -> FakeEngineAPI:
        raise ConnectionRefusedError("no engine socket")

    from console.app import PutdeskApp

    app = PutdeskApp(broken, use_calendar=False, status_poll_s=3600, clock_tick_s=3600)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        who = app.main.query_one(StatusHeader).who_text().plain
        assert "cannot reach the engine: no engine socket" in who
        await pilot.press("s")
        await settle(pilot)
        log = app.main.query_one(ActivityLog)
        assert any("not attached to the engine" in line for line in log.lines_text)


async def test_quit_closes_the_api() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert fake.closed


async def test_unknown_keymap_id_is_reported() -> None:
    cfg = PutdeskConfig(console=ConsoleConfig(keymap={"putdesk.nope": "f9"}))
    app = make_app(config=cfg)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        log = app.main.query_one(ActivityLog)
        assert any("unknown binding id 'putdesk.nope'" in line for line in log.lines_text)


async def test_rejected_symbol_shows_each_strikes_reason() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        rejections = app.main.query_one(RejectionTable)
        rejections.focus()
        await pilot.pause()
        await settle(pilot)
        detail = str(app.main.query_one(CandidateDetail).render())
        assert "GOOGL  rejected" in detail and "strikes looked at (3)" in detail
        assert "Dec04 145.0: |delta| 0.031 < delta_min 0.05" in detail
        assert "Nov27 all: 20261127 not requested" in detail
        await pilot.press("down")
        await pilot.pause()
        detail = str(app.main.query_one(CandidateDetail).render())
        assert "META  rejected" in detail and "wide_spread" in detail


async def test_nakedtrader_pane_says_when_the_band_was_widened() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        text = str(app.main.query_one(NakedTraderView).render())
        assert "SELL 1 SPX 5,650P Nov24" in text
        assert "chosen after widening the delta band 1x (nothing in the planned range)" in text
        assert "SPX (SPXW)  target" in text  # the trading class, when it is not the symbol


async def test_nakedtrader_plan_names_a_trading_class_like_its_symbol_once() -> None:
    class XspFake(FakeEngineAPI):
        def _NtStatus(self, cmd: Any) -> Any:
            r = super()._NtStatus(cmd)
            r.data["plan"].update(symbol="XSP", trading_class="XSP")
            return r

    app = make_app(XspFake())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        text = str(app.main.query_one(NakedTraderView).render())
        assert "  XSP  target" in text and "(XSP)" not in text


async def test_visible_positions_pane_is_refetched_as_marks_move(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Marks and P&L move without an event (IBKR's portfolio updates): the Positions pane,
    while on screen, is refetched with the status poll; hidden, it is not."""
    import console.app as console_app

    monkeypatch.setattr(console_app, "PANE_POLL_S", 0.0)
    app = make_app(status_poll_s=0.05)
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.pause(0.3)
        hidden = fake.names().count("GetPositions")
        await pilot.pause(0.3)
        assert fake.names().count("GetPositions") == hidden  # scanner shown: no refetch
        await pilot.press("3")
        for _ in range(60):  # polled every 0.05 s; a busy machine may take longer
            if fake.names().count("GetPositions") >= hidden + 3:
                break
            await pilot.pause(0.05)
        assert fake.names().count("GetPositions") >= hidden + 3


REGIME = {
    "reading": {
        "label": "VIX 31.4 stress, backwardation, trend down",
        "vix_bucket": "stress",
        "term": "backwardation",
        "trend": "down",
        "vix": 31.4,
        "vix3m": 28.0,
        "vix_ratio": 1.1214,
        "spx": 5400.0,
        "spx_sma200": 5600.0,
        "as_of": "2026-11-24T14:00:00+00:00",
    },
    "age_s": 0,
    "error": None,
    "guard": {
        "enabled": True,
        "blocks": True,
        "reason_code": "regime.vix",
        "reason": "regime guard: VIX 31.40 >= max_vix 30 (stress)",
    },
}


async def test_header_asks_for_the_regime_and_shows_it_with_the_guard() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    fake.regime = REGIME
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "GetRegime" in fake.names()  # none in the status: the console asked for it
        await app.refresh_status().wait()
        await settle(pilot)
        header = app.main.query_one(StatusHeader)
        when = header.when_text().plain
        assert "VIX 31.4 stress, backwardation, trend down" in when
        assert "REGIME GUARD" in when
        asked = fake.names().count("GetRegime")
        await app.refresh_status().wait()
        await settle(pilot)
        assert fake.names().count("GetRegime") == asked  # a fresh reading: not asked again


async def test_header_without_regime_data_shows_none_and_keeps_working() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "GetRegime" in fake.names()
        when = app.main.query_one(StatusHeader).when_text().plain
        assert "VIX" not in when and "GUARD" not in when


async def test_narrow_header_shows_the_guard_before_the_vix() -> None:
    app = make_app()
    fake = app.fake  # type: ignore[attr-defined]
    fake.regime = REGIME
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.refresh_status().wait()
        await settle(pilot)
        header = app.main.query_one(StatusHeader)
        when = header.when_text().plain
        assert when.endswith("  GUARD") and "VIX" not in when and len(when) <= 80
        fake.regime = {**REGIME, "guard": {**REGIME["guard"], "blocks": False}}
        await app.refresh_status().wait()
        await settle(pilot)
        assert header.when_text().plain.endswith("  VIX 31.4")


async def test_budget_line_keeps_headroom_in_sight_on_80_columns() -> None:
    from console.widgets.budget import BudgetGauges

    for size, narrow in (((80, 24), True), ((160, 40), False)):
        app = make_app()
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("2")
            await app.refresh_status().wait()
            await settle(pilot)
            gauges = app.main.query_one(BudgetGauges)
            line = str(gauges.query_one("#budget-numbers").render())
            if narrow:  # short amounts, headroom first
                assert line.startswith("headroom $") and "$250.0k" in line
            else:
                assert line.startswith("NLV $250,000") and "(20% of NLV)  headroom $" in line
                assert len(line) <= size[0] - 2


async def test_scanner_cells_show_brackets_verbatim() -> None:
    """An AI reason, a sector or a rejection reason with "[...]" in it is shown as written,
    not read as Rich markup (which would drop it or style by it)."""
    from console import messages as m
    from tests.console.fake_api import candidate

    app = make_app()
    async with app.run_test(size=(220, 40)) as pilot:  # every column on screen
        await settle(pilot)
        c = candidate(0, "BRKT", "Tech [x]", 100, 90.0, 0.5)
        c["ai_line"] = "[b]firm[/b] [200d MA]"
        bad = {"symbol": "ZZZ", "code": "broker", "reason": "IBKR 200: [i]no contract[/i]"}
        data = {"scan": {"id": 3, "state": "finished"}, "candidates": [c], "rejections": [bad]}
        app.post_message(m.ScanUpdated(data))
        await settle(pilot)
        table = app.main.query_one(ScannerTable)
        line = table.render_line(1).text  # the first row under the header, as drawn
        assert "[b]firm[/b] [200d MA]" in line and "Tech [x]" in line
        rejected = app.main.query_one(RejectionTable).render_line(1).text
        assert "IBKR 200: [i]no contract[/i]" in rejected


async def test_notifications_are_plain_text() -> None:
    """An engine error with brackets is notified as written (markup would drop "[order
    size]" and fail on "[/]")."""
    from console import messages as m
    from engine.api.models import Result

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        why = "IBKR 201: rejected [order size] [/]"
        app.post_message(m.CommandDone("scan", Result.fail(why, code="broker")))
        await settle(pilot)
        note = list(app._notifications)[-1]
        assert why in note.message and not note.markup
        await pilot.pause(0.2)  # the toast renders without a markup error
        assert app.is_running


async def test_halted_stays_in_view_on_an_80_column_header() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("K")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        who = app.main.query_one(StatusHeader).who_text().plain
        assert "HALTED" in who[:80], who
        assert who.index("HALTED") < who.index("ready")  # before the rest of the line


async def test_unprotected_position_is_flagged_and_protect_places_exits() -> None:
    from console.screens.confirm import ConfirmScreen as Confirm
    from console.widgets.positions import PositionsTable
    from engine.api.models import ProtectPositions

    fake = FakeEngineAPI()
    fake.positions[0]["bracket_status"] = "unprotected"
    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.main.query_one(PositionsTable)
        cells = [table.get_row_at(i)[6] for i in range(table.row_count)]
        flagged = [c for c in cells if str(c) == "UNPROTECTED"]
        assert len(flagged) == 1 and "bold" in str(flagged[0].style)
        header = app.main.query_one(StatusHeader)
        assert "1 UNPROTECTED" in header.who_text().plain
        await pilot.press("P")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await settle(pilot)
        assert any(isinstance(c, ProtectPositions) for c in fake.requests)
        log = "\n".join(app.main.query_one(ActivityLog).lines_text)
        assert "exits placed for 1 trade(s)" in log
        await pilot.press("3")
        await settle(pilot)
        cells = [str(table.get_row_at(i)[6]) for i in range(table.row_count)]
        assert "UNPROTECTED" not in cells
        assert "UNPROTECTED" not in header.who_text().plain


async def test_a_render_during_shutdown_does_nothing() -> None:
    """A message handled while the app closes (orders loaded after the panes were taken
    down) renders nothing instead of failing the exit with NoMatches('#panes')."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        main = app.main
        assert main is not None
        await main.query_one("#panes").remove()
        assert main.active_pane == ""
        for name in ("positions", "scanner", "lineup", "activity", "nt"):
            app._render(name)  # marked dirty, never drawn: no pane to draw into
        main.update_keys()
        assert {"positions", "scanner", "lineup"} <= main.dirty
