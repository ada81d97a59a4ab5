"""Outcome reports: buckets, numbers and the Wilson interval (pure), the loader over a real
database (lineup selection data, NakedTrader plans, assigned stock legs folded in), and
`putdesk outcomes` over a real IBKR statement."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from engine.cli.main import main
from engine.records.outcomes import (
    DIMENSIONS,
    TradeOutcome,
    delta_bucket,
    dte_bucket,
    outcome_report,
    regime_parts,
    score_bucket,
    wilson_interval,
)
from engine.records.outcomes_load import load_outcomes
from engine.store import Store
from engine.store.db import insert_row
from engine.store.lineup import LineupRepo
from engine.store.trades import TradesRepo
from tests.records.conftest import ORCL

D = Decimal
CALM = "VIX 14.2 normal, contango, trend up"
STRESS = "VIX 33.0 stress, backwardation, trend down"


def outcome(i: int, net: str | None, **kw: object) -> TradeOutcome:
    base: dict[str, object] = {
        "trade_id": i,
        "strategy": "putdesk",
        "symbol": "XYZ",
        "status": "closed" if net is not None else "open",
        "net_pnl": None if net is None else D(net),
    }
    base.update(kw)
    return TradeOutcome(**base)  # type: ignore[arg-type]


def test_bucket_edges() -> None:
    assert delta_bucket(0.04) == "<0.050"
    assert delta_bucket(-0.065) == "0.065-0.080"  # |delta|
    assert delta_bucket(0.35) == ">=0.300" and delta_bucket(None) == "unknown"
    assert [dte_bucket(d) for d in (0, 1, 2, 7, 8, 30, 31)] == [
        "0-1",
        "0-1",
        "2-3",
        "4-7",
        "8-14",
        "15-30",
        ">30",
    ]
    assert score_bucket(49.9) == "<50" and score_bucket(85) == "80-90"
    assert score_bucket(100) == ">=90"
    assert regime_parts(CALM) == ("normal", "contango", "up")
    assert regime_parts("VIX 12.0 very calm") == ("very calm", "unknown", "unknown")
    assert regime_parts(None) == regime_parts("garbage") == ("unknown",) * 3


def test_wilson_interval() -> None:
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_interval(8, 10)  # type: ignore[misc]
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson_interval(10, 10)  # type: ignore[misc]
    assert hi == 1.0 and lo < 1.0


def test_report_by_regime_counts_money_and_ratios() -> None:
    rows = outcome_report(
        [
            outcome(1, "60.00", regime=CALM, premium=D("100"), margin=D("2000")),
            outcome(2, "-140.00", regime=CALM, premium=D("100"), margin=D("2000")),
            outcome(3, "30.00", regime=CALM),  # premium / margin unknown: not in the ratios
            outcome(4, None, regime=CALM, status="open"),
            outcome(5, "-500.00", regime=STRESS, exit_reason="assigned", premium=D("120")),
            outcome(6, "10.00"),
        ],
        "regime",
    )
    assert [r.bucket for r in rows] == [
        "normal, contango, trend up",
        "stress, backwardation, trend down",
        "unknown",
    ]
    calm = rows[0].as_dict()
    assert (calm["trades"], calm["closed"], calm["open"]) == (4, 3, 1)
    assert (calm["wins"], calm["losses"]) == (2, 1)
    assert calm["win_rate"] == pytest.approx(2 / 3)
    assert calm["net_pnl"] == "-50.00" and calm["avg_net_pnl"] == "-16.67"
    assert calm["kept"] == pytest.approx(-80 / 200)  # trades 1 and 2 only
    assert calm["return_on_margin"] == pytest.approx(-80 / 4000)
    assert rows[1].assigned == 1 and rows[1].kept == pytest.approx(-500 / 120)
    assert rows[2].return_on_margin is None and rows[2].kept is None


def test_every_dimension_groups_and_numeric_buckets_are_in_order() -> None:
    items = [
        outcome(i, "10", delta=d, dte=t, scores={"score": s, "safety": s}, sector="Tech")
        for i, (d, t, s) in enumerate([(0.12, 9, 91.0), (0.055, 2, 55.0), (0.07, 20, 75.0)])
    ]
    for dim in DIMENSIONS:
        assert sum(r.trades for r in outcome_report(items, dim)) == 3
    assert [r.bucket for r in outcome_report(items, "delta")] == [
        "0.050-0.065",
        "0.065-0.080",
        "0.100-0.150",
    ]
    assert [r.bucket for r in outcome_report(items, "dte")] == ["2-3", "8-14", "15-30"]
    assert [r.bucket for r in outcome_report(items, "score")] == ["50-60", "70-80", ">=90"]
    with pytest.raises(ValueError, match="unknown dimension"):
        outcome_report(items, "moon")


T0 = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


async def test_loader_joins_selection_plans_and_assigned_stock(store: Store) -> None:
    lid = await LineupRepo(store).add(
        {
            "symbol": "NVDA",
            "sector": "Semiconductors",
            "expiry": "20261204",
            "strike": "125",
            "quantity": 2,
            "margin_per_contract": "1313.00",
            "selection": {
                "delta": -0.096,
                "dte": 9,
                "score": 80.0,
                "score_safety": 70.0,
                "ab_test": "t1",
                "ab_arm": "B",
            },
        }
    )
    repo = TradesRepo(store)
    a = await repo.open_trade(
        symbol="NVDA",
        quantity=2,
        entry_price=D("0.62"),
        entry_time=T0,
        expiry="20261204",
        strike=D("125"),
        lineup_id=lid,
        regime=CALM,
        config_snapshot_id=None,
    )
    await repo.close_trade(a, D("0.31"), T0 + dt.timedelta(days=2), "take_profit", D("2.10"))
    # NakedTrader: delta from the plan written with its entry intent
    b = await repo.open_trade(
        symbol="SPX",
        quantity=1,
        entry_price=D("1.20"),
        entry_time=T0,
        expiry="20261125",
        strike=D("5650"),
        trade_strategy="nakedtrader",
        entry_order_ref="pd-nt-20261124-1",
    )
    async with store.transaction() as conn:
        await insert_row(
            conn,
            "order_intents",
            {
                "order_ref": "pd-nt-20261124-1",
                "purpose": "nt_entry",
                "symbol": "SPX",
                "action": "SELL",
                "quantity": 1,
                "order_type": "LMT",
                "created_at": T0.isoformat(),
                "updated_at": T0.isoformat(),
                "payload_json": json.dumps({"plan": {"selection": {"delta": 0.064}}}),
            },
        )
    # an assigned put whose shares are still held: the outcome is not final
    c = await repo.open_trade(
        symbol="ORCL", quantity=1, entry_price=D("1.00"), entry_time=T0, expiry="20261127"
    )
    await repo.close_trade(c, D("0"), T0 + dt.timedelta(days=3), "assigned")
    stock = await repo.open_trade(
        symbol="ORCL",
        quantity=100,
        entry_price=D("150"),
        entry_time=T0 + dt.timedelta(days=3),
        sec_type="STK",
        side="long",
        right=None,
        multiplier=1,
        related_trade_id=c,
    )
    got = {o.trade_id: o for o in await load_outcomes(store)}
    assert set(got) == {a, b, c}  # the stock leg is part of the put's outcome, not its own
    oa = got[a]
    assert oa.net_pnl == D("59.90") and oa.premium == D("124.00")  # (0.62-0.31)x200 - 2.10
    assert oa.margin == D("2626.00") and oa.delta == pytest.approx(0.096)
    assert oa.dte == 10 and oa.sector == "Semiconductors" and oa.regime == CALM
    assert oa.scores["score"] == 80.0 and oa.scores["ai"] is None
    assert oa.arm == "t1 B" and got[b].arm is None
    assert got[b].delta == pytest.approx(0.064) and got[b].dte == 1 and got[b].margin is None
    assert got[c].status == "open" and not got[c].closed
    # the shares are sold: the put's outcome is its premium plus the stock's loss
    await repo.close_trade(stock, D("140"), T0 + dt.timedelta(days=5), "sold")
    oc = {o.trade_id: o for o in await load_outcomes(store)}[c]
    assert oc.closed and oc.net_pnl == D("100.00") + D("-1000.00")
    assert [o.trade_id for o in await load_outcomes(store, strategy="nakedtrader")] == [b]


def test_cli_outcomes_over_a_real_statement(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile-eod", "--file", str(ORCL), "--json"]) == 0
    capsys.readouterr()
    assert main(["outcomes", "--by", "strategy", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "outcomes" and doc["ok"]
    data = doc["data"]
    assert data["by"] == "strategy" and data["trades"] >= 1
    assert sum(r["assigned"] for r in data["rows"]) == 1
    assert main(["outcomes", "--by", "delta"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()  # not a terminal: tab-separated
    assert lines[0] == "# Outcomes by delta: 3 option trade(s), 0 closed"
    assert lines[1].split("\t") == [
        "delta", "n", "cl", "win", "CI95", "net", "avg", "kept", "RoM", "asg"
    ]  # fmt: skip
    assert lines[2].split("\t") == ["unknown", "3", "0", "-", "-", "-", "-", "-", "-", "1"]
    with pytest.raises(SystemExit) as exc:  # argparse: a usage error
        main(["outcomes", "--by", "moon"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_arms_are_compared_with_a_permutation_test() -> None:
    from engine.records.outcomes import compare_arms, permutation_p_value

    a = [outcome(i, n, arm="t1 A") for i, n in enumerate(["-50", "20", "-80", "10", "-60"] * 4)]
    b = [outcome(100 + i, n, arm="t1 B") for i, n in enumerate(["40", "55", "30", "60"] * 5)]
    other = [outcome(500, "10", arm="t2 A")]  # a test with one arm only: no comparison
    (c,) = compare_arms([*a, *b, *other])
    d = c.as_dict()
    assert d["test"] == "t1" and d["closed"] == [20, 20]
    assert d["mean_net_pnl"] == ["-32.00", "46.25"] and d["difference"] == "78.25"
    assert d["win_rate"] == [0.4, 1.0]
    assert c.p_value < 0.001 and "permutation" in str(d["statistic"])
    same = permutation_p_value([1.0, 2.0, 3.0, 4.0], [2.5, 1.5, 3.5, 2.5])
    assert same > 0.5  # indistinguishable samples
    assert permutation_p_value([], [1.0]) == 1.0
    rows = outcome_report([*a, *b, outcome(900, "5")], "arm")
    assert [r.bucket for r in rows] == ["no test", "t1 A", "t1 B"]
