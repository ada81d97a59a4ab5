"""Whole simulated trading day benchmark (a script, not collected by pytest).

    .venv/bin/python tests/bench/bench_scheduler_day.py [--speed 20]

Runs the level-C day of tests/scheduler/test_day_sim.py (pre-open scan to the nightly Flex
sync, a gateway restart at 11:00 ET) on the real engine and the embedded simulated gateway in
virtual time, and prints a table of the day's jobs (outcome, scheduled and started times in
ET) and one of the engine start and whole-day wall times; `--json` prints them as JSON.
Target: the whole day in < 60 s of wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DAY = dt.date(2026, 11, 24)
TARGET_S = 60.0


async def run(speed: float) -> dict[str, object]:
    from tests.scheduler.day import day_config, day_engine, drive, et

    tmp = Path(tempfile.mkdtemp(prefix="putdesk-bench-"))
    os.environ["PUTDESK_STATE_DIR"] = str(tmp / "state")
    cfg = day_config(tmp)
    t0 = time.monotonic()
    async with day_engine(cfg, et(DAY, "09:05"), speed=speed) as (eng, clock):
        started = time.monotonic() - t0

        async def restart() -> None:
            await eng.sim.restart(downtime=0.3)

        await drive(eng, clock, et(DAY, "17:50"), hooks={et(DAY, "11:00"): restart})
        day = time.monotonic() - t0
        assert eng.store is not None
        await eng.flush_events()
        rows = await eng.store.fetchall(
            "SELECT job, outcome, scheduled_for, started_at, finished_at FROM job_runs ORDER BY id"
        )
    return {
        "speed": speed,
        "engine_start_s": round(started, 2),
        "whole_day_wall_s": round(day, 2),
        "target_s": TARGET_S,
        "ok": day < TARGET_S and all(r["outcome"] == "ok" for r in rows),
        "jobs": rows,
    }


def main() -> int:
    # ib_async reports every cancelled order and refused reconnect at WARNING; the engine logs
    # them to its own file, so keep them off the benchmark's table.
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", type=float, default=20.0, help="virtual seconds per wall second")
    ap.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = ap.parse_args()
    out = asyncio.run(run(args.speed))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(tables(out))
    return 0 if out["ok"] else 1


def _et(iso: object) -> str:
    from engine.market.calendar import to_et

    if not iso:
        return "-"
    return to_et(dt.datetime.fromisoformat(str(iso))).strftime("%H:%M:%S")


def _virtual_s(a: object, b: object) -> str:
    if not a or not b:
        return "-"
    d = dt.datetime.fromisoformat(str(b)) - dt.datetime.fromisoformat(str(a))
    return f"{d.total_seconds():.0f}"


def tables(out: dict[str, object]) -> str:
    jobs = out["jobs"]
    assert isinstance(jobs, list)
    head = f"{'job':<14} {'outcome':<8} {'due ET':>8} {'started ET':>10} {'ran (virtual s)':>15}"
    lines = [head, "-" * len(head)]
    for r in jobs:
        lines.append(
            f"{r['job']:<14} {r['outcome']:<8} {_et(r['scheduled_for']):>8} "
            f"{_et(r['started_at']):>10} {_virtual_s(r['started_at'], r['finished_at']):>15}"
        )
    lines += [
        "",
        f"{'measure':<24} {'result':>8} {'target':>8}  ok",
        f"{'engine start s':<24} {out['engine_start_s']:>8} {'':>8}",
        f"{'whole day wall s':<24} {out['whole_day_wall_s']:>8} {'< ' + str(TARGET_S):>8}  "
        + ("yes" if out["ok"] else "NO"),
        f"(speed {out['speed']:g} virtual seconds per wall second; ok also needs every job ok)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
