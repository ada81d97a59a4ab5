"""Shared plumbing for `putdesk` commands: reach the engine, print a Result, map exit codes.

    from engine.cli import common
    return common.run(args, GetOrders(), common.render_orders)

`run` connects through `engine.api.client.connect_api` (the account's running engine over its
local socket, else an engine started in-process for the duration of the command, on the
simulated gateway when `ibkr.simulated` is true), sends one command and prints the Result:
with `--json` as ONE JSON document (`json_document`, schema_version 1, docs/cli.md), otherwise
as rich tables on a terminal (plain tab-separated text when stdout is not a terminal, so
colours appear only on a terminal). Progress (connecting, starting the engine, scan progress)
goes to stderr as a rich status line, only when stderr is a terminal.

Exit codes: 0 ok, 1 error, 2 usage, 3 refused by a guard (`engine.api.models.ExitCode`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.api.models import SCHEMA_VERSION, Cmd, ExitCode, Result
from engine.text import usd

Render = Callable[[dict[str, Any]], None]

#: How long an in-process engine waits for its IBKR session before the command runs anyway.
READY_TIMEOUT_S = 30.0

#: Exit code after SIGTERM (128 + 15), as a shell reports it.
TERMINATED = 143

#: Attributes that name a sub-action, appended to the command name in JSON documents.
SUB_ACTION_ATTRS = ("config_cmd", "sim_cmd")


class CliError(Exception):
    """A failure before or around a command (bad config, engine unreachable): one line."""

    def __init__(self, message: str, *, exit_code: int = ExitCode.ERROR, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code


# -- names and JSON documents --------------------------------------------------------------------
def command_name(args: argparse.Namespace) -> str:
    """`lineup approve`, `sim stats`, `status`: the command path the user typed."""
    parts = [str(getattr(args, "command", None) or "putdesk")]
    for attr in SUB_ACTION_ATTRS:
        v = getattr(args, attr, None)
        if v:
            parts.append(str(v))
    if parts[0] == "lineup" and getattr(args, "action", None):
        parts.append(str(args.action))
    return " ".join(parts)


def json_document(
    command: str,
    *,
    ok: bool,
    exit_code: int,
    error: str | None = None,
    reason_code: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one JSON document every `--json` command prints (docs/cli.md, schema_version 1)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "ok": ok,
        "exit_code": int(exit_code),
        "error": error,
        "reason_code": reason_code,
        "data": data if data is not None else {},
    }


def result_document(command: str, result: Result) -> dict[str, Any]:
    dumped = result.model_dump(mode="json")
    return json_document(
        command,
        ok=result.ok,
        exit_code=result.exit_code,
        error=result.error,
        reason_code=result.reason_code,
        data=dumped["data"],
    )


def print_json(doc: dict[str, Any]) -> None:
    try:
        print(json.dumps(doc, indent=2, default=str), flush=True)
    except BrokenPipeError:  # `putdesk ... --json | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


# -- printing results ----------------------------------------------------------------------------
def fail(
    args: argparse.Namespace,
    message: str,
    exit_code: int = ExitCode.ERROR,
    code: str | None = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Report a failure (JSON document or one stderr line) and return its exit code."""
    if wants_json(args):
        print_json(
            json_document(
                command_name(args),
                ok=False,
                exit_code=exit_code,
                error=message,
                reason_code=code,
                data=data,
            )
        )
    else:
        word = "refused" if exit_code == ExitCode.REFUSED else "error"
        tag = f" [{code}]" if code else ""
        print(f"{word}{tag}: {message}", file=sys.stderr, flush=True)
    return int(exit_code)


def ok(args: argparse.Namespace, data: dict[str, Any], render: Render) -> int:
    """Report success of a command that does not go through the engine."""
    if wants_json(args):
        print_json(json_document(command_name(args), ok=True, exit_code=ExitCode.OK, data=data))
    else:
        render(data)
    return ExitCode.OK


def emit(
    args: argparse.Namespace, result: Result, render: Render, *, render_on_error: bool = False
) -> int:
    """Print a Result: the JSON document, or `render(data)` / a `refused|error [code]: ...`
    line on stderr. Returns the Result's exit code."""
    if wants_json(args):
        print_json(result_document(command_name(args), result))
        return int(result.exit_code)
    if result.ok:
        render(result.data)
        return int(result.exit_code)
    if render_on_error and result.data:
        render(result.data)
    word = "refused" if result.exit_code == ExitCode.REFUSED else "error"
    tag = f" [{result.reason_code}]" if result.reason_code else ""
    print(f"{word}{tag}: {result.error}", file=sys.stderr, flush=True)
    return int(result.exit_code)


# -- progress ------------------------------------------------------------------------------------
class Progress:
    """A rich status line on stderr while something runs; silent unless stderr is a TTY."""

    def __init__(self, text: str, *, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.text = text
        self._status: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console

            self._status = Console(stderr=True).status(self.text)
            self._status.start()
        return self

    def update(self, text: str) -> None:
        self.text = text
        if self._status is not None:
            self._status.update(text)

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


# -- reaching the engine -------------------------------------------------------------------------
def load_cfg(args: argparse.Namespace) -> Any:
    """The PutdeskConfig of `--config` (or the default chain) for `--account` (its profile
    merged in, see `PutdeskConfig.for_account`); CliError (exit 1) when invalid."""
    from config.loader import ConfigError, load_config

    try:
        return load_config(getattr(args, "config", None)).for_account(
            getattr(args, "account", None)
        )
    except (ConfigError, ValueError) as exc:
        raise CliError(str(exc), code="config.invalid") from None


@contextlib.contextmanager
def command_logging(cfg: Any, account: str | None) -> Iterator[None]:
    """While a command runs, log records (the in-process engine's, ib_async's) go to the
    account's engine log file instead of the terminal; removed afterwards."""
    from engine.runtime.logs import FORMAT
    from engine.runtime.paths import EnginePaths

    paths = EnginePaths.of(cfg, account)
    try:
        paths.logs.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler: logging.Handler = logging.FileHandler(
            paths.logs / f"engine-{paths.key}.log", encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()
    fmt = logging.Formatter(FORMAT)
    fmt.converter = time.gmtime
    handler.setFormatter(fmt)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


async def wait_session(session: Any, timeout: float) -> bool:
    """Wait until an in-process engine's IBKR session is READY; give up early once the first
    connection attempt has failed (a guard then refuses what needs IBKR, exit 3)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        state = str(session.state)
        if state == "READY":
            return True
        if state in ("HALTED", "DATA_UNAVAILABLE"):
            return False
        reason = getattr(session, "reason", None)
        if state == "DISCONNECTED" and reason is not None and reason.code != "session.not_started":
            return False
        await asyncio.sleep(0.05)
    return False


async def open_api(
    args: argparse.Namespace, cfg: Any = None, *, wait_ready: float = READY_TIMEOUT_S
) -> Any:
    """The running engine for the account (socket), else an in-process one (it stops when the
    API is closed) whose IBKR session had up to `wait_ready` seconds to get READY. Raises
    CliError for a bad config or an engine that holds the lock but does not answer."""
    from engine.api.client import NoEngine, connect_api

    cfg = cfg if cfg is not None else load_cfg(args)
    try:
        api = await connect_api(
            getattr(args, "config", None),
            getattr(args, "account", None),
            cfg=cfg,
            live=bool(getattr(args, "live", False)),
        )
    except NoEngine as exc:
        raise CliError(str(exc), code="engine.unreachable") from None
    except OSError as exc:
        raise CliError(f"cannot start the engine: {exc}", code="engine.start_failed") from None
    engine = getattr(api, "engine", None)
    if engine is not None:
        await wait_session(engine.session, wait_ready)
    return api


@contextlib.asynccontextmanager
async def engine_api(args: argparse.Namespace, progress: Progress) -> AsyncIterator[Any]:
    """`async with engine_api(args, progress) as api:`; closes (and stops an in-process
    engine) on the way out. Log records go to the account's log file meanwhile."""
    cfg = load_cfg(args)
    with command_logging(cfg, getattr(args, "account", None)):
        progress.update("connecting to the putdesk engine ...")
        api = await open_api(args, cfg)
        if getattr(api, "transport", "") == "in-process":
            progress.update("engine started in-process for this command ...")
        try:
            yield api
        finally:
            progress.update("closing ...")
            await api.close()


async def _watch_progress(api: Any, kinds: Sequence[str], progress: Progress) -> None:
    async for ev in api.events():
        if ev.kind in kinds and ev.message:
            progress.update(ev.message)


async def request(
    args: argparse.Namespace,
    cmd: Cmd,
    *,
    progress_kinds: Sequence[str] = (),
    text: str | None = None,
    extra: Sequence[tuple[str, Cmd]] = (),
) -> Result:
    """Send one command to the engine (running or in-process) and return its Result; failures
    before the engine answers become failed Results. When it succeeds, each `(key, command)`
    in `extra` is sent too and its data lands in `result.data[key]` (a failed one as
    `{"error": ..., "reason_code": ...}`)."""
    show = Progress(text or f"putdesk {command_name(args)} ...")
    try:
        with show:
            async with engine_api(args, show) as api:
                show.update(text or f"putdesk {command_name(args)} ...")
                watcher: asyncio.Task[None] | None = None
                if progress_kinds and show.enabled:
                    watcher = asyncio.create_task(_watch_progress(api, progress_kinds, show))
                    await asyncio.sleep(0)
                try:
                    result: Result = await api.request(cmd)
                    if result.ok:
                        for key, more in extra:
                            r: Result = await api.request(more)
                            result.data[key] = (
                                r.data if r.ok else {"error": r.error, "reason_code": r.reason_code}
                            )
                    return result
                finally:
                    if watcher is not None:
                        watcher.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await watcher
    except CliError as exc:
        return Result.fail(exc.message, code=exc.code, exit_code=exc.exit_code)


def run(
    args: argparse.Namespace,
    cmd: Cmd,
    render: Render,
    *,
    progress_kinds: Sequence[str] = (),
    text: str | None = None,
    render_on_error: bool = False,
    extra: Sequence[tuple[str, Cmd]] = (),
) -> int:
    """Run one engine command (plus `extra`, see `request`) and print its Result; returns the
    exit code."""
    result = asyncio.run(request(args, cmd, progress_kinds=progress_kinds, text=text, extra=extra))
    return emit(args, result, render, render_on_error=render_on_error)


def run_async(
    args: argparse.Namespace, work: Callable[[Any], Awaitable[int]], *, text: str | None = None
) -> int:
    """Run `work(api)` (which prints its own output and returns an exit code) with the engine.
    SIGTERM ends it like Ctrl-C: the engine is closed (an in-process one stopped) first."""

    async def main() -> int:
        import signal

        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        with contextlib.suppress(RuntimeError):  # no signal handlers on this platform
            if task is not None:
                loop.add_signal_handler(signal.SIGTERM, task.cancel)
        cfg = load_cfg(args)
        try:
            with command_logging(cfg, getattr(args, "account", None)):
                with Progress(text or f"putdesk {command_name(args)} ...") as show:
                    show.update("connecting to the putdesk engine ...")
                    api = await open_api(args, cfg)
                try:
                    return await work(api)
                finally:
                    await api.close()
        except asyncio.CancelledError:
            return TERMINATED

    try:
        return asyncio.run(main())
    except CliError as exc:
        return fail(args, exc.message, exc.exit_code, exc.code)


# -- rendering -----------------------------------------------------------------------------------
def is_tty() -> bool:
    return sys.stdout.isatty()


def dollars(v: Any) -> str:
    """An amount from a result (a decimal string) as $1,234,567.89; other values as given."""
    try:
        return usd(Decimal(str(v)))
    except (InvalidOperation, ValueError):
        return cell(v)


def cell(v: Any) -> str:
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict | list):
        return json.dumps(v, default=str)
    return str(v)


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    right: Iterable[str] = (),
) -> None:
    """A rich table on a terminal; tab-separated lines (header first, title as a `#`
    comment) otherwise."""
    rows = [[cell(v) for v in r] for r in rows]
    if is_tty():
        from rich.console import Console
        from rich.table import Table

        align = set(right)
        t = Table(title=title)
        for c in columns:
            t.add_column(c, justify="right" if c in align else "left", overflow="fold")
        for r in rows:
            t.add_row(*r)
        Console().print(t)
        return
    print(f"# {title}")
    print("\t".join(columns))
    for r in rows:
        print("\t".join(r))


def print_kv(title: str, pairs: Iterable[tuple[str, Any]]) -> None:
    """Key/value pairs: a two-column rich table on a terminal, `key: value` lines otherwise."""
    pairs = [(k, cell(v)) for k, v in pairs]
    if is_tty():
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title, show_header=False)
        t.add_column("", style="bold")
        t.add_column("")
        for k, v in pairs:
            t.add_row(k, v)
        Console().print(t)
        return
    print(f"# {title}")
    width = max((len(k) for k, _ in pairs), default=0)
    for k, v in pairs:
        print(f"{k:<{width}}  {v}")


def rows_of(items: Sequence[dict[str, Any]], columns: Sequence[str]) -> Iterator[list[Any]]:
    for it in items:
        yield [it.get(c) for c in columns]


def render_generic(data: dict[str, Any]) -> None:
    """Scalars as key/value pairs, each list of dicts as a table."""
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, list)]
    if scalars:
        print_kv("result", scalars)
    for k, v in data.items():
        if isinstance(v, list):
            dicts = [x for x in v if isinstance(x, dict)]
            if dicts and len(dicts) == len(v):
                cols = list(dict.fromkeys(c for d in dicts for c in d))
                print_table(f"{k} ({len(v)})", cols, rows_of(dicts, cols))
            else:
                print_kv(k, [(str(i), x) for i, x in enumerate(v)])


ORDER_COLUMNS = (
    "order_id",
    "order_ref",
    "contract",
    "action",
    "quantity",
    "order_type",
    "limit_price",
    "aux_price",
    "tif",
    "status",
    "filled",
    "avg_fill_price",
)
POSITION_COLUMNS = (
    "account",
    "symbol",
    "local_symbol",
    "sec_type",
    "expiry",
    "strike",
    "right",
    "position",
    "avg_cost",
    "market_price",
    "unrealized_pnl",
    "strategy",
    "bracket_status",
)
NUMERIC = {
    "market_price",
    "unrealized_pnl",
    "order_id",
    "quantity",
    "limit_price",
    "aux_price",
    "filled",
    "remaining",
    "avg_fill_price",
    "strike",
    "position",
    "avg_cost",
}


def render_orders(data: dict[str, Any]) -> None:
    orders = [
        {**o, "contract": o.get("local_symbol") or o.get("symbol")} for o in data.get("orders", [])
    ]
    print_table(
        f"{len(orders)} open order(s)",
        ORDER_COLUMNS,
        rows_of(orders, ORDER_COLUMNS),
        right=NUMERIC,
    )


def render_positions(data: dict[str, Any]) -> None:
    positions = data.get("positions", [])
    print_table(
        f"{len(positions)} position(s)",
        POSITION_COLUMNS,
        rows_of(positions, POSITION_COLUMNS),
        right=NUMERIC,
    )


def format_event(ev: dict[str, Any], local_zone: dt.tzinfo | None = None) -> str:
    """One event line: its time in New York and in the local zone (the machine's unless
    given), severity, kind, message and code."""
    code = f" [{ev['code']}]" if ev.get("code") else ""
    head = f"{event_time(ev.get('ts'), local_zone)} {ev.get('severity', ''):<7} "
    head += f"{ev.get('kind', ''):<14}"
    return f"{head} {ev.get('message', '')}{code}"


def event_time(ts: Any, local_zone: dt.tzinfo | None = None) -> str:
    from engine.market.calendar import et_and_local, parse_utc

    t = parse_utc(ts)
    if t is None:
        return str(ts)
    zone = local_zone or dt.datetime.now().astimezone().tzinfo
    return et_and_local(t, zone, "%Y-%m-%d %H:%M:%S")
