"""Unit tests of the console's pure parts: shapes, formatting, settings validation, keymap,
themes, budget levels, and the console command's lazy imports."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.models import PutdeskConfig
from console.format import clip, countdown, expiry, money, pct, stamp
from console.keymap import ALL_BINDINGS, binding_ids, validate_keymap
from console.shapes import command_summary, lineup_view, scan_view, status_view
from console.themes import DOMAIN_DEFAULTS, ThemeFileError, load_theme_file, load_themes
from console.widgets.budget import budget_numbers, level
from console.widgets.lineup import entry_credit, projected_margin
from console.widgets.settings import FIELDS, changes_of, validate

REPO = Path(__file__).resolve().parents[2]


def test_formatting() -> None:
    assert money(Decimal("-1234.5")) == "-$1,234"
    assert money(None) == "-"
    assert pct(10.234) == "10.2%"
    assert expiry("20261127") == "Nov27"
    assert expiry("2026-11-27") == "Nov27"
    assert countdown(3 * 86400 + 3661) == "3d 01:01:01"
    assert countdown(-5) == "00:00:00"
    assert clip("Semiconductors", 12) == "Semiconduct…" and clip("Internet", 12) == "Internet"


def test_times_show_et_and_the_local_clock_when_it_differs() -> None:
    t = dt.datetime(2026, 11, 25, 14, 40, 14, tzinfo=dt.UTC)  # Wed 09:40:14 ET
    sydney = ZoneInfo("Australia/Sydney")
    assert stamp(t, sydney) == "11-25 09:40:14 ET · Thu 01:40 AEDT"
    assert stamp(t, ZoneInfo("Europe/Zurich")) == "11-25 09:40:14 ET · 15:40 CET"
    assert stamp(t, ZoneInfo("America/New_York")) == "11-25 09:40:14 ET"
    assert stamp(t, ZoneInfo("America/Toronto"), "%a %H:%M") == "Wed 09:40 ET"  # same clock
    assert stamp(t, None) == "11-25 09:40:14 ET"


def test_status_view_of_the_engine_shape() -> None:
    data = {
        "engine": {
            "level": "B",
            "simulated": True,
            "label": "SIMULATED",
            "now": "2026-11-24T14:25:00+00:00",
        },
        "connection": {
            "state": "READY",
            "account": "DU1",
            "account_kind": "paper",
            "market_data_type": "delayed",
            "reason": "ready: fine",
        },
        "budget": {
            "available": True,
            "net_liquidation": "1000000.00",
            "full_maint_margin": "0",
            "budget": "200000.00",
            "budget_pct": 20.0,
            "headroom": "200000.00",
        },
        "halted": {"halted": True, "reason": "kill switch"},
    }
    v = status_view(data)
    assert v["account"] == "DU1" and v["simulated"] and v["automation_level"] == "B"
    assert v["connection"] == {"state": "READY", "market_data": "delayed", "reason": None}
    assert v["engine"] == {"state": "halted", "halted_reason": "kill switch"}
    assert v["clock"]["now"] == "2026-11-24T14:25:00+00:00"
    assert v["budget"]["nlv"] == 1_000_000.0 and v["budget"]["budget"] == 200_000.0


def test_scan_view_splits_best_rejected_and_finalists() -> None:
    rows = [
        {
            "id": 1,
            "symbol": "AAPL",
            "status": "candidate",
            "score_safety": 80,
            "score_ai": None,
            "ai_reason": "fine",
            "stale": 1,
        },
        {"id": 2, "symbol": "AAPL", "status": "finalist"},
        {
            "id": 3,
            "symbol": "MSFT",
            "status": "rejected",
            "reason_code": "no_strike_passed",
            "reason_text": "no strike passed the filters",
            "rejections_json": '[{"expiry": "20261204", "strike": 370.0, "code": "no_bid", '
            '"text": "no bid"}]',
        },
    ]
    v = scan_view(
        {
            "scan": {
                "id": 4,
                "status": "finished",
                "symbols_total": 2,
                "symbols_done": 2,
                "stale": 1,
            },
            "candidates": rows,
        }
    )
    assert [c["id"] for c in v["candidates"]] == [1]
    c = v["candidates"][0]
    assert c["components"]["safety"] == 80 and c["ai_line"] == "fine" and c["stale"] is True
    assert v["rejections"] == [
        {
            "symbol": "MSFT",
            "code": "no_strike_passed",
            "reason": "no strike passed the filters",
            "strike_rejections": [
                {"expiry": "20261204", "strike": 370.0, "code": "no_bid", "text": "no bid"}
            ],
        }
    ]
    assert c["strike_rejections"] == []
    assert v["scan"]["state"] == "finished" and v["scan"]["progress"] == {"done": 2, "total": 2}


def test_lineup_view_reads_selection_json_and_projects_margin() -> None:
    v = lineup_view(
        {
            "entries": [
                {
                    "id": 1,
                    "quantity": 2,
                    "premium": "0.50",
                    "margin_per_contract": "1500",
                    "selection_json": '{"score": 71.5, "dte": 3, "mid": 0.52}',
                }
            ]
        }
    )
    e = v["entries"][0]
    assert e["score"] == 71.5 and e["dte"] == 3 and e["limit"] == 0.52
    assert entry_credit(e) == 100.0
    assert projected_margin(v["entries"]) == 3000.0


def test_budget_levels() -> None:
    n = budget_numbers({"budget": 100.0, "margin_in_use": 50.0}, lineup_margin=40.0)
    assert n["headroom"] == 10.0 and level(n["usage"]) == "warning"
    assert level(0.5) == "ok" and level(1.01) == "error"
    # orders sent but not filled are not in IBKR's margin in use yet: they count too
    w = budget_numbers(
        {"budget": 100.0, "margin_in_use": 50.0, "working_margin": 30.0}, lineup_margin=40.0
    )
    assert w["headroom"] == -20.0 and level(w["usage"]) == "error"


def test_settings_validation_names_the_field() -> None:
    base = PutdeskConfig().model_dump(mode="json")
    problems, cfg = validate(base, {("selection", "min_otm_pct"): "-1"})
    assert cfg is None and ("selection", "min_otm_pct") in problems
    problems, cfg = validate(base, {("selection", "dte_min"): "20"})
    assert cfg is None and "DTE window is inverted" in problems[("selection", "dte_min")]
    problems, cfg = validate(base, {("budget", "margin_pct_of_nlv"): "25"})
    assert not problems and cfg is not None
    assert changes_of(cfg, base, {("budget", "margin_pct_of_nlv"): "25"}) == {
        "budget": {"margin_pct_of_nlv": 25.0}
    }
    assert len({f.dom_id for f in FIELDS}) == len(FIELDS)


def test_every_binding_has_id_and_tooltip_and_keymap_is_checked() -> None:
    for b in ALL_BINDINGS:
        assert b.id and b.tooltip, b
    assert len(binding_ids()) == len(ALL_BINDINGS)
    assert validate_keymap({"putdesk.scan": "f5"}) == []
    assert "unknown binding id" in validate_keymap({"putdesk.nope": "f5"})[0]


def test_themes_define_domain_colours(tmp_path: Path) -> None:
    themes = {t.name: t for t in load_themes()}
    assert {"putdesk-dark", "putdesk-light"} <= set(themes)
    for t in themes.values():
        assert set(DOMAIN_DEFAULTS) <= set(t.variables)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nprimary: '#000'\ncolour: red\n")
    with pytest.raises(ThemeFileError, match="unknown theme keys: colour"):
        load_theme_file(bad)


def test_tcss_uses_only_variables_for_colours() -> None:
    """Colour properties in putdesk.tcss take $variables, never literal colours."""
    css = (REPO / "themes" / "putdesk.tcss").read_text()
    for line in css.splitlines():
        if ":" in line and any(p in line for p in ("color:", "background:", "border")):
            value = line.split(":", 1)[1]
            assert "#" not in value and "rgb" not in value, line


def test_command_summaries() -> None:
    assert command_summary("auto_select", {"added": [1, 2]}) == "auto-select staged 2 entries"
    assert command_summary("kill", {"cancelled": 3}) == "HALTED: 3 order(s) cancelled"
    assert (
        command_summary("execute_now", {"reason": "1 approved: 1 filled", "decisions": []})
        == "execute now: 1 approved: 1 filled"
    )
    assert command_summary("x", {"message": "hi"}) == "hi"


def test_console_command_does_not_load_textual_until_it_runs() -> None:
    code = (
        "import sys\n"
        "from engine.cli.main import build_parser\n"
        "args = build_parser().parse_args(['console', '--demo', '--theme', 'putdesk-light'])\n"
        "assert args.demo and args.theme == 'putdesk-light'\n"
        "print('TEXTUAL' if any(k.startswith('textual') for k in sys.modules) else 'CLEAN')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "CLEAN"


def test_demo_config_forces_the_simulated_gateway_before_the_open() -> None:
    from console.__main__ import DEMO_MINUTES_BEFORE_OPEN, demo_config

    cfg = PutdeskConfig.model_validate({"ibkr": {"simulated": False, "port": 4001}})
    demo = demo_config(cfg)
    assert demo.ibkr.simulated is True
    assert demo.sim.start == "before_open"
    assert demo.sim.minutes_before_open == DEMO_MINUTES_BEFORE_OPEN
    assert cfg.ibkr.simulated is False  # the original is untouched
    assert demo.sim.speed == cfg.sim.speed
    assert demo_config(cfg, 30.0).sim.speed == 30.0


def test_putdesk_console_hands_every_option_to_the_console_program() -> None:
    from engine.cli.cmd_console import console_argv
    from engine.cli.main import build_parser

    args = build_parser().parse_args(
        ["console", "--demo", "--theme", "putdesk-light", "--config", "c.yaml", "--account", "DU1",
         "--speed", "30"]
    )  # fmt: skip
    argv = console_argv(args)
    assert argv[1:3] == ["-m", "console"]
    assert argv[3:] == [
        "--demo", "--config", "c.yaml", "--account", "DU1", "--theme", "putdesk-light",
        "--speed", "30.0",
    ]  # fmt: skip
    from console.__main__ import build_parser as console_parser

    parsed = console_parser().parse_args(argv[3:])
    assert parsed.demo and parsed.theme == "putdesk-light" and parsed.account == "DU1"
    assert parsed.speed == 30.0


def test_speed_only_with_the_demo_and_in_range(capsys: pytest.CaptureFixture[str]) -> None:
    from console.__main__ import main

    assert main(["--speed", "30"]) == 2
    assert "use it with --demo" in capsys.readouterr().err
    assert main(["--demo", "--speed", "0"]) == 2
    assert "--speed must be > 0" in capsys.readouterr().err


def test_nakedtrader_plan_shows_the_entry_window() -> None:
    from console.widgets.nakedtrader import _window

    assert _window({"entry_window": "09:45-13:00"}) == (
        "entry window 09:45-13:00 ET (a run outside it is refused)"
    )
    assert _window({"entry_window": None}) == "no entry today (not an NYSE session)"


def test_nakedtrader_plan_says_when_it_runs_or_why_not() -> None:
    from console.widgets.nakedtrader import _when

    assert _when("09:45") == "runs daily at 09:45 ET"
    sydney = ZoneInfo("Australia/Sydney")
    day = dt.date(2026, 11, 25)  # New York on EST, Sydney on AEDT: 16 h apart
    assert _when("09:45", sydney, day) == "runs daily at 09:45 ET (01:45 AEDT)"
    summer = dt.date(2026, 7, 1)  # New York on EDT, Sydney on AEST: 14 h apart
    assert _when("09:45", sydney, summer) == "runs daily at 09:45 ET (23:45 AEST)"
    assert _when("09:45", ZoneInfo("America/New_York"), day) == "runs daily at 09:45 ET"
    assert _when(None).startswith("not scheduled (enabled: false")  # never "None"


def test_nakedtrader_entry_says_filled_working_or_cancelled() -> None:
    from console.widgets.nakedtrader import entry_state

    assert entry_state({"entry_price": "0.30", "premium": "30"}) == "filled 0.30  premium $30.00"
    assert entry_state({"status": "pending"}) == "entry working (not filled yet)"
    assert entry_state({"status": "cancelled"}) == "entry cancelled unfilled"  # not "filled -"


def test_console_logs_to_a_file_never_to_its_terminal(tmp_path: Path) -> None:
    import logging

    from console.__main__ import console_logging
    from engine.runtime.logs import _MARK

    cfg = PutdeskConfig.model_validate({"paths": {"state_dir": str(tmp_path)}})
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        path = console_logging(cfg, None)
        assert path is not None and (path.parent.name, path.name) == ("logs", "console.log")
        ours = [h for h in root.handlers if getattr(h, _MARK, False)]
        assert ours and all(isinstance(h, logging.FileHandler) for h in ours)  # no stdout
        logging.getLogger("engine.execution.service").error("watcher sync failed: boom")
        for h in ours:
            h.flush()
        assert "watcher sync failed: boom" in path.read_text()
    finally:
        for h in [h for h in root.handlers if h not in before]:
            root.removeHandler(h)
            h.close()


def test_section_titles_count_what_the_tables_hold() -> None:
    from console.widgets.lineup import lineup_title
    from console.widgets.positions import orders_title, positions_title

    assert positions_title([]) == "Positions · none open"
    held = [
        {"bracket_status": "working", "unrealized_pnl": 35.0},
        {"bracket_status": "unprotected", "unrealized_pnl": "-50.5"},
    ]
    assert positions_title(held) == "Positions · 2 open · 1 UNPROTECTED · unrealised P&L -$15.50"
    held[0]["unrealized_pnl"] = None  # not marked yet: no total
    assert positions_title(held) == "Positions · 2 open · 1 UNPROTECTED"
    assert orders_title([]) == "Orders and brackets · none"
    orders = [{"status": "Submitted"}, {"status": "PreSubmitted"}, {"status": "Filled"}]
    assert orders_title(orders) == "Orders and brackets · 2 working of 3"
    assert lineup_title([]).startswith("Tonight's Lineup · empty (a: auto-select")
    entries = [{"status": "staged"}, {"status": "approved"}, {"status": "staged"}]
    assert lineup_title(entries) == "Tonight's Lineup · 3 entries: 2 staged, 1 approved"
    assert lineup_title(entries[:1]) == "Tonight's Lineup · 1 entry: 1 staged"


def test_strikes_too_near_the_money_fold_into_one_line_per_expiry() -> None:
    from console.widgets.scanner import strike_lines

    def otm(exp: str, k: float) -> dict:
        return {"expiry": exp, "strike": k, "code": "otm_below_min", "text": f"strike {k} ..."}

    rows = [
        {"expiry": "20261127", "strike": 125.0, "code": "delta_out_of_range", "text": "|d| low"},
        {"expiry": "20261127", "strike": 0.0, "code": "delta_out_of_range", "text": "all low"},
        otm("20261204", 127.5),
        otm("20261204", 150.0),
        otm("20261204", 130.0),
        {"expiry": "20261204", "strike": 120.0, "code": "oi_below_min", "text": "OI 3 < 50"},
        otm("20261211", 140.0),
    ]
    assert strike_lines(rows) == [
        ("Nov27 125.0", "|d| low"),
        ("Nov27 all", "all low"),
        ("Dec04 120.0", "OI 3 < 50"),
        ("Dec04 127.5-150.0", "3 strikes under min OTM % (nearer the money), not quoted"),
        ("Dec11 140.0", "1 strike under min OTM % (nearer the money), not quoted"),
    ]
