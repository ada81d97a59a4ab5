"""Request-minimal scan orchestration over any `engine.domain.MarketData`.

Per symbol: qualify -> underlying quote -> option parameters -> the probe (the listed put
nearest the money at min OTM %, found across expiries in one request and snapshotted first
when the broker offers both) -> the preferred expiry's listed put strikes, only when the probe
can pass -> pre-filter by OTM % and Black-Scholes delta estimated from the probe's IV ->
streamed quotes/greeks for the few strikes left -> filters -> what-if margin for the
finalists. The next expiry in the DTE window is tried only when nothing in the first one
passes. Contract ids, option parameters and an expiry's strikes are cached per exchange day
(`DayCache`), so a rescan asks IBKR only for quotes, greeks and margin. Symbols run
concurrently under a semaphore; the broker's pacer enforces the message and
market-data-line budget.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from config.models import SelectionConfig
from engine.domain import (
    MarginImpact,
    MarketData,
    OptionChainInfo,
    OptionRef,
    Quote,
    Reason,
    Underlying,
)
from engine.market.blackscholes import bs_greeks, implied_vol
from engine.selection import filters as F
from engine.selection.ai import AICandidate, AIVerdict
from engine.selection.day_cache import DayCache
from engine.selection.scoring import (
    Components,
    composite,
    efficiency_raw,
    liquidity_score,
    normalise,
    safety_score,
)

#: IV used for the delta estimate when neither the underlying nor its ATM put gives one.
DEFAULT_IV_GUESS = 0.5
RISK_FREE_RATE = 0.04
#: A later expiry's probe is streamed at once (not snapshotted first) when its |delta|,
#: estimated at the shorter expiry's probe IV (which runs high), is at least this many times
#: delta_min. A cost choice only: either way the probe is judged on its own quote.
STREAM_PROBE_FACTOR = 2.0


@dataclass
class StrikeEval:
    """One quoted strike that passed every filter (a finalist once margin is known)."""

    option: OptionRef
    quote: Quote
    otm_pct: float
    dte: int
    components: Components
    pre_score: float
    margin: Decimal | None = None
    impact: MarginImpact | None = None
    efficiency: float = 0.0
    score: float = 0.0

    @property
    def premium(self) -> Decimal:
        return Decimal(str(self.quote.bid or 0)).quantize(Decimal("0.01"))

    @property
    def return_on_margin(self) -> float:
        if not self.margin or self.margin <= 0:
            return 0.0
        return float(self.premium * self.option.multiplier / self.margin)


@dataclass(frozen=True)
class Rejection:
    """A strike that did not make it, and why."""

    expiry: str
    strike: float
    con_id: int
    reason: Reason

    def as_dict(self) -> dict[str, object]:
        return {
            "expiry": self.expiry,
            "strike": self.strike,
            "con_id": self.con_id,
            "code": self.reason.code,
            "text": self.reason.text,
        }


@dataclass
class SymbolResult:
    """Everything the scan learnt about one symbol."""

    symbol: str
    sector: str = "Unknown"
    underlying: Underlying | None = None
    underlying_price: float | None = None
    expiry: str | None = None
    reason: Reason | None = None
    finalists: list[StrikeEval] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    data_flags: list[str] = field(default_factory=list)
    stale: bool = False
    best: StrikeEval | None = None
    ai_reason: str | None = None


ProgressFn = Callable[[SymbolResult, int, int], Awaitable[None] | None]


def underlying_price(q: Quote) -> float | None:
    """Last trade if positive, else mid, else the quote's underlying price."""
    for v in (q.last, q.mid, q.underlying_price):
        if v is not None and v > 0:
            return float(v)
    return None


def pick_chain(symbol: str, chains: Sequence[OptionChainInfo]) -> OptionChainInfo | None:
    """The trading class named like the symbol, else the one listing the most expiries."""
    if not chains:
        return None
    for c in chains:
        if c.trading_class == symbol:
            return c
    return max(chains, key=lambda c: len(c.expirations))


def pre_components(opt: OptionRef, q: Quote, und: float, cfg: SelectionConfig) -> Components:
    assert q.delta is not None and q.iv is not None
    sp = F.spread_pct(q) or 0.0
    return Components(
        safety=safety_score(abs(q.delta), F.otm_pct(und, opt.strike), q.iv, cfg),
        liquidity=liquidity_score(sp, q.volume, q.open_interest, cfg),
    )


class SelectionPipeline:
    """Scan symbols against `md`; `max_quotes` strikes quoted per expiry tried."""

    def __init__(
        self,
        md: MarketData,
        cfg: SelectionConfig,
        *,
        cache: DayCache | None = None,
        concurrency: int = 8,
        max_expiries: int = 2,
        max_quotes: int | None = None,
    ) -> None:
        self.md = md
        self.cfg = cfg
        self.cache = cache or DayCache()
        self.concurrency = concurrency
        self.max_expiries = max_expiries
        self.max_quotes = max_quotes or cfg.finalists_per_symbol

    async def scan(
        self,
        symbols: Sequence[str],
        now: dt.datetime,
        *,
        allow_stale: bool = False,
        sector_hints: dict[str, str] | None = None,
        on_symbol: ProgressFn | None = None,
    ) -> list[SymbolResult]:
        """Evaluate every symbol (order kept); `on_symbol(result, done, total)` after each."""
        self.cache.roll(F.et_date(now))
        sem = asyncio.Semaphore(self.concurrency)
        total = len(symbols)
        done = 0
        hints = sector_hints or {}

        async def one(sym: str) -> SymbolResult:
            nonlocal done
            async with sem:
                res = await self._symbol(sym, now, allow_stale, hints.get(sym))
            done += 1
            if on_symbol is not None:
                maybe = on_symbol(res, done, total)
                if inspect.isawaitable(maybe):
                    await maybe
            return res

        return list(await asyncio.gather(*(one(s) for s in symbols)))

    async def _symbol(
        self, symbol: str, now: dt.datetime, allow_stale: bool, hint: str | None
    ) -> SymbolResult:
        res = SymbolResult(symbol=symbol, stale=allow_stale)
        if allow_stale:
            res.data_flags.append("stale")
        try:
            await self._evaluate(res, now, allow_stale, hint)
        except Exception as exc:  # one symbol's failure never stops the scan
            reason = getattr(exc, "reason", None)
            res.reason = (
                reason
                if isinstance(reason, Reason)
                else Reason("broker_error", f"{type(exc).__name__}: {exc}")
            )
            res.finalists = []
        return res

    async def _evaluate(
        self, res: SymbolResult, now: dt.datetime, allow_stale: bool, hint: str | None
    ) -> None:
        cfg, sym = self.cfg, res.symbol
        und = self.cache.underlyings.get(sym)
        if und is None:
            try:
                und = await self.md.qualify_underlying(sym)
            except Exception as exc:
                reason = getattr(exc, "reason", None)
                text = reason.text if isinstance(reason, Reason) else str(exc)
                res.reason = Reason(F.R_QUALIFY_FAILED, f"{sym}: {text}")
                return
            self.cache.underlyings[sym] = und
        res.underlying = und
        res.sector = cfg.sector_overrides.get(sym) or (
            und.sector if und.sector and und.sector != "Unknown" else (hint or "Unknown")
        )
        uq = await self.md.underlying_quote(und)
        if not uq.is_live:
            if not allow_stale:
                res.reason = Reason(
                    F.R_NOT_LIVE, f"underlying data is {uq.market_data_type.label}, not live"
                )
                return
            res.data_flags.append(uq.market_data_type.label)
        price = underlying_price(uq)
        if price is None:
            res.reason = Reason(F.R_NO_UNDERLYING_PRICE, f"no price for {sym}")
            return
        res.underlying_price = price
        chains = self.cache.chains.get(sym)
        if chains is None:
            chains = await self.md.option_chain(und)
            self.cache.chains[sym] = chains
        chain = pick_chain(sym, chains)
        if chain is None or not chain.expirations:
            res.reason = Reason(F.R_NO_CHAIN, f"IBKR lists no option chain for {sym}")
            return
        expiries, why = F.expiries_in_order(chain.expirations, F.et_date(now), cfg)
        if why is not None:
            res.reason = why
            return
        und_iv: float | None = uq.iv if uq.iv and uq.iv > 0 else None
        passed: list[StrikeEval] = []
        today = F.et_date(now)
        hopeless_iv: float | None = None  # set when an earlier expiry's probe failed delta_min
        hopeless: tuple[float, float] | None = None  # (that probe's strike, its IV)
        for expiry in expiries[: self.max_expiries]:
            if hopeless_iv is not None:
                skip = self._hopeless(expiry, price, now, hopeless_iv)
                if skip is not None:
                    res.rejected.append(Rejection(expiry, 0.0, 0, skip))
                    continue
            res.expiry = expiry
            years = F.years_to_expiry(expiry, now)
            days = F.dte(expiry, today)
            key = (sym, expiry, chain.trading_class)
            refs = self.cache.strikes.get(key)
            early: tuple[OptionRef, Quote | None, bool] | None = None
            if refs is None:
                # Before asking for the expiry's strike list: probe the listed strike nearest
                # the money at min OTM %; when it is below delta_min, so is every strike the
                # list could hold, and the list is never requested.
                top = await self._top_listed(und, chain, expiry, price)
                if top is not None:
                    tq, requote = await self._probe_quote(top, price, years, hopeless, allow_stale)
                    if tq is not None and tq.delta is not None and abs(tq.delta) < cfg.delta_min:
                        self._judge(res, top, tq, price, days, allow_stale, passed)
                        res.rejected.append(
                            Rejection(
                                expiry,
                                0.0,
                                0,
                                Reason(
                                    F.R_DELTA,
                                    f"every strike below {top.strike:g}: |delta| below "
                                    f"{abs(tq.delta):.4f} (that of {top.strike:g}, nearer the "
                                    f"money) < delta_min {cfg.delta_min:g}; strike list not "
                                    "requested",
                                ),
                            )
                        )
                        if tq.iv and tq.iv > 0:
                            hopeless_iv = float(tq.iv)
                            hopeless = (top.strike, hopeless_iv)
                        continue
                    early = (top, tq, requote)
                refs = await self.md.expiry_strikes(und, expiry, chain.trading_class, "P")
                self.cache.strikes[key] = refs
            refs = [r for r in refs if r.right == "P" and r.con_id > 0]
            eligible = [r for r in refs if F.otm_pct(price, r.strike) >= cfg.min_otm_pct]
            for r in refs:
                if F.otm_pct(price, r.strike) < cfg.min_otm_pct:
                    otm = F.otm_pct(price, r.strike)
                    res.rejected.append(
                        Rejection(
                            expiry,
                            r.strike,
                            r.con_id,
                            Reason(
                                F.R_OTM,
                                f"strike {r.strike:g} is {otm:.2f}% OTM < {cfg.min_otm_pct:g}% "
                                f"(underlying {price:g})",
                            ),
                        )
                    )
            if not eligible:
                if not refs:
                    res.rejected.append(
                        Rejection(
                            expiry, 0.0, 0, Reason(F.R_NO_STRIKES, f"no puts listed {expiry}")
                        )
                    )
                continue
            # Probe the eligible strike nearest the money: it has the largest |delta| any
            # eligible strike can have, and its IV anchors the estimate for the rest.
            probe = max(eligible, key=lambda r: r.strike)
            if early is not None and early[0].con_id == probe.con_id:
                pq, requote = early[1], early[2]
            else:
                pq, requote = await self._probe_quote(probe, price, years, hopeless, allow_stale)
            if not requote:
                self._judge(res, probe, pq, price, days, allow_stale, passed)
            rest = [r for r in eligible if r is not probe]
            if pq is not None and pq.delta is not None and abs(pq.delta) < cfg.delta_min:
                for r in rest:
                    res.rejected.append(
                        Rejection(
                            expiry,
                            r.strike,
                            r.con_id,
                            Reason(
                                F.R_DELTA,
                                f"|delta| below {abs(pq.delta):.4f} (that of {probe.strike:g}, "
                                f"nearer the money) < delta_min {cfg.delta_min:g}",
                            ),
                        )
                    )
                if pq.iv and pq.iv > 0:
                    hopeless_iv = float(pq.iv)
                    hopeless = (probe.strike, hopeless_iv)
                continue
            iv_guess = self._iv_guess(pq, probe, price, years, und_iv, res)
            pre = F.prefilter(
                rest, price, years, iv_guess, cfg, self.max_quotes, RISK_FREE_RATE, probe.strike
            )
            res.rejected.extend(Rejection(expiry, o.strike, o.con_id, r) for o, r in pre.rejected)
            batch = [*pre.kept, probe] if requote else pre.kept
            if batch:
                quotes = await self.md.option_quotes(batch)
                for opt in batch:
                    self._judge(res, opt, quotes.get(opt.con_id), price, days, allow_stale, passed)
            if passed:
                break
        if not passed:
            res.reason = F.summarise_rejections(r.reason for r in res.rejected)
            return
        passed.sort(key=lambda s: (-s.pre_score, -s.otm_pct))
        finalists = passed[: cfg.finalists_per_symbol]
        for s in passed[cfg.finalists_per_symbol :]:
            res.rejected.append(
                Rejection(
                    s.option.expiry,
                    s.option.strike,
                    s.option.con_id,
                    Reason(
                        F.R_NOT_FINALIST,
                        f"pre-score {s.pre_score:.1f} below the top {cfg.finalists_per_symbol}",
                    ),
                )
            )
        impacts = await asyncio.gather(
            *(self.md.what_if(s.option, 1, s.premium) for s in finalists),
            return_exceptions=True,
        )
        for s, imp in zip(finalists, impacts, strict=True):
            margin = _margin_of(imp)
            if margin is None:
                why_text = (
                    str(getattr(imp, "reason", None) or imp)
                    if isinstance(imp, BaseException)
                    else "what-if returned no margin change"
                )
                res.rejected.append(
                    Rejection(
                        s.option.expiry,
                        s.option.strike,
                        s.option.con_id,
                        Reason(F.R_MARGIN, f"strike {s.option.strike:g}: {why_text}"),
                    )
                )
                continue
            assert isinstance(imp, MarginImpact)
            s.margin, s.impact = margin, imp
            res.finalists.append(s)
        if not res.finalists:
            res.reason = Reason(F.R_MARGIN, "no what-if margin for any finalist")

    async def _top_listed(
        self, und: Underlying, chain: OptionChainInfo, expiry: str, price: float
    ) -> OptionRef | None:
        """The put at the highest strike at least min OTM % below `price` among all expiries'
        strikes, when `expiry` lists it (it is then that expiry's eligible strike nearest the
        money). Asked once per strike across expiries, and only of a broker that offers
        `strike_contracts`; None otherwise, or when that expiry does not list it."""
        fetch = getattr(self.md, "strike_contracts", None)
        eligible = [k for k in chain.strikes if F.otm_pct(price, k) >= self.cfg.min_otm_pct]
        if fetch is None or not eligible:
            return None
        k = max(eligible)
        ck = (und.symbol, chain.trading_class, k)
        rows = self.cache.strike_rows.get(ck)
        if rows is None:
            try:
                rows = list(await fetch(und, k, chain.trading_class, "P"))
            except Exception:  # the expiry's strike list is asked for instead
                return None
            self.cache.strike_rows[ck] = rows
        for r in rows:
            if r.expiry == expiry and r.right == "P" and r.con_id > 0 and r.strike == k:
                return r
        return None

    async def _probe_quote(
        self,
        probe: OptionRef,
        price: float,
        years: float,
        prior: tuple[float, float] | None,
        allow_stale: bool,
    ) -> tuple[Quote | None, bool]:
        """The probe's quote, and whether it must still be streamed (with the batch).

        A snapshot (one message, no open interest) when the broker offers one and nothing
        says the probe reaches `delta_min`: it settles a probe that fails a filter other than
        volume / open interest. A probe that may pass goes into the streamed batch (the
        snapshot's IV anchors the pre-filter meanwhile); a snapshot without delta or IV is
        followed by a streamed quote. With an earlier expiry's probe IV (`prior`: strike, IV)
        estimating this probe at or above `delta_min`, it is streamed at once."""
        cfg = self.cfg
        snap = getattr(self.md, "option_snapshots", None)
        likely_in_band = False
        if prior is not None:
            sigma = F.skewed_vol(prior[1], prior[0], probe.strike)
            est = bs_greeks(price, probe.strike, years, RISK_FREE_RATE, 0.0, sigma, "P").delta
            likely_in_band = abs(est) >= cfg.delta_min * STREAM_PROBE_FACTOR
        if snap is not None and not likely_in_band:
            sq = (await snap([probe])).get(probe.con_id)
            if sq is not None and sq.delta is not None and sq.iv is not None and sq.iv > 0:
                problem = F.check_strike(
                    probe, sq, price, cfg, allow_stale=allow_stale, liquidity=False
                )
                return sq, problem is None
        return (await self.md.option_quotes([probe])).get(probe.con_id), False

    def _hopeless(self, expiry: str, price: float, now: dt.datetime, iv: float) -> Reason | None:
        """Skip a later expiry without asking IBKR when even the highest strike it could list
        at min OTM % (K = U x (1 - min_otm)), at the IV measured nearer the money on a shorter
        expiry (short-dated skew makes that IV high, so the estimate is generous), has an
        estimated |delta| under half of delta_min."""
        cfg = self.cfg
        k = price * (1.0 - cfg.min_otm_pct / 100.0)
        if k <= 0:
            return None
        years = F.years_to_expiry(expiry, now)
        est = abs(bs_greeks(price, k, years, RISK_FREE_RATE, 0.0, iv, "P").delta)
        limit = cfg.delta_min * F.EST_LOW_FACTOR
        if est >= limit:
            return None
        return Reason(
            F.R_DELTA_EST,
            f"{expiry} not requested: a {cfg.min_otm_pct:g}% OTM strike ({k:.2f}) has an "
            f"estimated |delta| {est:.4f} < {limit:.4f} at IV {iv:.3f}",
        )

    def _judge(
        self,
        res: SymbolResult,
        opt: OptionRef,
        q: Quote | None,
        price: float,
        days: int,
        allow_stale: bool,
        passed: list[StrikeEval],
    ) -> None:
        """Run the filters on one quoted strike: a pass joins `passed`, a fail `res.rejected`."""
        problem = F.check_strike(opt, q, price, self.cfg, allow_stale=allow_stale)
        if problem is not None:
            res.rejected.append(Rejection(opt.expiry, opt.strike, opt.con_id, problem))
            return
        assert q is not None
        comp = pre_components(opt, q, price, self.cfg)
        passed.append(
            StrikeEval(
                option=opt,
                quote=q,
                otm_pct=F.otm_pct(price, opt.strike),
                dte=days,
                components=comp,
                pre_score=composite(comp, self.cfg.weights, use_efficiency=False),
            )
        )
        if not q.is_live and q.market_data_type.label not in res.data_flags:
            res.data_flags.append(q.market_data_type.label)

    @staticmethod
    def _iv_guess(
        q: Quote | None,
        probe: OptionRef,
        price: float,
        years: float,
        und_iv: float | None,
        res: SymbolResult,
    ) -> float:
        """IV for the delta estimate: the probe's model IV, else implied from its mid, else the
        underlying's option IV tick, else DEFAULT_IV_GUESS (flagged)."""
        if q is not None and q.iv and q.iv > 0:
            flag, iv = "iv_guess:probe", float(q.iv)
        elif (
            q is not None
            and q.mid
            and (v := implied_vol(q.mid, price, probe.strike, years, RISK_FREE_RATE, 0.0, "P"))
        ):
            flag, iv = "iv_guess:probe_mid", v
        elif und_iv:
            flag, iv = "iv_guess:underlying", und_iv
        else:
            flag, iv = "iv_guess:default", DEFAULT_IV_GUESS
        if flag not in res.data_flags:
            res.data_flags.append(flag)
        return iv


def _margin_of(imp: object) -> Decimal | None:
    """Margin per contract from a what-if: the larger of the initial and maintenance change."""
    if not isinstance(imp, MarginImpact):
        return None
    m = max(imp.init_margin_change, imp.maint_margin_change)
    return m if m > 0 else None


def rank(results: Sequence[SymbolResult], cfg: SelectionConfig) -> None:
    """Efficiency normalised over every finalist of the scan, composite without AI, and the
    best strike per symbol (the others stay finalists, ranked below it)."""
    finals = [s for r in results for s in r.finalists]
    raws = [
        efficiency_raw(s.premium, s.option.multiplier, s.margin or Decimal(0), s.dte)
        for s in finals
    ]
    for s, eff in zip(finals, normalise(raws), strict=True):
        s.efficiency = eff
        s.components = Components(s.components.safety, s.components.liquidity, eff, None)
        s.score = composite(s.components, cfg.weights)
    for r in results:
        r.finalists.sort(key=lambda s: (-s.score, -s.otm_pct))
        r.best = r.finalists[0] if r.finalists else None


def ai_candidates(results: Sequence[SymbolResult]) -> list[AICandidate]:
    out = []
    for r in results:
        b = r.best
        if b is None or r.underlying_price is None:
            continue
        q = b.quote
        out.append(
            AICandidate(
                symbol=r.symbol,
                sector=r.sector,
                underlying_price=r.underlying_price,
                strike=b.option.strike,
                expiry=b.option.expiry,
                dte=b.dte,
                bid=q.bid or 0.0,
                ask=q.ask or 0.0,
                mid=q.mid or 0.0,
                iv=q.iv,
                delta=q.delta,
                gamma=q.gamma,
                theta=q.theta,
                vega=q.vega,
                otm_pct=b.otm_pct,
                open_interest=q.open_interest,
                volume=q.volume,
                margin=float(b.margin or 0),
                return_on_margin=b.return_on_margin,
            )
        )
    return out


def apply_ai(results: Sequence[SymbolResult], verdict: AIVerdict, cfg: SelectionConfig) -> None:
    """Put the AI score into each symbol's best strike and recompute its composite; with the
    AI off the weight stays set aside (scores already renormalised by `rank`)."""
    for r in results:
        if r.best is None:
            continue
        if verdict.on and r.symbol in verdict.scores:
            score, why = verdict.scores[r.symbol]
            r.best.components = r.best.components.with_ai(score)
            r.best.score = composite(r.best.components, cfg.weights)
            r.ai_reason = why
        else:
            r.ai_reason = verdict.reason
