"""engine.cli.common: JSON documents, result printing, exit codes, tables and progress."""

from __future__ import annotations

import argparse
import json

import pytest

from engine.api.models import Result
from engine.cli import common


def ns(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"command": "orders", "json": False, **kw})


def test_command_name_includes_sub_actions() -> None:
    assert common.command_name(ns()) == "orders"
    assert common.command_name(ns(command="lineup", action="approve")) == "lineup approve"
    assert common.command_name(ns(command="sim", sim_cmd="stats")) == "sim stats"
    assert common.command_name(ns(command="config", config_cmd="show")) == "config show"


def test_json_document_envelope() -> None:
    doc = common.result_document("kill", Result.refused("halted", code="guard.halted"))
    assert doc == {
        "schema_version": 1,
        "command": "kill",
        "ok": False,
        "exit_code": 3,
        "error": "halted",
        "reason_code": "guard.halted",
        "data": {},
    }


@pytest.mark.parametrize(
    ("result", "code", "word"),
    [
        (Result.success(x=1), 0, None),
        (Result.fail("boom", code="engine.error"), 1, "error [engine.error]: boom"),
        (Result.fail("bad", exit_code=2), 2, "error: bad"),
        (
            Result.refused("no IBKR", code="broker.not_connected"),
            3,
            "refused [broker.not_connected]",
        ),
    ],
)
def test_emit_exit_codes_and_stderr(
    capsys: pytest.CaptureFixture[str], result: Result, code: int, word: str | None
) -> None:
    seen: list[dict[str, object]] = []
    assert common.emit(ns(), result, seen.append) == code
    err = capsys.readouterr().err
    if word is None:
        assert seen == [{"x": 1}] and err == ""
    else:
        assert seen == [] and word in err
    assert common.emit(ns(json=True), result, seen.append) == code
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == code and doc["ok"] is (code == 0)


def test_fail_and_ok_without_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert common.fail(ns(json=True), "nope", 3, "guard.x") == 3
    doc = json.loads(capsys.readouterr().out)
    assert (doc["ok"], doc["error"], doc["reason_code"]) == (False, "nope", "guard.x")
    assert common.ok(ns(json=True), {"a": 1}, print) == 0
    assert json.loads(capsys.readouterr().out)["data"] == {"a": 1}


def test_plain_table_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    common.print_table("2 rows", ["a", "b"], [[1, None], [2.5, {"k": 1}]])
    assert capsys.readouterr().out.splitlines() == [
        "# 2 rows",
        "a\tb",
        "1\t-",
        '2.5\t{"k": 1}',
    ]


def test_rich_table_on_a_terminal_without_colour_codes_when_piped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "160")
    common.render_orders(
        {"orders": [{"order_id": 7, "symbol": "NVDA", "action": "SELL", "status": "Submitted"}]}
    )
    out = capsys.readouterr().out
    assert "1 open order(s)" in out and "NVDA" in out and "Submitted" in out
    assert "\x1b[" not in out  # rich adds colour only when the stream is a real terminal


def test_progress_is_silent_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with common.Progress("working") as p:
        p.update("still working")
    assert not p.enabled
    assert capsys.readouterr().err == ""


def test_bad_config_is_exit_1_with_a_document(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pathlib

    bad = pathlib.Path(str(tmp_path)) / "bad.yaml"
    bad.write_text("ibkr:\n  port: 0\n")
    from engine.api.models import GetOrders

    args = ns(json=True, config=str(bad), account=None, live=False)
    assert common.run(args, GetOrders(), common.render_orders) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["reason_code"] == "config.invalid" and "ibkr.port" in doc["error"]


def test_event_lines_show_new_york_and_local_time() -> None:
    from zoneinfo import ZoneInfo

    ev = {
        "ts": "2026-11-25T14:40:14.123456+00:00",
        "severity": "info",
        "kind": "order.fill",
        "message": "pd-L1-1: SLD 1 @ 0.56",
        "code": None,
    }
    line = common.format_event(ev, ZoneInfo("Australia/Sydney"))
    assert line.startswith("2026-11-25 09:40:14 ET · Thu 01:40 AEDT info    order.fill ")
    assert line.endswith("pd-L1-1: SLD 1 @ 0.56")
    assert common.format_event(ev, ZoneInfo("America/New_York")).startswith(
        "2026-11-25 09:40:14 ET info"
    )
    assert common.event_time("not a time") == "not a time"


def test_dollars() -> None:
    assert common.dollars("1000000.00") == "$1,000,000.00"
    assert common.dollars("1976.8") == "$1,976.80"
    assert common.dollars("-12.5") == "-$12.50"
    assert common.dollars(None) == "-"


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    """`putdesk ... | head`: the reader closes the pipe early; no traceback, exit 141."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys\n"
        "from engine.cli import main as m\n"
        "def flood(args):\n"
        "    for i in range(200000):\n"
        "        print('row', i)\n"
        "    return 0\n"
        "class P:\n"
        "    def parse_args(self, argv):\n"
        "        import argparse\n"
        "        return argparse.Namespace(func=flood)\n"
        "m.build_parser = lambda: P()\n"
        "sys.exit(m.main([]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err
