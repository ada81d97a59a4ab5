"""The EngineAPI interface shared by the in-process and socket implementations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from engine.api.models import Cmd, Event, Result


@runtime_checkable
class EngineAPI(Protocol):
    """Commands in, events out. `events()` yields events published after the call."""

    async def request(self, cmd: Cmd) -> Result: ...

    def events(self) -> AsyncIterator[Event]: ...

    async def close(self) -> None: ...
