"""EngineAPI handlers of the scanner and Tonight's Lineup: `install(engine)` registers Scan,
AutoSelect, GetScan, Stage, Unstage, SetQuantity, Approve, ClearLineup and GetLineup.

Events: "scan.started", "scan.progress" (symbols done/total), "scan.candidate" (one per best
strike), "scan.finished", "lineup.changed". No IBKR = no trade: staging and auto-select need a
fresh account snapshot (NLV, FullMaintMarginReq) and what-if margins, or they are refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from decimal import Decimal
from typing import Any, Protocol, cast

from config.models import PutdeskConfig, SelectionConfig
from engine.api.models import (
    Approve,
    AutoSelect,
    ClearLineup,
    GetLineup,
    GetScan,
    Result,
    Scan,
    SetQuantity,
    Stage,
    Unstage,
)
from engine.domain import INDEX_SYMBOLS, AccountSnapshot, MarketData, Reason
from engine.market.calendar import to_et
from engine.selection import filters as F
from engine.selection import lineup as L
from engine.selection.ab_test import arm_for, with_arm
from engine.selection.ai import Advisor, ClaudeAdvisor, PortfolioContext
from engine.selection.day_cache import DayCache
from engine.selection.pipeline import (
    SelectionPipeline,
    SymbolResult,
    ai_candidates,
    apply_ai,
    rank,
)
from engine.selection.portfolio import (
    BudgetState,
    PortfolioCandidate,
    auto_select,
    check_stage,
    suggested_quantity,
)
from engine.selection.regime_guard import regime_guard
from engine.selection.universe import ScannerSource, build_universe
from engine.store.day_cache import DayCacheRepo
from engine.store.db import Store
from engine.store.lineup import LineupRepo
from engine.store.scans import CandidateRecord, ScanRepo, dec_field, snapshot_config

log = logging.getLogger(__name__)

#: Scans are allowed on session days from 04:00 ET (pre-market) to the close; outside that the
#: market counts as closed and a scan needs the explicit override.
PRE_MARKET = dt.timedelta(hours=5, minutes=30)
#: GetLineup's `done`: entries sent, filled or cancelled within this many hours (engine clock).
DONE_WINDOW_H = 24


class EngineLike(Protocol):
    """What the selection service uses of `engine.runtime.Engine`."""

    cfg: PutdeskConfig
    store: Store | None
    services: Any
    bus: Any
    calendar: Any
    registry: Any

    def now(self) -> dt.datetime: ...

    @property
    def account(self) -> str | None: ...


def market_closed(calendar: Any, now: dt.datetime) -> Reason | None:
    """None while scanning is allowed (a session day, 04:00 ET to the close)."""
    session = calendar.session_of(now)
    if session is not None:
        return None
    nxt = calendar.next_open(now)
    if nxt - PRE_MARKET <= now:
        return None
    return Reason(
        "market_closed",
        f"the market is closed (next open {to_et(nxt):%a %d %b %H:%M} ET, "
        f"{nxt.astimezone(dt.UTC):%H:%M} UTC; scans from {to_et(nxt - PRE_MARKET):%H:%M} ET); "
        "scan with the closed-market override to use last data, marked stale",
    )


def _dec(x: float | None, places: str = "0.0001") -> Decimal | None:
    if x is None:
        return None
    return Decimal(str(x)).quantize(Decimal(places)).normalize()


def records_for(res: SymbolResult) -> list[CandidateRecord]:
    """Candidate rows for one symbol: best + finalists, or one rejected row."""
    rejections = [r.as_dict() for r in res.rejected]
    if res.best is None:
        return [
            CandidateRecord(
                {
                    "symbol": res.symbol,
                    "sector": res.sector,
                    "status": "rejected",
                    "reason_code": res.reason.code if res.reason else "no_candidate",
                    "reason_text": res.reason.text if res.reason else "no candidate",
                    "underlying_price": res.underlying_price,
                    "expiry": res.expiry,
                    "stale": int(res.stale),
                    "data_flags": res.data_flags,
                    "rejections_json": rejections,
                }
            )
        ]
    out = []
    for s in res.finalists:
        q, c = s.quote, s.components
        best = s is res.best
        out.append(
            CandidateRecord(
                {
                    "symbol": res.symbol,
                    "sector": res.sector,
                    "status": "candidate" if best else "finalist",
                    "reason_code": None if best else "outscored",
                    "reason_text": None
                    if best
                    else f"score {s.score:.1f} below the best strike's {res.best.score:.1f}",
                    "underlying_price": res.underlying_price,
                    "con_id": s.option.con_id,
                    "expiry": s.option.expiry,
                    "dte": s.dte,
                    "strike": _dec(s.option.strike),
                    "bid": _dec(q.bid),
                    "ask": _dec(q.ask),
                    "mid": _dec(q.mid),
                    "iv": q.iv,
                    "delta": q.delta,
                    "gamma": q.gamma,
                    "theta": q.theta,
                    "vega": q.vega,
                    "otm_pct": s.otm_pct,
                    "volume": None if q.volume is None else int(q.volume),
                    "open_interest": None if q.open_interest is None else int(q.open_interest),
                    "margin": s.margin,
                    "return_on_margin": s.return_on_margin,
                    "score": s.score,
                    "score_safety": c.safety,
                    "score_liquidity": c.liquidity,
                    "score_ai": c.ai,
                    "score_efficiency": c.efficiency,
                    "ai_score": c.ai,
                    "ai_reason": res.ai_reason if best else None,
                    "market_data_type": int(q.market_data_type),
                    "quote_time": q.time.isoformat(),
                    "stale": int(res.stale or not q.is_live),
                    "data_flags": res.data_flags,
                    "rejections_json": rejections if best else [],
                }
            )
        )
    return out


def portfolio_candidate(row: dict[str, Any]) -> PortfolioCandidate:
    return PortfolioCandidate(
        candidate_id=int(row["id"]),
        symbol=str(row["symbol"]),
        sector=str(row.get("sector") or "Unknown"),
        score=float(row.get("score") or 0.0),
        margin_per_contract=dec_field(row, "margin"),
        premium=dec_field(row, "bid") or Decimal(0),
        stale=bool(row.get("stale")),
    )


def _public_candidate(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "scan_id"}


class SelectionService:
    """The scanner, auto-select and lineup handlers of one engine."""

    def _lineup(self) -> LineupRepo:
        """The lineup repository, stamping rows with the engine clock."""
        return LineupRepo(self.store, self.engine.now)

    def __init__(self, engine: EngineLike, advisor: Advisor | None = None) -> None:
        self.engine = engine
        self.cache = DayCache()
        self._advisor = advisor
        self._scan_lock = asyncio.Lock()
        self._lineup_lock = asyncio.Lock()
        self._sectors: dict[str, tuple[dt.date, str]] = {}  # held symbols, see _known_sector

    # -- plumbing ----------------------------------------------------------------------------
    @property
    def cfg(self) -> PutdeskConfig:
        return self.engine.cfg

    @property
    def md(self) -> MarketData:
        md: MarketData = self.engine.services
        return md

    @property
    def store(self) -> Store:
        if self.engine.store is None:
            raise RuntimeError("the engine's store is not open (engine not started)")
        return self.engine.store

    @property
    def advisor(self) -> Advisor:
        return self._advisor or ClaudeAdvisor(self.cfg.ai)

    def ai_status(self) -> dict[str, Any]:
        """AI on/off for the header and `putdesk status`: the advisor's readiness (enabled and
        a key readable; the API is not called), with the reason."""
        ready = getattr(self.advisor, "readiness", None)
        if ready is None:
            return {"enabled": bool(self.cfg.ai.enabled), "reason": "custom advisor"}
        verdict = ready()
        return {"enabled": verdict.on, "reason": verdict.reason}

    def publish(self, kind: str, message: str, **data: Any) -> None:
        self.engine.bus.publish(kind, message, data=data)

    def _messages_sent(self) -> int | None:
        pacer = getattr(self.engine, "pacer", None)
        return None if pacer is None else int(pacer.sent)

    def _account_is_live(self) -> bool:
        session = getattr(self.engine, "session", None)
        return session is not None and session.kind == "live"

    async def _snapshot(self) -> tuple[AccountSnapshot | None, Reason | None]:
        try:
            return await self.md.account_snapshot(), None
        except Exception as exc:
            reason = getattr(exc, "reason", None)
            if not isinstance(reason, Reason):
                reason = Reason("no_account_data", f"{type(exc).__name__}: {exc}")
            return None, Reason(
                "no_account_data", f"no IBKR account data, nothing staged: {reason.text}"
            )

    async def regime_block(self) -> Reason | None:
        """The regime guard's verdict now: None when it is off or the regime is clear; a
        reading older than the guard's max age is read from IBKR first."""
        g = self.cfg.selection.regime_guard
        if not g.enabled:
            return None
        feed = getattr(self.engine, "regime", None)
        if feed is None:
            return regime_guard(None, g, self.engine.now(), why_missing="no regime feed")
        reading = await feed.current(dt.timedelta(minutes=g.max_age_min))
        return regime_guard(reading, g, self.engine.now(), why_missing=feed.error)

    def _regime_now(self) -> dict[str, Any] | None:
        """The last regime reading if it is from the last day (no request to IBKR)."""
        feed = getattr(self.engine, "regime", None)
        reading = None if feed is None else feed.fresh(dt.timedelta(days=1))
        return None if reading is None else reading.as_dict()

    async def _budget_state(
        self, snap: AccountSnapshot, exclude: int | None = None
    ) -> tuple[BudgetState, list[L.LineupEntry]]:
        """The lineup, the entries whose orders are working (not yet in IBKR's margin in use)
        and the underlyings held, against the budget."""
        repo = self._lineup()
        rows = await repo.active(self.engine.account)
        entries = [L.LineupEntry.from_row(r) for r in rows]
        working = [
            (L.LineupEntry.from_row(r), int(r.get("sold") or 0))
            for r in await repo.in_execution(self.engine.account)
        ]
        state = L.budget_state(
            snap.net_liquidation,
            snap.full_maint_margin,
            self.cfg.budget.margin_pct_of_nlv,
            entries,
            exclude,
            working=working,
            held=await self._held_underlyings(),
        )
        return state, entries

    async def budget_summary(self, snap: AccountSnapshot) -> dict[str, str]:
        """The budget as GetLineup reports it (lineup, working orders, headroom)."""
        state, _ = await self._budget_state(snap)
        return state.summary()

    async def _held_underlyings(self) -> list[tuple[str, str]]:
        """(symbol, sector) of each underlying with a stock or stock-option position in the
        account (indexes left out: they have no sector). The sector comes from the config's
        overrides, else the last lineup entry or scan candidate of the symbol, else IBKR's
        contract details, else "Unknown"."""
        positions = getattr(self.md, "positions", None)
        if positions is None:
            return []
        try:
            held = sorted(
                {
                    str(p.contract.symbol)
                    for p in positions()
                    if p.position
                    and p.contract.secType in ("STK", "OPT")
                    and p.contract.symbol not in INDEX_SYMBOLS
                }
            )
        except Exception as exc:  # not connected: the account snapshot would have failed too
            log.warning("positions unavailable for the sector caps: %s", exc)
            return []
        out = []
        for sym in held:
            sector = self.cfg.selection.sector_overrides.get(sym) or await self._known_sector(sym)
            out.append((sym, sector))
        return out

    async def _known_sector(self, symbol: str) -> str:
        """Looked up once per symbol and day (the status poll asks every few seconds; an
        "Unknown" is not asked of IBKR again before the next day)."""
        day = self.engine.now().date()
        hit = self._sectors.get(symbol)
        if hit is not None and hit[0] == day:
            return hit[1]
        sector = await self._lookup_sector(symbol)
        self._sectors[symbol] = (day, sector)
        return sector

    async def _lookup_sector(self, symbol: str) -> str:
        for table in ("lineup", "candidates"):
            row = await self.store.fetchone(
                f"SELECT sector FROM {table} WHERE symbol=? AND sector IS NOT NULL "
                "AND sector != 'Unknown' ORDER BY id DESC LIMIT 1",
                (symbol,),
            )
            if row is not None:
                return str(row["sector"])
        try:
            und = await self.md.qualify_underlying(symbol)
        except Exception:
            return "Unknown"
        return und.sector or "Unknown"

    # -- scan --------------------------------------------------------------------------------
    async def scan(self, cmd: Scan) -> Result:
        if self._scan_lock.locked():
            return Result.refused("a scan is already running", code="scan_running")
        async with self._scan_lock:
            return await self._scan(cmd)

    async def _scan(self, cmd: Scan) -> Result:
        now = self.engine.now()
        closed = market_closed(self.engine.calendar, now)
        if closed is not None and not cmd.override_closed:
            return Result.refused(closed.text, code=closed.code)
        data_allowed = getattr(getattr(self.engine, "session", None), "data_allowed", None)
        if data_allowed is not None:
            ok, why = data_allowed()
            if not ok:  # no IBKR, no scan: one clear refusal, not a rejection per symbol
                return Result.refused(f"no scan: {why.text}", code=why.code)
        stale = closed is not None
        cfg = self.cfg
        scanner = cast(ScannerSource, self.md) if hasattr(self.md, "scanner_symbols") else None
        uni = await build_universe(
            cfg.universe, symbols=cmd.symbols, use_scanner=cmd.use_scanner, scanner=scanner
        )
        if not uni.symbols:
            why = "; ".join(uni.problems) or "the universe is empty"
            return Result.fail(f"nothing to scan: {why}", code="empty_universe", exit_code=2)
        repo = ScanRepo(self.store)
        snap_id = await snapshot_config(self.store, cfg)
        scan_id = await repo.start(
            account_id=self.engine.account,
            source=uni.source_label,
            symbols_total=len(uni.symbols),
            stale=stale,
            config_snapshot_id=snap_id,
            now=self.engine.now(),
        )
        self.publish(
            "scan.started",
            f"scan {scan_id}: {len(uni.symbols)} symbols ({uni.source_label})"
            + (" on STALE data (closed-market override)" if stale else ""),
            scan_id=scan_id,
            total=len(uni.symbols),
            stale=stale,
            problems=uni.problems,
        )
        sent0 = self._messages_sent()
        arm = arm_for(F.et_date(now), cfg.selection)  # the A/B test's arm today, if any
        sel_cfg = with_arm(cfg.selection, arm)
        try:
            results = await self._run(scan_id, uni.symbols, uni.sectors, now, stale, repo, sel_cfg)
            account, _why = await self._snapshot()
            rank(results, sel_cfg)
            verdict = await self.advisor.assess(
                ai_candidates(results), await self._context(account)
            )
            apply_ai(results, verdict, sel_cfg)
            records = [rec for r in results for rec in records_for(r)]
            sent = self._messages_sent()
            messages = None if sent is None or sent0 is None else sent - sent0
            n_best = sum(1 for r in results if r.best is not None)
            summary = {
                "symbols": len(results),
                "candidates": n_best,
                "rejected": len(results) - n_best,
                "problems": uni.problems,
                "ai": verdict.reason,
                "regime": self._regime_now(),
                "ab_test": arm.as_dict() if arm is not None else None,
            }
            ids = await repo.finish(
                scan_id,
                status="finished",
                candidates=records,
                ai_status=verdict.status,
                ai_reason=verdict.reason,
                messages_sent=messages,
                summary=summary,
                now=self.engine.now(),
            )
        except Exception as exc:
            await repo.fail(scan_id, f"{type(exc).__name__}: {exc}", self.engine.now())
            self.publish("scan.finished", f"scan {scan_id} failed: {exc}", scan_id=scan_id)
            raise
        rows = await repo.candidates(scan_id)
        for row in rows:
            if row["status"] == "candidate":
                self.publish(
                    "scan.candidate",
                    f"{row['symbol']} {row['expiry']} {row['strike']}P score {row['score']:.1f}",
                    scan_id=scan_id,
                    candidate=_public_candidate(row),
                )
        self.publish(
            "scan.finished",
            f"scan {scan_id}: {n_best} candidates, {len(results) - n_best} symbols rejected; "
            f"{verdict.reason}",
            scan_id=scan_id,
            messages=messages,
            **summary,
        )
        data: dict[str, Any] = {
            "scan": await repo.get(scan_id),
            "candidates": [_public_candidate(r) for r in rows],
            "candidate_ids": ids,
        }
        if cmd.auto_select:
            sel = await self.auto_select(AutoSelect(scan_id=scan_id))
            data["auto_select"] = sel.model_dump(mode="json")
        return Result.success(**data)

    async def _run(
        self,
        scan_id: int,
        symbols: list[str],
        hints: dict[str, str],
        now: dt.datetime,
        stale: bool,
        repo: ScanRepo,
        sel_cfg: SelectionConfig,
    ) -> list[SymbolResult]:
        day = F.et_date(now)
        if self.cache.day != day:
            await self._restore_cache(day)
        pipe = SelectionPipeline(self.md, sel_cfg, cache=self.cache)

        async def progress(res: SymbolResult, done: int, total: int) -> None:
            await repo.progress(scan_id, done)
            self.publish(
                "scan.progress",
                f"{res.symbol}: {'candidate' if res.reason is None else res.reason.code}"
                f" ({done}/{total})",
                scan_id=scan_id,
                done=done,
                total=total,
                symbol=res.symbol,
                reason_code=None if res.reason is None else res.reason.code,
            )

        try:
            return await pipe.scan(
                symbols, now, allow_stale=stale, sector_hints=hints, on_symbol=progress
            )
        finally:
            await self._keep_cache()

    async def _restore_cache(self, day: dt.date) -> None:
        """Start the day with the cache an earlier engine kept for it (contract ids, option
        parameters, strike lists): a failure only costs the requests it would have saved."""
        try:
            rows = await DayCacheRepo(self.store).load(day.isoformat())
        except Exception:
            log.exception("reading the selection day cache failed; scanning without it")
            self.cache.roll(day)
            return
        used = self.cache.restore(day, rows)
        if used:
            log.info("selection day cache for %s: %d entries from the database", day, used)

    async def _keep_cache(self) -> None:
        """Write what this scan added to the day cache (never fails the scan)."""
        day = self.cache.day
        if day is None:
            return
        rows = self.cache.rows(only_new=True)
        if not rows:
            return
        try:
            await DayCacheRepo(self.store).save(day.isoformat(), rows)
        except Exception:
            log.exception("keeping the selection day cache failed")
            return
        self.cache.mark_kept(rows)

    async def _context(self, snap: AccountSnapshot | None) -> PortfolioContext:
        rows = await self._lineup().active(self.engine.account)
        sectors: dict[str, int] = {}
        for r in rows:
            sectors[r.get("sector") or "Unknown"] = sectors.get(r.get("sector") or "Unknown", 0) + 1
        if snap is None:
            return PortfolioContext(None, None, None, sectors)
        budget = snap.net_liquidation * Decimal(str(self.cfg.budget.margin_pct_of_nlv)) / 100
        return PortfolioContext(
            float(snap.net_liquidation), float(snap.full_maint_margin), float(budget), sectors
        )

    async def get_scan(self, cmd: GetScan) -> Result:
        repo = ScanRepo(self.store)
        scan = await repo.get(cmd.scan_id, None if cmd.scan_id else self.engine.account)
        if scan is None:
            return Result.fail("no scan found", code="no_scan")
        rows = await repo.candidates(int(scan["id"]))
        return Result.success(scan=scan, candidates=[_public_candidate(r) for r in rows])

    # -- lineup ------------------------------------------------------------------------------
    async def auto_select(self, cmd: AutoSelect) -> Result:
        repo = ScanRepo(self.store)
        scan = await repo.get(cmd.scan_id, None if cmd.scan_id else self.engine.account)
        if scan is None:
            return Result.fail("no scan to select from", code="no_scan")
        blocked = await self.regime_block()
        if blocked is not None:
            self.publish("notice", f"auto-select refused: {blocked.text}", code=blocked.code)
            return Result.refused(blocked.text, code=blocked.code)
        snap, why = await self._snapshot()
        if snap is None:
            assert why is not None
            return Result.refused(why.text, code=why.code)
        async with self._lineup_lock:
            rows = {int(r["id"]): r for r in await repo.candidates(int(scan["id"]), "candidate")}
            state, _entries = await self._budget_state(snap)
            sel = auto_select(
                [portfolio_candidate(r) for r in rows.values()],
                state,
                self.cfg.selection,
                self.cfg.budget,
            )
            new_rows = [
                self._lineup_row(rows[p.candidate.candidate_id], p.quantity, scan)
                for p in sel.picks
            ]
            ids = await self._lineup().add_many(new_rows)
        skipped = [
            {"symbol": c.symbol, "candidate_id": c.candidate_id, "code": r.code, "text": r.text}
            for c, r in sel.skipped
        ]
        self.publish(
            "lineup.changed",
            f"auto-select added {len(ids)} entries from scan {scan['id']}",
            added=ids,
            skipped=skipped,
            budget=state.summary(),
        )
        return Result.success(added=ids, skipped=skipped, budget=state.summary())

    def _lineup_row(self, cand: dict[str, Any], qty: int, scan: dict[str, Any]) -> dict[str, Any]:
        return {
            "account_id": self.engine.account,
            "scan_id": int(scan["id"]),
            "candidate_id": int(cand["id"]),
            "config_snapshot_id": scan.get("config_snapshot_id"),
            "symbol": cand["symbol"],
            "sector": cand.get("sector"),
            "con_id": cand.get("con_id"),
            "expiry": cand["expiry"],
            "strike": cand["strike"],
            "right": "P",
            "quantity": qty,
            "premium": cand.get("bid"),
            "margin_per_contract": cand.get("margin"),
            "underlying_price": cand.get("underlying_price"),
            "otm_pct": cand.get("otm_pct"),
            "stale": bool(cand.get("stale")) or bool(scan.get("stale")),
            "selection": {
                k: cand.get(k)
                for k in (
                    "score",
                    "score_safety",
                    "score_liquidity",
                    "score_ai",
                    "score_efficiency",
                    "ai_reason",
                    "delta",
                    "iv",
                    "dte",
                    "bid",
                    "ask",
                    "mid",
                    "open_interest",
                    "volume",
                    "return_on_margin",
                    "data_flags",
                )
            }
            | self._ab_of(scan),
        }

    @staticmethod
    def _ab_of(scan: dict[str, Any]) -> dict[str, Any]:
        """The A/B test arm the scan ranked with, for the entry's selection data."""
        ab = (scan.get("summary") or {}).get("ab_test")
        return {"ab_test": ab["test"], "ab_arm": ab["arm"]} if ab else {}

    async def stage(self, cmd: Stage) -> Result:
        repo = ScanRepo(self.store)
        cand = await repo.candidate(cmd.candidate_id)
        if cand is None:
            return Result.fail(f"no candidate {cmd.candidate_id}", code="no_candidate")
        if cand["status"] not in ("candidate", "finalist"):
            return Result.refused(
                f"{cand['symbol']} has no stageable strike: {cand.get('reason_text')}",
                code=str(cand.get("reason_code") or "not_stageable"),
            )
        scan = await repo.get(int(cand["scan_id"]))
        assert scan is not None
        blocked = await self.regime_block()
        if blocked is not None:
            return Result.refused(blocked.text, code=blocked.code)
        snap, why = await self._snapshot()
        if snap is None:
            assert why is not None
            return Result.refused(why.text, code=why.code)
        async with self._lineup_lock:
            state, _ = await self._budget_state(snap)
            pc = portfolio_candidate(cand)
            qty = cmd.quantity or suggested_quantity(
                pc, self.cfg.selection, max(state.headroom, Decimal(0)), 1
            )
            problem = check_stage(pc, qty, state, self.cfg.budget)
            if problem is not None:
                return Result.refused(problem.text, code=problem.code)
            lid = await self._lineup().add(self._lineup_row(cand, qty, scan))
        self.publish("lineup.changed", f"staged {cand['symbol']} x{qty}", added=[lid])
        return Result.success(lineup_id=lid, quantity=qty, budget=state.summary())

    async def unstage(self, cmd: Unstage) -> Result:
        changed = await self._lineup().set_status(cmd.lineup_ids, "removed")
        self.publish("lineup.changed", f"removed {len(changed)} entries", removed=changed)
        return Result.success(removed=changed)

    async def set_quantity(self, cmd: SetQuantity) -> Result:
        lrepo = self._lineup()
        row = await lrepo.get(cmd.lineup_id)
        if row is None or row["status"] not in L.ACTIVE:
            return Result.fail(f"no active lineup entry {cmd.lineup_id}", code="no_entry")
        if cmd.quantity > self.cfg.selection.max_contracts_per_symbol:
            return Result.refused(
                f"{cmd.quantity} contracts > max_contracts_per_symbol "
                f"{self.cfg.selection.max_contracts_per_symbol}",
                code="quantity_above_max",
            )
        snap, why = await self._snapshot()
        if snap is None:
            assert why is not None
            return Result.refused(why.text, code=why.code)
        async with self._lineup_lock:
            state, _ = await self._budget_state(snap, exclude=cmd.lineup_id)
            need = Decimal(str(row.get("margin_per_contract") or "0")) * cmd.quantity
            if state.projected + need > state.ceiling:
                return Result.refused(
                    f"{row['symbol']} x{cmd.quantity} needs {need}; projected "
                    f"{state.projected + need} > budget {state.ceiling}",
                    code="over_budget",
                )
            await lrepo.set_quantity(cmd.lineup_id, cmd.quantity)
        self.publish(
            "lineup.changed", f"{row['symbol']} quantity {cmd.quantity}", changed=[cmd.lineup_id]
        )
        return Result.success(lineup_id=cmd.lineup_id, quantity=cmd.quantity)

    async def approve(self, cmd: Approve) -> Result:
        lrepo = self._lineup()
        rows = await lrepo.active(self.engine.account)
        wanted = set(cmd.lineup_ids) if cmd.lineup_ids is not None else None
        targets = [
            r for r in rows if r["status"] == "staged" and (wanted is None or r["id"] in wanted)
        ]
        live = self._account_is_live()
        refused = []
        ok_ids = []
        for r in targets:
            problem = L.may_send(L.LineupEntry.from_row(r), live)
            if problem is not None:
                refused.append({"id": r["id"], "code": problem.code, "text": problem.text})
            else:
                ok_ids.append(int(r["id"]))
        approved = await lrepo.set_status(ok_ids, "approved", only_from=("staged",))
        self.publish("lineup.changed", f"approved {len(approved)} entries", approved=approved)
        if refused and not approved:
            return Result.refused(refused[0]["text"], code=refused[0]["code"])
        return Result.success(approved=approved, refused=refused)

    async def clear(self, cmd: ClearLineup) -> Result:
        removed = await self._lineup().clear(self.engine.account)
        self.publish("lineup.changed", f"lineup cleared ({len(removed)} entries)", removed=removed)
        return Result.success(removed=removed)

    async def get_lineup(self, cmd: GetLineup) -> Result:
        repo = self._lineup()
        rows = await repo.active(self.engine.account)
        since = self.engine.now() - dt.timedelta(hours=DONE_WINDOW_H)
        done = await repo.done_since(self.engine.account, since)
        snap, why = await self._snapshot()
        budget: dict[str, Any]
        if snap is None:
            assert why is not None
            budget = {"available": False, "reason_code": why.code, "reason": why.text}
        else:
            state, _ = await self._budget_state(snap)
            budget = {"available": True, **state.summary()}
        return Result.success(entries=rows, budget=budget, done=done)


def install(engine: Any, advisor: Advisor | None = None) -> SelectionService:
    """Register the selection handlers on `engine.registry`; returns the service."""
    svc = SelectionService(engine, advisor)
    r = engine.registry
    r.register(Scan, svc.scan)
    r.register(AutoSelect, svc.auto_select)
    r.register(GetScan, svc.get_scan)
    r.register(Stage, svc.stage)
    r.register(Unstage, svc.unstage)
    r.register(SetQuantity, svc.set_quantity)
    r.register(Approve, svc.approve)
    r.register(ClearLineup, svc.clear)
    r.register(GetLineup, svc.get_lineup)
    engine.selection = svc
    return svc
