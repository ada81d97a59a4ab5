"""Malformed configs give a clear error naming file, line and field, and exit non-zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from config.loader import ConfigError, load_config, load_nakedtrader_config

# (name, yaml text, expected field path, expected line, words the message must contain)
CASES = [
    ("bad_yaml", "selection:\n  delta_min: [0.1\n", "(yaml)", 3, "not valid YAML"),
    ("unknown_key", "budget:\n  margin_pct: 20\n", "budget.margin_pct", 2, "allowed here"),
    ("unknown_section", "budgett:\n  x: 1\n", "budgett", 1, "unknown setting"),
    ("wrong_type", "ibkr:\n  port: fourthousand\n", "ibkr.port", 2, "integer"),
    (
        "weights_sum",
        "selection:\n  weights:\n    safety: 0.5\n    liquidity: 0.3\n    ai: 0.2\n"
        "    efficiency: 0.1\n",
        "selection.weights",
        2,
        "sum to 1",
    ),
    (
        "inverted_delta",
        "selection:\n  delta_min: 0.3\n  delta_max: 0.1\n",
        "selection",
        1,
        "inverted",
    ),
    (
        "budget_zero",
        "budget:\n  margin_pct_of_nlv: 0\n",
        "budget.margin_pct_of_nlv",
        2,
        "greater than 0",
    ),
    ("budget_over", "budget:\n  margin_pct_of_nlv: 150\n", "budget.margin_pct_of_nlv", 2, "100"),
    (
        "negative_premium",
        "selection:\n  min_premium: -0.5\n",
        "selection.min_premium",
        2,
        "greater than or equal to 0",
    ),
    ("negative_oi", "selection:\n  min_open_interest: -1\n", "selection.min_open_interest", 2, "0"),
    ("bad_level", "automation_level: D\n", "automation_level", 1, "'A', 'B' or 'C'"),
    ("bad_time", "schedule:\n  stage2_at: '25:99'\n", "schedule.stage2_at", 2, "time"),
    ("bad_port", "ibkr:\n  port: 70000\n", "ibkr.port", 2, "65535"),
    ("not_mapping", "- a\n- b\n", "(top level)", 1, "mapping"),
    ("inverted_dte", "selection:\n  dte_min: 10\n  dte_max: 2\n", "selection", 1, "DTE window"),
    ("bad_account", "ibkr:\n  account: hello\n", "ibkr.account", 2, "DU1234567"),
    (
        "bad_zone",
        "console:\n  local_timezone: Mars/Olympus\n",
        "console.local_timezone",
        2,
        "time zone",
    ),
    ("schedule_order", "schedule:\n  stage2_at: '09:40'\n", "schedule", 1, "stage2_at"),
]


@pytest.mark.parametrize(
    ("name", "text", "field", "line", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_malformed_config_is_named_precisely(
    tmp_path: Path, name: str, text: str, field: str, line: int, words: str
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    probs = info.value.problems
    assert probs, "a problem must be reported"
    match = [p for p in probs if p.field == field]
    assert match, f"field {field} not named in {[str(p) for p in probs]}"
    prob = match[0]
    assert prob.source == str(path)
    assert prob.line == line, str(prob)
    assert words.lower() in prob.message.lower(), str(prob)
    assert str(path) in str(info.value)


def test_at_least_twelve_cases() -> None:
    assert len(CASES) >= 12


@pytest.mark.parametrize("case", CASES[:4], ids=[c[0] for c in CASES[:4]])
def test_config_check_exits_non_zero(tmp_path: Path, case: tuple[str, str, str, int, str]) -> None:
    name, text, field, line, _ = case
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "config", "check", str(path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert f"{path}:{line}: {field}:" in proc.stderr


def test_config_check_json_and_ok(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("budget:\n  margin_pct_of_nlv: 25\n")
    ok = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "config", "check", str(good)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and "OK" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("budget:\n  margin_pct_of_nlv: 0\n")
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "config", "check", "--json", str(bad)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert doc["ok"] is False
    assert doc["data"]["problems"][0] == {
        "source": str(bad),
        "line": 2,
        "field": "budget.margin_pct_of_nlv",
        "message": doc["data"]["problems"][0]["message"],
    }


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_env_overrides_with_nesting(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("budget:\n  margin_pct_of_nlv: 20\n")
    cfg = load_config(
        path,
        environ={"PUTDESK_BUDGET__MARGIN_PCT_OF_NLV": "15", "PUTDESK_IBKR__PORT": "4001"},
    )
    assert cfg.budget.margin_pct_of_nlv == 15
    assert cfg.ibkr.port == 4001


def test_env_override_errors_name_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"PUTDESK_BUDGET__MAX_PER_SECTOR": "0"})
    assert info.value.problems[0].source == "PUTDESK_BUDGET__MAX_PER_SECTOR"


def test_putdesk_config_env_points_at_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("automation_level: A\n")
    monkeypatch.setenv("PUTDESK_CONFIG", str(path))
    assert load_config().automation_level.value == "A"


def test_shipped_defaults_are_valid() -> None:
    cfg = load_config(Path("config/putdesk.yaml"), environ={})
    assert cfg.selection.weights.safety == 0.40
    assert cfg.budget.margin_pct_of_nlv == 20.0
    nt = load_nakedtrader_config(environ={})
    assert nt.delta_target == 0.065 and nt.effective_trading_class == "XSP"


def test_nakedtrader_cli_override_error_names_the_option() -> None:
    with pytest.raises(ConfigError) as info:
        load_nakedtrader_config(overrides={"delta_target": 0.2}, environ={})
    assert "delta_target" in str(info.value)
    with pytest.raises(ConfigError) as info2:
        load_nakedtrader_config(overrides={"contracts": 0}, environ={})
    assert info2.value.problems[0].source == "--contracts"


def test_nakedtrader_file_errors(tmp_path: Path) -> None:
    p = tmp_path / "nt.yaml"
    p.write_text("instrument: SPX\ntrading_class: XSP\n")
    with pytest.raises(ConfigError, match="not listed for SPX"):
        load_nakedtrader_config(p, environ={})
