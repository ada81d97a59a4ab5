"""EngineAPI over an Engine in the same process (the console with no engine running)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from engine.api.models import Cmd, Event, Result

if TYPE_CHECKING:
    from engine.runtime.bus import Subscription
    from engine.runtime.engine import Engine


class InProcessAPI:
    """Direct calls into `engine.registry`; `owns_engine` stops the engine on close()."""

    def __init__(self, engine: Engine, *, owns_engine: bool = False):
        self.engine = engine
        self.owns_engine = owns_engine
        self._subs: list[Subscription] = []
        self.transport = "in-process"

    async def request(self, cmd: Cmd) -> Result:
        return await self.engine.registry.dispatch(cmd)

    def events(self) -> AsyncIterator[Event]:
        sub = self.engine.bus.subscribe()
        self._subs.append(sub)
        return sub.__aiter__()

    async def close(self) -> None:
        for s in self._subs:
            s.close()
        self._subs.clear()
        if self.owns_engine:
            await self.engine.stop()
