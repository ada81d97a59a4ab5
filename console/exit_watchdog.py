"""The console never outlives its terminal. Once it is leaving (its terminal hung up, a
SIGTERM, or the app returned), a daemon thread ends the process if the orderly exit has not
finished within a grace period. A stuck thread would otherwise keep the process alive with
no one to see it, still holding its engines' account locks and IBKR client ids. Before it
ends the process, the watchdog logs every thread's stack, so the hang can be fixed."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback

log = logging.getLogger("putdesk.console")

#: an orderly exit waits up to 10 s for engines still starting, then up to 10 s for them to
#: stop (all at once): 30 s leaves room for a slow machine
EXIT_GRACE_S = 30.0

_lock = threading.Lock()
_armed = False


def arm(why: str, code: int = 0, grace_s: float = EXIT_GRACE_S) -> bool:
    """Start the watchdog (once per process; later calls do nothing and return False)."""
    global _armed
    with _lock:
        if _armed:
            return False
        _armed = True
    threading.Thread(
        target=_expire, args=(why, code, grace_s), name="putdesk-exit-watchdog", daemon=True
    ).start()
    return True


def thread_stacks() -> str:
    """Every thread's name and Python stack, the watchdog's own left out."""
    names = {t.ident: t.name for t in threading.enumerate()}
    me = threading.get_ident()
    parts = []
    for ident, frame in sys._current_frames().items():
        if ident == me or names.get(ident) == "putdesk-exit-watchdog":
            continue
        stack = "".join(traceback.format_stack(frame)).rstrip()
        parts.append(f"thread {names.get(ident, ident)!r}:\n{stack}")
    return "\n".join(parts)


def _expire(why: str, code: int, grace_s: float) -> None:
    time.sleep(grace_s)
    # logged from its own thread: a stuck thread holding a handler's lock must not stop
    # the process from ending
    report = threading.Thread(target=_report, args=(why, code, grace_s), daemon=True)
    report.start()
    report.join(5)
    os._exit(code)


def _report(why: str, code: int, grace_s: float) -> None:
    log.error(
        "the console was still running %.0f s after %s: ending the process now "
        "(exit code %d); its threads:\n%s",
        grace_s,
        why,
        code,
        thread_stacks(),
    )
