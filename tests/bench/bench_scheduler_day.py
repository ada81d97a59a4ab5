"""Whole simulated trading day benchmark (a script, not collected by pytest).

    .venv/bin/python tests/bench/bench_scheduler_day.py [--speed 20]

Runs the level-C day of tests/scheduler/test_day_sim.py (pre-open scan to the nightly Flex
sync, a gateway restart at 11:00 ET) on the real engine and the embedded simulated gateway in
virtual time, and prints the wall time of each job and of the whole day as JSON.
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
            "SELECT job, outcome, scheduled_for, started_at FROM job_runs ORDER BY id"
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
    args = ap.parse_args()
    out = asyncio.run(run(args.speed))
    print(json.dumps(out, indent=2))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
