"""The local-socket EngineAPI: commands and events, owner-only (file modes + SO_PEERCRED)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import sys
from pathlib import Path

import pytest

from engine.api.models import GetEvents, GetStatus, Result
from engine.api.peercred import peer_allowed, peer_uid
from engine.api.socket_client import SocketClient
from engine.api.socket_server import SocketServer
from engine.runtime.bus import EventBus
from engine.runtime.registry import CommandRegistry

OTHER_UID = 65534  # nobody


def _server(path: Path) -> tuple[SocketServer, EventBus]:
    reg = CommandRegistry()
    bus = EventBus(account="DU1")

    async def status(_c: GetStatus) -> Result:
        bus.publish("notice", "status asked")
        return Result.success(state="READY")

    reg.register(GetStatus, status)
    return SocketServer(path, reg, bus), bus


async def test_client_sends_commands_and_receives_events(tmp_path: Path) -> None:
    server, _bus = _server(tmp_path / "run" / "e.sock")
    await server.start()
    try:
        client = await SocketClient.connect(server.path)
        events = client.events()
        first = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0.05)  # let the subscription reach the server
        r = await client.request(GetStatus())
        assert r.ok and r.data == {"state": "READY"}
        ev = await asyncio.wait_for(first, 5)
        assert ev.kind == "notice" and ev.message == "status asked" and ev.account == "DU1"
        r = await client.request(GetEvents())
        assert not r.ok and r.reason_code == "api.unknown_command"
        await client.close()
    finally:
        await server.close()
    assert not server.path.exists()


async def test_bad_lines_get_a_clear_error(tmp_path: Path) -> None:
    server, _bus = _server(tmp_path / "run" / "e.sock")
    await server.start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(server.path))
        writer.write(b'{"id": 3, "command": {"cmd": "nope"}}\nnot json\n')
        await writer.drain()
        lines = [await asyncio.wait_for(reader.readline(), 5) for _ in range(2)]
        assert all(b"api.bad_message" in line for line in lines)
        ids = sorted((json.loads(line).get("id") for line in lines), key=str)
        assert ids == [3, None]  # the refused request's id comes back with its error
        writer.close()
    finally:
        await server.close()


async def test_a_command_the_engine_does_not_know_is_refused_not_left_waiting(
    tmp_path: Path,
) -> None:
    """A newer client against an engine started before an upgrade: its request has a field
    the engine's model does not; the client gets the engine's error instead of waiting."""
    from engine.api.models import Envelope

    server, _bus = _server(tmp_path / "run" / "e.sock")
    await server.start()
    try:
        client = await SocketClient.connect(server.path)
        real = Envelope.model_dump_json

        def newer(self: Envelope, **kw: object) -> str:
            doc = json.loads(real(self, **kw))  # type: ignore[arg-type]
            if doc.get("command"):
                doc["command"]["colour"] = "blue"  # a field this engine does not have
            return json.dumps(doc)

        Envelope.model_dump_json = newer  # type: ignore[method-assign,assignment]
        try:
            r = await asyncio.wait_for(client.request(GetStatus()), 5)
        finally:
            Envelope.model_dump_json = real  # type: ignore[method-assign]
        assert not r.ok and r.reason_code == "api.bad_message" and "colour" in (r.error or "")
        await client.close()
    finally:
        await server.close()


async def test_socket_file_and_dir_are_owner_only(tmp_path: Path) -> None:
    server, _bus = _server(tmp_path / "run" / "e.sock")
    await server.start()
    try:
        assert stat.S_IMODE(server.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(server.path.parent.stat().st_mode) == 0o700
        assert stat.S_ISSOCK(server.path.stat().st_mode)
    finally:
        await server.close()


def test_peer_credentials_check() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        assert peer_uid(a) == os.getuid()
    finally:
        a.close()
        b.close()
    assert peer_allowed(os.getuid())
    assert not peer_allowed(os.getuid() + 1)
    assert not peer_allowed(-1)


CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("NO-ACCESS"); sys.exit(0)
data = b""
try:
    s.sendall(b'{"id": 1, "command": {"cmd": "status"}}\n')
except OSError:
    print("REFUSED"); sys.exit(0)
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
print("ANSWERED" if b"READY" in data else "REFUSED")
"""


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to run a client as another user")
async def test_another_users_process_is_refused() -> None:
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="pd-perm-"))  # pytest's tmp_path is 0700 for root
    server, _bus = _server(base / "run" / "e.sock")
    await server.start()
    try:
        # With the modes in place the other user cannot even open the socket ...
        out = await _run_as_other(server.path)
        assert out == "NO-ACCESS"
        # ... and with the modes loosened, SO_PEERCRED still refuses it.
        os.chmod(base, 0o755)
        os.chmod(server.path.parent, 0o777)
        os.chmod(server.path, 0o777)
        out = await _run_as_other(server.path)
        assert out == "REFUSED"
        assert server.refused == 1
    finally:
        await server.close()
        shutil.rmtree(base, ignore_errors=True)


async def _run_as_other(path: Path) -> str:
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    proc = await asyncio.create_subprocess_exec(
        py,
        "-I",
        "-c",
        CLIENT,
        str(path),
        user=OTHER_UID,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd="/",
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()
