"""Selection benchmark (a script, not collected by pytest).

    .venv/bin/python tests/bench/bench_selection.py [--sizes 10 50 100] [--naive-symbols 10]

For each universe size, against the simulated gateway with IBKR pacing enforced (the engine's
pacer at 45 msg/s, the gateway at 50): the scan pipeline on a cold cache, a rescan on the warm
day cache, a scan by a new engine on the same state directory (the day cache it kept), and a
naive baseline (greeks for every put strike 10-50 % OTM across every expiry
in the DTE window, then the same what-if for the finalists) measured in the same run. Each
cold run uses a fresh engine and gateway, so nothing is cached in advance.

Columns: wall time, messages sent (engine pacer), peak market-data lines, the pacing lower
bound (messages / 45 per s) and wall / bound. The naive baseline is measured on the first
first `--naive-symbols` symbols (every size starts with the same symbols) and scaled to each
size (marked so);
`--all-otm` adds a second baseline over every OTM put strike, not only those >= min OTM %.
Targets: wall <= 1.3x the bound, >= 5x fewer messages than naive, 50 symbols in <= 20 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

START = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)  # Tue 10:00 ET, a regular session


@dataclass
class Row:
    size: int
    mode: str
    symbols: int
    wall: float
    messages: int
    peak_lines: int
    rate: int
    candidates: int
    scaled: bool = False

    @property
    def bound(self) -> float:
        return self.messages / self.rate

    @property
    def per_symbol(self) -> float:
        return self.messages / max(self.symbols, 1)


def universe(n: int) -> list[Any]:
    """The simulator's stocks, then synthetic stocks (distinct tickers) up to n."""
    import random

    from engine.sim.universe import SymbolSpec, con_id_for, default_universe

    base = default_universe()
    stocks = [s for s in base if s.sec_type == "STK" and s.symbol != "SPY"]
    rng = random.Random(11)
    extra = []
    sectors = sorted({s.sector for s in stocks})
    i = 0
    while len(stocks) + len(extra) < n:
        sym = f"ZQ{i:02d}"
        extra.append(
            SymbolSpec(
                symbol=sym,
                con_id=con_id_for(sym),
                sector=sectors[i % len(sectors)],
                industry="Synthetic",
                long_name=f"SYNTHETIC {i}",
                base_price=round(rng.uniform(20, 500), 2),
                vol=rng.uniform(0.2, 0.6),
                avg_volume=rng.randint(1_000_000, 20_000_000),
            )
        )
        i += 1
    return [*stocks, *extra, *[s for s in base if s.sec_type == "IND" or s.symbol == "SPY"]]


_STATE_DIRS: list[str] = []


def _state_dir() -> str:
    """A new empty state directory (removed when the benchmark ends)."""
    path = tempfile.mkdtemp(prefix="putdesk-bench-")
    _STATE_DIRS.append(path)
    return path


async def with_engine(n: int, body: Any, state_dir: str | None = None) -> Any:
    """Run `body(engine, symbols)` on a fresh simulated gateway and engine, with its own
    empty state directory unless `state_dir` (an earlier engine's) is given."""
    if state_dir is None:
        state_dir = _state_dir()
    os.environ["PUTDESK_STATE_DIR"] = state_dir
    from config.models import PutdeskConfig
    from engine.market.clock import SteppedClock
    from engine.runtime.engine import Engine, EngineOptions
    from engine.sim.market import MarketModel
    from engine.sim.testing import running_sim

    clock = SteppedClock(START)
    specs = universe(n)
    market = MarketModel(7, clock, universe=specs)
    symbols = [s.symbol for s in specs if s.sec_type == "STK" and s.symbol != "SPY"][:n]
    async with running_sim(clock=clock, market=market) as gw:
        cfg = PutdeskConfig()
        eng = Engine(cfg, EngineOptions(clock=clock, sim_port=gw.port))
        await eng.start(wait_ready=30)
        try:
            return await body(eng, symbols)
        finally:
            await eng.stop()


async def run_pipeline(n: int) -> list[Row]:
    """A cold scan and a rescan on one engine; then a scan on a new engine (and gateway) on
    the same state directory: the day cache it kept makes that one a rescan too."""
    from engine.api.models import Scan

    state_dir = _state_dir()

    async def body(eng: Any, symbols: list[str], modes: tuple[str, ...]) -> list[Row]:
        rows = []
        for mode in modes:
            s0, t0 = eng.pacer.sent, time.monotonic()
            r = await eng.request(Scan(symbols=symbols))
            wall = time.monotonic() - t0
            if not r.ok:
                raise SystemExit(f"scan failed: {r.error}")
            found = sum(1 for c in r.data["candidates"] if c["status"] == "candidate")
            rows.append(
                Row(
                    n,
                    mode,
                    len(symbols),
                    wall,
                    eng.pacer.sent - s0,
                    eng.pacer.peak_lines,
                    eng.pacer.max_per_s,
                    found,
                )
            )
        return rows

    first = await with_engine(
        n, lambda e, s: body(e, s, ("pipeline (cold)", "pipeline (rescan)")), state_dir
    )
    again = await with_engine(n, lambda e, s: body(e, s, ("pipeline (restart)",)), state_dir)
    return [*first, *again]


async def naive_scan(md: Any, cfg: Any, symbols: list[str], now: dt.datetime, lo_otm: float) -> int:
    """Greeks for every put strike from `lo_otm` to 50 % OTM in every expiry of the DTE window;
    then the same filters, pre-score and what-if for the finalists as the pipeline."""
    from engine.selection import filters as F
    from engine.selection.pipeline import pick_chain, pre_components, underlying_price
    from engine.selection.scoring import composite

    sem = asyncio.Semaphore(8)
    found = 0

    async def one(sym: str) -> None:
        nonlocal found
        async with sem:
            und = await md.qualify_underlying(sym)
            uq = await md.underlying_quote(und)
            price = underlying_price(uq)
            chain = pick_chain(sym, await md.option_chain(und))
            if price is None or chain is None:
                return
            expiries, _ = F.expiries_in_order(chain.expirations, F.et_date(now), cfg)
            passed = []
            for expiry in expiries:
                refs = await md.expiry_strikes(und, expiry, chain.trading_class, "P")
                in_range = [r for r in refs if lo_otm <= F.otm_pct(price, r.strike) <= 50]
                if not in_range:
                    continue
                quotes = await md.option_quotes(in_range)
                for o in in_range:
                    q = quotes.get(o.con_id)
                    if F.check_strike(o, q, price, cfg) is None:
                        assert q is not None
                        c = pre_components(o, q, price, cfg)
                        passed.append((composite(c, cfg.weights, use_efficiency=False), o, q))
            passed.sort(key=lambda t: -t[0])
            for _s, o, q in passed[: cfg.finalists_per_symbol]:
                await md.what_if(o, 1, Decimal(str(q.bid)).quantize(Decimal("0.01")))
            found += bool(passed)

    await asyncio.gather(*(one(s) for s in symbols))
    return found


async def run_naive(n: int, measured: int, all_otm: bool = False) -> Row:
    mode = "naive all OTM" if all_otm else "naive baseline"

    async def body(eng: Any, symbols: list[str]) -> Row:
        subset = symbols[:measured]
        cfg = eng.cfg.selection
        lo = 0.0 if all_otm else cfg.min_otm_pct
        s0, t0 = eng.pacer.sent, time.monotonic()
        found = await naive_scan(eng.services, cfg, subset, eng.now(), lo)
        wall = time.monotonic() - t0
        return Row(
            n,
            mode,
            len(subset),
            wall,
            eng.pacer.sent - s0,
            eng.pacer.peak_lines,
            eng.pacer.max_per_s,
            found,
        )

    row: Row = await with_engine(n, body)
    if row.symbols < n:
        factor = n / row.symbols
        row = Row(
            n,
            mode,
            n,
            row.wall * factor,
            round(row.messages * factor),
            row.peak_lines,
            row.rate,
            round(row.candidates * factor),
            scaled=True,
        )
    return row


def table(rows: list[Row], measured_naive: int) -> str:
    head = (
        f"{'symbols':>7} {'mode':<18} {'wall s':>7} {'messages':>9} {'msg/sym':>7} "
        f"{'peak lines':>10} {'bound s':>8} {'wall/bound':>10} {'found':>5}"
    )
    out = [head, "-" * len(head)]
    for r in rows:
        mark = "*" if r.scaled else " "
        out.append(
            f"{r.size:>7} {r.mode:<18} {r.wall:>7.2f} {r.messages:>8}{mark} {r.per_symbol:>7.1f} "
            f"{r.peak_lines:>10} {r.bound:>8.2f} {r.wall / r.bound:>10.2f} "
            f"{r.candidates if r.candidates >= 0 else '-':>5}"
        )
    out.append(f"* naive measured on {measured_naive} symbols, scaled linearly to the size")
    return "\n".join(out)


def verdicts(rows: list[Row]) -> list[str]:
    out = []
    by = {(r.size, r.mode): r for r in rows}
    for size in sorted({r.size for r in rows}):
        cold = by.get((size, "pipeline (cold)"))
        if cold is None:
            continue
        ratio = cold.wall / cold.bound
        line = f"{size:>3} symbols: wall/bound {ratio:.2f} ({'ok' if ratio <= 1.3 else 'MISSED'})"
        for mode in ("naive baseline", "naive all OTM"):
            naive = by.get((size, mode))
            if naive is not None:
                fewer = naive.messages / cold.messages
                line += f", {fewer:.1f}x fewer messages than {mode} "
                line += f"({'ok' if fewer >= 5 else 'MISSED'})"
        if size == 50:
            line += f", {cold.wall:.1f} s ({'ok' if cold.wall <= 20 else 'MISSED'} <= 20 s)"
        out.append(line)
    return out


async def amain(sizes: list[int], naive_symbols: int, naive: bool, all_otm: bool) -> list[Row]:
    """Pipeline rows for every size; each naive baseline measured once on `naive_symbols`
    symbols (the same first symbols every size starts with) and scaled to each size."""
    rows: list[Row] = []
    for n in sizes:
        rows.extend(await run_pipeline(n))
        print(f"... pipeline on {n} symbols done", file=sys.stderr, flush=True)
    modes = ([False] if naive else []) + ([True] if naive and all_otm else [])
    for flag in modes:
        measured = await run_naive(naive_symbols, naive_symbols, all_otm=flag)
        print(f"... {measured.mode} on {naive_symbols} symbols done", file=sys.stderr, flush=True)
        for n in sizes:
            f = n / measured.symbols
            rows.append(
                Row(
                    n,
                    measured.mode,
                    n,
                    measured.wall * f,
                    round(measured.messages * f),
                    measured.peak_lines,
                    measured.rate,
                    measured.candidates if n == measured.symbols else -1,
                    scaled=n != measured.symbols,
                )
            )
    rows.sort(key=lambda r: (r.size, r.mode))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100])
    ap.add_argument(
        "--naive-symbols",
        type=int,
        default=10,
        help="symbols the naive baseline is measured on (scaled to each size)",
    )
    ap.add_argument("--no-naive", action="store_true")
    ap.add_argument(
        "--all-otm",
        action="store_true",
        help="also measure a naive baseline over every OTM put strike (0-50 %%)",
    )
    args = ap.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.ERROR)
    os.environ.pop("ANTHROPIC_API_KEY", None)
    # every engine gets its own state directory (with_engine), so each cold scan is cold
    try:
        rows = asyncio.run(amain(args.sizes, args.naive_symbols, not args.no_naive, args.all_otm))
    finally:
        for path in _STATE_DIRS:
            shutil.rmtree(path, ignore_errors=True)
    print(table(rows, args.naive_symbols))
    print()
    print("\n".join(verdicts(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
