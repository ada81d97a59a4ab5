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
