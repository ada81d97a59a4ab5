"""Crash hook for the recovery tests: `PUTDESK_CRASH_AT=<point>` kills the process with SIGKILL
when execution reaches that point (points: after_intent, after_send, before_fill_store,
during_tier2, during_bracket). Unset (the normal case) it does nothing."""

from __future__ import annotations

import os
import signal

POINTS = ("after_intent", "after_send", "before_fill_store", "during_tier2", "during_bracket")


def crash_point(point: str) -> None:
    """Die here, at once and without cleanup, if the environment asks for this point."""
    wanted = os.environ.get("PUTDESK_CRASH_AT")
    if wanted and wanted == point:
        os.kill(os.getpid(), signal.SIGKILL)
