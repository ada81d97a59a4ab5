"""What the Execute now, kill switch and Protect dialogs say will happen."""

from __future__ import annotations

from typing import Any

from console.confirm_text import contract_text, execute_text, kill_text, protect_text


def entry(sym: str, strike: float, status: str, qty: int = 1, **kw: Any) -> dict[str, Any]:
    return {
        "symbol": sym,
        "strike": strike,
        "right": "P",
        "expiry": "20261204",
        "quantity": qty,
        "status": status,
        "margin_per_contract": 1000.0,
        "premium": 0.5,
        **kw,
    }


def order(con_id: int, role: str, status: str = "Submitted", putdesk: bool = True) -> dict:
    return {"con_id": con_id, "role": role, "status": status, "putdesk": putdesk}


def position(con_id: int, sym: str, strike: float, bracket: str = "working") -> dict:
    return {
        "con_id": con_id,
        "symbol": sym,
        "strike": strike,
        "right": "P",
        "expiry": "20261204",
        "quantity": -1,
        "bracket_status": bracket,
    }


def test_contract_text_drops_a_trailing_zero_but_keeps_a_half() -> None:
    assert contract_text(entry("NVDA", 125.0, "x")) == "NVDA 125P Dec04"
    assert contract_text(entry("AMZN", 187.5, "x")) == "AMZN 187.5P Dec04"
    assert contract_text({"symbol": "AAPL"}) == "AAPL"


def test_execute_names_the_approved_entries_their_margin_and_credit() -> None:
    text = execute_text(
        [
            entry("NVDA", 125.0, "approved", qty=2),
            entry("META", 490.0, "approved"),
            entry("UNH", 280.0, "staged"),
            entry("AMD", 100.0, "filled"),
        ]
    )
    assert "Sends 2 approved entries: NVDA 125P Dec04 x2, META 490P Dec04 x1." in text
    assert "Margin $3,000, credit at the scan's bid $150." in text
    assert "\n1 staged entry not approved stays in the lineup." in text
    assert "AMD" not in text and "UNH" not in text


def test_execute_with_nothing_approved_says_it_sends_nothing() -> None:
    text = execute_text([entry("UNH", 280.0, "staged"), entry("AMD", 100.0, "staged")])
    assert text.startswith("Nothing is approved, so this run sends nothing")
    assert "2 staged entries waiting" in text
    assert execute_text([]).startswith("Nothing is approved")


def test_execute_without_a_premium_leaves_the_credit_out() -> None:
    e = entry("NVDA", 125.0, "approved")
    del e["premium"]
    text = execute_text([e])
    assert "Margin $1,000." in text and "credit" not in text


def test_execute_counts_past_six_names() -> None:
    entries = [entry(f"S{i}", 10.0 + i, "approved") for i in range(8)]
    assert "and 2 more" in execute_text(entries)


def test_kill_counts_orders_by_role_and_names_the_positions_left_bare() -> None:
    orders = [
        order(1, "take_profit"),
        order(1, "stop"),
        order(2, "take_profit"),
        order(2, "stop"),
        order(3, "entry"),
        order(3, "take_profit", status="PreSubmitted"),
        order(3, "stop", status="PreSubmitted"),
        order(4, "stop", status="Cancelled"),  # not working: not counted
        order(5, "entry", putdesk=False),  # not putdesk's: left alone by the kill
    ]
    positions = [position(1, "UNH", 280.0), position(2, "META", 490.0), position(9, "KO", 60.0)]
    text = kill_text(positions, orders)
    assert text.startswith(
        "Cancel ALL 7 working putdesk orders (1 entry, 3 take-profits, 3 stops) and halt"
    ), text
    assert "2 open positions lose their exits and stay open, UNPROTECTED: " in text
    assert "UNH 280P Dec04, META 490P Dec04" in text
    assert "KO" not in text  # no exits of its own are working
    assert text.endswith("Nothing is sent again until you resume (R).")


def test_kill_with_nothing_working_only_halts() -> None:
    text = kill_text([position(1, "UNH", 280.0, "unprotected")], [order(1, "stop", "Cancelled")])
    assert "No putdesk order is working now, so nothing is cancelled" in text
    assert "UNPROTECTED" not in text


def test_kill_of_an_entry_only_names_no_position() -> None:
    one = kill_text([position(1, "UNH", 280.0)], [order(1, "stop")])
    assert "1 open position loses its exits and stays open, UNPROTECTED: UNH 280P Dec04." in one
    text = kill_text([], [order(3, "entry")])
    assert "Cancel ALL 1 working putdesk order (1 entry)" in text
    assert "open position" not in text


def test_protect_names_the_positions_without_exits() -> None:
    positions = [
        position(1, "UNH", 280.0, "unprotected"),
        position(2, "META", 490.0, "working"),
        {**position(3, "NVDA", 125.0, "unprotected"), "quantity": 0},  # closed
    ]
    text = protect_text(positions)
    assert text == (
        "Place a take-profit and a stop for 1 open position without exits: UNH 280P Dec04?"
    )


def test_protect_with_every_position_covered_says_so() -> None:
    text = protect_text([position(2, "META", 490.0, "working")])
    assert text.startswith("Every open putdesk position shows exits working")


def test_nakedtrader_names_the_plan_window_and_a_trade_already_made() -> None:
    from console.confirm_text import nt_text

    plan = {
        "symbol": "XSP",
        "target_delta": 0.065,
        "delta_range": [0.055, 0.075],
        "contracts": 2,
        "dry_run": False,
        "entry_window": "09:45-15:30",
    }
    text = nt_text({"plan": plan})
    assert text == (
        "Select and place today's XSP put now: target |delta| 0.065 (band 0.055-0.075), "
        "2 contracts, sends orders?\nEntry window 09:45-15:30 ET: a run outside it is refused."
    )
    trade = {"symbol": "XSP", "strike": 575.0, "expiry": "20261127", "quantity": 1}
    again = nt_text({"plan": {**plan, "dry_run": True, "entry_window": None}, "trade": trade})
    assert "2 contracts, dry run, no orders?" in again
    assert "No NYSE session today: the run is refused." in again
    assert "Today's trade exists already: SELL 1 XSP 575P Nov27" in again
    assert nt_text({}).endswith("(no plan is shown yet)")
