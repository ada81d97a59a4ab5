"""Owner-only checks for the local socket: SO_PEERCRED uid and file/dir modes."""

from __future__ import annotations

import os
import socket
import stat
import struct
from pathlib import Path


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (Linux SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def peer_allowed(uid: int, own_uid: int | None = None) -> bool:
    """Only the engine's own user may talk to it."""
    return uid == (os.getuid() if own_uid is None else own_uid)


def prepare_socket_dir(path: Path) -> None:
    """Create the socket's directory 0700 (and tighten it if it exists and is ours)."""
    d = path.parent
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = d.stat()
    if st.st_uid != os.getuid():
        raise PermissionError(f"{d} belongs to another user; refusing to put the socket there")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(d, 0o700)
