"""The schedule strip atop the Activity pane: today's scheduled jobs and how each went (the
`schedule` section of GetStatus), and what comes next, so a level-C morning review starts
with what the headless engine did overnight."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from console.format import parse_time, stamp
from console.widgets.tones import tone

#: Outcome -> domain tone ("ok" green, a failure red, a refusal or skip amber).
OUTCOME_TONE = {
    "ok": "profit",
    "failed": "loss",
    "refused": "warning-domain",
    "skipped": "warning-domain",
    "missed": "warning-domain",
}


def _when(iso: Any, zone: dt.tzinfo | None) -> str:
    t = parse_time(iso)
    return stamp(t, zone, "%H:%M") if t is not None else "-"


def _day_label(iso: str) -> str:
    try:
        return dt.date.fromisoformat(iso).strftime("%a %d %b")
    except ValueError:
        return iso


def _state(data: dict[str, Any]) -> str:
    if not data.get("enabled", True):
        return "disabled (schedule.enabled: false)"
    if data.get("running"):
        return "scheduler running"
    return "no scheduler here (`putdesk engine` runs it)"


def _job_state(job: dict[str, Any]) -> tuple[str, str]:
    """(outcome, reason) of one job for the strip."""
    run = job.get("run") or {}
    if run:
        return str(run.get("outcome") or "-"), str(run.get("reason") or "")
    if job.get("skip_reason"):
        return "skipped", str(job["skip_reason"])
    if job.get("missed"):
        return "missed", str(job["missed"])
    return "due", ""


def _upcoming(data: dict[str, Any], zone: dt.tzinfo | None) -> str | None:
    """What a running scheduler starts next: today's jobs still due (the first with its time
    in ET and local, the rest in ET), else the next session's first job."""
    today = data.get("today") or {}
    due = [j for j in today.get("jobs") or [] if _job_state(j)[0] == "due"]
    if due:
        first, rest = due[0], due[1:]
        text = f"{first.get('job', '-')} {_when(first.get('due_utc'), zone)}"
        if rest:
            text += ", then " + ", ".join(
                f"{j.get('job', '-')} {j.get('due_et', '-')}" for j in rest
            )
            text += " ET"
        return text
    nxt = data.get("next_session") or {}
    jobs = nxt.get("jobs") or []
    if jobs:
        day = _day_label(str(nxt.get("session_date") or ""))
        return f"{jobs[0].get('job', '-')} {day} {_when(jobs[0].get('due_utc'), zone)}"
    return None


def schedule_renderable(
    data: dict[str, Any], zone: dt.tzinfo | None, styles: dict[str, str] | None = None
) -> Group:
    """The strip: a title line; a row per job that ran, was skipped or missed (its outcome and
    reason, wrapped under itself) once the day has job runs or a scheduler runs it; what runs
    now or waits; and, with a scheduler running, the jobs still to come. Pure, for tests."""
    styles = styles or {}
    title = Text()
    today = data.get("today") or {}
    if not today:
        title.append("Schedule: not known yet", style="dim")
        return Group(title)
    title.append(f"Schedule {_day_label(str(today.get('session_date', '')))}", style="bold")
    title.append(f" · level {data.get('level', '-')} · {_state(data)}")
    parts: list[Any] = [title]
    if not today.get("is_session"):
        parts.append(Text(f"  {today.get('reason') or 'no session today'}", style="dim"))
    jobs = today.get("jobs") or []
    running = bool(data.get("running"))
    if running or any(j.get("run") for j in jobs):
        table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False, expand=True)
        table.add_column(no_wrap=True)  # indent
        table.add_column(no_wrap=True)  # job
        table.add_column(no_wrap=True)  # time
        table.add_column(no_wrap=True)  # outcome
        table.add_column(ratio=1, overflow="fold")  # reason
        for job in jobs:
            outcome, reason = _job_state(job)
            if outcome == "due" and running:
                continue  # listed on the "next" line
            table.add_row(
                "",
                str(job.get("job", "-")),
                _when(job.get("due_utc"), zone),
                Text(outcome, style=styles.get(OUTCOME_TONE.get(outcome, ""), "")),
                Text(reason, style="dim" if outcome in ("ok", "due") else ""),
            )
        if table.row_count:
            parts.append(table)
    if data.get("current"):
        parts.append(Text(f"  running now: {data['current']}", style="bold"))
    if data.get("waiting_on"):
        parts.append(
            Text(f"  waiting: {data['waiting_on']}", style=styles.get("warning-domain", ""))
        )
    if data.get("error"):
        parts.append(Text(f"  scheduler error: {data['error']}", style=styles.get("loss", "")))
    upcoming = _upcoming(data, zone) if running else None
    if upcoming:
        parts.append(Text(f"  next: {upcoming}"))
    return Group(*parts)


def schedule_text(data: dict[str, Any], zone: dt.tzinfo | None, width: int = 100) -> str:
    """The strip as plain text at `width` columns (tests and logs)."""
    from rich.console import Console

    con = Console(width=width, record=True, color_system=None)
    con.print(schedule_renderable(data, zone))
    return con.export_text()


class ScheduleView(Static):
    """Shows `schedule_text` of the status's schedule section."""

    def show(self, data: dict[str, Any]) -> None:
        zone = getattr(self.app, "local_zone", None)
        styles = {name: tone(self, name) for name in set(OUTCOME_TONE.values())}
        self.update(schedule_renderable(data, zone, styles))
