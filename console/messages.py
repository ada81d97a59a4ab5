"""App-wide messages: workers post these; handlers on the App and screens own the state.

Data messages carry `Result.data` payloads (shapes in docs/console.md). Tick-style messages
are replaceable (`can_replace`) so a burst collapses into one redraw.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from engine.api.models import Event, Result


class EngineAttached(Message):
    """The EngineAPI connection is ready."""

    def __init__(self, description: str) -> None:
        super().__init__()
        self.description = description


class EngineLost(Message):
    """The EngineAPI connection failed or closed."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class DataMessage(Message):
    """Base of the `Get*` payload messages: a newer one replaces an older queued one."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self.data = data

    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self)


class StatusUpdated(DataMessage):
    """GetStatus data."""


class ScanUpdated(DataMessage):
    """GetScan data (the latest scan, its candidates and rejections)."""


class LineupUpdated(DataMessage):
    """GetLineup data."""


class PositionsUpdated(DataMessage):
    """GetPositions data."""


class OrdersUpdated(DataMessage):
    """GetOrders data."""


class NtUpdated(DataMessage):
    """NtStatus data."""


class SettingsLoaded(DataMessage):
    """GetSettings data."""


class ScanProgress(DataMessage):
    """A scan.progress event payload (done / total / symbol)."""


class EngineEvent(Message):
    """One engine event for the activity log and for triggering refreshes."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class EventsLoaded(Message):
    """The recent event history (GetEvents) at start-up."""

    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self.events = events


class CommandDone(Message):
    """A user command finished; `label` names it for the activity log and notifications."""

    def __init__(self, label: str, result: Result, account: str | None = None) -> None:
        super().__init__()
        self.label = label
        self.result = result
        #: the account shown when the command was sent (the console may have switched since)
        self.account = account


class CalendarReady(Message):
    """The NYSE calendar finished loading (in a thread, off the start-up path)."""

    def __init__(self, calendar: Any) -> None:
        super().__init__()
        self.calendar = calendar


class RefreshFailed(Message):
    """A `Get*` refresh came back not ok (shown in the activity log, not as a popup)."""

    def __init__(self, cmd: str, result: Result) -> None:
        super().__init__()
        self.cmd = cmd
        self.result = result
