"""Plain rendering of GetSchedule data for `putdesk status` (rich tables, no Textual)."""

from __future__ import annotations

from typing import Any

OUTCOME_STYLE = {"ok": "green", "failed": "red", "refused": "yellow", "skipped": "yellow"}


def _run_text(run: dict[str, Any] | None) -> tuple[str, str]:
    if not run:
        return "-", ""
    outcome = str(run.get("outcome") or "")
    style = OUTCOME_STYLE.get(outcome, "cyan")
    return f"[{style}]{outcome}[/]", str(run.get("reason") or "")


def render_schedule(data: dict[str, Any], console: Any) -> None:
    """Today's jobs (ET and local time, outcome and reason) and the next session's start."""
    from rich.table import Table

    today = data["today"]
    state = "running" if data.get("running") else "not running (headless engines only)"
    if not data.get("enabled"):
        state = "disabled (schedule.enabled: false)"
    title = (
        f"Schedule {today['session_date']}  level {data['level']}  scheduler {state}  "
        f"now {data['now_et']} / {data['now_local']}"
    )
    if not today["is_session"]:
        console.print(f"{title}\n  {today['reason']}")
    else:
        t = Table(title=title)
        for col in ("job", "ET", "local", "outcome", "reason"):
            t.add_column(col)
        for j in today["jobs"]:
            outcome, reason = _run_text(j.get("run"))
            if j.get("skip_reason") and not j.get("run"):
                reason = j["skip_reason"]
            elif j.get("missed"):
                outcome, reason = "[yellow]missed[/]", j["missed"]
            t.add_row(j["job"], j["due_et"], j.get("due_local", ""), outcome, reason)
        console.print(t)
        if today.get("reason"):
            console.print(f"  {today['reason']}")
    if data.get("current"):
        console.print(f"  running now: {data['current']}")
    if data.get("waiting_on"):
        console.print(f"  waiting: {data['waiting_on']}")
    if data.get("error"):
        console.print(f"  [red]scheduler error: {data['error']}[/]")
    nxt = data.get("next_session")
    if nxt and nxt.get("jobs"):
        first = nxt["jobs"][0]
        close = f", early close {nxt['close_et']} ET" if nxt.get("early_close") else ""
        console.print(
            f"  next session {nxt['session_date']}: {first['job']} at {first['due_et']} ET "
            f"({first.get('due_local', '')}){close}"
        )
    last = [r for r in data.get("last_runs", []) if r["session_date"] != today["session_date"]]
    if last:
        t = Table(title="Earlier job runs")
        for col in ("date", "job", "outcome", "reason"):
            t.add_column(col)
        for r in last[:10]:
            outcome, reason = _run_text(r)
            t.add_row(r["session_date"], r["job"], outcome, reason)
        console.print(t)
