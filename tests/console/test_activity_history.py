"""The activity log joins the engine's history and its live events: each once, in order."""

from __future__ import annotations

import datetime as dt

from console.widgets.activity import ActivityLog
from engine.api.models import Event
from tests.console.conftest import make_app, settle
from tests.console.fake_api import FROZEN_NOW, FakeEngineAPI


def _events(app: object) -> list[str]:
    """The log's lines about the test's events (`step N`), in the order written."""
    lines = app.main.query_one(ActivityLog).lines_text  # type: ignore[attr-defined]
    return [line.split("step ", 1)[1] for line in lines if "step " in line]


async def test_events_before_and_while_history_loads_are_written_once_in_order() -> None:
    """An engine still starting when the console attaches: its first events are both in the
    history and on the live stream, and more arrive while the history is on its way."""
    fake = FakeEngineAPI()
    for i in range(3):  # before the attach: in the history and queued on the stream
        fake.now = FROZEN_NOW + dt.timedelta(seconds=i)
        fake.emit("connection", f"step {i}")
    # what the live log leaves out (the scanner shows it) is left out of the history too
    fake.history.append(
        Event(kind="scan.progress", ts=FROZEN_NOW, message="step AAPL: candidate (1/1)")
    )
    fake.history.append(Event(kind="scan.candidate", ts=FROZEN_NOW, message="step AAPL 205P"))
    fake.history.append(
        Event(kind="connection", ts=FROZEN_NOW, severity="debug", message="step debug")
    )
    fake.delay["GetEvents"] = 1.0
    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.1)  # attached; the history is still on its way
        fake.now = FROZEN_NOW + dt.timedelta(seconds=3)
        fake.emit("connection", "step 3")  # live, and in the history the engine sends
        await pilot.pause(0.1)
        assert _events(app) == []  # held until the history is written
        await settle(pilot)
        fake.now = FROZEN_NOW + dt.timedelta(seconds=4)
        fake.emit("connection", "step 4")
        await settle(pilot)
        assert _events(app) == ["0", "1", "2", "3", "4"]


async def test_history_that_never_comes_lets_the_live_events_through() -> None:
    """GetEvents fails: the held live events are written all the same."""
    fake = FakeEngineAPI()
    fake.emit("connection", "step 0")

    def refuse(cmd: object) -> object:
        from engine.api.models import Result

        return Result.fail("no history here", code="unsupported")

    fake._GetEvents = refuse  # type: ignore[method-assign]
    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert _events(app) == ["0"]


async def test_reattach_does_not_write_the_history_again() -> None:
    """The engine behind the socket restarts: the new one's history holds what the log
    already shows; only what is new is added."""
    first = FakeEngineAPI()
    first.emit("engine.state", "step 0")
    first.emit("connection", "step 1")
    second = FakeEngineAPI()
    second.history = list(first.history)
    second.now = FROZEN_NOW + dt.timedelta(seconds=5)

    async def reattach() -> FakeEngineAPI:
        second.emit("engine.state", "step 2")
        return second

    app = make_app(first, reattach_factory=reattach, reattach_s=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert _events(app) == ["0", "1"]
        await first.close()
        for _ in range(100):
            await pilot.pause(0.05)
            if app.api is second:
                break
        await settle(pilot)
        assert app.api is second
        assert _events(app) == ["0", "1", "2"]
