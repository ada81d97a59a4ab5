"""NakedTrader inside the engine: `install(engine)` registers NtRun, NtStatus and NtWatch and
exposes the scheduling hook.

- NtRun: load `daily_spx_options.yaml` (path from `nakedtrader_config` in the main config),
  apply the command's overrides (errors name the `--option`), run today's workflow. Dry run
  by default on a live account (`dry_run=None`); on paper the default places the trade.
  Runs are serialised, so a second `nt` the same day sees the first one's entry.
- NtWatch: one watcher pass (fills, bracket children, settlement at the close).
- NtStatus: today's and live NakedTrader trades, bracket states, net P&L after commissions.
- `scheduled_run(engine)`: what the scheduler calls daily at `schedule.nakedtrader_at`
  (does nothing unless `enabled: true` in the NakedTrader config).
After a trade is placed, and after every (re)connect while a NakedTrader trade is live, a
background watcher follows it every `WATCH_INTERVAL_S` seconds until none is live. Every
step is published as a "nakedtrader" event.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.loader import (
    ConfigError,
    ConfigProblem,
    load_nakedtrader_config,
    nakedtrader_config_path,
)
from config.nakedtrader import NakedTraderConfig
from engine.api.models import ExitCode, NtRun, NtStatus, NtWatch, Result
from engine.domain import Reason
from engine.execution.intents import IntentRepo
from engine.market.calendar import to_et
from engine.nakedtrader.ibport import IbNtPort
from engine.nakedtrader.recorder import NtRecorder, trade_view
from engine.nakedtrader.watcher import NtWatcher, WatchReport
from engine.nakedtrader.workflow import NtWorkflow, RunOutcome, window_bounds
from engine.runtime.order_activity import OrderActivity
from engine.store.trades import TradeRow

if TYPE_CHECKING:
    from engine.runtime.engine import Engine

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 5.0


#: Settings that may be set to null from the command line (`--stop-multiple none`).
NULLABLE = frozenset({"stop_multiple", "trading_class"})


def load_with_overrides(path: Path, overrides: dict[str, Any]) -> NakedTraderConfig:
    """load_nakedtrader_config, plus explicit None for the nullable settings."""
    nulls = sorted(k for k, v in overrides.items() if v is None)
    bad = [k for k in nulls if k not in NULLABLE]
    if bad:
        raise ConfigError(
            [ConfigProblem(f"--{k.replace('_', '-')}", None, k, "cannot be none") for k in bad]
        )
    cfg = load_nakedtrader_config(
        path, overrides={k: v for k, v in overrides.items() if v is not None}
    )
    if not nulls:
        return cfg
    data = cfg.model_dump()
    data.update({k: None for k in nulls})
    return NakedTraderConfig.model_validate(data)


def config_error_text(exc: ConfigError, overrides: dict[str, Any]) -> str:
    """The loader's message; problems not tied to one option list the options given."""
    given = [f"--{k.replace('_', '-')} {v}" for k, v in overrides.items()]
    lines = []
    for prob in exc.problems:
        text = str(prob)
        if prob.source == "command line" and given:
            text += f" (options given: {', '.join(given)})"
        lines.append(text)
    return "\n".join(lines)


class NakedTraderService:
    """The engine's NakedTrader: commands, watcher loop, scheduling hook."""

    def __init__(self, engine: Engine, *, config_path: Path | None = None):
        self.engine = engine
        self.config_path = config_path
        self._run_lock = asyncio.Lock()
        self._watch_lock = asyncio.Lock()
        self._watch_task: asyncio.Task[None] | None = None
        #: wakes the watch loop on IBKR order activity (the interval stays the fallback)
        self.activity = OrderActivity(engine.bus)
        self.port = IbNtPort(engine.session, engine.orders)
        self._watcher: NtWatcher | None = None
        self.last_message: str | None = None

    # -- config ------------------------------------------------------------------------------
    def path(self) -> Path:
        if self.config_path is not None:
            return self.config_path
        return nakedtrader_config_path(self.engine.cfg, self.engine.options.config_path)

    def load_config(self, overrides: dict[str, Any] | None = None) -> NakedTraderConfig:
        """The NakedTrader config with command-line overrides (raises ConfigError)."""
        return load_with_overrides(self.path(), overrides or {})

    # -- parts -------------------------------------------------------------------------------
    @property
    def account_id(self) -> str | None:
        return self.engine.account

    def _store(self) -> Any:
        if self.engine.store is None:
            raise RuntimeError("the engine is not started (no database)")
        return self.engine.store

    def recorder(self) -> NtRecorder:
        feed = getattr(self.engine, "regime", None)
        return NtRecorder(
            self._store(),
            self.account_id,
            regime_label=feed.label_today if feed is not None else None,
        )

    def workflow(self) -> NtWorkflow:
        from engine.broker.services import MarketServices

        return NtWorkflow(
            md=self.engine.services,
            gateway=self.engine.orders,
            intents=IntentRepo(self._store(), self.account_id or ""),
            recorder=self.recorder(),
            calendar=self.engine.calendar,
            trading_allowed=self.engine.session.trading_allowed,
            contract_of=MarketServices.option_contract,
        )

    def watcher(self) -> NtWatcher:
        if self._watcher is None or self._watcher.account_id != self.account_id:
            self._watcher = NtWatcher(
                self.port,
                self._store(),
                self.account_id,
                calendar=self.engine.calendar,
                md=self.engine.services,
                cancel=self.port.cancel,
                closing_price=self.closing_price,
            )
        return self._watcher

    async def closing_price(self, symbol: str, day: dt.date) -> float | None:
        """The underlying's close on `day` from IBKR's daily bars (None when unavailable)."""
        from ib_async import Index, Stock

        from engine.broker.pacing import Priority

        und = await self.engine.services.qualify_underlying(symbol)
        contract = (
            Index(und.symbol, und.exchange, und.currency, conId=und.con_id)
            if und.sec_type == "IND"
            else Stock(und.symbol, "SMART", und.currency, conId=und.con_id)
        )
        ib = self.engine.session.ib
        try:
            async with self.engine.session.pacer.message(Priority.CONTROL):
                fut = ib.reqHistoricalDataAsync(
                    contract,
                    endDateTime="",
                    durationStr="5 D",
                    barSizeSetting="1 day",
                    whatToShow="TRADES",
                    useRTH=True,
                )
            bars = await asyncio.wait_for(fut, 15)
        except Exception:
            log.warning("no daily bars for %s", symbol, exc_info=True)
            return None
        for bar in bars or []:
            d = bar.date.date() if isinstance(bar.date, dt.datetime) else bar.date
            if d == day and bar.close and bar.close > 0:
                return float(bar.close)
        return None

    def publish(self, message: str, reason: Reason, *, severity: str = "info", **data: Any) -> None:
        self.engine.bus.publish(
            "nakedtrader", message, severity=severity, code=reason.code, data=data
        )

    # -- commands ----------------------------------------------------------------------------
    def default_dry_run(self) -> bool:
        """Dry run unless the account is a paper account (the simulator's too)."""
        acct = self.account_id or ""
        return not acct.startswith(("DU", "DF"))

    async def run(self, cmd: NtRun) -> Result:
        try:
            cfg = self.load_config(cmd.overrides)
        except ConfigError as exc:
            return Result.fail(
                config_error_text(exc, cmd.overrides),
                code="config.invalid",
                exit_code=ExitCode.USAGE,
            )
        dry_run = self.default_dry_run() if cmd.dry_run is None else cmd.dry_run
        async with self._run_lock:
            outcome = await self.workflow().run(cfg, self.engine.now(), dry_run=dry_run)
        return self._run_result(outcome, cfg)

    def _run_result(self, outcome: RunOutcome, cfg: NakedTraderConfig) -> Result:
        data = outcome.as_dict()
        data["config"] = cfg.model_dump(mode="json")
        self.last_message = f"{outcome.status}: {outcome.reason.text}"
        sev = {"placed": "info", "planned": "info", "refused": "warning", "failed": "warning"}
        self.publish(
            f"NakedTrader {outcome.status}: {outcome.reason.text}",
            outcome.reason,
            severity=sev[outcome.status],
            **{k: data[k] for k in ("status", "dry_run", "trade_id", "order_ref", "plan")},
        )
        if outcome.status == "placed":
            if outcome.trade_id is not None:
                self.watcher().track(outcome.trade_id)
            self.start_watching()
        if outcome.status in ("placed", "planned"):
            return Result(ok=True, data=data, reason_code=outcome.reason.code)
        exit_code = ExitCode.REFUSED if outcome.status == "refused" else ExitCode.ERROR
        return Result(
            ok=False,
            exit_code=exit_code,
            error=outcome.reason.text,
            reason_code=outcome.reason.code,
            data=data,
        )

    async def watch_once(self) -> WatchReport:
        async with self._watch_lock:
            report = await self.watcher().sync(self.engine.now())
        for tid in report.opened:
            self.publish(
                f"NakedTrader trade {tid} opened", Reason("nt.opened", "entry filled"), trade_id=tid
            )
        for closed in report.closed:
            self.publish(
                f"NakedTrader trade {closed['trade_id']} closed ({closed['exit_reason']}): "
                f"net {closed['net_pnl']}",
                Reason("nt.closed", str(closed.get("settlement") or closed["exit_reason"])),
                **closed,
            )
        for tid in report.cancelled:
            self.publish(
                f"NakedTrader trade {tid}: entry cancelled unfilled",
                Reason("nt.entry_cancelled", "the entry order ended without a fill"),
                severity="warning",
                trade_id=tid,
            )
        return report

    async def watch(self, _cmd: NtWatch) -> Result:
        report = await self.watch_once()
        status = await self.status_data()
        return Result.success(watch=report.as_dict(), **status)

    async def status_data(self) -> dict[str, Any]:
        now = self.engine.now()
        day = to_et(now).date()
        rec = self.recorder()
        trades = await rec.trades_for_status(day)
        views = [trade_view(t) for t in trades]
        closed_today = [t for t in trades if t.status == "closed" and t.net_pnl is not None]
        net = sum((t.net_pnl for t in closed_today if t.net_pnl is not None), Decimal(0))
        commission = sum((t.commission for t in trades), Decimal(0))
        try:
            cfg: NakedTraderConfig | None = self.load_config()
            cfg_error = None
        except ConfigError as exc:
            cfg, cfg_error = None, str(exc)
        pane = await self._pane_data(cfg, trades, day)
        return {
            **pane,
            "date": day.isoformat(),
            "now": now.isoformat(),
            "enabled": bool(cfg and cfg.enabled),
            "instrument": cfg.instrument if cfg else None,
            "config_error": cfg_error,
            "entries_today": await rec.entries_on(day),
            "max_daily_trades": cfg.max_daily_trades if cfg else None,
            "trades": views,
            "open": [v for v in views if v["status"] in ("pending", "open")],
            "net_pnl_today": format(net, "f"),
            "commission_today": format(commission, "f"),
            "watching": self.watching,
        }

    def _window_text(self, cfg: NakedTraderConfig, day: dt.date) -> str | None:
        """Today's entry window as "09:45-15:30" (New York), None on a day with no session."""
        try:
            bounds = window_bounds(day, cfg, self.engine.calendar)
        except Exception:  # outside the calendar's range: the run itself says so
            return None
        return None if bounds is None else f"{bounds[0]:%H:%M}-{bounds[1]:%H:%M}"

    async def _pane_data(
        self, cfg: NakedTraderConfig | None, trades: list[TradeRow], day: dt.date
    ) -> dict[str, Any]:
        """The console pane's keys (console/widgets/nakedtrader.py): plan, trade, bracket,
        message."""
        plan = None
        if cfg is not None:
            plan = {
                "date": day.isoformat(),
                "symbol": cfg.instrument,
                "trading_class": cfg.effective_trading_class,
                "target_delta": cfg.delta_target,
                "delta_range": [cfg.delta_min, cfg.delta_max],
                "scheduled_at": f"{self.schedule_time():%H:%M}" if cfg.enabled else None,
                "entry_window": self._window_text(cfg, day),
                "dry_run": self.default_dry_run(),
                "contracts": cfg.contracts,
            }
        t = trades[-1] if trades else None
        if t is None:
            return {"plan": plan, "trade": None, "bracket": None, "message": self.last_message}
        intents = IntentRepo(self._store(), self.account_id or "")
        ref = t.entry_order_ref or ""
        entry_intent = await intents.get(ref)
        delta = None
        widened = 0
        if entry_intent is not None:
            row = await self._store().fetchone(
                "SELECT payload_json FROM order_intents WHERE id=?", (entry_intent.id,)
            )
            with contextlib.suppress(Exception):
                payload = json.loads(row["payload_json"]) if row else {}
                delta = -float(payload["plan"]["selection"]["delta"])
                widened = int(payload["plan"]["selection"].get("widen_steps") or 0)
        premium = (
            None if t.entry_price is None else float(t.entry_price * t.multiplier * t.quantity)
        )
        trade = {
            "trade_id": t.id,
            "symbol": t.symbol,
            "strike": None if t.strike is None else float(t.strike),
            "expiry": t.expiry,
            "quantity": t.quantity,
            "delta": delta,
            "widen_steps": widened,
            "entry_price": None if t.entry_price is None else float(t.entry_price),
            "premium": premium,
            "pnl": None if t.net_pnl is None else float(t.net_pnl),
            "status": t.status,
        }
        ib_status = {o.order_ref: o.status for o in await self.port.orders()}

        async def child(suffix: str, order_id: int | None) -> dict[str, Any] | None:
            leg = await intents.get(ref + suffix)
            if leg is None:
                return None
            price = leg.limit_price if leg.limit_price is not None else leg.aux_price
            return {
                "order_id": order_id,
                "price": None if price is None else float(price),
                "status": ib_status.get(ref + suffix, leg.status),
            }

        bracket = {
            "status": t.bracket_status,
            "take_profit": await child("-tp", t.exit_order_id),
            "stop": await child("-sl", t.stop_order_id),
        }
        return {"plan": plan, "trade": trade, "bracket": bracket, "message": self.last_message}

    async def status(self, _cmd: NtStatus) -> Result:
        return Result.success(**await self.status_data())

    # -- background watcher ------------------------------------------------------------------
    @property
    def watching(self) -> bool:
        return self._watch_task is not None and not self._watch_task.done()

    async def resume_watching(self) -> None:
        """After every (re)connect: follow NakedTrader trades still live in the database."""
        if self.engine.store is None:
            return
        live = await self.recorder().live_trades()
        for t in live:
            self.watcher().track(t.id, t.status)
        if live:
            self.start_watching()

    def start_watching(self, interval: float = WATCH_INTERVAL_S) -> None:
        if self.watching:
            return
        self._watch_task = asyncio.create_task(self._watch_loop(interval), name="nt-watch")

    async def stop_watching(self) -> None:
        task, self._watch_task = self._watch_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _watch_loop(self, interval: float) -> None:
        while True:
            await self.activity.wait(interval)
            try:
                if not self.engine.session.connected or self.engine.store is None:
                    continue
                await self.watch_once()
                if not await self.recorder().live_trades():
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("NakedTrader watcher pass failed")

    # -- scheduling hook ---------------------------------------------------------------------
    def schedule_time(self) -> dt.time:
        """New York time of the daily run (`schedule.nakedtrader_at`)."""
        at: dt.time = self.engine.cfg.schedule.nakedtrader_at
        return at

    async def scheduled_run(self) -> Result:
        """The daily job: runs `nt` with the config's defaults when `enabled`."""
        try:
            cfg = self.load_config()
        except ConfigError as exc:
            return Result.fail(str(exc), code="config.invalid", exit_code=ExitCode.USAGE)
        if not cfg.enabled:
            return Result.success(status="skipped", reason="NakedTrader is not enabled")
        return await self.run(NtRun())


def install(engine: Engine) -> NakedTraderService:
    """Register the NakedTrader commands on `engine` and attach `engine.nakedtrader`."""
    svc = NakedTraderService(engine)
    engine.registry.register(NtRun, svc.run)
    engine.registry.register(NtStatus, svc.status)
    engine.registry.register(NtWatch, svc.watch)
    engine.nakedtrader = svc  # type: ignore[attr-defined]
    engine.on_stop.append(svc.stop_watching)
    engine.session.add_resubscriber("nakedtrader.watch", svc.resume_watching)
    return svc


async def scheduled_run(engine: Engine) -> Result:
    """Scheduler entry point: `await scheduled_run(engine)` daily at schedule.nakedtrader_at."""
    svc: NakedTraderService | None = getattr(engine, "nakedtrader", None)
    if svc is None:
        svc = install(engine)
    return await svc.scheduled_run()
