"""The engine's own commands: status, orders, positions, events, kill/resume, settings,
market regime."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from config.loader import SHIPPED_CONFIG, ConfigError, default_config_path, load_model
from config.models import ACCOUNT_SECTIONS, PutdeskConfig, deep_merge
from engine.api.models import (
    GetEvents,
    GetOrders,
    GetPositions,
    GetRegime,
    GetSettings,
    GetSimStats,
    GetStatus,
    Kill,
    Result,
    Resume,
    SaveSettings,
)
from engine.broker.errors import BrokerError
from engine.broker.orders import trade_summary
from engine.domain import Reason
from engine.runtime.paths import engine_running
from engine.selection.regime_guard import regime_guard
from engine.store.db import to_json, utcnow_iso

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from engine.runtime.engine import Engine


#: GetStatus reuses an account snapshot this young (seconds) instead of asking IBKR again.
SNAPSHOT_TTL_S = 5.0


def install_core(engine: Engine) -> None:
    """Register the core command handlers on `engine.registry`."""
    r = engine.registry
    r.register(GetStatus, lambda c: get_status(engine, c))
    r.register(GetOrders, lambda c: get_orders(engine, c))
    r.register(GetPositions, lambda c: get_positions(engine, c))
    r.register(GetEvents, lambda c: get_events(engine, c))
    r.register(Kill, lambda c: kill(engine, c))
    r.register(Resume, lambda c: resume(engine, c))
    r.register(GetSettings, lambda c: get_settings(engine, c))
    r.register(SaveSettings, lambda c: save_settings(engine, c))
    r.register(GetSimStats, lambda c: get_sim_stats(engine, c))
    r.register(GetRegime, lambda c: get_regime(engine, c))


def _money(d: Decimal) -> str:
    return format(d, "f")


async def _budget(engine: Engine) -> dict[str, Any]:
    _ok, why = engine.session.data_allowed()
    if not engine.session.connected:
        return {"available": False, "reason_code": why.code, "reason": why.text}
    cached = getattr(engine, "_status_snapshot", None)
    try:
        if cached is not None and (engine.now() - cached.time).total_seconds() < SNAPSHOT_TTL_S:
            snap = cached
        else:
            snap = await asyncio.wait_for(
                engine.services.account_snapshot(), engine.cfg.ibkr.request_timeout_s
            )
            engine._status_snapshot = snap
    except (BrokerError, TimeoutError) as exc:
        reason = (
            exc.reason
            if isinstance(exc, BrokerError)
            else Reason("broker.timeout", "account summary timed out")
        )
        return {"available": False, "reason_code": reason.code, "reason": reason.text}
    pct = Decimal(str(engine.cfg.budget.margin_pct_of_nlv))
    budget = (snap.net_liquidation * pct / Decimal(100)).quantize(Decimal("0.01"))
    committed: dict[str, Any] = {"headroom": _money(budget - snap.full_maint_margin)}
    selection = getattr(engine, "selection", None)
    if selection is not None and engine.store is not None:
        s = await selection.budget_summary(snap)  # lineup and orders working count too
        committed = {
            "lineup_margin": _money(Decimal(s["lineup_margin"])),
            "working_margin": _money(Decimal(s["working_margin"])),
            "projected": _money(Decimal(s["projected"])),
            "headroom": _money(Decimal(s["headroom"])),
        }
    return {
        "available": True,
        "account": snap.account,
        "time": snap.time.isoformat(),
        "net_liquidation": _money(snap.net_liquidation),
        "equity_with_loan": _money(snap.equity_with_loan),
        "full_init_margin": _money(snap.full_init_margin),
        "full_maint_margin": _money(snap.full_maint_margin),
        "available_funds": _money(snap.available_funds),
        "excess_liquidity": _money(snap.excess_liquidity),
        "buying_power": _money(snap.buying_power),
        "cushion": snap.cushion,
        "budget_pct": float(pct),
        "budget": _money(budget),
        **committed,
    }


async def _lineup_counts(engine: Engine) -> dict[str, int]:
    if engine.store is None:
        return {}
    rows = await engine.store.fetchall(
        "SELECT status, COUNT(*) AS n FROM lineup WHERE account_id IS ? OR account_id IS NULL "
        "GROUP BY status",
        (engine.account,),
    )
    return {str(r["status"]): int(r["n"]) for r in rows}


async def _unprotected(engine: Engine) -> list[dict[str, Any]]:
    """Open trades whose exit orders all ended (the kill switch, a cancel in TWS): the
    watcher marks them `unprotected`; status names them until exits work again."""
    if engine.store is None:
        return []
    rows = await engine.store.fetchall(
        "SELECT id, symbol, trade_strategy FROM trades WHERE status='open' AND "
        "bracket_status='unprotected' ORDER BY id",
    )
    return [
        {"trade_id": int(r["id"]), "symbol": r["symbol"], "strategy": r["trade_strategy"]}
        for r in rows
    ]


async def get_status(engine: Engine, _cmd: GetStatus) -> Result:
    s = engine.session
    open_orders = (
        [trade_summary(t) for t in engine.orders.putdesk_open_trades()] if s.connected else []
    )
    budget = await _budget(engine)  # may ask IBKR: before the clock is read
    lineup = await _lineup_counts(engine)
    unprotected = await _unprotected(engine)
    st = engine.pacer.stats()
    halted = engine.halted
    selection = getattr(engine, "selection", None)
    return Result.success(
        # read after every await: a console extrapolates the (simulated) time from
        # `engine.now` on arrival, so a stamp taken before a slow IBKR answer lags by that
        # answer's time x the simulated speed
        engine=engine.info(),
        connection=s.status(),
        ai=selection.ai_status() if selection is not None else {},
        budget=budget,
        halted={
            "halted": halted is not None,
            "reason_code": halted.code if halted else None,
            "reason": halted.text if halted else None,
        },
        lineup=lineup,
        unprotected=unprotected,
        regime=_regime_state(engine),
        accounts=_accounts_state(engine),
        open_orders=open_orders,
        pacing={
            "sent": st.sent,
            "queued": st.queued,
            "peak_per_window": st.peak_per_window,
            "max_per_s": st.max_per_s,
            "lines_in_use": st.lines_in_use,
            "peak_lines": st.peak_lines,
            "max_lines": st.max_lines,
        },
    )


def _accounts_state(engine: Engine) -> list[dict[str, Any]]:
    """Every configured account (`accounts:`) and whether an engine runs for it (its lock is
    held); empty when the config names no accounts."""
    cfg = engine.cfg
    out = []
    ids = list(cfg.accounts)  # in the config's order, whichever account this engine runs
    if ids and engine.paths.key not in ids:
        ids.insert(0, engine.paths.key)
    for acct in ids:
        this = acct == engine.paths.key
        out.append(
            {
                "account": acct,
                "label": cfg.account_label(acct),
                "this_engine": this,
                "running": this or engine_running(cfg, acct),
            }
        )
    return out


def _regime_state(engine: Engine) -> dict[str, Any]:
    """The regime feed's last reading, its age and error, and the guard's verdict on it
    (pure: no request to IBKR)."""
    cfg = engine.cfg.selection.regime_guard
    feed = engine.regime
    why = regime_guard(
        feed.fresh(dt.timedelta(minutes=2 * cfg.max_age_min)),
        cfg,
        engine.now(),
        why_missing=feed.error or (None if engine.session.connected else "not connected to IBKR"),
    )
    return {
        **feed.status(),
        "guard": {
            "enabled": cfg.enabled,
            "blocks": why is not None,
            "reason_code": why.code if why else None,
            "reason": why.text if why else None,
        },
    }


async def get_regime(engine: Engine, cmd: GetRegime) -> Result:
    """The regime, read from IBKR when the last reading is older than the feed's TTL (or
    `refresh`), and the guard's verdict."""
    if engine.session.connected:
        await engine.regime.current(force=cmd.refresh)
    state = _regime_state(engine)
    if state["reading"] is None:
        text = engine.regime.error or "not connected to IBKR"
        return Result.fail(f"no market regime: {text}", code="regime.unavailable")
    return Result.success(**state)


async def get_sim_stats(engine: Engine, _cmd: GetSimStats) -> Result:
    """The embedded simulated gateway's counters; an engine on IB Gateway has none."""
    if engine.sim is None:
        return Result.fail(
            "this engine is connected to IBKR, not to an embedded simulated gateway",
            code="sim.not_running",
        )
    return Result.success(**engine.sim.stats())


async def get_orders(engine: Engine, _cmd: GetOrders) -> Result:
    trades = engine.services.open_orders()
    return Result.success(orders=[trade_summary(t) for t in trades])


async def get_positions(engine: Engine, _cmd: GetPositions) -> Result:
    """IBKR positions with IBKR's own mark and unrealised P&L (portfolio updates), joined to
    the open putdesk trade on the same contract for its strategy and bracket status."""
    marks: dict[int, Any] = {}
    for item in engine.session.ib.portfolio():
        marks[int(item.contract.conId)] = item
    trades: dict[int, dict[str, Any]] = {}
    if engine.store is not None:
        for row in await engine.store.fetchall(
            "SELECT con_id, trade_strategy, bracket_status, id FROM trades "
            "WHERE status IN ('open', 'pending') AND con_id IS NOT NULL ORDER BY id"
        ):
            trades[int(row["con_id"])] = row
    out = []
    for p in engine.services.positions():
        c = p.contract
        mark = marks.get(int(c.conId))
        trade = trades.get(int(c.conId), {})
        out.append(
            {
                "account": p.account,
                "symbol": c.symbol,
                "local_symbol": c.localSymbol,
                "con_id": c.conId,
                "sec_type": c.secType,
                "expiry": c.lastTradeDateOrContractMonth,
                "strike": c.strike,
                "right": c.right,
                "multiplier": c.multiplier,
                "position": float(p.position),
                "avg_cost": p.avgCost,
                "market_price": _finite(mark.marketPrice) if mark is not None else None,
                "market_value": _finite(mark.marketValue) if mark is not None else None,
                "unrealized_pnl": _finite(mark.unrealizedPNL) if mark is not None else None,
                "strategy": trade.get("trade_strategy"),
                "bracket_status": trade.get("bracket_status"),
                "trade_id": trade.get("id"),
            }
        )
    return Result.success(positions=out)


def _finite(value: float | None) -> float | None:
    """IBKR's numbers with its unset sentinels (NaN, Double.MAX) as None."""
    if value is None or value != value or abs(value) >= 1e300:
        return None
    return float(value)


async def get_events(engine: Engine, cmd: GetEvents) -> Result:
    if engine.store is None:
        recent = [e for e in engine.bus.recent(10_000) if cmd.debug or e.severity != "debug"]
        return Result.success(events=[e.model_dump(mode="json") for e in recent[-cmd.limit :]])
    await engine.flush_events()
    where = "" if cmd.debug else "WHERE severity != 'debug' "
    rows = await engine.store.fetchall(
        "SELECT * FROM (SELECT id, ts, account_id, kind, severity, code, message, data_json "
        f"FROM events {where}ORDER BY id DESC LIMIT ?) ORDER BY id",
        (cmd.limit,),
    )
    events = [
        {
            "id": r["id"],
            "ts": r["ts"],
            "account": r["account_id"],
            "kind": r["kind"],
            "severity": r["severity"],
            "code": r["code"],
            "message": r["message"],
            "data": json.loads(r["data_json"]) if r["data_json"] else {},
        }
        for r in rows
    ]
    return Result.success(events=events)


async def _note_kill_cancels(engine: Engine, reason: str) -> None:
    """The cancels' records say why once IBKR confirms them. Never in the kill's way: a
    failure here is logged and the cancels go out regardless."""
    if engine.store is None:
        return
    from engine.execution.intents import IntentRepo

    try:
        refs = [str(t.order.orderRef) for t in engine.orders.putdesk_open_trades()]
        await IntentRepo(engine.store, engine.account or "").note_cancel(
            refs, Reason("engine.killed", f"kill switch: {reason}"), engine.now()
        )
    except Exception:
        log.exception("kill switch: the cancels' reason could not be recorded")


async def kill(engine: Engine, cmd: Kill) -> Result:
    """Halt (persisted) and cancel every open putdesk order."""
    reason = Reason("engine.killed", cmd.reason)
    engine.session.halt(reason)
    await engine.persist_halt(reason)
    cancelled = 0
    error = None
    if engine.session.connected:
        await _note_kill_cancels(engine, cmd.reason)
        try:
            cancelled = await engine.orders.cancel_all_putdesk()
        except BrokerError as exc:
            error = exc.reason.text
    else:
        error = "not connected: open orders could not be cancelled now"
    closed: list[int] = []
    if engine.store is not None:
        from engine.execution.killswitch import close_lineup_entries

        closed = await close_lineup_entries(
            engine.store,
            engine.account,
            Reason("engine.killed", f"kill switch: {cmd.reason}"),
            engine.now(),
        )
        if closed:
            engine.bus.publish(
                "lineup.changed",
                f"kill switch: {len(closed)} lineup entries in execution closed",
                code="engine.killed",
                data={"closed": closed},
            )
    engine.bus.publish(
        "engine.state",
        f"kill switch: {cmd.reason}; {cancelled} order(s) cancelled",
        severity="warning",
        code="engine.killed",
        data={"state": "halted", "cancelled": cancelled, "error": error},
    )
    return Result.success(halted=True, cancelled=cancelled, error=error)


async def resume(engine: Engine, _cmd: Resume) -> Result:
    engine.session.resume()
    await engine.persist_halt(None)
    engine.bus.publish("engine.state", "trading resumed", data={"state": "running"})
    allowed, why = engine.session.trading_allowed()
    return Result.success(halted=False, trading_allowed=allowed, reason=why.text)


def settings_path(engine: Engine) -> Path:
    """Where SaveSettings writes: the config file in use, never the shipped defaults."""
    p = engine.options.config_path or default_config_path()
    if p.resolve() == SHIPPED_CONFIG.resolve():
        from config.paths import user_config_file

        return user_config_file()
    return p


async def get_settings(engine: Engine, _cmd: GetSettings) -> Result:
    return Result.success(
        path=str(settings_path(engine)),
        settings=engine.cfg.model_dump(mode="json"),
        schema=PutdeskConfig.model_json_schema(),
    )


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".putdesk-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with __import__("contextlib").suppress(OSError):
            os.unlink(tmp)
        raise


def _file_settings(path: Path) -> dict[str, Any]:
    """What the settings file holds (the shipped defaults while it does not exist yet)."""
    source = path if path.exists() else SHIPPED_CONFIG
    data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    return data if isinstance(data, dict) else {}


def _route_to_profile(
    cfg: PutdeskConfig, changes: dict[str, Any], file_accounts: Any
) -> dict[str, Any]:
    """The change as the settings file takes it. For an account whose profile the file holds
    (`accounts.<id>`), what a profile may hold goes into that profile, so one account's budget
    or selection edits never change the others'; the rest (console, paths) stays top level.
    A profile the file does not hold (the demo's accounts) is never written into it."""
    acct = cfg.ibkr.account
    if not acct or acct not in cfg.accounts:
        return changes
    if not isinstance(file_accounts, dict) or acct not in file_accounts:
        return changes
    per_account = set(ACCOUNT_SECTIONS) | {"automation_level", "nakedtrader_config"}
    profile = {k: v for k, v in changes.items() if k in per_account}
    if isinstance(profile.get("ibkr"), dict):  # the id is the profile's key
        profile["ibkr"] = {k: v for k, v in profile["ibkr"].items() if k != "account"}
    if not profile:
        return changes
    shared = {k: v for k, v in changes.items() if k not in per_account}
    return {**shared, "accounts": {acct: profile}}


async def save_settings(engine: Engine, cmd: SaveSettings) -> Result:
    """Validate the change; write it into the settings file atomically; snapshot; apply.

    The file gets the change merged into what it held, never the whole effective config:
    environment overrides and the demo's simulated-gateway settings stay out of it."""
    path = settings_path(engine)
    held = _file_settings(path)
    file_changes = _route_to_profile(engine.cfg, cmd.changes, held.get("accounts"))
    merged = deep_merge(engine.cfg.model_dump(mode="json", exclude_unset=False), cmd.changes)
    if file_changes is not cmd.changes:
        merged = deep_merge(merged, {"accounts": file_changes["accounts"]})
    text = yaml.safe_dump(deep_merge(held, file_changes), sort_keys=False)
    try:
        load_model(PutdeskConfig, path, text=text, environ={})  # the file on its own
        new = load_model(
            PutdeskConfig, path, text=yaml.safe_dump(merged, sort_keys=False), environ={}
        )
    except ConfigError as exc:
        return Result(
            ok=False,
            exit_code=1,
            error=str(exc),
            reason_code="settings.invalid",
            data={"problems": [{"field": p.field, "message": p.message} for p in exc.problems]},
        )
    write_atomic(path, text)
    snapshot_id = None
    if engine.store is not None:
        body = to_json(merged)  # the effective settings the engine now runs with
        sha = hashlib.sha256(body.encode()).hexdigest()
        async with engine.store.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO config_snapshots(created_at, kind, sha256, body) "
                "VALUES (?,?,?,?)",
                (utcnow_iso(), "main", sha, body),
            )
            async with conn.execute(
                "SELECT id FROM config_snapshots WHERE kind='main' AND sha256=?", (sha,)
            ) as cur:
                row = await cur.fetchone()
            snapshot_id = int(row[0]) if row else None
    restart = (
        new.ibkr != engine.cfg.ibkr or new.paths != engine.cfg.paths or new.sim != engine.cfg.sim
    )
    engine.cfg = new
    engine.bus.publish(
        "notice",
        f"settings saved to {path}",
        data={"snapshot_id": snapshot_id, "restart_required": restart},
    )
    return Result.success(
        path=str(path),
        snapshot_id=snapshot_id,
        restart_required=restart,
        settings=new.model_dump(mode="json"),
    )
