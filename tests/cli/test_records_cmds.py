"""`putdesk trades`, `reconcile-eod`, `import-historical-trades`: the account database (no
engine needed), human and --json output and their exit codes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.cli.conftest import Run, doc_of
from tests.records.conftest import ORCL


def test_trades_empty_then_after_a_flex_import(run: Run, tmp_path: Path) -> None:
    code, out, _ = run("trades", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["command"] == "trades" and doc["data"]["trades"] == []
    code, out, _ = run("reconcile-eod", "--file", str(ORCL), "--json")
    doc = doc_of(out)
    assert code == 0 and doc["command"] == "reconcile-eod" and doc["data"]["rows_new"] > 0
    code, out, _ = run("reconcile-eod", "--file", str(ORCL))
    assert code == 0 and out.strip()
    code, out, _ = run("trades", "--since", "2017-09-01", "--json")
    trades = doc_of(out)["data"]["trades"]
    assert trades and all(t["symbol"] for t in trades)
    code, out, _ = run("trades", "--since", "2017-09-01")
    assert code == 0 and "ORCL" in out and out.splitlines()[0].startswith("id\tstrategy")
    # each trade's opening and closing day (New York), beside its prices
    head = out.splitlines()[0].split("\t")
    assert head[7:11] == ["opened", "entry", "closed", "exit"]
    first = next(t for t in trades if t["entry_time"] and t["exit_time"])
    row = next(ln.split("\t") for ln in out.splitlines() if ln.startswith(f"{first['id']}\t"))
    ny = ZoneInfo("America/New_York")
    for col, key in ((7, "entry_time"), (9, "exit_time")):
        when = dt.datetime.fromisoformat(first[key]).astimezone(ny)
        assert row[col] == when.date().isoformat()
    code, out, _ = run("trades", "--since", "2099-01-01", "--json")
    assert code == 0 and doc_of(out)["data"]["trades"] == []


def test_records_errors(run: Run, tmp_path: Path, config_file: Path) -> None:
    config_file.write_text("ibkr:\n  simulated: false\n")  # IB Gateway, no Flex query set up
    code, out, _ = run("reconcile-eod", "--json")
    doc = doc_of(out)
    assert code == 1 and doc["ok"] is False and "flex" in doc["error"]
    code, out, _ = run("reconcile-eod", "--file", str(tmp_path / "missing.xml"), "--json")
    assert code == 2 and doc_of(out)["exit_code"] == 2
    code, _, err = run(
        "import-historical-trades", "--start-date", "2025-02-01", "--end-date", "2025-01-01"
    )
    assert code == 2 and "before" in err
    code, out, _ = run(
        "import-historical-trades",
        "--start-date",
        "2025-01-01",
        "--end-date",
        "2025-01-31",
        "--json",
    )
    assert code == 1 and doc_of(out)["ok"] is False  # no Flex token or query configured


def test_simulated_flex_through_the_engine(run: Run) -> None:
    """On the simulated gateway with no Flex query of one's own, reconcile-eod and
    import-historical-trades are answered by the engine's simulated Flex Web Service (an engine
    is started for the command): the statement is downloaded and booked."""
    code, out, err = run("reconcile-eod", "--json", "--date", "2026-11-23")
    doc = doc_of(out)
    assert code == 0 and doc["ok"] and doc["command"] == "reconcile-eod", err
    assert doc["data"]["import_id"] and doc["data"]["status"] in ("booked", "unchanged")
    code, out, err = run(
        "import-historical-trades", "--start-date", "2026-11-02", "--end-date", "2026-11-20"
    )
    assert code == 0 and "1 request(s)" in out, err
