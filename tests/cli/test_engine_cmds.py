"""status, orders, positions, events, kill/resume, execute-two-tier, reconcile-positions against
the simulated gateway (no engine running: each command starts one in-process), human and --json,
and the guard refusals (exit 3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import Run, doc_of


def test_status_human_and_json(run: Run) -> None:
    code, out, err = run("status")
    assert code == 0, err
    assert "Connection" in out and "READY" in out and "Budget" in out
    assert "$1,000,000.00" in out  # the simulated account's net liquidation, in dollars
    code, out, _ = run("status", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["ok"] and doc["command"] == "status"
    d = doc["data"]
    assert d["engine"]["pid"] == os.getpid() and d["engine"]["simulated"] is True
    assert d["connection"]["state"] == "READY"
    assert d["budget"]["available"] is True and d["halted"]["halted"] is False
    assert d["unprotected"] == [] and "Unprotected" not in run("status")[1]


#: GetStatus's pacing section of an engine that has sent nothing yet
IDLE_PACING = {"sent": 0, "peak_per_window": 0, "max_per_s": 45, "lines_in_use": 0, "max_lines": 90}


def test_status_names_open_trades_left_without_exits(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli.cmd_engine import _render_status

    doc = {
        "engine": {"account_key": "DU1234567", "level": "B", "live_flag": False},
        "connection": {
            "state": "READY",
            "account": "DU1234567",
            "trading_allowed": True,
            "trading_reason": "",
        },
        "budget": {"available": False, "reason": "not connected"},
        "halted": {"halted": False},
        "pacing": IDLE_PACING,
        "unprotected": [{"trade_id": 7, "symbol": "NVDA", "strategy": "putdesk"}],
    }
    _render_status(doc)
    out = capsys.readouterr().out
    assert "Unprotected" in out and "#7 NVDA" in out and "protect-exits" in out


def test_status_says_the_connection_reason_once(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli.cmd_engine import _render_status

    why = "cannot connect to 127.0.0.1:4999: ConnectionRefusedError; retrying in 1.6s"
    doc = {
        "engine": {"account_key": "DU7654321", "level": "B", "live_flag": False},
        "connection": {
            "state": "DISCONNECTED",
            "reason": why,
            "trading_allowed": False,
            "trading_reason": f"not connected to IBKR: {why}",
        },
        "budget": {"available": False, "reason": f"not connected to IBKR: {why}"},
        "halted": {"halted": False},
        "pacing": IDLE_PACING,
    }
    _render_status(doc)
    out = " ".join(capsys.readouterr().out.split())  # the table wraps long cells
    assert out.count("ConnectionRefusedError") == 1
    assert "blocked: not connected to IBKR (see Connection)" in out
    assert "unavailable: not connected to IBKR (see Connection)" in out


def test_orders_and_positions(run: Run) -> None:
    code, out, _ = run("orders")
    assert code == 0 and "0 open order(s)" in out and "order_ref" in out
    code, out, _ = run("orders", "--json")
    assert code == 0 and doc_of(out)["data"] == {"orders": []}
    code, out, _ = run("positions")
    assert code == 0 and "0 position(s)" in out
    code, out, _ = run("positions", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["command"] == "positions" and doc["data"] == {"positions": []}


def test_kill_refuses_execution_until_resume(run: Run) -> None:
    code, out, _ = run("kill", "--reason", "cli test")
    assert code == 0 and out.startswith("halted; 0 putdesk order(s) cancelled")
    code, out, _ = run("status", "--json")
    assert doc_of(out)["data"]["halted"]["halted"] is True  # persisted across engines
    code, out, err = run("execute-two-tier")
    assert code == 3 and err.startswith("refused [") and "cli test" in err
    code, out, _ = run("execute-two-tier", "--json")
    doc = doc_of(out)
    assert code == 3 and doc["exit_code"] == 3 and doc["ok"] is False and doc["reason_code"]
    code, out, _ = run("events", "--json", "--limit", "200")
    events = doc_of(out)["data"]["events"]
    assert any(e["code"] == "engine.killed" for e in events)
    code, out, _ = run("events", "--limit", "200")
    assert code == 0 and "cli test" in out
    code, out, _ = run("resume")
    assert code == 0 and out.startswith("resumed; trading allowed")
    code, out, _ = run("resume", "--json")
    assert code == 0 and doc_of(out)["data"]["halted"] is False


def test_live_account_without_live_flag_is_refused(run: Run, config_file: Path) -> None:
    config_file.write_text(config_file.read_text() + "  account_kind: live\n")
    code, out, _ = run("execute-two-tier", "--json")
    doc = doc_of(out)
    assert code == 3 and doc["reason_code"] == "guard.live_flag"
    code, _, err = run("execute-two-tier", "--live", "--yes-live", "U999")
    assert code == 3 and "refused [" in err


def test_reconcile_positions(run: Run) -> None:
    code, out, _ = run("reconcile-positions", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["ok"] and doc["data"]["mismatches"] == []
    code, out, _ = run("reconcile-positions")
    assert code == 0 and "mismatches 0" in out


def test_no_ibkr_is_refused_quickly(run: Run, config_file: Path) -> None:
    # a gateway that is not there: the in-process engine gives up waiting after the first
    # failed connection attempt, and what needs IBKR is refused (3), not an error
    config_file.write_text("ibkr:\n  simulated: false\n  port: 1\n")
    code, out, _ = run("status", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["data"]["connection"]["state"] == "DISCONNECTED"
    code, out, _ = run("positions", "--json")
    doc = doc_of(out)
    assert code == 3 and doc["reason_code"].startswith("session.")
    code, _, err = run("execute-two-tier")
    assert code == 3 and err.startswith("refused [")
    assert "Make sure API port" not in err  # ib_async's log lines go to the log file


def test_regime_human_and_json_and_the_guard(run: Run, config_file: Path) -> None:
    code, out, err = run("regime")
    assert code == 0, err
    assert "Market regime" in out and "VIX3M" in out and "200-day" in out
    assert "off (selection.regime_guard.enabled)" in out
    code, out, _ = run("regime", "--refresh", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["command"] == "regime"
    reading = doc["data"]["reading"]
    assert reading["vix"] > 0 and reading["term"] in ("contango", "backwardation", "flat")
    assert doc["data"]["guard"]["enabled"] is False
    config_file.write_text(
        config_file.read_text() + "selection:\n  regime_guard: {enabled: true, max_vix: 5}\n"
    )
    code, out, _ = run("regime")
    assert code == 0 and "BLOCKS new puts: regime guard: VIX" in out
    code, out, _ = run("status")
    assert code == 0 and "Regime" in out
