"""The engine side of the local socket: JSON lines of `Envelope`, owner-only.

The socket file is mode 0600 inside a 0700 directory, and every connection's peer uid is
checked with SO_PEERCRED: another user's process is refused before any command is read.
A client sends `{"id": n, "command": {...}}` and gets `{"id": n, "result": {...}}`; after
`{"subscribe": true}` it also receives `{"event": {...}}` lines as the engine publishes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from engine.api.models import Envelope, ExitCode, Result
from engine.api.peercred import peer_allowed, peer_uid, prepare_socket_dir

if TYPE_CHECKING:
    from engine.runtime.bus import EventBus
    from engine.runtime.registry import CommandRegistry

log = logging.getLogger(__name__)
LINE_LIMIT = 4 * 1024 * 1024


def socket_alive(path: Path) -> bool:
    """True when something accepts connections on `path`."""
    if not path.exists():
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(str(path))
    except OSError:
        return False
    finally:
        s.close()
    return True


class SocketServer:
    def __init__(self, path: Path, registry: CommandRegistry, bus: EventBus):
        self.path = path
        self.registry = registry
        self.bus = bus
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self.refused = 0

    async def start(self) -> None:
        prepare_socket_dir(self.path)
        if self.path.exists() or self.path.is_symlink():
            if socket_alive(self.path):
                raise RuntimeError(f"another engine already listens on {self.path}")
            self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._on_client, path=str(self.path), limit=LINE_LIMIT
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._conns):
                t.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        sock = writer.get_extra_info("socket")
        try:
            uid = peer_uid(sock)
        except OSError:
            uid = -1
        if not peer_allowed(uid):
            self.refused += 1
            log.warning("refused a socket client with uid %s", uid)
            writer.close()
            if task is not None:
                self._conns.discard(task)
            return
        conn = _Connection(self, reader, writer)
        try:
            await conn.run()
        except asyncio.CancelledError:
            pass  # the server is closing
        finally:
            if task is not None:
                self._conns.discard(task)


class _Connection:
    def __init__(
        self, server: SocketServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.sub: Any = None

    async def send(self, env: Envelope) -> None:
        line = env.model_dump_json(exclude_none=True) + "\n"
        async with self.lock:
            self.writer.write(line.encode())
            await self.writer.drain()

    async def run(self) -> None:
        try:
            while True:
                try:
                    raw = await self.reader.readline()
                except (asyncio.LimitOverrunError, ValueError):
                    await self.send(
                        Envelope(
                            result=Result.fail(
                                "message too long", code="api.bad_message", exit_code=ExitCode.USAGE
                            )
                        )
                    )
                    return
                if not raw:
                    return
                if not raw.strip():
                    continue
                self._handle(raw)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            if self.sub is not None:
                self.sub.close()
            for t in list(self.tasks):
                t.cancel()
            self.writer.close()

    def _spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    def _handle(self, raw: bytes) -> None:
        try:
            env = Envelope.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {"msg": str(exc), "loc": ()}
            where = ".".join(str(p) for p in first.get("loc", ()))
            self._spawn(
                self.send(
                    Envelope(
                        id=_request_id(raw),  # the client waits for the answer to its id
                        result=Result.fail(
                            f"bad message: {where}: {first.get('msg')}".replace(": :", ":"),
                            code="api.bad_message",
                            exit_code=ExitCode.USAGE,
                        ),
                    )
                )
            )
            return
        if env.subscribe and self.sub is None:
            self.sub = self.server.bus.subscribe()
            self._spawn(self._forward())
        if env.command is not None:
            self._spawn(self._answer(env.id, env.command))

    async def _answer(self, req_id: int | None, cmd: Any) -> None:
        result = await self.server.registry.dispatch(cmd)
        with contextlib.suppress(ConnectionError):
            await self.send(Envelope(id=req_id, result=result))

    async def _forward(self) -> None:
        try:
            async for ev in self.sub:
                await self.send(Envelope(event=ev))
        except ConnectionError:
            return


def _request_id(raw: bytes) -> int | None:
    """The id of a request the envelope model refused (a command this engine does not know,
    or a field it does not have: a newer client), so its sender gets the error back."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    rid = doc.get("id") if isinstance(doc, dict) else None
    return rid if isinstance(rid, int) and not isinstance(rid, bool) else None
