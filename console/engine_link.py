"""What the console needs from the engine: the EngineAPI client interface.

`engine.api.client.connect_api(config, ...)` returns an object of this shape (attached to a
running engine over the local socket, or an in-process engine); tests pass a fake.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class AccountLink:
    """How the console reaches one configured account's engine (built by the console
    program from the config, so this package never reads files or locks itself)."""

    account: str
    label: str
    kind: str  # paper / live / simulated
    #: attach to the account's running engine, else start one in this process
    connect: ApiFactory
    #: attach only (after a lost engine); None: never reattach
    reattach: ApiFactory | None = None
    #: "engine running (socket)" / "not running": for an account this console has no link to
    where: Callable[[], str] | None = None
