"""Two-tier execution at the open, restartable at any point.

Per approved lineup entry the phase lives in `lineup.status`:
approved -> (Stage 2) stage2_ok | cancelled -> (tier 1) submitted -> (tier 2) repricing ->
repriced -> filled | partial | unfilled | cancelled | rejected.
`run()` first reconciles with IBKR (recovery), then carries every entry forward from the
phase it is in, so a restart after a crash resumes without sending anything twice: before any
send it checks (on a fresh broker snapshot) that no entry order of that lineup entry is working
and sends at most the quantity not yet sold. A cancel is confirmed before a replacement.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from config.models import PutdeskConfig
from engine.domain import MarketData, OptionRef, Quote, Reason, Underlying
from engine.execution import pricing
from engine.execution.brackets import OrderLeg, exit_pair, plan_bracket
from engine.execution.crash import crash_point
from engine.execution.intents import IntentRepo
from engine.execution.killswitch import halt_reason
from engine.execution.ports import BrokerOrder, OrderPort
from engine.execution.records import Recorder, set_lineup
from engine.execution.recovery import Recovery, RecoveryReport
from engine.execution.stage2 import Stage2Guards, StagedTrade, validate
from engine.execution.watcher import STRATEGY as PUTDESK_STRATEGY
from engine.execution.watcher import SyncReport, Watcher, leg_of
from engine.market.clock import Clock, sleep_until
from engine.store.db import Store, dec, dec_or_none
from engine.store.lineup import sold_contracts

ACTIVE = ("approved", "stage2_ok", "submitted", "repricing", "repriced")
Sleep = Callable[[float], Awaitable[None]]
TradingAllowed = Callable[[], tuple[bool, Reason]]


#: How a run's outcome names each final status of the entries it took up, in this order.
OUTCOME_WORDS = {
    "filled": "filled",
    "partial": "partly filled",
    "submitted": "working",
    "repricing": "working",
    "repriced": "working",
    "stage2_ok": "not sent",
    "approved": "not sent",
    "unfilled": "unfilled",
    "cancelled": "cancelled",
    "rejected": "rejected",
}


def run_outcome(final: list[str], staged: int) -> Reason:
    """One line on what a run did: the final statuses of the entries that were approved
    when it began, or that there was nothing approved (and how many staged entries wait)."""
    if not final:
        waiting = ""
        if staged:
            waiting = (
                f" ({staged} staged entr{'y waits' if staged == 1 else 'ies wait'} for approval)"
            )
        return Reason("execution.nothing_approved", f"nothing approved to send{waiting}")
    words = [OUTCOME_WORDS.get(s, s) for s in final]
    order = list(dict.fromkeys([*OUTCOME_WORDS.values(), *words]))
    counts = ", ".join(f"{words.count(w)} {w}" for w in order if w in words)
    return Reason("execution.done", f"{len(final)} approved: {counts}")


def entry_label(row: dict[str, Any]) -> str:
    """A lineup row as "NVDA 125P Dec04" for messages."""
    try:
        strike = f"{Decimal(str(row['strike'])).normalize():f}"
    except (InvalidOperation, KeyError):
        strike = str(row.get("strike"))
    try:
        expiry = dt.datetime.strptime(str(row.get("expiry"))[:8], "%Y%m%d").strftime("%b%d")
    except ValueError:
        expiry = str(row.get("expiry") or "")
    return f"{row.get('symbol')} {strike}{row.get('right') or 'P'} {expiry}".strip()


@dataclass
class ExecutionSummary:
    ok: bool
    reason: Reason
    decisions: list[dict[str, Any]] = field(default_factory=list)
    recovery: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reason_code": self.reason.code,
            "reason": self.reason.text,
            "decisions": self.decisions,
            "recovery": self.recovery,
        }


CENT = Decimal("0.01")
#: Quote fields of the selection data that describe the strike itself (replaced on adapt).
STRIKE_FIELDS = ("delta", "iv", "bid", "ask", "mid", "open_interest", "volume")


def adapted_selection(selection_json: str | None, staged_strike: Any, decision: Any) -> str:
    """The lineup entry's selection data after Stage 2 moved it to another strike: the new
    strike's quote in place of the staged one's, which is kept under `stage2.staged` with the
    scores that selected the entry (they stay: they are what chose it)."""
    try:
        sel = json.loads(selection_json) if selection_json else {}
    except ValueError:
        sel = {}
    if not isinstance(sel, dict):
        sel = {}
    staged = {k: sel.get(k) for k in STRIKE_FIELDS}
    q = decision.quote
    if q is not None:
        sel.update(
            delta=q.delta,
            iv=q.iv,
            bid=q.bid,
            ask=q.ask,
            mid=q.mid,
            open_interest=q.open_interest,
            volume=q.volume,
        )
    sel["stage2"] = {
        "action": decision.action,
        "strikes_moved": decision.strikes_moved,
        "otm_pct": decision.otm_pct,
        "staged": {"strike": str(staged_strike), **staged},
    }
    return json.dumps(sel, sort_keys=True, default=str)


def is_paper_account(account: str) -> bool:
    return account.startswith(("DU", "DF", "SIM"))


class TwoTierWorkflow:
    """Stage 2 + tier 1 + tier 2 + after-tier-2 for the approved lineup of one account."""

    def __init__(
        self,
        *,
        store: Store,
        account_id: str,
        port: OrderPort,
        market: MarketData,
        clock: Clock,
        config: PutdeskConfig,
        publish: Callable[..., Any] | None = None,
        trading_allowed: TradingAllowed | None = None,
        live_confirmed: bool = False,
        sleep: Sleep | None = None,
        poll_s: float = 1.0,
        cancel_timeout_s: float = 30.0,
        store_events: bool = True,
        halt_key: str | None = None,
        regime_check: Callable[[], Awaitable[Reason | None]] | None = None,
        regime_label: Callable[[], str | None] | None = None,
    ):
        self.store = store
        self.account_id = account_id
        self.port = port
        self.market = market
        self.clock = clock
        self.cfg = config
        self.ex = config.execution
        self.rec = Recorder(store, account_id, publish, store_events=store_events)
        self.halt_key = halt_key or account_id
        self.intents = IntentRepo(store, account_id)
        self.watcher = Watcher(port, self.intents, self.rec, regime_label=regime_label)
        #: the market-regime guard (None: no guard); asked once at Stage 2
        self.regime_check = regime_check
        self.recovery = Recovery(port, self.intents, self.watcher, self.rec)
        self.trading_allowed = trading_allowed
        self.live_confirmed = live_confirmed
        self._sleep = sleep
        self.poll_s = poll_s
        self.cancel_timeout_s = cancel_timeout_s
        self.summary = ExecutionSummary(True, Reason("execution.done", ""))
        self._last: SyncReport | None = None
        #: lineup id -> "NVDA 125P Dec04", so each decision's message names its entry
        self._labels: dict[int, str] = {}

    # ----------------------------------------------------------------- plumbing
    def now(self) -> dt.datetime:
        return self.clock.now()

    async def sleep(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
        else:
            await sleep_until(self.clock, self.now() + dt.timedelta(seconds=seconds))

    async def sync(self) -> SyncReport:
        self._last = await self.watcher.sync(self.now())
        return self._last

    def decide(
        self, lineup_id: int | None, reason: Reason, severity: str = "info", **data: Any
    ) -> None:
        label = self._labels.get(lineup_id) if lineup_id is not None else None
        self.rec.event(
            "execution.decision",
            f"{label}: {reason.text}" if label else reason.text,
            self.now(),
            reason=reason,
            severity=severity,
            data={"lineup_id": lineup_id, **({"entry": label} if label else {}), **data},
        )
        self.summary.decisions.append(
            {"lineup_id": lineup_id, "code": reason.code, "text": reason.text, **data}
        )

    async def record(
        self,
        lineup_id: int,
        reason: Reason,
        *,
        status: str | None = None,
        severity: str = "info",
        **cols: Any,
    ) -> None:
        """A decision and the lineup row change commit together."""
        if lineup_id not in self._labels:
            row = await self.store.fetchone("SELECT * FROM lineup WHERE id=?", (lineup_id,))
            if row is not None:
                self._label(row)
        self.decide(lineup_id, reason, severity)
        async with self.store.transaction() as conn:
            await set_lineup(conn, lineup_id, self.now(), status=status, reason=reason, **cols)
            events = await self.rec.write(conn)
        await self.rec.announce(events)

    async def guard(self) -> Reason | None:
        """No IBKR = no trade; halted = no trade; live needs the typed confirmation."""
        halted = await halt_reason(self.store, self.halt_key)
        if halted is not None:
            return halted
        if not self.port.connected():
            return Reason("ibkr.disconnected", "not connected to IBKR: nothing is sent")
        if self.trading_allowed is not None:
            ok, why = self.trading_allowed()
            if not ok:
                return why
        if not is_paper_account(self.port.account) and not self.live_confirmed:
            return Reason(
                "live.unconfirmed", "live account: --live and a typed confirmation are required"
            )
        return None

    async def lineup(self, statuses: tuple[str, ...] = ACTIVE) -> list[dict[str, Any]]:
        marks = ",".join("?" for _ in statuses)
        rows = await self.store.fetchall(
            f"SELECT * FROM lineup WHERE account_id IS ? AND status IN ({marks}) ORDER BY id",
            (self.account_id, *statuses),
        )
        for row in rows:
            self._label(row)
        return rows

    def _label(self, row: dict[str, Any]) -> None:
        self._labels[int(row["id"])] = entry_label(row)

    # ----------------------------------------------------------------- entry point
    async def run(self, *, open_at: dt.datetime | None = None) -> ExecutionSummary:
        """Recover, Stage 2, wait for the open, tier 1, tier 2, then leave or cancel."""
        why = await self.guard()
        if why is not None:
            self.decide(None, why, "warning")
            await self.rec.flush()
            return ExecutionSummary(False, why, self.summary.decisions)
        rep: RecoveryReport = await self.recovery.run(self.now())
        self.summary.recovery = rep.summary
        taken = [int(r["id"]) for r in await self.lineup(("approved",))]
        await self.stage2()
        if open_at is not None and self.now() < open_at:
            await self.sleep((open_at - self.now()).total_seconds())
        await self.tier1()
        await self.tier2_when_due()
        await self.wait_tier(phase=("repriced", "submitted"))
        await self.finish()
        await self.rec.flush()
        self.summary.reason = run_outcome(
            await self._statuses(taken), len(await self.lineup(("staged",)))
        )
        return self.summary

    async def _statuses(self, ids: list[int]) -> list[str]:
        if not ids:
            return []
        marks = ",".join("?" for _ in ids)
        rows = await self.store.fetchall(
            f"SELECT status FROM lineup WHERE id IN ({marks}) ORDER BY id", tuple(ids)
        )
        return [str(r["status"]) for r in rows]

    # ----------------------------------------------------------------- Stage 2
    async def stage2(self) -> None:
        sel = self.cfg.selection
        guards = Stage2Guards(
            min_otm_pct=sel.min_otm_pct,
            min_premium=sel.min_premium,
            max_strikes_moved=self.ex.max_strikes_moved,
            min_open_interest=self.ex.min_liquidity_oi,
            max_spread_pct=sel.max_spread_pct,
        )
        live = not is_paper_account(self.port.account)
        approved = await self.lineup(("approved",))
        if approved and self.regime_check is not None:
            blocked = await self.regime_check()
            if blocked is not None:  # the regime turned since the lineup was chosen
                for row in approved:
                    lid = int(row["id"])
                    await self.record(lid, blocked, status="cancelled", severity="warning")
                return
        for row in approved:
            lid = int(row["id"])
            staged = StagedTrade(
                lineup_id=lid,
                symbol=row["symbol"],
                expiry=row["expiry"],
                strike=dec(row["strike"]),
                otm_pct=float(row["otm_pct"] or 0.0),
                premium=dec(row["premium"] or row["limit_price"] or "0"),
                quantity=int(row["quantity"]),
                right=row["right"] or "P",
                stale=bool(row["stale"]) and live,
            )
            try:
                decision, reason = await self._stage2_one(staged, guards)
            except Exception as exc:  # a broker error cancels this entry, with its reason
                if not self.port.connected():
                    raise  # the connection went: stop here, the restart resumes (no cancel)
                reason = getattr(exc, "reason", None) or Reason("stage2.error", str(exc))
                await self.record(lid, reason, status="cancelled", severity="warning")
                continue
            if decision.action == "cancel" or decision.option is None:
                await self.record(lid, reason, status="cancelled", severity="warning")
                continue
            opt = decision.option
            changes: dict[str, Any] = {}
            if decision.action != "keep":  # kept: the selection data stays as it was
                changes["selection_json"] = adapted_selection(
                    row["selection_json"], row["strike"], decision
                )
                if decision.quote is not None and decision.quote.bid:
                    changes["premium"] = Decimal(str(decision.quote.bid)).quantize(CENT)
            await self.record(
                lid,
                reason,
                status="stage2_ok",
                con_id=opt.con_id,
                strike=format(Decimal(str(opt.strike)), "f"),
                otm_pct=decision.otm_pct,
                **changes,
            )

    async def _stage2_one(self, staged: StagedTrade, guards: Stage2Guards) -> tuple[Any, Reason]:
        und = await self.market.qualify_underlying(staged.symbol)
        options = await self._strikes(und, staged.expiry, staged.right)
        strikes = sorted(options, key=lambda o: o.strike)
        chain: list[tuple[OptionRef, Quote | None]] = []
        if strikes:
            target = float(staged.strike)
            idx = min(range(len(strikes)), key=lambda i: abs(strikes[i].strike - target))
            window = strikes[
                max(0, idx - guards.max_strikes_moved) : idx + guards.max_strikes_moved + 1
            ]
            quotes = await self.market.option_quotes(window)
            chain = [(o, quotes.get(o.con_id)) for o in window]
        # the underlying last: the strike list and the option quotes take time, and the
        # underlying's quote must still be fresh (max_quote_age_s) when it is judged
        uq = await self.market.underlying_quote(und)
        return validate(staged, uq, chain, guards, self.now())

    async def _strikes(self, und: Underlying, expiry: str, right: str) -> list[OptionRef]:
        chains = await self.market.option_chain(und)
        classes = [c.trading_class for c in chains if expiry in c.expirations]
        if not classes:
            return []
        tc = und.symbol if und.symbol in classes else classes[0]
        return await self.market.expiry_strikes(und, expiry, tc, right)

    async def _option(self, row: dict[str, Any]) -> OptionRef:
        return OptionRef(
            symbol=row["symbol"],
            expiry=row["expiry"],
            strike=float(dec(row["strike"])),
            right=row["right"] or "P",
            con_id=int(row["con_id"]),
            trading_class=row["symbol"],
        )

    # ----------------------------------------------------------------- helpers on state
    def _entry_orders(self, lineup_id: int, orders: list[BrokerOrder]) -> list[BrokerOrder]:
        prefix = f"pd-L{lineup_id}-"
        return [
            o
            for o in orders
            if o.order_ref.startswith(prefix)
            and leg_of(o.order_ref) == "entry"
            and "p" not in o.order_ref.removeprefix(prefix)
        ]

    async def _sold(self, lineup_id: int) -> int:
        return await sold_contracts(self.store.conn, lineup_id)

    async def _send(
        self,
        option: OptionRef,
        legs: list[OrderLeg],
        lineup_id: int | None,
        *,
        purpose_prefix: str = "",
        oca_group: str = "",
    ) -> Reason | None:
        """Intent first (committed), then the order(s), then 'sent'. Returns a refusal or None."""
        why = await self.guard()
        if why is not None:
            return why
        await self.intents.write_legs(
            legs, option, lineup_id=lineup_id, now=self.now(), purpose_prefix=purpose_prefix
        )
        crash_point("after_intent")
        for i, leg in enumerate(legs):
            await self.port.place(option, [leg], oca_group)
            if i == 0 and len(legs) > 1:
                crash_point("during_bracket")
        crash_point("after_send")
        await self.intents.set_status([leg.order_ref for leg in legs], "sent", self.now())
        return None

    async def already_working(self, lineup_id: int) -> bool:
        """True (and recorded) when an entry order of this lineup entry is already at IBKR:
        after a crash between the send and the lineup update it must not be sent again."""
        assert self._last is not None
        if any(o.working for o in self._entry_orders(lineup_id, self._last.orders)):
            await self.record(
                lineup_id,
                Reason("tier1.already_working", "an entry order is already working at IBKR"),
                status="submitted",
            )
            return True
        return False

    # ----------------------------------------------------------------- tier 1
    async def tier1(self) -> None:
        if self.cfg.budget.overallocation_enabled:
            from engine.execution.feeder import feed_tier1

            await feed_tier1(self)
            return
        await self.sync()
        for row in await self.lineup(("stage2_ok",)):
            lid = int(row["id"])
            if await self.already_working(lid):
                continue
            remaining = int(row["quantity"]) - await self._sold(lid)
            if remaining <= 0:
                await self.record(
                    lid, Reason("tier1.already_filled", "already sold"), status="filled"
                )
                continue
            await self._place_entry(row, remaining, tier=1)

    async def _place_entry(self, row: dict[str, Any], quantity: int, *, tier: int) -> bool:
        lid = int(row["id"])
        option = await self._option(row)
        quotes = await self.market.option_quotes([option])
        q = quotes.get(option.con_id)
        min_prem = self.cfg.selection.min_premium
        if tier == 1:
            price, reason = (
                pricing.tier1_price(
                    q,
                    symbol=option.symbol,
                    mode=self.ex.tier1_price,
                    min_premium=min_prem,
                    now=self.now(),
                )
                if q is not None
                else (None, Reason("quote.missing", "no quote"))
            )
        else:
            current = dec_or_none(row["limit_price"])
            if current is None or q is None:
                price, reason = None, Reason("quote.missing", "no quote or no current limit")
            else:
                price, reason = pricing.tier2_price(
                    current,
                    q,
                    symbol=option.symbol,
                    step=self.ex.tier2_step,
                    min_premium=min_prem,
                    now=self.now(),
                )
        if price is None:
            status = "cancelled" if tier == 1 else "unfilled"
            await self.record(lid, reason, status=status, severity="warning")
            return False
        key = await self.intents.next_key(lid)
        bracket, breason = plan_bracket(
            key=key,
            symbol=option.symbol,
            quantity=quantity,
            limit_price=price,
            take_profit_pct=self.ex.take_profit_pct,
            stop_multiple=self.ex.stop_multiple,
            min_premium=min_prem,
        )
        if bracket is None:
            await self.record(lid, breason, status="cancelled", severity="warning")
            return False
        refused = await self._send(option, bracket.legs, lid)
        if refused is not None:
            # halted (kill switch): the entry ends here; otherwise (disconnected, ...) it
            # keeps its state for the run that resumes it
            halted = refused.code.startswith("halt")
            await self.record(
                lid, refused, status="cancelled" if halted else None, severity="warning"
            )
            return False
        status = "submitted" if tier == 1 else "repriced"
        await self.record(
            lid,
            Reason(reason.code, f"{reason.text}; {breason.text}"),
            status=status,
            limit_price=price,
        )
        return True

    # ----------------------------------------------------------------- waiting
    async def _due(self, lineup_id: int) -> dt.datetime:
        row = await self.store.fetchone(
            "SELECT MAX(created_at) AS t FROM order_intents WHERE lineup_id=? AND purpose='entry'",
            (lineup_id,),
        )
        t = dt.datetime.fromisoformat(row["t"]) if row and row["t"] else self.now()
        return t + dt.timedelta(seconds=self.ex.tier2_wait_s)

    async def wait_tier(self, *, phase: tuple[str, ...]) -> None:
        """Follow fills until every entry in `phase` is filled or its wait has run out."""
        while True:
            await self.sync()
            rows = await self.lineup(phase)
            if not rows:
                return
            dues = [await self._due(int(r["id"])) for r in rows]
            if self.now() >= min(dues):
                return
            remaining = (min(dues) - self.now()).total_seconds()
            await self.sleep(min(self.poll_s, remaining))

    # ----------------------------------------------------------------- tier 2
    async def tier2_when_due(self) -> None:
        """Tier 2 for every entry sent at tier 1, each when its own wait has run out (tier 1
        orders go out over seconds or minutes, as Stage 2 answers): follow fills meanwhile;
        each entry is tried once. Returns when none is left waiting for its tier 2."""
        tried: set[int] = set()
        while True:
            await self.sync()
            rows = [
                r
                for r in await self.lineup(("submitted", "repricing"))
                if int(r["id"]) not in tried
            ]
            if not rows:
                return
            now = self.now()
            dues = {int(r["id"]): await self._due(int(r["id"])) for r in rows}
            ready = {
                int(r["id"])
                for r in rows
                if r["status"] == "repricing" or now >= dues[int(r["id"])]
            }
            if ready:
                await self.tier2(only=ready)
                tried |= ready
                continue
            remaining = (min(dues.values()) - now).total_seconds()
            await self.sleep(min(self.poll_s, remaining))

    async def tier2(self, only: set[int] | None = None) -> None:
        """One pass: reprice each entry (of `only`, if given) whose tier-1 wait has run out."""
        await self.sync()
        for row in await self.lineup(("submitted", "repricing")):
            lid = int(row["id"])
            if only is not None and lid not in only:
                continue
            if row["status"] != "repricing" and self.now() < await self._due(lid):
                continue
            sold = await self._sold(lid)
            remaining = int(row["quantity"]) - sold
            if remaining <= 0:
                continue
            if sold > 0 and self.ex.partial_fill == "cancel":
                await self._stop_entry(
                    row,
                    Reason(
                        "partial.cancelled",
                        f"partial fill {sold}/{row['quantity']}: remainder "
                        "cancelled (partial_fill=cancel)",
                    ),
                    final_status="partial",
                )
                continue
            if row["status"] != "repricing":
                await self.record(
                    lid,
                    Reason("tier2.start", "tier 2: cancelling before repricing"),
                    status="repricing",
                )
            ok = await self._cancel_working(
                lid, Reason("tier2.cancel", "cancelled by tier 2 to reprice toward the bid")
            )
            if not ok:
                await self.record(
                    lid,
                    Reason("tier2.cancel_unconfirmed", "cancel not confirmed: no replacement sent"),
                    status="submitted",
                    severity="warning",
                )
                continue
            crash_point("during_tier2")
            sold = await self._sold(lid)
            remaining = int(row["quantity"]) - sold
            if remaining <= 0:
                await self.record(
                    lid,
                    Reason("tier2.filled_meanwhile", "filled while cancelling"),
                    status="filled",
                )
                continue
            await self._protect(lid, sold)
            fresh = await self.store.fetchone("SELECT * FROM lineup WHERE id=?", (lid,))
            assert fresh is not None
            if not await self._place_entry(fresh, remaining, tier=2):
                if self.ex.after_tier2 == "leave" and sold == 0:
                    pass
                if sold > 0:
                    await self.record(
                        lid,
                        Reason("tier2.partial_kept", f"kept the {sold} already sold"),
                        status="partial",
                    )

    async def _cancel_working(self, lineup_id: int, reason: Reason) -> bool:
        """Cancel the working entry order(s) of an entry for `reason` (kept on their intents
        for the cancel's record) and wait for IBKR to confirm."""
        await self.sync()
        assert self._last is not None
        working = [o for o in self._entry_orders(lineup_id, self._last.orders) if o.working]
        if working:
            await self.intents.note_cancel([o.order_ref for o in working], reason, self.now())
            # IBKR cancels the take-profit and stop of an entry with nothing filled along
            # with it: they keep the same reason (an entry with fills keeps its exits)
            unfilled = {o.order_id for o in working if o.filled == 0}
            children = [
                o.order_ref
                for o in self._last.orders
                if o.parent_id in unfilled and o.working and o.order_ref
            ]
            if children:
                await self.intents.note_cancel(
                    children,
                    Reason(reason.code, f"with its entry order: {reason.text}"),
                    self.now(),
                )
        for o in working:
            await self.port.cancel(o.order_ref)
        deadline = self.now() + dt.timedelta(seconds=self.cancel_timeout_s)
        while True:
            await self.sync()
            assert self._last is not None
            if not any(o.working for o in self._entry_orders(lineup_id, self._last.orders)):
                return True
            if self.now() >= deadline:
                return False
            await self.sleep(min(self.poll_s, 1.0))

    async def _protect(self, lineup_id: int, sold: int) -> None:
        """After a partly filled entry was cancelled, make sure exits cover what was sold."""
        if sold <= 0:
            return
        assert self._last is not None
        prefix = f"pd-L{lineup_id}-"
        covered = sum(
            o.quantity - o.filled
            for o in self._last.orders
            if o.order_ref.startswith(prefix) and o.order_ref.endswith("-tp") and o.working
        )
        bought = await self.store.fetchone(
            "SELECT COALESCE(SUM(CAST(quantity AS INTEGER)),0) AS n FROM executions "
            "WHERE side='BOT' AND order_ref LIKE ?",
            (prefix + "%",),
        )
        open_qty = sold - (int(bought["n"]) if bought else 0)
        need = open_qty - covered
        if need <= 0:
            return
        row = await self.store.fetchone(
            "SELECT * FROM order_intents WHERE lineup_id=? AND purpose='entry' AND "
            "order_ref IN (SELECT order_ref FROM executions WHERE side='SLD') ORDER BY id "
            "LIMIT 1",
            (lineup_id,),
        )
        lrow = await self.store.fetchone("SELECT * FROM lineup WHERE id=?", (lineup_id,))
        assert lrow is not None
        option = await self._option(lrow)
        basis = dec(row["limit_price"]) if row else dec(lrow["limit_price"])
        key = await self.intents.protect_key(lineup_id)
        bracket, reason = plan_bracket(
            key=key,
            symbol=option.symbol,
            quantity=need,
            limit_price=basis,
            take_profit_pct=self.ex.take_profit_pct,
            stop_multiple=self.ex.stop_multiple,
        )
        if bracket is None:
            self.decide(lineup_id, reason, "error")
            return
        legs = exit_pair(bracket, need)
        refused = await self._send(
            option, legs, lineup_id, purpose_prefix="protect_", oca_group=f"pd-oca-{key}"
        )
        self.decide(
            lineup_id,
            refused
            or Reason(
                "exits.protected", f"exit orders placed for the {need} contracts already sold"
            ),
        )

    async def protect_open(self) -> ExecutionSummary:
        """Exits for open trades that have none: a take-profit + stop pair (OCA, GTC, at the
        execution settings' take-profit % and stop multiple of the entry's limit) for every
        open putdesk trade of a lineup entry with no exit order working (after the kill
        switch and a resume, or exits cancelled in TWS). A trade with an exit still working
        is left as it is; each trade gets a decision with its reason."""
        await self.sync()
        assert self._last is not None
        trades = await self.store.fetchall(
            "SELECT * FROM trades WHERE account_id IS ? AND status='open' ORDER BY id",
            (self.account_id,),
        )
        if not trades:
            self.decide(None, Reason("exits.nothing_open", "no open trade"))
        for t in trades:
            what = f"trade {t['id']} {t['symbol']}"
            if t["trade_strategy"] != PUTDESK_STRATEGY:
                entry = str(t["entry_order_ref"] or "")
                exits = [
                    o
                    for o in self._last.orders
                    if entry and o.order_ref.startswith(f"{entry}-") and o.working
                ]
                if not exits:
                    self.decide(
                        None,
                        Reason(
                            "exits.other_strategy",
                            f"{what} ({t['trade_strategy']}): no exit order working; this "
                            "command places exits for lineup trades only: place its exits in "
                            "TWS",
                        ),
                        "warning",
                    )
                continue
            if t["lineup_id"] is None:
                self.decide(
                    None,
                    Reason(
                        "exits.no_lineup",
                        f"{what}: not from a lineup entry (imported): place its exits in TWS",
                    ),
                    "warning",
                )
                continue
            lid = int(t["lineup_id"])
            prefix = f"pd-L{lid}-"
            working = [
                o.order_ref
                for o in self._last.orders
                if o.order_ref.startswith(prefix) and leg_of(o.order_ref) != "entry" and o.working
            ]
            if working:
                self.decide(
                    lid,
                    Reason(
                        "exits.working",
                        f"{what}: exit orders working ({', '.join(sorted(working))}): left as "
                        "they are",
                    ),
                )
                continue
            await self._protect(lid, await self._sold(lid))
        await self.rec.flush()
        return ExecutionSummary(True, Reason("exits.done", "exits checked"), self.summary.decisions)

    async def _stop_entry(self, row: dict[str, Any], reason: Reason, *, final_status: str) -> None:
        lid = int(row["id"])
        ok = await self._cancel_working(lid, reason)
        sold = await self._sold(lid)
        if ok:
            await self._protect(lid, sold)
        status = final_status if sold == 0 or final_status != "unfilled" else "partial"
        if sold >= int(row["quantity"]):
            status = "filled"
        await self.record(
            lid,
            reason
            if ok
            else Reason("cancel.unconfirmed", f"{reason.text}; cancel not confirmed by IBKR"),
            status=status,
            severity="info" if ok else "warning",
        )

    # ----------------------------------------------------------------- after tier 2
    async def finish(self) -> None:
        await self.sync()
        for row in await self.lineup(("submitted", "repriced")):
            lid = int(row["id"])
            sold = await self._sold(lid)
            if sold >= int(row["quantity"]):
                await self.record(lid, Reason("execution.filled", "fully filled"), status="filled")
                continue
            if self.ex.after_tier2 == "cancel" or (sold > 0 and self.ex.partial_fill == "cancel"):
                await self._stop_entry(
                    row,
                    Reason(
                        "tier2.cancelled",
                        f"unfilled after tier 2 ({sold}/{row['quantity']} "
                        "sold): cancelled (after_tier2=cancel)",
                    ),
                    final_status="unfilled",
                )
            else:
                self.decide(
                    lid,
                    Reason(
                        "tier2.left",
                        f"left working after tier 2 ({sold}/{row['quantity']} sold, DAY order)",
                    ),
                )
        await self.rec.flush()
