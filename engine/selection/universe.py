"""Where the scan's symbols come from: the config watchlist, an IBKR market-scanner
subscription (through `ScannerSource`, which the broker implements) and Barchart screener
CSV exports (bad lines reported by line number, the rest kept)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from config.models import UniverseConfig

_TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,5}([. ][A-Z0-9]{1,2})?$")


class ScannerSource(Protocol):
    """An IBKR market scanner (reqScannerSubscription); the broker services implement it."""

    async def scanner_symbols(
        self, code: str, rows: int, min_price: float, min_volume: int
    ) -> list[str]: ...


@dataclass(frozen=True)
class LineProblem:
    """One CSV line that was not imported."""

    line: int
    text: str
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


@dataclass
class CsvImport:
    """Symbols read from a Barchart export; sector hints when the export carries a sector."""

    symbols: list[str] = field(default_factory=list)
    sectors: dict[str, str] = field(default_factory=dict)
    problems: list[LineProblem] = field(default_factory=list)


@dataclass
class Universe:
    """The symbols of one scan (deduplicated, first source wins) and where each came from."""

    symbols: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    sectors: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, symbols: Iterable[str], source: str) -> None:
        for s in symbols:
            if s not in self.sources:
                self.symbols.append(s)
                self.sources[s] = source

    @property
    def source_label(self) -> str:
        return "+".join(dict.fromkeys(self.sources.values())) or "empty"


def normalise_symbol(raw: str) -> str | None:
    """Upper-case ticker (BRK.B, BRK B accepted) or None when it is not one."""
    s = raw.strip().upper()
    return s if _TICKER.match(s) else None


def parse_barchart_csv(text: str) -> CsvImport:
    """Read a Barchart screener export: a header row with a `Symbol` column, data rows, and
    Barchart's trailing "Downloaded from Barchart.com" line (ignored)."""
    out = CsvImport()
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header_idx = None
    for i, row in enumerate(rows):
        if any(c.strip().lower() == "symbol" for c in row):
            header_idx = i
            break
        if any(c.strip() for c in row):
            out.problems.append(LineProblem(i + 1, ",".join(row), "before the header row"))
    if header_idx is None:
        out.problems.append(LineProblem(1, "", "no header row with a 'Symbol' column"))
        return out
    header = [c.strip().lower() for c in rows[header_idx]]
    sym_col = header.index("symbol")
    sector_col = header.index("sector") if "sector" in header else None
    seen: set[str] = set()
    for i in range(header_idx + 1, len(rows)):
        row, line = rows[i], i + 1
        joined = ",".join(row)
        if not any(c.strip() for c in row):
            continue
        if joined.strip().lower().startswith("downloaded from barchart"):
            continue
        if len(row) != len(header):
            out.problems.append(
                LineProblem(line, joined, f"{len(row)} fields, header has {len(header)}")
            )
            continue
        sym = normalise_symbol(row[sym_col])
        if sym is None:
            out.problems.append(LineProblem(line, joined, f"not a ticker: {row[sym_col]!r}"))
            continue
        if sym in seen:
            out.problems.append(LineProblem(line, joined, f"duplicate symbol {sym}"))
            continue
        seen.add(sym)
        out.symbols.append(sym)
        if sector_col is not None and row[sector_col].strip():
            out.sectors[sym] = row[sector_col].strip()
    return out


def read_barchart_csv(path: Path) -> CsvImport:
    """`parse_barchart_csv` on a file; an unreadable file is one problem on line 0."""
    try:
        text = path.expanduser().read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return CsvImport(problems=[LineProblem(0, "", f"cannot read {path}: {exc}")])
    return parse_barchart_csv(text)


async def build_universe(
    cfg: UniverseConfig,
    *,
    symbols: list[str] | None = None,
    use_scanner: bool = False,
    scanner: ScannerSource | None = None,
) -> Universe:
    """Explicit `symbols` win; otherwise the watchlist, plus the IBKR scanner when asked (or
    configured), plus the configured Barchart CSV."""
    uni = Universe()
    if symbols:
        good = []
        for raw in symbols:
            s = normalise_symbol(raw)
            if s is None:
                uni.problems.append(f"not a ticker: {raw!r}")
            else:
                good.append(s)
        uni.add(good, "command")
        return uni
    uni.add(cfg.watchlist, "watchlist")
    if use_scanner or cfg.use_ibkr_scanner:
        if scanner is None:
            uni.problems.append("IBKR scanner requested but the broker offers no scanner")
        else:
            found = await scanner.scanner_symbols(
                cfg.scanner_code, cfg.scanner_rows, cfg.scanner_min_price, cfg.scanner_min_volume
            )
            uni.add([s for s in (normalise_symbol(x) for x in found) if s], "ibkr_scanner")
    if cfg.barchart_csv is not None:
        imp = read_barchart_csv(cfg.barchart_csv)
        uni.add(imp.symbols, "barchart_csv")
        uni.sectors.update(imp.sectors)
        uni.problems.extend(f"{cfg.barchart_csv}: {p}" for p in imp.problems)
    return uni
