"""Records benchmark (a script, not collected by pytest).

    .venv/bin/python tests/bench/bench_records.py [--trades 10000] [--seed 7] [--repeat 1]

Generates an Activity statement with `--trades` Trade rows (engine.sim.flex_statements:
short puts sold, about half bought back, the rest expired or assigned, plus OptionEAE rows),
then times, on a fresh database file: parsing (row by row through ibflex), the first import
(plan + one transaction), and a second import of the same statement (idempotent: every row
already booked). Target: the first import of 10,000 trades, parse included, <= 3 s wall
time. The process CPU time of the first import is shown beside it: on a loaded machine the
wall time grows while the CPU time stays put. Then the reports over the booked trades are
timed (no target): the tax report of the latest year (lots, wash sales, Form 8949 rows) and
the outcome report by DTE.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TARGET_S = 3.0


async def run_once(data: bytes, db: Path) -> dict[str, float | int | str]:
    from engine.records import importer
    from engine.records.importer import parse_statement
    from engine.records.reconcile import reconcile_statement
    from engine.store import Store

    importer._convert_attr.cache_clear()  # every run starts cold
    store = await Store.open(db)
    try:
        c0 = time.process_time()
        t0 = time.perf_counter()
        stmt = parse_statement(data)
        t1 = time.perf_counter()
        first = await reconcile_statement(store, stmt, kind="bench")
        t2 = time.perf_counter()
        c2 = time.process_time()
        stmt2 = parse_statement(data)
        second = await reconcile_statement(store, stmt2, kind="bench")
        t3 = time.perf_counter()
        trades = await store.fetchone("SELECT COUNT(*) AS n FROM trades")
        from engine.records.service import outcomes_payload, tax_payload

        last = await store.fetchone("SELECT MAX(exit_time) AS t FROM trades")
        year = int(str(last["t"])[:4]) if last and last["t"] else 2026
        t4 = time.perf_counter()
        tax, _rows = await tax_payload(store, year)
        t5 = time.perf_counter()
        await outcomes_payload(store, "dte")
        t6 = time.perf_counter()
        return {
            "rows": stmt.rows_total,
            "fills": len(stmt.fills),
            "trades": int(trades["n"]) if trades else 0,
            "parse_s": t1 - t0,
            "book_s": t2 - t1,
            "first_s": t2 - t0,
            "first_cpu_s": c2 - c0,
            "second_s": t3 - t2,
            "second_new": second.rows_new,
            "problems": len(first.problems),
            "tax_year": year,
            "tax_rows": len(tax["rows"]),
            "tax_wash": int(tax["wash_sales"]),
            "tax_s": t5 - t4,
            "outcomes_s": t6 - t5,
        }
    finally:
        await store.close()


def generate(n: int, seed: int) -> bytes:
    from engine.sim.flex_statements import generate_statement

    return generate_statement(n, seed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trades", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    data = generate(args.trades, args.seed)
    gen_s = time.perf_counter() - t
    print(f"statement: {args.trades} trades, {len(data) / 1e6:.1f} MB, generated in {gen_s:.2f}s")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            results.append(asyncio.run(run_once(data, Path(tmp) / f"bench-{i}.db")))
    header = (
        f"{'run':>3} {'rows':>6} {'fills':>6} {'trades':>6} {'parse s':>8} {'book s':>7} "
        f"{'first s':>8} {'cpu s':>6} {'rerun s':>8} {'rerun new':>9} {'target':>8}"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for i, r in enumerate(results, 1):
        passed = float(r["first_s"]) <= TARGET_S
        ok = ok and passed and r["second_new"] == 0 and r["problems"] == 0
        print(
            f"{i:>3} {r['rows']:>6} {r['fills']:>6} {r['trades']:>6} {r['parse_s']:>8.2f} "
            f"{r['book_s']:>7.2f} {r['first_s']:>8.2f} {r['first_cpu_s']:>6.2f} "
            f"{r['second_s']:>8.2f} "
            f"{r['second_new']:>9} {('<= 3 s ' + ('ok' if passed else 'MISS')):>8}"
        )
    print()
    print(f"{'run':>3} {'tax year':>8} {'8949 rows':>9} {'wash':>5} {'tax report s':>12} "
          f"{'outcomes s':>10}")  # fmt: skip
    for i, r in enumerate(results, 1):
        print(
            f"{i:>3} {r['tax_year']:>8} {r['tax_rows']:>9} {r['tax_wash']:>5} "
            f"{r['tax_s']:>12.2f} {r['outcomes_s']:>10.2f}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
