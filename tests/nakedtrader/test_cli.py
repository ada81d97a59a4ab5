"""`putdesk nt`, `nt-watch`, `nt-status` argument handling and the override error path."""

from __future__ import annotations

import json

import pytest

from engine.cli.cmd_nakedtrader import dry_run_flag, nt_option_names, overrides_from_args
from engine.cli.main import build_parser, main


def test_every_setting_has_an_option() -> None:
    from config.nakedtrader import NakedTraderConfig

    assert set(nt_option_names()) == set(NakedTraderConfig.model_fields) - {"enabled", "account"}
    args = build_parser().parse_args(
        ["nt", "--instrument", "SPX", "--delta-target", "0.07", "--delta-min", "0.06",
         "--delta-max", "0.08", "--contracts", "2", "--dte", "0", "--profit-take-pct", "60",
         "--stop-multiple", "none", "--limit-price", "bid", "--dry-run"]
    )  # fmt: skip
    assert overrides_from_args(args) == {
        "instrument": "SPX",
        "dte": "0",
        "delta_target": "0.07",
        "delta_min": "0.06",
        "delta_max": "0.08",
        "contracts": "2",
        "limit_price": "bid",
        "profit_take_pct": "60",
        "stop_multiple": None,
    }
    assert dry_run_flag(args) is True


def test_dry_run_default_and_live() -> None:
    p = build_parser()
    assert dry_run_flag(p.parse_args(["nt"])) is None
    assert dry_run_flag(p.parse_args(["nt", "--live"])) is False
    assert p.parse_args(["nt-status", "--json"]).json
    assert p.parse_args(["nt-watch", "--follow", "--interval", "2"]).interval == 2.0


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["nt", "--delta", "0.07"])
    assert exc.value.code == 2


def test_bad_override_exits_2_and_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["nt", "--delta-min", "0.09", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 2
    assert out["reason_code"] == "config.invalid"
    assert "--delta-min 0.09" in out["error"] and "delta range is inverted" in out["error"]
