"""`putdesk sim` / `sim stats` (a standalone simulated gateway in a subprocess, with an engine
command connected to it as if it were IB Gateway) and the NakedTrader commands' documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import Run, doc_of

REPO = Path(__file__).resolve().parents[2]
STATS_KEYS = {
    "messages_received",
    "peak_msgs_per_sec",
    "peak_market_data_lines",
    "errors_by_code",
    "orders",
    "fills",
}


def test_sim_stats_counts_an_engine_session(run: Run, config_file: Path) -> None:
    code, out, _ = run("sim", "stats", "--json")
    doc = doc_of(out)
    assert code == 1 and doc["command"] == "sim stats" and doc["reason_code"] == "sim.not_running"
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "sim", "--port", "0", "--json", "--start", "now"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        # an engine command against it as a real gateway (ibkr.simulated false)
        config_file.write_text(f"ibkr:\n  simulated: false\n  port: {info['port']}\n")
        code, out, err = run("positions", "--json")
        assert code == 0, err
        code, out, _ = run("sim", "stats", "--json")
        doc = doc_of(out)
        assert code == 0 and doc["ok"] and set(doc["data"]) >= STATS_KEYS
        assert doc["data"]["messages_received"] > 0 and doc["data"]["port"] == info["port"]
        code, out, _ = run("sim", "stats")
        assert code == 0 and "messages_received" in out and "peak_msgs_per_sec" in out
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_nt_status_and_dry_run(run: Run) -> None:
    code, out, err = run("nt-status", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["command"] == "nt-status", err
    assert {"entries_today", "max_daily_trades", "trades"} <= set(doc["data"])
    code, out, _ = run("nt-status")
    assert code == 0 and out.startswith("NakedTrader")
    code, out, _ = run("nt", "--dry-run", "--json")
    doc = doc_of(out)
    # inside the entry window a plan (0); outside it a guard refusal (3) - never an error
    assert code in (0, 3) and doc["exit_code"] == code and doc["data"]["dry_run"] is True
    code, out, _ = run("nt", "--delta-target", "lots", "--json")
    assert code == 2 and doc_of(out)["exit_code"] == 2
    code, out, _ = run("nt-watch", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["command"] == "nt-watch" and "watch" in doc["data"]
