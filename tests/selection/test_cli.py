"""`putdesk scan` / `putdesk lineup` through the real CLI, API client and an in-process engine
on the simulated gateway."""

from __future__ import annotations

import json

import pytest

from engine.cli.main import main

pytestmark = pytest.mark.slow


def test_lineup_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineup", "set-qty", "1"]) == 2
    assert main(["lineup", "remove"]) == 2
    assert "usage" in capsys.readouterr().err


def test_scan_json_then_lineup(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["scan", "--symbols", "NVDA", "AMD", "TSLA", "--auto-select", "--override-closed", "--json"]
    )
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["ok"], out
    assert {c["symbol"] for c in out["data"]["candidates"]} == {"NVDA", "AMD", "TSLA"}
    added = out["data"]["auto_select"]["data"]["added"]
    assert main(["lineup", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in shown["data"]["entries"]] == added
    assert main(["lineup", "clear", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"]["removed"] == added
