"""What the console needs from the engine: the EngineAPI client interface.

`engine.api.client.connect_api(config, ...)` returns an object of this shape (attached to a
running engine over the local socket, or an in-process engine); tests pass a fake.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from engine.api.models import Cmd, Event, Result


class EngineAPI(Protocol):
    async def request(self, cmd: Cmd) -> Result: ...

    def events(self) -> AsyncIterator[Event]: ...

    def close(self) -> Any: ...


#: Builds (and connects) the API; called once by the console's attach worker.
ApiFactory = Callable[[], Awaitable[EngineAPI]]


async def close_api(api: EngineAPI) -> None:
    """`close()` may be plain or a coroutine: handle both."""
    out = api.close()
    if inspect.isawaitable(out):
        await out
