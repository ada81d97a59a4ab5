"""Pilot tests of the account switcher: one account shown at a time, the others kept running."""

from __future__ import annotations

import asyncio
from typing import Any

from console.engine_link import AccountLink
from console.screens.accounts import AccountPicker
from console.widgets.activity import ActivityLog
from console.widgets.header import StatusHeader
from console.widgets.scanner import ScannerTable
from engine.api.models import Scan
from tests.console.conftest import make_app, settle
from tests.console.fake_api import FakeEngineAPI

PAPER, SECOND = "DU1234567", "DU7654321"


def links(fakes: dict[str, FakeEngineAPI], calls: list[str]) -> list[AccountLink]:
    """One link per fake; `calls` records every connect (an engine reached or started)."""

    def link(acct: str, label: str) -> AccountLink:
        async def connect() -> Any:
            calls.append(acct)
            return fakes[acct]

        return AccountLink(acct, label, "simulated", connect, None, lambda: "not running")

    return [link(PAPER, "Main"), link(SECOND, "Second")]


def two_accounts() -> tuple[Any, dict[str, FakeEngineAPI], list[str]]:
    fakes = {PAPER: FakeEngineAPI(account=PAPER), SECOND: FakeEngineAPI(account=SECOND)}
    calls: list[str] = []
    accounts = links(fakes, calls)
    app = make_app(fakes[PAPER], accounts=accounts, account=PAPER)
    app.api_factory = accounts[0].connect
    return app, fakes, calls


async def pick(pilot: Any, *keys: str) -> None:
    await pilot.press("A")
    await settle(pilot)
    assert isinstance(pilot.app.screen, AccountPicker)
    await pilot.press(*keys)
    await settle(pilot, rounds=6)


def who(app: Any) -> str:
    return app.main.query_one(StatusHeader).who_text().plain


async def test_switch_shows_the_other_account_and_keeps_the_first_running() -> None:
    app, fakes, calls = two_accounts()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")  # a scan on the first account fills the scanner
        await settle(pilot)
        assert app.main.query_one(ScannerTable).row_count > 0
        assert "Main" in who(app) and PAPER in who(app)

        await pick(pilot, "down", "enter")
        assert app.account == SECOND
        assert "Second" in who(app) and SECOND in who(app) and PAPER not in who(app)
        # nothing of the first account is shown as the second's
        assert app.main.query_one(ScannerTable).row_count == 0
        assert app.state["scan"] == {}
        # the first account's engine was kept, not closed
        assert app.background == {PAPER: fakes[PAPER]} and not fakes[PAPER].closed
        assert calls == [PAPER, SECOND]
        log = "\n".join(app.main.query_one(ActivityLog).lines_text)
        assert f"showing Second ({SECOND}); Main ({PAPER}) keeps running" in log
        # commands now go to the second account's engine only
        n_first = len(fakes[PAPER].requests)
        await pilot.press("s")
        await settle(pilot)
        assert any(isinstance(c, Scan) for c in fakes[SECOND].requests)
        assert not any(isinstance(c, Scan) for c in fakes[PAPER].requests[n_first:])

        await pick(pilot, "up", "enter")  # back: the kept engine, not a new connect
        assert app.account == PAPER and calls == [PAPER, SECOND]
        assert app.background == {SECOND: fakes[SECOND]}
        assert app.main.query_one(ScannerTable).row_count > 0  # reloaded from that engine
    # leaving the console closes every engine link it holds
    assert fakes[PAPER].closed and fakes[SECOND].closed


async def test_picker_lists_where_each_engine_is_and_escape_stays() -> None:
    app, _fakes, calls = two_accounts()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        rows = {c.account: c for c in app.account_choices()}
        assert rows[PAPER].current and rows[PAPER].where == "shown here"
        assert rows[SECOND].where == "not running" and not rows[SECOND].current
        await pick(pilot, "escape")
        assert app.account == PAPER and calls == [PAPER]
        await pick(pilot, "enter")  # the account already shown: nothing changes
        assert app.account == PAPER and calls == [PAPER]
        await pick(pilot, "down", "enter")
        rows = {c.account: c for c in app.account_choices()}
        assert rows[PAPER].where == "running in the background"


async def test_a_command_answered_after_a_switch_names_its_account() -> None:
    app, fakes, _calls = two_accounts()
    fakes[PAPER].delay["Scan"] = 0.3
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        for _ in range(200):  # the scan is sent (and answers 0.3 s later)
            if any(isinstance(c, Scan) for c in fakes[PAPER].requests):
                break
            await pilot.pause(0.01)
        app.switch_account(SECOND)
        await asyncio.sleep(0.5)
        await settle(pilot)
        assert app.account == SECOND
        log = "\n".join(app.main.query_one(ActivityLog).lines_text)
        assert f"Main ({PAPER}): scan" in log
        # the first account's scan result is not shown in the second account's scanner
        assert app.main.query_one(ScannerTable).row_count == 0


async def test_without_accounts_the_key_says_how_to_add_them() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        assert not isinstance(app.screen, AccountPicker)
        assert any("accounts:" in str(n.message) for n in app._notifications)


def test_console_links_one_engine_per_configured_account(tmp_path: Any) -> None:
    """The console program's links: `--account` first, each with its own settings; the demo
    runs every account on its own simulated gateway and brings a second one when none is
    configured."""
    from config.models import PutdeskConfig
    from console.__main__ import DEMO_SECOND_ACCOUNT, account_links, build_parser, demo_accounts

    cfg = PutdeskConfig.model_validate(
        {
            "ibkr": {"simulated": False},
            "accounts": {
                PAPER: {"label": "Paper"},
                "U7654321": {
                    "label": "Live",
                    "ibkr": {"expected_mode": "live", "port": 4001},
                    "budget": {"margin_pct_of_nlv": 15},
                },
            },
        }
    )
    args = build_parser().parse_args(["--account", "U7654321"])
    got = account_links(cfg, args, None)
    assert [(x.account, x.label, x.kind) for x in got] == [
        ("U7654321", "Live", "live"),
        (PAPER, "Paper", "paper"),
    ]
    assert got[0].where is not None and got[0].where() == "not running"

    demo_args = build_parser().parse_args(["--demo"])
    demo = account_links(demo_accounts(cfg), demo_args, None)  # profiles kept as configured
    assert [x.kind for x in demo] == ["simulated", "simulated"]
    plain = demo_accounts(PutdeskConfig())
    assert plain.account_ids() == [PAPER, DEMO_SECOND_ACCOUNT]
    assert plain.for_account(DEMO_SECOND_ACCOUNT).budget.margin_pct_of_nlv == 35
    assert plain.for_account(PAPER).budget.margin_pct_of_nlv == 20
    single = account_links(PutdeskConfig(), build_parser().parse_args([]), None)
    assert [(x.account, x.label) for x in single] == [("", "default")]


async def test_a_loaded_scan_is_drawn_at_once_and_a_new_one_replaces_every_row() -> None:
    """Redraws are coalesced only while changes come fast: a scan loaded after a quiet
    spell (a switch of account) is drawn at once, not half a second later; a scan sharing
    no symbol with the one shown replaces its rows (one clear)."""
    from console import messages as m
    from tests.console.fake_api import candidate

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.main.query_one(ScannerTable)

        def scan(prefix: str, n: int) -> dict[str, Any]:
            cands = [candidate(i % 8, f"{prefix}{i:02d}", "Tech", 100, 90.0, 0.5) for i in range(n)]
            return {"scan": {"id": 5, "state": "finished"}, "candidates": cands, "rejections": []}

        app._scanner_drawn = float("-inf")
        app.post_message(m.ScanUpdated(scan("A", 30)))
        await pilot.pause()
        assert table.row_count == 30 and app._render_timer is None  # drawn, nothing pending
        app._scanner_drawn = float("-inf")
        app.post_message(m.ScanUpdated(scan("B", 12)))
        await pilot.pause()
        assert table.row_count == 12
        assert sorted(str(k.value) for k in table.rows) == [f"B{i:02d}" for i in range(12)]


async def test_switching_away_while_an_engine_is_reached_keeps_it_for_later() -> None:
    """An engine still starting when the user switches away is not cancelled half-way (it
    would be left half-started): once reached it waits in the background."""
    fakes = {PAPER: FakeEngineAPI(account=PAPER), SECOND: FakeEngineAPI(account=SECOND)}
    calls: list[str] = []

    def link(acct: str, delay: float) -> AccountLink:
        async def connect() -> Any:
            calls.append(acct)
            await asyncio.sleep(delay)
            return fakes[acct]

        return AccountLink(acct, acct, "simulated", connect)

    accounts = [link(PAPER, 0.0), link(SECOND, 0.3)]
    app = make_app(fakes[PAPER], accounts=accounts, account=PAPER)
    app.api_factory = accounts[0].connect
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.switch_account(SECOND)
        await pilot.pause(0.05)
        app.switch_account(PAPER)  # back before SECOND's engine is reached
        app.switch_account(SECOND)  # and again: no second start while one is under way
        app.switch_account(PAPER)
        await asyncio.sleep(0.5)
        await settle(pilot)
        assert app.account == PAPER and app.api is fakes[PAPER]
        assert app.background == {SECOND: fakes[SECOND]} and not fakes[SECOND].closed
        assert calls == [PAPER, SECOND]
        app.switch_account(SECOND)
        await settle(pilot)
        assert app.api is fakes[SECOND] and calls == [PAPER, SECOND]
        assert app.state["status"].get("account") == SECOND


async def test_closing_while_an_engine_starts_waits_for_its_teardown() -> None:
    """The console closes (the terminal went away) while the demo's second engine is still
    starting: that start is cancelled, and closing waits until it has torn down (an engine
    left half-open kept the process alive after its terminal was gone). The engine already
    reached is closed too."""
    fakes = {PAPER: FakeEngineAPI(account=PAPER), SECOND: FakeEngineAPI(account=SECOND)}
    starting = asyncio.Event()
    torn_down: list[str] = []

    async def first() -> Any:
        return fakes[PAPER]

    async def second() -> Any:
        starting.set()
        try:
            await asyncio.Event().wait()  # never reached before the console closes
        except asyncio.CancelledError:
            await asyncio.sleep(0.3)  # stopping what had started takes a while
            torn_down.append(SECOND)
            raise
        return fakes[SECOND]

    accounts = [
        AccountLink(PAPER, "Main", "simulated", first),
        AccountLink(SECOND, "Second", "simulated", second),
    ]
    app = make_app(fakes[PAPER], accounts=accounts, account=PAPER, preconnect=True)
    app.api_factory = first
    async with app.run_test(size=(120, 40)) as pilot:
        await asyncio.wait_for(starting.wait(), 5)
        await pilot.pause()
        app.exit(0)
    assert torn_down == [SECOND]
    assert fakes[PAPER].closed and app.api is None and not app.background
