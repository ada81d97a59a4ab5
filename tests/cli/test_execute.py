"""A whole evening-to-open cycle from the command line on the simulated gateway (clock at the
open, 60x): scan --auto-select, lineup approve, execute-two-tier, then orders/positions."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Run, doc_of

FAST = """\
ibkr:
  simulated: true
sim:
  speed: 60
  minutes_before_open: 0
execution:
  tier2_wait_s: 5
"""


def test_scan_approve_execute_orders(run: Run, config_file: Path) -> None:
    config_file.write_text(FAST)
    code, out, _ = run("scan", "--symbols", "NVDA", "META", "--auto-select", "--json")
    added = doc_of(out)["data"]["auto_select"]["data"]["added"]
    assert code == 0 and added
    code, out, _ = run("lineup", "approve", "--json")
    assert code == 0 and doc_of(out)["data"]["approved"] == added
    code, out, err = run("execute-two-tier", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["ok"] and doc["command"] == "execute-two-tier", err
    assert doc["data"]["reason"].startswith(f"{len(added)} approved: ")
    codes = [d["code"] for d in doc["data"]["decisions"]]
    assert "price.tier1" in codes
    assert {d["lineup_id"] for d in doc["data"]["decisions"] if d["code"] == "price.tier1"} == set(
        added
    )
    assert "Canceled order" not in err  # ib_async's chatter goes to the log file
    code, out, _ = run("orders", "--json")
    orders = doc_of(out)["data"]["orders"]
    refs = {o["order_ref"] for o in orders}
    assert code == 0 and any(r.startswith(f"pd-L{added[0]}-") for r in refs)
    code, out, _ = run("orders")
    assert code == 0 and f"{len(orders)} open order(s)" in out and "order_ref" in out
    code, out, _ = run("kill", "--json")
    assert code == 0 and doc_of(out)["data"]["cancelled"] >= 1
