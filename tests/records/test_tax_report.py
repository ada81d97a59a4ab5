"""The tax report over a real database: lots from booked trades (assignment basis, commission
split, Section 1256, currency), wash sales across an assignment, CSV / TXF, and
`putdesk tax-report` over a real IBKR statement."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.records.service import tax_payload
from engine.records.tax import Form8949Row
from engine.records.tax_export import csv_8949, txf
from engine.store import Store
from engine.store.db import insert_row
from engine.store.trades import TradesRepo
from tests.records.conftest import EAE

D = Decimal


def at(day: str, hour: int = 15) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


async def fill(store: Store, trade_id: int, side: str, commission: str, when: dt.datetime) -> None:
    async with store.transaction() as conn:
        await insert_row(
            conn,
            "executions",
            {
                "exec_id": f"e{trade_id}{side}{when.isoformat()}",
                "trade_id": trade_id,
                "side": side,
                "quantity": "1",
                "price": "0",
                "time": when.isoformat(),
                "commission": commission,
            },
        )


async def test_assignment_basis_commissions_wash_and_1256(store: Store) -> None:
    repo = TradesRepo(store)
    # a put sold for 1.00 (commission 1.05 opening), assigned: 100 XYZ at 50, basis 49.00/sh
    put = await repo.open_trade(
        symbol="XYZ", quantity=1, entry_price=D("1.00"), entry_time=at("2026-03-02"),
        expiry="20260320", strike=D("50"), commission=D("1.05"),
    )  # fmt: skip
    await fill(store, put, "SLD", "1.05", at("2026-03-02"))
    await repo.close_trade(put, D("0"), at("2026-03-20", 21), "assigned")
    shares = await repo.open_trade(
        symbol="XYZ", quantity=100, entry_price=D("50"), entry_time=at("2026-03-20", 21),
        sec_type="STK", side="long", right=None, multiplier=1, related_trade_id=put,
    )  # fmt: skip
    await repo.set_trade_fields(shares, basis_adjustment=D("-1.00"))
    # sold at 45 with 1.00 commission: a loss of 4,000 + 1 - 100 = 401... on a basis of 4,900
    await repo.close_trade(shares, D("45"), at("2026-04-10"), "sold", D("1.00"))
    await fill(store, shares, "SLD", "1.00", at("2026-04-10"))
    # another put on XYZ assigned 20 days later: 100 shares bought again -> a wash sale
    put2 = await repo.open_trade(
        symbol="XYZ", quantity=1, entry_price=D("0.80"), entry_time=at("2026-04-13"),
        expiry="20260430", strike=D("44"),
    )  # fmt: skip
    await repo.close_trade(put2, D("0"), at("2026-04-30", 21), "assigned")
    again = await repo.open_trade(
        symbol="XYZ", quantity=100, entry_price=D("44"), entry_time=at("2026-04-30", 21),
        sec_type="STK", side="long", right=None, multiplier=1, related_trade_id=put2,
    )  # fmt: skip
    await repo.set_trade_fields(again, basis_adjustment=D("-0.80"))
    # an SPX put (Section 1256) and a CHF stock (not USD)
    spx = await repo.open_trade(
        symbol="SPX", quantity=1, entry_price=D("1.20"), entry_time=at("2026-05-01"),
        expiry="20260502", strike=D("5600"), trade_strategy="nakedtrader",
    )  # fmt: skip
    await repo.close_trade(spx, D("0.60"), at("2026-05-01", 19), "take_profit", D("2.00"))
    chf = await repo.open_trade(
        symbol="NESN", quantity=10, entry_price=D("90"), entry_time=at("2026-01-05"),
        sec_type="STK", side="long", right=None, multiplier=1, currency="CHF",
    )  # fmt: skip
    await repo.close_trade(chf, D("95"), at("2026-02-05"), "sold")

    data, rows = await tax_payload(store, 2026)
    (row,) = rows  # the put premiums are in the shares' basis, not rows of their own
    assert row.description == "100 sh XYZ" and row.acquired == dt.date(2026, 3, 20)
    assert (row.proceeds, row.cost) == (D("4499.00"), D("4900.00"))  # 4,500 - 1; 5,000 - 100
    assert (row.code, row.adjustment, row.gain) == ("W", D("401.00"), D("0.00"))
    deferred = data["deferred"]
    assert [d["amount"] for d in deferred] == ["401.00"]  # into the shares still held
    assert data["short_term"]["gain"] == "0.00" and data["wash_sales"] == 1
    assert data["section_1256"] == {
        "contracts": "1",
        "closed": "1",
        "marked_to_market": "0",
        "net": "58.00",  # (1.20 - 0.60) x 100 - 2.00
        "long_term_60": "34.80",
        "short_term_40": "23.20",
    }
    assert any("NESN" in p and "CHF" in p for p in data["problems"])
    assert "identical" in data["wash_sale_policy_text"]
    with pytest.raises(ValueError, match="wash-sale policy"):
        await tax_payload(store, 2026, "everything")


def year_end_statement(day: str, con_id: int, mark: str) -> str:
    """A Flex Activity statement ending on `day` holding one short SPX put at `mark` (the
    shape of the OpenPositions rows in ../shared/fixtures/flex/ibkr-real-option-eae.xml)."""
    ymd = day.replace("-", "")
    return f"""<FlexQueryResponse queryName="activity" type="AF">
  <FlexStatements count="1">
    <FlexStatement accountId="U0000001" fromDate="{ymd}" toDate="{ymd}" period="LastBusinessDay"
        whenGenerated="{ymd};235959">
      <OpenPositions>
        <OpenPosition accountId="U0000001" currency="USD" assetCategory="OPT"
            symbol="SPX   270115P05600000" conid="{con_id}" reportDate="{ymd}" position="-1"
            multiplier="100" markPrice="{mark}"
            positionValue="-{Decimal(mark) * 100}" levelOfDetail="SUMMARY"/>
      </OpenPositions>
    </FlexStatement>
  </FlexStatements>
</FlexQueryResponse>"""


async def test_section_1256_open_at_the_year_end_is_marked_to_market(store: Store) -> None:
    """Form 6781: an SPX put open on the year's last session counts its gain at that day's
    mark (from the Flex OpenPositions booked with the statement); the next year counts the
    rest of its P&L. Without the mark the report says so and counts from the opening."""
    from engine.records.importer import parse_statement
    from engine.records.reconcile import reconcile_statement

    repo = TradesRepo(store)
    spx = await repo.open_trade(
        symbol="SPX", quantity=1, entry_price=D("3.00"), entry_time=at("2026-12-15"),
        expiry="20270115", strike=D("5600"), con_id=777001, commission=D("1.00"),
    )  # fmt: skip
    await fill(store, spx, "SLD", "1.00", at("2026-12-15"))
    await repo.close_trade(spx, D("1.00"), at("2027-01-08"), "take_profit", D("1.00"))
    await fill(store, spx, "BOT", "1.00", at("2027-01-08"))
    # no year-end mark stored yet: listed in both years, counted whole in the closing year
    before, _ = await tax_payload(store, 2026)
    assert before["section_1256"]["marked_to_market"] == "0"
    assert any("no mark of 2026-12-31 is stored" in p for p in before["problems"])
    after, _ = await tax_payload(store, 2027)
    assert after["section_1256"]["net"] == "198.00"  # (3.00 - 1.00) x 100 - 2.00
    assert any("counted from its opening" in p for p in after["problems"])

    summary = await reconcile_statement(
        store, parse_statement(year_end_statement("2026-12-31", 777001, "2.50"))
    )
    assert summary.counts["position_marks"] == 1
    y2026, _ = await tax_payload(store, 2026)
    assert y2026["section_1256"] == {
        "contracts": "1",
        "closed": "0",
        "marked_to_market": "1",
        "net": "49.00",  # (3.00 - 2.50) x 100 - 1.00 opening commission
        "long_term_60": "29.40",
        "short_term_40": "19.60",
    }
    assert not any("SPX" in p for p in y2026["problems"])
    y2027, _ = await tax_payload(store, 2027)
    assert y2027["section_1256"]["net"] == "149.00"  # 198 over both years
    assert y2027["section_1256"]["closed"] == "1"
    assert not any("SPX" in p for p in y2027["problems"])
    # a mark of another day (not the year's last session) is not a year-end mark
    await reconcile_statement(
        store, parse_statement(year_end_statement("2026-12-30", 777001, "9.00"))
    )
    assert (await tax_payload(store, 2026))[0]["section_1256"]["net"] == "49.00"


ROW = Form8949Row(
    lot_id="T1", trade_id=1, description="100 sh XYZ", acquired=dt.date(2026, 3, 20),
    sold=dt.date(2026, 4, 10), proceeds=D("4499.00"), cost=D("4900.00"), code="W",
    adjustment=D("401.00"), term="short", box="A",
)  # fmt: skip


def test_txf_and_csv_records() -> None:
    plain = Form8949Row(**{**ROW.__dict__, "code": "", "adjustment": D("0.00"), "term": "long",
                           "box": "D", "lot_id": "T2"})  # fmt: skip
    text = txf([plain, ROW], dt.date(2026, 11, 24))
    assert text.splitlines()[:4] == ["V042", "Aputdesk", "D11/24/2026", "^"]
    records = text.split("^\n")[1:-1]
    first, second = (r.splitlines() for r in records)
    assert first == [
        "TD", "N682", "C1", "L1", "P100 sh XYZ", "D03/20/2026", "D04/10/2026",
        "$4900.00", "$4499.00", "$401.00",
    ]  # fmt: skip
    assert second[1] == "N323" and len(second) == 9  # long-term, no wash amount
    csv_text = csv_8949([plain, ROW]).splitlines()
    assert csv_text[0].startswith("part,box,description (a)")
    assert csv_text[1].startswith(
        "I,A,100 sh XYZ,03/20/2026,04/10/2026,4499.00,4900.00,W,401.00,0.00"
    )
    assert csv_text[2].startswith("II,D,")


def test_cli_tax_report_over_a_real_statement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reconcile-eod", "--file", str(EAE), "--json"]) == 0
    capsys.readouterr()
    csv_file, txf_file = tmp_path / "f8949.csv", tmp_path / "putdesk.txf"
    argv = ["tax-report", "--year", "2025", "--csv", str(csv_file), "--txf", str(txf_file)]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["data"]
    assert data["short_term"]["rows"] == str(len(data["rows"])) and data["rows"]
    assert all(r["term"] == "short" for r in data["rows"])  # expired long calls
    assert Decimal(data["section_1256"]["net"]) != 0  # futures, futures options, VIX
    # the statement's OpenPositions carry the 2025-12-31 mark of a CHF futures option sold
    # on 2025-12-24 (0.003 -> 0.0008 on 125,000): marked to market, not listed as a problem
    assert data["section_1256"]["marked_to_market"] == "1"
    assert not any("CHUF6" in p for p in data["problems"])
    assert any("CHF" in p for p in data["problems"])
    assert data["written"] == [str(csv_file), str(txf_file)]
    assert txf_file.read_text().startswith("V042\nAputdesk\n")
    assert csv_file.read_text().count("\n") == len(data["rows"]) + 1
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Tax report 2025 (Form 8949)") and "Section 1256" in out
