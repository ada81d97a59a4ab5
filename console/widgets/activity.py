"""The activity log: engine events and console notifications, newest at the bottom."""

from __future__ import annotations

import datetime as dt
from collections import deque

from rich.text import Text
from textual.widgets import RichLog

from console.format import stamp
from console.widgets.tones import tone

MAX_LINES = 2000
#: Columns the pane around the log takes (padding, scrollbar) when it is sized from the app.
HIDDEN_MARGIN = 3


class ActivityLog(RichLog):
    """Keeps the last MAX_LINES lines; also remembers them for tests and the palette."""

    def __init__(self, *, id: str | None = None) -> None:
        # wrapped: a decision's reason is the part that matters, and it comes last
        super().__init__(id=id, max_lines=MAX_LINES, wrap=True, markup=False, auto_scroll=True)
        self.lines_text: deque[str] = deque(maxlen=MAX_LINES)

    def add(
        self, ts: dt.datetime, severity: str, kind: str, message: str, code: str | None = None
    ) -> None:
        style = {
            "error": tone(self, "loss"),
            "warning": tone(self, "warning-domain"),
            "debug": "dim",
        }.get(severity, "")
        line = Text()
        line.append(f"{stamp(ts, getattr(self.app, 'local_zone', None))} ", style="dim")
        line.append(f"{kind:<16} ", style="bold")
        line.append(message, style=style)
        if code:
            line.append(f" [{code}]", style="dim")
        self.lines_text.append(line.plain)
        # Hidden (another pane shown), the log has no width and RichLog would wrap at its
        # 78-column minimum: wrap at the width it will have when shown instead.
        if self.scrollable_content_region.width > 0 and self.is_on_screen:
            self.write(line)
        else:
            self.write(line, width=max(self.app.size.width - HIDDEN_MARGIN, 20))
