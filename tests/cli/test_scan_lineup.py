"""`putdesk scan` and `putdesk lineup` on the simulated gateway: every candidate's numbers,
score components and rejection reasons, and the lineup's margin totals against the budget."""

from __future__ import annotations

from decimal import Decimal

from tests.cli.conftest import Run, doc_of

SYMBOLS = ("NVDA", "META", "AAPL")


def test_scan_json_candidates_and_lineup(run: Run) -> None:
    code, out, err = run(
        "scan", "--symbols", *SYMBOLS, "--auto-select", "--override-closed", "--json"
    )
    doc = doc_of(out)
    assert code == 0 and doc["ok"] and doc["command"] == "scan", err
    data = doc["data"]
    assert {c["symbol"] for c in data["candidates"]} == set(SYMBOLS)
    for c in data["candidates"]:
        assert {"status", "reason_code", "reason_text", "underlying_price", "strike", "bid"} <= set(
            c
        )
        assert {"score", "score_safety", "score_liquidity", "score_efficiency", "score_ai"} <= set(
            c
        )
        if c["status"] == "rejected":
            assert c["reason_code"] and c["reason_text"]
    chosen = [c for c in data["candidates"] if c["status"] != "rejected"]
    assert chosen, "the simulated market offers at least one candidate among NVDA/META/AAPL"
    assert all(c["score"] is not None and c["margin"] is not None for c in chosen)
    lineup = data["lineup"]
    assert lineup["budget"]["available"] is True
    assert {"budget", "lineup_margin", "headroom", "net_liquidation"} <= set(lineup["budget"])
    added = data["auto_select"]["data"]["added"]
    assert added and [e["id"] for e in lineup["entries"]] == added
    # `putdesk status` counts the lineup in its headroom, as the lineup does
    code, out, err = run("status", "--json")
    budget = doc_of(out)["data"]["budget"]
    assert code == 0 and budget["available"], err
    assert Decimal(budget["lineup_margin"]) == Decimal(lineup["budget"]["lineup_margin"]) > 0
    assert Decimal(budget["headroom"]) == Decimal(budget["budget"]) - Decimal(
        budget["full_maint_margin"]
    ) - Decimal(budget["lineup_margin"]) - Decimal(budget["working_margin"])


def test_scan_human_output(run: Run) -> None:
    code, out, _ = run("scan", "--symbols", "AAPL,msft", "--override-closed")
    assert code == 0
    assert out.startswith("scan ") and "AAPL" in out and "MSFT" in out and "rejected" in out
    assert "budget" in out  # the lineup's totals follow the scan


def test_lineup_edit_cycle(run: Run) -> None:
    code, out, _ = run("lineup")
    assert code == 0 and "budget" in out.lower()
    code, out, _ = run(
        "scan", "--symbols", *SYMBOLS, "--auto-select", "--override-closed", "--json"
    )
    ids = doc_of(out)["data"]["auto_select"]["data"]["added"]
    first = ids[0]
    code, out, _ = run("lineup", "set-qty", str(first), "2", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["command"] == "lineup set-qty" and doc["data"]["quantity"] == 2
    entry = next(e for e in doc["data"]["lineup"]["entries"] if e["id"] == first)
    assert entry["quantity"] == 2
    code, out, _ = run("lineup", "show")
    assert code == 0 and "staged" in out
    code, out, _ = run("lineup", "approve", str(first))
    assert code == 0 and out.startswith("approve: ") and "approved" in out
    if len(ids) > 1:
        code, out, _ = run("lineup", "remove", str(ids[1]), "--json")
        assert code == 0 and doc_of(out)["data"]["removed"]
    code, out, _ = run("lineup", "set-qty", "99999", "1", "--json")
    doc = doc_of(out)
    assert code == 1 and doc["reason_code"] == "no_entry"
    code, out, _ = run("lineup", "clear", "--json")
    doc = doc_of(out)
    assert code == 0 and doc["data"]["lineup"]["entries"] == []


def test_lineup_stage_one_candidate_of_the_scan(run: Run) -> None:
    code, out, _ = run("scan", "--symbols", *SYMBOLS, "--override-closed", "--json")
    chosen = [c for c in doc_of(out)["data"]["candidates"] if c["status"] == "candidate"]
    assert code == 0 and chosen
    pick = chosen[0]
    code, out, _ = run("lineup", "stage", str(pick["id"]), "2")
    assert code == 0 and out.startswith("stage: lineup_id "), out
    assert f" {pick['symbol']} " in out and "staged" in out
    code, out, _ = run("lineup", "stage", str(pick["id"]), "--json")
    doc = doc_of(out)
    assert code == 3 and doc["reason_code"] == "symbol_already_staged"
    code, out, _ = run("lineup", "--json")
    (entry,) = doc_of(out)["data"]["entries"]
    assert entry["candidate_id"] == pick["id"] and entry["quantity"] == 2
    code, _out, err = run("lineup", "stage")
    assert code == 2 and "usage: putdesk lineup stage CANDIDATE_ID [N]" in err
    code, out, _ = run("lineup", "stage", "999999", "--json")
    assert code == 1 and doc_of(out)["reason_code"] == "no_candidate"


def test_lineup_with_no_entries_says_so(capsys: object) -> None:
    from engine.cli.cmd_scan import _render_lineup

    _render_lineup({"entries": [], "budget": {"available": False, "reason": "x"}})
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "lineup: empty (putdesk scan --auto-select, or putdesk lineup stage)" in out
    assert "margin/ct" not in out


def test_lineup_done_rows_say_when(capsys: object) -> None:
    from engine.cli.cmd_scan import _render_lineup

    _render_lineup(
        {
            "entries": [],
            "budget": {"available": False, "reason": "not connected"},
            "done": [
                {
                    "id": 4,
                    "status": "filled",
                    "symbol": "AMZN",
                    "expiry": "20261204",
                    "strike": 187.5,
                    "quantity": 1,
                    "updated_at": "2026-11-25T14:32:41+00:00",
                    "reason_text": "SELL 1 @ 0.31",
                }
            ],
        }
    )
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    [row] = [line for line in out.splitlines() if "AMZN" in line]
    assert "Wed 09:32 ET" in row and row.endswith("SELL 1 @ 0.31")


def test_scan_and_lineup_tables_show_prices_in_cents_and_margin_in_dollars(
    capsys: object,
) -> None:
    from engine.cli.cmd_scan import _render_scan

    _render_scan(
        {
            "scan": {"id": 2, "stale": 0, "ai_reason": ""},
            "candidates": [
                {
                    "id": 15,
                    "status": "candidate",
                    "symbol": "NVDA",
                    "expiry": "20261204",
                    "strike": "125.0",
                    "bid": 0.5,
                    "delta": -0.078,
                    "otm_pct": 12.4,
                    "margin": "1300.00",
                    "score": 79.7,
                    "sector": "Semiconductors",
                }
            ],
            "lineup": {
                "entries": [
                    {
                        "id": 1,
                        "status": "staged",
                        "symbol": "NVDA",
                        "expiry": "20261204",
                        "strike": "125.0",
                        "quantity": 1,
                        "premium": "0.5",
                        "margin_per_contract": "1300",
                        "stale": 0,
                    }
                ],
                "budget": {"available": False, "reason": "not connected"},
            },
        }
    )
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    cand, entry = [line.split() for line in out.splitlines() if "NVDA" in line]
    assert cand[3:8] == ["125", "0.50", "-0.078", "12.4", "$1,300.00"]
    assert entry[4:8] == ["125", "1", "0.50", "$1,300.00"]
