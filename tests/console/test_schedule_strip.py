"""The schedule strip atop the Activity pane: what it says for a running headless scheduler,
a console's own engine (no scheduler), a stopped one that ran part of the day and a holiday;
and that a job event brings the new outcome on screen."""

from __future__ import annotations

import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

from console.widgets.schedule import ScheduleView, schedule_text
from tests.console.conftest import make_app, settle
from tests.console.fake_api import FakeEngineAPI

SYDNEY = ZoneInfo("Australia/Sydney")
NOON = dt.datetime(2026, 11, 24, 17, 0, tzinfo=dt.UTC)  # 12:00 ET, Tuesday


def _fake(now: dt.datetime, running: bool, runs: dict[str, tuple[str, str]]) -> FakeEngineAPI:
    fake = FakeEngineAPI(now=now)
    fake.scheduler_running = running
    fake.job_runs = runs
    fake.settings["automation_level"] = "C"
    return fake


def test_running_scheduler_lists_what_ran_and_what_comes_next() -> None:
    fake = _fake(
        NOON,
        True,
        {
            "scan": ("ok", "4 staged, approved"),
            "stage2": ("ok", "4 passed"),
            "tier1": ("ok", "entries sent at the open"),
            "tier2": ("refused", "not connected to IBKR"),
            "nakedtrader": ("failed", "no SPXW strike in the delta band"),
        },
    )
    text = schedule_text(fake.schedule(), SYDNEY, width=120)
    assert "Schedule Tue 24 Nov · level C · scheduler running" in text
    lines = {line.split()[0]: line for line in text.splitlines()[1:] if line.strip()}
    assert "09:15 ET · Wed 01:15 AEDT" in lines["scan"] and "ok" in lines["scan"]
    assert "refused" in lines["tier2"] and "not connected to IBKR" in lines["tier2"]
    assert "failed" in lines["nakedtrader"] and "delta band" in lines["nakedtrader"]
    # jobs still ahead are not rows of their own: one "next" line names them in order
    assert "reconcile" not in lines
    assert "next: reconcile 16:30 ET · Wed 08:30 AEDT, then flex_sync 17:30 ET" in text


def test_console_engine_without_a_scheduler_says_so_in_one_line() -> None:
    fake = _fake(NOON, False, {})
    text = schedule_text(fake.schedule(), SYDNEY).strip()
    assert text == "Schedule Tue 24 Nov · level C · no scheduler here (`putdesk engine` runs it)"


def test_stopped_engine_shows_its_runs_and_the_jobs_it_missed() -> None:
    evening = dt.datetime(2026, 11, 25, 2, 16, tzinfo=dt.UTC)  # 21:16 ET Tuesday
    fake = _fake(evening, False, {"scan": ("ok", "2 staged")})
    text = schedule_text(fake.schedule(), SYDNEY, width=120)
    lines = {line.split()[0]: line for line in text.splitlines()[1:] if line.strip()}
    assert "ok" in lines["scan"]
    assert "missed" in lines["stage2"] and "window closed at 09:48 ET" in lines["stage2"]
    assert "missed" in lines["flex_sync"] and "next:" not in text


def test_holiday_says_why_there_is_nothing_to_run() -> None:
    thanksgiving = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)
    fake = _fake(thanksgiving, True, {})
    text = schedule_text(fake.schedule(), SYDNEY, width=120)
    assert "Schedule Thu 26 Nov" in text
    assert "holiday" in text.lower() or "closed" in text.lower()


async def test_a_job_event_puts_its_outcome_on_the_strip() -> None:
    fake = _fake(NOON, True, {})
    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        assert "refused" not in _screen_text(app)
        assert app.main.query_one(ScheduleView).region.height > 0
        fake.job_runs = {"tier2": ("refused", "not connected to IBKR")}
        fake.emit("job", "job tier2 finished: refused")
        await settle(pilot)
        rendered = schedule_text(app.state["status"]["schedule"], SYDNEY, width=120)
        assert "not connected to IBKR" in rendered
        assert "not connected to IBKR" in _screen_text(app)


def _screen_text(app: object) -> str:
    """The screen as drawn, as plain text (from the SVG screenshot)."""
    svg = app.export_screenshot()  # type: ignore[attr-defined]
    body = re.sub(r"<[^>]+>", "", svg.split("</style>")[-1])
    return html.unescape(body).replace("\xa0", " ")


async def test_console_notes_before_the_first_status_wait_for_the_engine_clock() -> None:
    """On a simulated clock 12 h ahead of the wall, "attached to the engine" is stamped on the
    engine's clock (after the engine's history), not with the real time."""
    engine_now = dt.datetime(2026, 11, 25, 2, 25, tzinfo=dt.UTC)  # 21:25 ET
    app = make_app(FakeEngineAPI(now=engine_now))  # the wall clock: 09:25 ET
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        from console.widgets.activity import ActivityLog

        lines = list(app.main.query_one(ActivityLog).lines_text)
        [attached] = [line for line in lines if "attached to the engine" in line]
        assert attached.startswith("11-24 21:25:00 ET"), attached
        assert lines.index(attached) > 0  # after the engine's own (earlier) events
