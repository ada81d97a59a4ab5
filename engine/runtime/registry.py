"""The command registry: EngineAPI command classes -> async handlers.

Subsystems install their handlers with `registry.register(CommandClass, handler)`; the API
layers call `dispatch(cmd)`, which always returns a `Result` (unknown commands, guard refusals
and handler exceptions become failed Results, never exceptions crossing the socket).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from engine.api.models import Cmd, ExitCode, Result
from engine.broker.errors import BrokerError

log = logging.getLogger(__name__)

C = TypeVar("C", bound=Cmd)

#: BrokerError codes meaning "no usable IBKR session" (not connected, connecting, re-syncing,
#: 1100 halt, data unavailable): the command is refused (exit 3, docs/cli.md), not an error.
NO_IBKR_PREFIX = "session."
Handler = Callable[[Any], Awaitable[Result]]


class CommandRegistry:
    def __init__(self) -> None:
        self._handlers: dict[type[Cmd], Handler] = {}

    def register(self, cmd_type: type[C], handler: Callable[[C], Awaitable[Result]]) -> None:
        if cmd_type in self._handlers:
            raise ValueError(f"a handler for {cmd_type.__name__} is already registered")
        self._handlers[cmd_type] = handler

    def replace(self, cmd_type: type[C], handler: Callable[[C], Awaitable[Result]]) -> None:
        self._handlers[cmd_type] = handler

    def handles(self, cmd_type: type[Cmd]) -> bool:
        return cmd_type in self._handlers

    @property
    def commands(self) -> list[str]:
        return sorted(str(t.model_fields["cmd"].default) for t in self._handlers)

    async def dispatch(self, cmd: Cmd) -> Result:
        handler = self._handlers.get(type(cmd))
        if handler is None:
            name = getattr(cmd, "cmd", type(cmd).__name__)
            return Result.fail(
                f"command {name!r} is not available in this engine",
                code="api.unknown_command",
                exit_code=ExitCode.USAGE,
            )
        try:
            return await handler(cmd)
        except BrokerError as exc:
            if exc.reason.code.startswith(NO_IBKR_PREFIX):  # no IBKR: a guard said no (3)
                return Result.refused(exc.reason.text, code=exc.reason.code)
            return Result.fail(exc.reason.text, code=exc.reason.code)
        except Exception as exc:
            log.exception("command %s failed", type(cmd).__name__)
            return Result.fail(f"{type(exc).__name__}: {exc}", code="engine.error")
