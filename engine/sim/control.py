"""Fault injection and control for a running SimGateway over a loopback JSON-lines port.

Each request is one JSON object on one line, `{"action": "...", ...params}`; each reply one
line, `{"ok": true, "result": ...}` or `{"ok": false, "error": "..."}`. Actions:

    stats                              counters (SimGateway.stats())
    drop                               close every client connection
    connectivity {code}                send 1100 / 1101 / 1102 to every client
    restart {downtime}                 stop listening, close sockets, listen again (same port)
    reject_next {reason}               the next order gets error 201 with this reason
    greeks {delay, withhold}           delay model greeks by seconds / withhold them
    competing {on}                     competing live session: 10197 on market data
    set_price {symbol, price}          set an underlying's price
    gap {symbol, pct}                  move an underlying by a fraction (-0.05 = -5 %)
    advance {seconds}                  advance a stepped/scaled clock
    eod {date?}                        run end of day now (YYYY-MM-DD, default today ET)
    save                               write the state file now

The port listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import socket
from typing import Any

from engine.sim.server import SimGateway

ACTIONS = (
    "stats",
    "drop",
    "connectivity",
    "restart",
    "reject_next",
    "greeks",
    "competing",
    "set_price",
    "gap",
    "advance",
    "eod",
    "save",
)


async def handle(gw: SimGateway, cmd: dict[str, Any]) -> Any:
    """Run one control command against `gw`; returns the result (raises on bad input)."""
    action = str(cmd.get("action", ""))
    if action == "stats":
        return gw.stats()
    if action == "drop":
        return {"dropped": await gw.drop_connections()}
    if action == "connectivity":
        gw.send_connectivity(int(cmd["code"]))
        return {"code": int(cmd["code"])}
    if action == "restart":
        await gw.restart(float(cmd.get("downtime", 0.0)))
        return {"port": gw.port}
    if action == "reject_next":
        gw.reject_next_order(str(cmd.get("reason", "Simulated rejection")))
        return {}
    if action == "greeks":
        delay = cmd.get("delay")
        withhold = cmd.get("withhold")
        gw.set_greeks(
            delay=None if delay is None else float(delay),
            withhold=None if withhold is None else bool(withhold),
        )
        return {"delay": gw.greeks_delay, "withhold": gw.greeks_withheld}
    if action == "competing":
        gw.set_competing_session(bool(cmd.get("on", True)))
        return {"on": gw.competing_session}
    if action == "set_price":
        gw.set_price(str(cmd["symbol"]), float(cmd["price"]))
        return {}
    if action == "gap":
        gw.apply_gap(str(cmd["symbol"]), float(cmd["pct"]))
        return {}
    if action == "advance":
        return {"now": gw.advance_clock(float(cmd["seconds"])).isoformat()}
    if action == "eod":
        date = cmd.get("date")
        day = gw.end_of_day_now(dt.date.fromisoformat(date) if date else None)
        return {"date": day.isoformat()}
    if action == "save":
        gw.save_state()
        return {"state_file": str(gw.state_file) if gw.state_file else None}
    raise ValueError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")


class ControlServer:
    """JSON-lines control port for `gw` on 127.0.0.1 (`port` 0 = ephemeral)."""

    def __init__(self, gw: SimGateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self.gw = gw
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    cmd = json.loads(line)
                    if not isinstance(cmd, dict):
                        raise ValueError("a command is a JSON object")
                    reply: dict[str, Any] = {"ok": True, "result": await handle(self.gw, cmd)}
                except Exception as exc:
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                writer.write((json.dumps(reply, default=str) + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


def send_command(
    port: int, action: str, host: str = "127.0.0.1", timeout: float = 10.0, **params: Any
) -> dict[str, Any]:
    """Blocking client: send one command, return the reply dict."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall((json.dumps({"action": action, **params}) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    reply: dict[str, Any] = json.loads(buf or b"{}")
    return reply
