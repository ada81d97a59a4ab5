"""The client side of the local socket, with the same interface as InProcessAPI."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from engine.api.models import Cmd, Envelope, Event, ExitCode, Result
from engine.api.socket_server import LINE_LIMIT


class EngineGone(ConnectionError):
    """The engine closed the socket."""


class SocketClient:
    """`await SocketClient.connect(path)`; then request()/events()/close()."""

    def __init__(self, path: Path, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.path = path
        self.transport = "socket"
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Result]] = {}
        self._queues: list[asyncio.Queue[Event | None]] = []
        self._subscribed = False
        self._closed = False
        self._task = asyncio.create_task(self._read(), name="putdesk-socket-client")

    @classmethod
    async def connect(cls, path: Path, timeout: float = 5.0) -> SocketClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(str(path), limit=LINE_LIMIT), timeout
        )
        return cls(path, reader, writer)

    async def _send(self, env: Envelope) -> None:
        if self._closed:
            raise EngineGone("connection to the engine is closed")
        self._writer.write((env.model_dump_json(exclude_none=True) + "\n").encode())
        await self._writer.drain()

    async def request(self, cmd: Cmd, timeout: float | None = None) -> Result:
        req_id = next(self._ids)
        fut: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            await self._send(Envelope.model_validate({"id": req_id, "command": cmd.model_dump()}))
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(req_id, None)

    def events(self) -> AsyncIterator[Event]:
        q: asyncio.Queue[Event | None] = asyncio.Queue()
        self._queues.append(q)
        return self._iter(q)

    async def _iter(self, q: asyncio.Queue[Event | None]) -> AsyncIterator[Event]:
        try:
            if not self._subscribed:
                self._subscribed = True
                await self._send(Envelope(subscribe=True))
            while True:
                ev = await q.get()
                if ev is None:
                    return
                yield ev
        finally:  # a reader that stops (a console showing another account) leaves no queue
            if q in self._queues:
                self._queues.remove(q)

    async def _read(self) -> None:
        try:
            while True:
                raw = await self._reader.readline()
                if not raw:
                    break
                try:
                    env = Envelope.model_validate_json(raw)
                except ValueError:
                    continue
                if env.event is not None:
                    for q in self._queues:
                        q.put_nowait(env.event)
                if env.result is not None:
                    fut = self._pending.get(env.id) if env.id is not None else None
                    if fut is not None and not fut.done():
                        fut.set_result(env.result)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._closed = True
            gone = Result.fail(
                "the engine closed the connection", code="api.engine_gone", exit_code=ExitCode.ERROR
            )
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_result(gone)
            for q in self._queues:
                q.put_nowait(None)

    async def close(self) -> None:
        self._closed = True
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    async def __aenter__(self) -> SocketClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
