"""Several accounts: each its own engine, budget, database and settings (accounts: profiles)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.loader import ConfigError, load_config
from config.models import PutdeskConfig
from engine.api.client import connect_api, engine_running
from engine.api.models import GetStatus, Kill, SaveSettings
from engine.runtime.paths import EnginePaths

MAIN, SECOND = "DU1234567", "DU7654321"

TWO_ACCOUNTS = f"""\
ibkr:
  simulated: true
  reconnect_initial_s: 0.05
  reconnect_max_s: 0.4
budget:
  margin_pct_of_nlv: 20
accounts:
  {MAIN}:
    label: Main
  {SECOND}:
    label: Second
    budget: {{margin_pct_of_nlv: 35, max_per_sector: 3}}
    selection: {{delta_target: 0.08}}
"""


def two(tmp_path: Path) -> tuple[Path, PutdeskConfig]:
    path = tmp_path / "putdesk.yaml"
    path.write_text(TWO_ACCOUNTS)
    return path, load_config(path, environ={})


def test_profiles_merge_over_the_top_level_for_their_account_only(tmp_path: Path) -> None:
    _path, cfg = two(tmp_path)
    assert cfg.default_account() == MAIN and cfg.account_ids() == [MAIN, SECOND]
    main, second = cfg.for_account(MAIN), cfg.for_account(SECOND)
    assert (main.budget.margin_pct_of_nlv, main.budget.max_per_sector) == (20, 5)
    assert (second.budget.margin_pct_of_nlv, second.budget.max_per_sector) == (35, 3)
    assert second.selection.delta_target == 0.08 and main.selection.delta_target == 0.065
    # what the profile does not name comes from the top level
    assert second.ibkr.simulated and second.ibkr.reconnect_max_s == 0.4
    assert (main.ibkr.account, second.ibkr.account) == (MAIN, SECOND)
    assert cfg.for_account(None).ibkr.account == MAIN  # the default: the first profile
    assert second.for_account(SECOND) == second  # applying it twice changes nothing
    assert second.accounts == cfg.accounts  # the list stays known to every account
    assert cfg.account_label(SECOND) == "Second" and cfg.account_label("U1") == "U1"
    # an account without a profile: the top-level settings with that id
    other = cfg.for_account("U5550001")
    assert other.ibkr.account == "U5550001" and other.budget.margin_pct_of_nlv == 20
    with pytest.raises(ValueError, match="account ids look like"):
        cfg.for_account("nobody")


def test_ibkr_account_names_the_default_and_paths_follow_the_account(tmp_path: Path) -> None:
    path, cfg = two(tmp_path)
    path.write_text(
        TWO_ACCOUNTS.replace("  simulated: true\n", f"  simulated: true\n  account: {SECOND}\n")
    )
    cfg = load_config(path, environ={})
    assert cfg.default_account() == SECOND and cfg.account_ids() == [SECOND, MAIN]
    assert EnginePaths.of(cfg).key == SECOND
    # an engine given the whole config and an account runs with that account's settings
    from engine.runtime.engine import Engine, EngineOptions

    eng = Engine(cfg, EngineOptions(account=MAIN))
    assert eng.cfg.ibkr.account == MAIN and eng.paths.key == MAIN
    assert Engine(cfg).cfg.budget.margin_pct_of_nlv == 35  # the default account: SECOND
    a, b = EnginePaths.of(cfg, MAIN), EnginePaths.of(cfg, SECOND)
    assert a.database.name == f"putdesk-{MAIN}.db" and b.database.name == f"putdesk-{SECOND}.db"
    assert a.socket != b.socket


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("accounts:\n  DU1:\n    budget: {margin_pct_of_nlv: 300}\n", 1, "account DU1: budget"),
        ("accounts:\n  DU1:\n    consol: {}\n", 3, "unknown setting"),
        ("accounts:\n  X99:\n    label: x\n", 1, "account ids look like"),
        ("accounts:\n  DU1:\n    ibkr: {account: DU2}\n", 3, "the profile's key"),
        (
            "accounts:\n  DU1:\n    selection: {delta_min: 0.5}\n",
            1,
            "account DU1: selection",
        ),
    ],
)
def test_a_bad_profile_is_named_with_its_line(
    tmp_path: Path, text: str, where: int, says: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, environ={})
    (problem,) = exc.value.problems
    assert problem.line == where and says in f"{problem.field}: {problem.message}"


async def test_two_accounts_run_side_by_side_each_with_its_own_budget_and_state(
    tmp_path: Path,
) -> None:
    path, cfg = two(tmp_path)
    main = await connect_api(path, MAIN, cfg=cfg.for_account(MAIN), wait_ready=20)
    second = await connect_api(path, SECOND, cfg=cfg.for_account(SECOND), wait_ready=20)
    try:
        assert engine_running(cfg, MAIN) and engine_running(cfg, SECOND)
        a, b = (await main.request(GetStatus())).data, (await second.request(GetStatus())).data
        assert (a["connection"]["account"], b["connection"]["account"]) == (MAIN, SECOND)
        # each account's budget from its own settings, on its own account's NLV
        for st, pct in ((a, Decimal("0.20")), (b, Decimal("0.35"))):
            nlv = Decimal(st["budget"]["net_liquidation"])
            assert Decimal(st["budget"]["budget"]) == (nlv * pct).quantize(Decimal("0.01"))
        assert a["engine"]["database"] != b["engine"]["database"]
        # each status lists every configured account and whether an engine runs for it
        assert [
            (x["account"], x["label"], x["this_engine"], x["running"]) for x in b["accounts"]
        ] == [
            (MAIN, "Main", False, True),
            (SECOND, "Second", True, True),
        ]
        # the kill switch of one account halts that account only
        assert (await second.request(Kill(reason="second only"))).ok
        a, b = (await main.request(GetStatus())).data, (await second.request(GetStatus())).data
        assert b["halted"]["halted"] and not a["halted"]["halted"]

        # a setting saved on the second account goes into its profile, nothing else changes
        saved = await second.request(SaveSettings(changes={"budget": {"max_per_sector": 2}}))
        assert saved.ok, saved.error
        data: dict[str, Any] = yaml.safe_load(path.read_text())
        assert data["accounts"][SECOND]["budget"] == {"margin_pct_of_nlv": 35, "max_per_sector": 2}
        assert data["budget"] == {"margin_pct_of_nlv": 20}
        assert MAIN not in data["accounts"] or "budget" not in data["accounts"][MAIN]
        after = load_config(path, environ={})
        assert after.for_account(SECOND).budget.max_per_sector == 2
        assert after.for_account(MAIN).budget.max_per_sector == 5
        # a console-wide setting stays top level
        theme = await second.request(SaveSettings(changes={"console": {"theme": "putdesk-light"}}))
        assert theme.ok
        data = yaml.safe_load(path.read_text())
        assert data["console"]["theme"] == "putdesk-light"
        assert "console" not in data["accounts"][SECOND]
    finally:
        await second.close()
        await main.close()
    assert not engine_running(cfg, MAIN) and not engine_running(cfg, SECOND)


async def test_profiles_not_in_the_file_are_never_written_into_it(tmp_path: Path) -> None:
    """The demo's accounts exist in memory only: a setting saved while one is shown goes to
    the top level as before, and the user's file never gains an `accounts:` section."""
    path = tmp_path / "putdesk.yaml"
    path.write_text("ibkr:\n  simulated: true\nbudget:\n  margin_pct_of_nlv: 20\n")
    data = load_config(path, environ={}).model_dump(mode="python")
    data["accounts"] = {MAIN: {"label": "Demo"}, SECOND: {"budget": {"margin_pct_of_nlv": 35}}}
    cfg = PutdeskConfig.model_validate(data)
    api = await connect_api(path, SECOND, cfg=cfg.for_account(SECOND), wait_ready=20)
    try:
        saved = await api.request(SaveSettings(changes={"budget": {"max_per_sector": 2}}))
        assert saved.ok, saved.error
        assert yaml.safe_load(path.read_text()) == {
            "ibkr": {"simulated": True},
            "budget": {"margin_pct_of_nlv": 20, "max_per_sector": 2},
        }
        # the engine itself goes on with its account's settings plus the change
        budget = saved.data["settings"]["budget"]
        assert (budget["margin_pct_of_nlv"], budget["max_per_sector"]) == (35, 2)
    finally:
        await api.close()


def test_a_simulated_config_without_account_is_the_simulated_accounts_engine(
    tmp_path: Path,
) -> None:
    """`putdesk status` with the default config finds the engine of `make demo` (the
    simulated account DU1234567) instead of starting a second engine on its simulator state."""
    from console.__main__ import demo_accounts, demo_config
    from engine.runtime.engine import Engine

    base = {"paths": {"state_dir": str(tmp_path)}}
    plain = PutdeskConfig.model_validate({**base, "ibkr": {"simulated": True}})
    demo = demo_accounts(demo_config(plain)).for_account(MAIN)
    assert EnginePaths.of(plain).key == MAIN == EnginePaths.of(demo).key
    assert EnginePaths.of(plain).socket == EnginePaths.of(demo).socket
    assert EnginePaths.of(plain).database == EnginePaths.of(demo).database
    assert Engine(plain)._sim_state_file() == Engine(demo)._sim_state_file()
    live = PutdeskConfig.model_validate(
        {**base, "ibkr": {"simulated": True}, "sim": {"account_kind": "live"}}
    )
    assert EnginePaths.of(live).key == "U1234567"
    gateway = PutdeskConfig.model_validate({**base, "ibkr": {"simulated": False}})
    assert EnginePaths.of(gateway).key == "default"
