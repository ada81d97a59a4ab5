"""`putdesk sim`: run the simulated IBKR gateway standalone; `putdesk sim stats` and
`putdesk sim control ACTION [key=value ...]` talk to a running one over its control port."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from engine.cli.main import common_options

RUNTIME_FILE = "sim-runtime.json"
DEFAULT_ACCOUNT = "DU1234567"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="run the simulated IBKR gateway (TWS API v178 on 127.0.0.1)")
    p.add_argument("--port", type=int, default=4002, help="API port (0 = any free port)")
    p.add_argument("--seed", type=int, default=7, help="market seed")
    p.add_argument("--speed", type=float, default=1.0, help="clock speed (1 = real time)")
    p.add_argument(
        "--start",
        choices=("before_open", "now"),
        default="before_open",
        help="simulated clock start (default: 20 minutes before the next US open)",
    )
    p.add_argument("--minutes-before-open", type=int, default=20)
    p.add_argument("--state", metavar="FILE", help="book state file (loaded at start, saved)")
    p.add_argument("--flex-port", type=int, default=None, help="also serve Flex on this port")
    p.add_argument("--control-port", type=int, default=0, help="control port (0 = any)")
    common_options(p)  # --account (default DU1234567; U... looks live), --json startup line
    p.set_defaults(func=_run)
    ssub = p.add_subparsers(dest="sim_cmd", metavar="ACTION")

    st = ssub.add_parser("stats", help="counters of the running simulator")
    common_options(st)
    st.add_argument("--control-port", type=int, default=0)
    st.set_defaults(func=_stats)

    c = ssub.add_parser("control", help="send a control action (drop, restart, gap, ...)")
    c.add_argument(
        "action",
        help="stats, drop, connectivity, restart, reject_next, greeks, "
        "competing, set_price, gap, advance, eod, save",
    )
    c.add_argument("params", nargs="*", metavar="KEY=VALUE")
    c.add_argument("--control-port", type=int, default=0)
    c.set_defaults(func=_control)


def _runtime_path() -> Path:
    from config.paths import state_dir

    return state_dir() / RUNTIME_FILE


def _control_port(explicit: int) -> int:
    if explicit:
        return explicit
    path = _runtime_path()
    if not path.exists():
        raise FileNotFoundError(f"no running simulator found ({path} missing); pass --control-port")
    return int(json.loads(path.read_text())["control_port"])


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _stats(args: argparse.Namespace) -> int:
    """A standalone `putdesk sim` (its control port), else the simulator embedded in the
    engine running for the account (a console's or `putdesk engine`'s, over its socket)."""
    from engine.cli import common
    from engine.sim.control import send_command

    def render(data: dict[str, Any]) -> None:
        common.print_kv("simulated gateway", list(data.items()))

    try:
        reply = send_command(_control_port(args.control_port), "stats")
    except (OSError, FileNotFoundError) as exc:
        if args.control_port:
            return common.fail(args, f"putdesk sim stats: {exc}", code="sim.not_running")
        try:
            embedded = _embedded_stats(args)
        except common.CliError as err:
            return common.fail(args, err.message, code=err.code)
        except OSError as err:
            return common.fail(args, f"putdesk sim stats: {err}", code="sim.not_running")
        if embedded is None:
            return common.fail(
                args,
                f"putdesk sim stats: {exc}, and no engine with an embedded simulator is running "
                "for the account",
                code="sim.not_running",
            )
        if not embedded.ok:
            return common.fail(
                args, embedded.error or "failed", code=embedded.reason_code or "sim.error"
            )
        return common.ok(args, embedded.data, render)
    if not reply.get("ok"):
        return common.fail(args, str(reply.get("error", "failed")), code="sim.error")
    return common.ok(args, reply["result"], render)


def _embedded_stats(args: argparse.Namespace) -> Any:
    """GetSimStats from the engine running for the account, or None when none runs (no
    engine is started for this: a fresh simulator would only count its own start)."""
    import asyncio

    from engine.api.client import attach
    from engine.api.models import GetSimStats
    from engine.cli import common

    cfg = common.load_cfg(args)

    async def ask() -> Any:
        client = await attach(cfg, getattr(args, "account", None))
        if client is None:
            return None
        try:
            return await client.request(GetSimStats())
        finally:
            await client.close()

    return asyncio.run(ask())


def _control(args: argparse.Namespace) -> int:
    from engine.sim.control import send_command

    params: dict[str, Any] = {}
    for item in args.params:
        if "=" not in item:
            print(f"putdesk sim control: expected KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        k, v = item.split("=", 1)
        params[k] = _value(v)
    try:
        reply = send_command(_control_port(args.control_port), args.action, **params)
    except (OSError, FileNotFoundError) as exc:
        print(f"putdesk sim control: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(reply, indent=2))
    return 0 if reply.get("ok") else 1


def _clock(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from engine.sim.clock import demo_clock

    state = Path(args.state) if args.state else None
    return demo_clock(args.start, args.minutes_before_open, args.speed, state)


def _run(args: argparse.Namespace) -> int:
    import asyncio

    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"putdesk sim: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(args: argparse.Namespace) -> None:
    import asyncio
    import contextlib
    import signal

    from engine.sim.control import ControlServer
    from engine.sim.server import SimGateway

    gw = SimGateway(
        seed=args.seed,
        clock=_clock(args),
        account_id=args.account or DEFAULT_ACCOUNT,
        port=args.port,
        state_file=args.state,
    )
    await gw.start()
    control = ControlServer(gw, port=args.control_port)
    await control.start()
    flex = None
    if args.flex_port is not None:
        try:
            from engine.sim.flex_service import FlexService
        except ImportError:
            FlexService = None  # type: ignore[assignment,misc]
        if FlexService is not None:
            flex = FlexService(gw.book, port=args.flex_port)
            await flex.start()
    info = {
        "pid": os.getpid(),
        "port": gw.port,
        "control_port": control.port,
        "flex_port": flex.port if flex else None,
        "account": gw.account_id,
        "sim_time": gw.clock.now().isoformat(),
    }
    runtime = _runtime_path()
    runtime.parent.mkdir(parents=True, exist_ok=True)
    runtime.write_text(json.dumps(info))
    if args.json:
        print(json.dumps(info), flush=True)
    else:
        print(
            f"simulated gateway on 127.0.0.1:{gw.port} (account {gw.account_id}, "
            f"control {control.port}"
            + (f", flex {flex.port}" if flex else "")
            + f", sim time {info['sim_time']}); Ctrl-C stops",
            flush=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(RuntimeError):  # no signal handlers on this platform
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if flex is not None:
            await flex.stop()
        await control.stop()
        await gw.stop()
        with contextlib.suppress(OSError):
            runtime.unlink()
