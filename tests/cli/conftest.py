"""Fixtures for `putdesk` command tests: a temp config on the simulated gateway (PUTDESK_CONFIG)
and `run(...)` that calls the real entry point and returns (exit code, stdout, stderr)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.cli.main import main

CONFIG = """\
ibkr:
  simulated: true
sim:
  seed: 7
"""

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "putdesk.yaml"
    path.write_text(CONFIG)
    monkeypatch.setenv("PUTDESK_CONFIG", str(path))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors and --help
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def run(config_file: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    return lambda *argv: _run(capsys, *argv)


def doc_of(out: str) -> dict[str, Any]:
    """The one JSON document a `--json` command prints, checked for the common envelope."""
    doc: dict[str, Any] = json.loads(out)
    assert set(doc) == {
        "schema_version",
        "command",
        "ok",
        "exit_code",
        "error",
        "reason_code",
        "data",
    }
    assert doc["schema_version"] == 1
    assert isinstance(doc["data"], dict)
    return doc
