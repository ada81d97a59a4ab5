"""`putdesk engine` headless in a subprocess; `status`, `events`, `kill` over its socket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def test_status_without_engine_starts_one_in_process(
    state_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ibkr:\n  simulated: true\n")
    assert main(["status", "--config", str(cfg), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1 and doc["command"] == "status"
    assert doc["data"]["engine"]["pid"] == os.getpid()  # in-process for this command
    assert doc["data"]["engine"]["label"] == "SIMULATED"


def test_headless_engine_serves_status_and_stops_on_sigterm(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ibkr:\n  simulated: true\nsim:\n  start: now\n")
    env = {**os.environ, "PUTDESK_STATE_DIR": str(state_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "engine", "--config", str(cfg), "--quiet"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        from engine.api.socket_server import socket_alive
        from engine.runtime.paths import socket_path

        # where the engine listens: a long state path moves the socket to a short /tmp path
        sock = socket_path(state_dir, "DU1234567")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not socket_alive(sock):
            if proc.poll() is not None:
                pytest.fail(f"engine exited early: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.1)  # a command before the engine listens would start its own
        state = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"engine exited early: {proc.stderr.read() if proc.stderr else ''}")
            if main(["status", "--config", str(cfg), "--json"]) == 0:
                state = json.loads(capsys.readouterr().out)["data"]
                if state["connection"]["state"] == "READY":
                    break
            else:
                capsys.readouterr()
            time.sleep(0.2)
        assert state is not None and state["connection"]["state"] == "READY"
        assert state["engine"]["label"] == "SIMULATED"
        assert main(["kill", "--config", str(cfg), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["data"]["halted"] is True
        assert main(["events", "--config", str(cfg), "--json", "--limit", "500"]) == 0
        events = json.loads(capsys.readouterr().out)["data"]["events"]
        assert state["engine"]["pid"] == proc.pid  # answered over the socket
        kinds = [e["code"] for e in events]
        assert "engine.killed" in kinds
        # a second headless engine for the same account is refused (exit 3)
        second = subprocess.run(
            [sys.executable, "-m", "engine.cli.main", "engine", "--config", str(cfg), "--quiet"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (state_dir / "logs" / "engine-DU1234567.log").exists()
    assert main(["status", "--config", str(cfg), "--json"]) == 0  # now in-process
    assert json.loads(capsys.readouterr().out)["data"]["engine"]["pid"] == os.getpid()
