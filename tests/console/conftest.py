"""Console test helpers: an app around the fake engine with frozen clocks."""

from __future__ import annotations

import datetime as dt

from textual.pilot import Pilot

from console.app import PutdeskApp
from tests.console.fake_api import FROZEN_NOW, FakeEngineAPI

SYDNEY = dt.timezone(dt.timedelta(hours=11), "AEDT")


def make_app(api: FakeEngineAPI | None = None, **kw: object) -> PutdeskApp:
    """A console attached to `api` (a fresh FakeEngineAPI by default), clocks frozen."""
    fake = api or FakeEngineAPI()

    async def factory() -> FakeEngineAPI:
        return fake

    opts: dict[str, object] = {
        "now": lambda: FROZEN_NOW,
        "local_zone": SYDNEY,
        "status_poll_s": 3600.0,
        "clock_tick_s": 3600.0,
        "use_calendar": False,
    }
    opts.update(kw)
    app = PutdeskApp(factory, **opts)  # type: ignore[arg-type]
    app.fake = fake  # type: ignore[attr-defined]
    return app


async def settle(pilot: Pilot[int], rounds: int = 4) -> None:
    """Let request workers finish and their messages (and follow-up refreshes) be handled."""
    app = pilot.app
    for _ in range(rounds):
        for _ in range(200):
            busy = [w for w in app.workers if w.group != "events" and w.is_running]
            if not busy:
                break
            await pilot.pause(0.01)
        for _ in range(100):  # a coalesced scanner redraw may be pending
            if getattr(app, "_render_timer", None) is None:
                break
            await pilot.pause(0.02)
        await pilot.pause()
        await pilot.pause(0.02)
