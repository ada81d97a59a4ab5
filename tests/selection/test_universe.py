"""Universe sources: watchlist, IBKR scanner interface, Barchart CSV import."""

from __future__ import annotations

from pathlib import Path

from config.models import UniverseConfig
from engine.selection.universe import build_universe, parse_barchart_csv, read_barchart_csv

CSV = """"Symbol","Name","Last","Sector"
"AAPL","Apple Inc","190.00","Technology"
"MSFT","Microsoft","410.00","Technology"
"bad symbol!","Nope","1.00",""
"XOM","Exxon","110.00"
"AAPL","Apple again","190.00","Technology"
""
"JPM","JPMorgan","200.00","Financial"
"Downloaded from Barchart.com as of 11-24-2026 10:15am CST"
"""


def test_barchart_csv_bad_lines_reported_rest_kept() -> None:
    imp = parse_barchart_csv(CSV)
    assert imp.symbols == ["AAPL", "MSFT", "JPM"]
    assert imp.sectors == {"AAPL": "Technology", "MSFT": "Technology", "JPM": "Financial"}
    lines = {p.line: p.problem for p in imp.problems}
    assert set(lines) == {4, 5, 6}
    assert "not a ticker" in lines[4]
    assert "3 fields" in lines[5]
    assert "duplicate" in lines[6]


def test_barchart_csv_without_header() -> None:
    imp = parse_barchart_csv("AAPL,1\nMSFT,2\n")
    assert imp.symbols == []
    assert imp.problems[-1].problem.startswith("no header")


def test_unreadable_csv_is_one_problem(tmp_path: Path) -> None:
    imp = read_barchart_csv(tmp_path / "missing.csv")
    assert imp.symbols == [] and imp.problems[0].line == 0


class FakeScanner:
    def __init__(self) -> None:
        self.asked: tuple[str, int, float, int] | None = None

    async def scanner_symbols(
        self, code: str, rows: int, min_price: float, min_volume: int
    ) -> list[str]:
        self.asked = (code, rows, min_price, min_volume)
        return ["TSLA", "AAPL", "??"]


async def test_build_universe_merges_sources(tmp_path: Path) -> None:
    path = tmp_path / "bc.csv"
    path.write_text(CSV)
    cfg = UniverseConfig(watchlist=["AAPL", "HD"], barchart_csv=path, scanner_rows=20)
    sc = FakeScanner()
    uni = await build_universe(cfg, use_scanner=True, scanner=sc)
    assert uni.symbols == ["AAPL", "HD", "TSLA", "MSFT", "JPM"]
    assert uni.sources["TSLA"] == "ibkr_scanner" and uni.sources["MSFT"] == "barchart_csv"
    assert sc.asked == ("HIGH_OPT_IMP_VOLAT", 20, 20.0, 1_000_000)
    assert uni.source_label == "watchlist+ibkr_scanner+barchart_csv"
    assert len(uni.problems) == 3 and all("line" in p for p in uni.problems)


async def test_explicit_symbols_win_and_bad_ones_reported() -> None:
    uni = await build_universe(UniverseConfig(), symbols=["aapl", "nvda", "1bad"])
    assert uni.symbols == ["AAPL", "NVDA"]
    assert uni.problems == ["not a ticker: '1bad'"]


async def test_scanner_requested_without_source() -> None:
    uni = await build_universe(UniverseConfig(watchlist=["AAPL"]), use_scanner=True)
    assert uni.symbols == ["AAPL"] and "no scanner" in uni.problems[0]
