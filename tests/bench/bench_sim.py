"""Simulated gateway benchmark (a script, not collected by pytest).

    .venv/bin/python tests/bench/bench_sim.py [--messages 20000] [--tickers 100] [--seconds 10]

1. Client messages/s sustained: one raw TWS client sends reqCurrentTime as fast as the socket
   takes it (pacing disabled) and counts the answers; target >= 5,000 msg/s.
2. CPU of the gateway process with 100 streaming option tickers updating 4 times a second
   (market clock at 60x so every 250 ms tick moves every quote); target < 50 % of one core.
The gateway runs in a child process so its CPU is measured alone (/proc/<pid>/stat).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import struct
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SESSION_START = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)  # 10:00 ET, a regular session


def serve(speed: float) -> None:
    """Child process: run a gateway, print its port, run until stdin closes."""
    from engine.market.clock import ScaledClock
    from engine.sim.server import SimGateway

    async def run() -> None:
        gw = SimGateway(clock=ScaledClock(SESSION_START, speed), max_msgs_per_sec=0, max_lines=1000)
        await gw.start()
        print(json.dumps({"port": gw.port}), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
        print(json.dumps(gw.stats()), flush=True)
        await gw.stop()

    asyncio.run(run())


def _frame(*fields: object) -> bytes:
    payload = "".join(f"{f}\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


async def _handshake(
    port: int, client_id: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    hello = b"v157..178"
    writer.write(b"API\0" + struct.pack(">I", len(hello)) + hello)
    writer.write(_frame(71, 2, client_id, ""))
    await writer.drain()
    return reader, writer


async def _read_frames(reader: asyncio.StreamReader, want: int, msg_id: bytes) -> int:
    """Read until `want` messages starting with `msg_id` arrived; returns the count."""
    buf = b""
    got = 0
    while got < want:
        chunk = await reader.read(1 << 16)
        if not chunk:
            break
        buf += chunk
        pos = 0
        while len(buf) - pos >= 4:
            (n,) = struct.unpack_from(">I", buf, pos)
            if len(buf) - pos - 4 < n:
                break
            if buf[pos + 4 : pos + 4 + len(msg_id)] == msg_id:
                got += 1
            pos += 4 + n
        buf = buf[pos:]
    return got


async def throughput(port: int, n: int) -> float:
    reader, writer = await _handshake(port, 901)
    await _read_frames(reader, 1, b"9\0")  # nextValidId
    msg = _frame(49, 1)
    t0 = time.perf_counter()
    reading = asyncio.create_task(_read_frames(reader, n, b"49\0"))
    batch = 500
    for i in range(0, n, batch):
        writer.write(msg * min(batch, n - i))
        await writer.drain()
    got = await reading
    elapsed = time.perf_counter() - t0
    writer.close()
    return got / elapsed


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def streaming_cpu(port: int, pid: int, tickers: int, seconds: float) -> tuple[float, float]:
    from ib_async import IB, Option, Stock

    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=902)
    contracts: list[Option] = []
    for sym in ("SPY", "AAPL", "MSFT", "NVDA", "AMZN"):
        [und] = await ib.qualifyContractsAsync(Stock(sym, "SMART", "USD"))
        chains = await ib.reqSecDefOptParamsAsync(sym, "", "STK", und.conId)
        ch = chains[0]
        details = await ib.reqContractDetailsAsync(
            Option(sym, ch.expirations[1], 0, "P", "SMART", tradingClass=ch.tradingClass)
        )
        contracts += [d.contract for d in details[: tickers // 5]]  # type: ignore[misc]
    for c in contracts[:tickers]:
        ib.reqMktData(c)
    await asyncio.sleep(2.0)
    updates = 0

    def on_pending(ts: set[object]) -> None:
        nonlocal updates
        updates += len(ts)

    ib.pendingTickersEvent += on_pending
    c0, t0 = _cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(seconds)
    c1, t1 = _cpu_seconds(pid), time.perf_counter()
    ib.disconnect()
    return (c1 - c0) / (t1 - t0) * 100, updates / (t1 - t0) / max(1, len(contracts[:tickers]))


async def run(args: argparse.Namespace) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        str(args.speed),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
    )
    assert proc.stdout is not None and proc.stdin is not None
    port = json.loads(await proc.stdout.readline())["port"]
    rate = await throughput(port, args.messages)
    cpu, per_ticker = await streaming_cpu(port, proc.pid, args.tickers, args.seconds)
    proc.stdin.close()
    stats = json.loads(await proc.stdout.readline())
    await proc.wait()
    rows = [
        ("client msgs/s sustained", f"{rate:,.0f}", ">= 5,000", rate >= 5000),
        (
            f"gateway CPU, {args.tickers} streaming tickers",
            f"{cpu:.1f} % of a core",
            "< 50 %",
            cpu < 50,
        ),
        ("ticker updates/s per ticker (client side)", f"{per_ticker:.2f}", "~4", None),
        ("peak msgs/s (gateway)", f"{stats['peak_msgs_per_sec']:,}", "", None),
        ("messages sent (gateway)", f"{stats['messages_sent']:,}", "", None),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  {'value':>18}  {'target':>9}  ok")
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("yes" if ok else "NO")
        print(f"{name:<{w}}  {value:>18}  {target:>9}  {mark}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=20000)
    p.add_argument("--tickers", type=int, default=100)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--speed", type=float, default=60.0)
    p.add_argument("--serve", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
