"""Session pieces that need no gateway: backoff, account kinds, the order guard."""

from __future__ import annotations

import random

from config.models import IBKRConfig
from engine.broker.pacing import Pacer
from engine.broker.session import ConnState, Session, account_kind, backoff_delay
from engine.domain import Reason
from engine.runtime.bus import EventBus


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    rng = random.Random(3)
    delays = [backoff_delay(n, 2.0, 60.0, rng) for n in range(12)]
    for n, d in enumerate(delays):
        base = min(60.0, 2.0 * 2**n)
        assert base / 2 <= d <= base
    assert max(delays) <= 60.0
    assert len({round(d, 6) for d in delays[6:]}) > 1  # jittered, not constant at the cap


def test_account_kinds() -> None:
    assert account_kind("DU123", False) == "paper"
    assert account_kind("U123", False) == "live"
    assert account_kind("DU123", True) == "simulated"


def _ready_session(acct: str, *, live: bool = False, **cfg: object) -> Session:
    s = Session(IBKRConfig.model_validate(cfg), EventBus(), Pacer(), live=live)
    s.account = acct
    s.state = ConnState.READY
    s.reason = None
    return s


def test_order_guard() -> None:
    assert _ready_session("DU1").trading_allowed()[0]
    assert _ready_session("U1").trading_allowed()[1].code == "guard.live_flag"
    assert _ready_session("U1", live=True).trading_allowed()[1].code == "guard.live_account"
    assert _ready_session("U1", live=True, account="U1").trading_allowed()[0]
    assert _ready_session("DU1", read_only=True).trading_allowed()[1].code == "guard.read_only"
    s = _ready_session("DU1")
    s.halt(Reason("engine.killed", "test"))
    assert s.trading_allowed()[1].code == "guard.halted"
    s.resume()
    for state, code in (
        (ConnState.HALTED, "session.halted"),
        (ConnState.DISCONNECTED, "session.disconnected"),
        (ConnState.DATA_UNAVAILABLE, "session.data_unavailable"),
    ):
        s.state = state
        assert s.trading_allowed()[1].code == code


def test_status_shows_no_market_data_type_while_data_cannot_flow() -> None:
    s = _ready_session("DU1", market_data_type=3)
    assert s.status()["market_data_type"] == "delayed"
    for state in (ConnState.DISCONNECTED, ConnState.DATA_UNAVAILABLE, ConnState.HALTED):
        s.state = state
        assert s.status()["market_data_type"] == "none", state  # not the requested "delayed"


def test_account_events_only_for_material_changes() -> None:
    """The demo's activity log filled with an "account" line every poll as a held put's mark
    moved NLV by a dollar: an event now needs a move of 0.1 % of NLV in a money figure, or
    any change after 15 quiet minutes."""
    import datetime as dt

    from engine.broker.services import account_change_matters

    t0 = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
    base = {"NetLiquidation": "1000000.00", "FullMaintMarginReq": "1310.00", "Cushion": "0.99"}
    assert account_change_matters(None, base, None, t0)
    assert not account_change_matters(base, dict(base), t0, t0 + dt.timedelta(hours=2))
    tick = {**base, "NetLiquidation": "1000002.98", "FullMaintMarginReq": "1312.00"}
    assert not account_change_matters(base, tick, t0, t0 + dt.timedelta(seconds=30))
    assert account_change_matters(base, tick, t0, t0 + dt.timedelta(minutes=15))
    fill = {**base, "FullMaintMarginReq": "6327.00"}  # a new short put: +$5,017 margin
    assert account_change_matters(base, fill, t0, t0 + dt.timedelta(seconds=30))
    assert not account_change_matters(
        base, {**base, "Cushion": "0.5"}, t0, t0 + dt.timedelta(seconds=30)
    )
    assert account_change_matters(base, {**base, "NetLiquidation": "bad"}, t0, t0)
