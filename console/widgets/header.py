"""The status header: account kind, connection and data type, clocks, market, market regime,
level, AI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from console.format import ET, countdown, parse_time
from console.widgets.tones import tone

#: Account kinds the header can show.
KINDS = ("PAPER", "LIVE", "SIMULATED")
#: Connection states in which data and orders can flow.
CONNECTED_STATES = {"connected", "ready"}
#: Below this width the header uses its compact labels (80x24 terminals).
COMPACT_BELOW = 100


def account_kind(status: dict[str, Any]) -> str:
    """SIMULATED when the engine runs on the simulated gateway, else PAPER or LIVE."""
    if status.get("simulated"):
        return "SIMULATED"
    mode = str(status.get("mode") or "").lower()
    if mode == "live":
        return "LIVE"
    if mode == "paper":
        return "PAPER"
    acct = str(status.get("account") or "")
    return "PAPER" if acct.startswith(("DU", "DF")) else ("LIVE" if acct else "UNKNOWN")


class StatusHeader(Vertical):
    """Two lines: who/what (account, connection, data, level, AI) and when (clocks, market)."""

    def __init__(
        self, now: Callable[[], dt.datetime], local_zone: dt.tzinfo, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._now = now
        self._zone = local_zone
        self._status: dict[str, Any] = {}
        self._received: dt.datetime | None = None
        self._attached = False
        self._engine_error: str | None = None
        self._waiting = "attaching to the engine..."
        #: the account's label from the config (`accounts.<id>.label`), shown beside its id
        self.label = ""
        #: engine.market.calendar.MarketCalendar once loaded; used when the status has no
        #: market section.
        self.calendar: Any = None

    def compose(self) -> ComposeResult:
        yield Static(id="header-who")
        yield Static(id="header-when")

    def on_mount(self) -> None:
        self.refresh_text()

    def on_resize(self) -> None:
        self.refresh_text()

    def set_status(self, status: dict[str, Any]) -> None:
        self._status = status
        self._received = self._now()
        self._attached = True
        self._engine_error = None
        self.refresh_text()

    def set_engine_error(self, error: str | None) -> None:
        self._engine_error = error
        if error:
            self._attached = False
        self.refresh_text()

    def detach(self, waiting: str) -> None:
        """Forget the status shown (another account is being reached) and say so. The last
        engine clock is kept for time stamps until the next status brings its own."""
        clock = self._status.get("clock")
        self._status = {"clock": clock} if clock else {}
        self._attached = False
        self._engine_error = None
        self._waiting = waiting
        self.refresh_text()

    @property
    def knows_engine_clock(self) -> bool:
        """True once a status with the engine's time has arrived."""
        clock = self._status.get("clock") or {}
        return self._received is not None and parse_time(clock.get("now")) is not None

    def engine_now(self) -> dt.datetime:
        """The engine's (possibly simulated) time, advanced by real time since the status."""
        real = self._now()
        clock = self._status.get("clock") or {}
        t = parse_time(clock.get("now"))
        if t is None or self._received is None:
            return real
        speed = float(clock.get("speed") or 1.0)
        return t + (real - self._received) * speed

    def who_text(self) -> Text:
        s = self._status
        text = Text()
        text.append(" putdesk ", style="bold reverse")
        if not self._attached:
            text.append("  ")
            text.append(self._engine_error or self._waiting, style="bold")
            return text
        kind = account_kind(s)
        style = {
            "LIVE": f"bold reverse {tone(self, 'loss')}",
            "SIMULATED": f"bold reverse {tone(self, 'stale')}",
        }.get(kind, f"bold reverse {tone(self, 'live')}")
        text.append(" ")
        text.append(f" {kind} ", style=style)
        if self.label and not self.compact:
            text.append(f" {self.label}", style="bold")
        if s.get("account"):
            text.append(f" {s['account']}")
        elif self.label and self.compact:
            text.append(f" {self.label}", style="bold")
        engine = s.get("engine") or {}
        if engine.get("state") == "halted":  # first after the account: never cut off
            text.append("  ")
            text.append(" HALTED ", style=f"bold reverse {tone(self, 'loss')}")
        bare = s.get("unprotected") or []
        if bare:  # open trades with no exit working (P places them)
            text.append("  ")
            text.append(f"{len(bare)} UNPROTECTED", style=f"bold {tone(self, 'loss')}")
        conn = s.get("connection") or {}
        state = str(conn.get("state") or "unknown")
        data = str(conn.get("market_data") or "unknown")
        ok = state.lower() in CONNECTED_STATES
        text.append("  ")
        text.append("● " if ok else "○ ", style=tone(self, "live") if ok else tone(self, "loss"))
        text.append(state.lower().replace("_", " "))
        text.append(" · " if self.compact else " · data ")
        data_style = {
            "live": tone(self, "live"),
            "delayed": tone(self, "warning-domain"),
            "frozen": tone(self, "warning-domain"),
        }.get(data, tone(self, "stale"))
        text.append(data.upper(), style=f"bold {data_style}")
        level = s.get("automation_level")
        if level:
            text.append(f"  {'lvl' if self.compact else 'Level'} {level}")
        ai = s.get("ai") or {}
        if not ai:
            text.append("  AI ?")
        elif ai.get("enabled"):
            text.append("  AI on", style=tone(self, "live"))
        else:
            # the short reason ("no API key"); the hint after it is in the scan pane and status
            why = str(ai.get("reason") or "").removeprefix("AI off: ").split(" (", 1)[0]
            if self.compact:  # 80 columns: the reason is in the scan pane and status
                why = ""
            text.append(
                "  AI off" + (f" ({why})" if why else ""), style=tone(self, "warning-domain")
            )
        if conn.get("reason") and not ok:
            text.append(f"  {conn['reason']}", style=tone(self, "loss"))
        return text

    @property
    def compact(self) -> bool:
        """Narrow terminals (80 columns): shorter labels and clocks without seconds, so
        both header lines fit."""
        width = self.size.width if self.is_mounted else 0
        return 0 < width < COMPACT_BELOW

    def when_text(self) -> Text:
        real = self._now()
        fmt = "%H:%M" if self.compact else "%H:%M:%S"
        text = Text(" ")
        text.append(f"{real.astimezone(ET):{fmt}} ET", style="bold")
        local = real.astimezone(self._zone)
        text.append(f" · {local:{fmt}} {local.tzname() or 'local'}")
        clock = self._status.get("clock") or {}
        simulated = bool(clock.get("simulated") or self._status.get("simulated"))
        engine_now = self.engine_now()
        if simulated and self._attached:
            speed = float(clock.get("speed") or 1.0)
            sim = f"  sim {engine_now.astimezone(ET):%a {fmt}} ET"
            if speed != 1.0:
                sim += f" x{speed:g}"
            text.append(sim, style=tone(self, "stale"))
        market = self._status.get("market") or self._market_from_calendar(engine_now)
        if self._attached and market:
            if market.get("open"):
                text.append(
                    "  OPEN" if self.compact else "  Market OPEN",
                    style=f"bold {tone(self, 'live')}",
                )
                close = parse_time(market.get("next_close"))
                if close:
                    left = (close - engine_now).total_seconds()
                    text.append(f" · closes in {countdown(left)}")
            else:
                text.append(
                    "  CLOSED" if self.compact else "  Market CLOSED",
                    style=f"bold {tone(self, 'warning-domain')}",
                )
                nxt = parse_time(market.get("next_open"))
                if nxt:
                    left = (nxt - engine_now).total_seconds()
                    text.append(f" · opens in {countdown(left)}")
        if self._attached:
            text.append_text(self.regime_text())
        return text

    def regime_text(self) -> Text:
        """The market regime from the status: the full label ("VIX 17.1 normal, contango,
        trend up") and "REGIME GUARD" when the guard refuses new puts; on narrow terminals
        just the VIX, or "GUARD" alone when it refuses."""
        regime = self._status.get("regime") or {}
        reading = regime.get("reading") or {}
        guard = regime.get("guard") or {}
        text = Text()
        if guard.get("blocks") and self.compact:
            # 80 columns: the guard's verdict matters more than the VIX beside it
            text.append("  ")
            text.append("GUARD", style=f"bold reverse {tone(self, 'loss')}")
            return text
        if reading:
            vix = reading.get("vix")
            label = (
                f"VIX {vix:.1f}"
                if self.compact and isinstance(vix, int | float)
                else str(reading.get("label") or "")
            )
            bucket = str(reading.get("vix_bucket") or "")
            style = {
                "elevated": tone(self, "warning-domain"),
                "stress": tone(self, "loss"),
                "panic": f"bold {tone(self, 'loss')}",
            }.get(bucket, "")
            if reading.get("term") == "backwardation" and not style:
                style = tone(self, "warning-domain")
            text.append("  " + label, style=style)
        if guard.get("blocks"):
            text.append("  ")
            text.append("REGIME GUARD", style=f"bold reverse {tone(self, 'loss')}")
        return text

    def _market_from_calendar(self, t: dt.datetime) -> dict[str, Any]:
        if self.calendar is None:
            return {}
        try:
            return {
                "open": self.calendar.is_open(t),
                "next_open": self.calendar.next_open(t),
                "next_close": self.calendar.next_close(t),
            }
        except ValueError:
            return {}

    def refresh_text(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#header-who", Static).update(self.who_text())
        self.query_one("#header-when", Static).update(self.when_text())
