"""One engine per account per machine: an fcntl lock file in the state directory.

The lock is held for the engine's lifetime (the kernel releases it if the process dies). The
file records the holder's pid and socket path so a second engine can say who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from engine.domain import Reason


class AccountLocked(Exception):
    """Another engine already runs for this account."""

    def __init__(self, reason: Reason, holder: dict[str, Any]):
        self.reason = reason
        self.holder = holder
        super().__init__(reason.text)


def lock_path(state_dir: Path, account_key: str) -> Path:
    return state_dir / "locks" / f"engine-{account_key}.lock"


def read_holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class AccountLock:
    """`acquire()` or raise AccountLocked; `release()` on shutdown."""

    def __init__(self, state_dir: Path, account_key: str):
        self.account_key = account_key
        self.path = lock_path(state_dir, account_key)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, info: dict[str, Any] | None = None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = read_holder(self.path)
            pid = holder.get("pid", "?")
            raise AccountLocked(
                Reason(
                    "engine.locked",
                    f"an engine for {self.account_key} is already running (pid {pid}); "
                    "attach to it (putdesk status) or stop it first",
                ),
                holder,
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), **(info or {})}).encode())
        os.fsync(fd)
        self._fd = fd

    def update(self, info: dict[str, Any]) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.write(self._fd, json.dumps({"pid": os.getpid(), **info}).encode())

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None


def is_locked(state_dir: Path, account_key: str) -> bool:
    """True when some process holds the account's engine lock."""
    path = lock_path(state_dir, account_key)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
