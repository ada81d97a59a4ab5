"""Generate docs/configuration.md from the pydantic models (a test keeps the file in sync).

Run: `python -m config.docgen > docs/configuration.md`.
"""

from __future__ import annotations

import enum
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from config.models import ACCOUNT_SECTIONS, PutdeskConfig
from config.nakedtrader import NakedTraderConfig

NOTES: dict[str, str] = {
    "ibkr.reconnect_initial_s": "First reconnect delay; doubles with jitter up to reconnect_max_s",
    "ibkr.reconnect_max_s": "Cap of the reconnect backoff",
    "ibkr.connect_timeout_s": "Seconds to wait for the gateway handshake",
    "ibkr.request_timeout_s": "Seconds before a request (quotes, what-if) gives up",
    "automation_level": "A assisted, B semi-auto, C full auto (headless engine)",
    "universe.use_ibkr_scanner": "Add symbols from an IBKR market-scanner subscription",
    "universe.scanner_code": "IBKR scan code, e.g. HIGH_OPT_IMP_VOLAT",
    "universe.scanner_rows": "Rows asked from the scanner (IBKR max 50)",
    "universe.scanner_min_price": "Scanner filter: minimum stock price",
    "universe.scanner_min_volume": "Scanner filter: minimum daily volume",
    "universe.barchart_csv": "A Barchart screener CSV export to add symbols from",
    "selection.delta_min": "Lower bound of |delta| searched",
    "selection.delta_max": "Upper bound of |delta| searched",
    "selection.dte_min": "Shortest days to expiry accepted",
    "selection.dte_max": "Longest days to expiry accepted",
    "selection.dte_preference": (
        "shortest: first acceptable expiry; closest_to_target: nearest dte_target"
    ),
    "selection.dte_target": "Used when dte_preference is closest_to_target",
    "selection.min_volume": "Minimum option volume today",
    "selection.min_open_interest": "Minimum open interest",
    "selection.contracts_per_trade": "Quantity suggested per staged trade",
    "selection.sizing": "fixed: contracts_per_trade; margin_share: scale to budget share",
    "selection.max_contracts_per_symbol": "Cap on quantity per symbol",
    "selection.sector_overrides": "symbol -> sector, overriding IBKR's industry/category",
    "budget.overallocation_enabled": "Feed orders up to overallocation_pct over the ceiling",
    "budget.overallocation_pct": "How far over the ceiling the feeder may stage",
    "execution.max_strikes_moved": "Stage 2 may move at most this many strikes",
    "execution.tier1_price": "Tier 1 limit price from the live quote",
    "execution.tier2_wait_s": "Seconds after tier 1 before the one reprice",
    "execution.after_tier2": "Leave or cancel orders still unfilled after tier 2",
    "execution.partial_fill": "Complete or cancel the rest of a partial fill",
    "execution.min_liquidity_oi": "Open interest required of an adapted strike",
    "ai.enabled": "Ask Claude to assess candidates (needs the key)",
    "ai.model": "Anthropic model name",
    "ai.timeout_s": "Seconds before the assessment is abandoned (AI weight set aside)",
    "ai.max_tokens": "Maximum answer length",
    "flex.token_env": "Environment variable holding the Flex Web Service token",
    "flex.token_file": "Owner-only file holding the token (chmod 600)",
    "flex.activity_query_id": "Activity Flex Query id (reconcile-eod, historical import)",
    "flex.trade_confirm_query_id": "Trade Confirmation Flex Query id (same-day executions)",
    "flex.base_url": "SendRequest URL of the Flex Web Service",
    "flex.max_wait_s": "Give up polling for a statement after this long",
    "schedule.enabled": "Run scheduled jobs in the headless engine",
    "console.theme": "putdesk-dark, putdesk-light, or a Textual theme name",
    "console.animations": "Textual animations (off by default: better over SSH)",
    "paths.state_dir": "Default: platformdirs user state dir; PUTDESK_STATE_DIR wins",
    "paths.database": "Default: <state_dir>/putdesk-<account>.db (one per account)",
    "paths.log_dir": "Default: <state_dir>/logs",
    "sim.seed": "Seed of the simulated market (same seed, same market)",
    "sim.speed": "Simulated seconds per real second",
    "sim.start": "before_open: clock starts minutes_before_open before the next US open; "
    "never before the simulated time the saved state reached",
    "sim.account_kind": "paper (DU...) or live-style (U...) simulated account",
    "sim.flex_port": "Port of the simulated Flex Web Service (0: any free port)",
    "sim.port": "Port of the simulated gateway (0: any free port)",
    "nakedtrader_config": "Path of daily_spx_options.yaml",
    "ibkr.market_data_type": "1 live (required to trade), 2 frozen, 3 delayed, 4 delayed-frozen",
}


ACCOUNTS_SECTION = [
    "## Several accounts (`accounts:`)",
    "",
    "`accounts:` lists every IBKR account putdesk works with (live and paper, or one per",
    "strategy), keyed by the account id. Each profile has a `label` (shown in the console) and",
    "may hold any of the sections "
    + ", ".join(f"`{s}`" for s in ACCOUNT_SECTIONS)
    + ", and `automation_level` / `nakedtrader_config`: they are merged over the top-level",
    "settings for that account only (a profile's `budget.margin_pct_of_nlv` changes that",
    "account's budget, nothing else). `ibkr.account` is the profile's key and may not be set",
    "inside it. Each merged profile must itself be valid; `putdesk config check` says which",
    "account and field is not.",
    "",
    "```yaml",
    "ibkr:",
    "  simulated: false",
    "accounts:",
    "  DU1234567:",
    "    label: Paper",
    "    ibkr: {port: 4002}",
    "  U7654321:",
    "    label: Live",
    "    ibkr: {port: 4001, expected_mode: live, client_id: 18}",
    "    budget: {margin_pct_of_nlv: 15, max_per_sector: 3}",
    "    flex: {token_env: PUTDESK_FLEX_TOKEN_LIVE, activity_query_id: '123456'}",
    "```",
    "",
    "- The default account is `ibkr.account`, else the first profile; `--account ID` picks",
    "  another on every command (`putdesk status --account U7654321`).",
    "- Every account has its own engine (one at a time, a lock), database",
    "  (`<state_dir>/putdesk-<id>.db`), socket and log: records, lineups and the kill switch",
    "  never mix. Without `ibkr.account` or profiles, the simulated gateway's account names",
    "  them (`putdesk-DU1234567.db`, so `putdesk status` finds the engine `make demo` runs),",
    "  against IB Gateway `putdesk-default.db`; with profiles, the default account's id.",
    '- The console shows one account at a time; `A` (or "Switch account" in the palette)',
    "  lists them and switches. The account left keeps its engine running.",
    "- Settings saved from the console while an account whose profile is in the file is shown",
    "  are written into that profile (for the sections above); `console` and `paths` stay top",
    "  level. The demo's accounts live in memory only and are never written to the file.",
    "",
]


def _type_name(ann: Any) -> str:
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in typing.get_args(ann))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " \\| ".join(_type_name(a) for a in typing.get_args(ann))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(ann))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return " \\| ".join(repr(m.value) for m in ann)
    if ann is type(None):
        return "null"
    return getattr(ann, "__name__", str(ann))


def _constraints(info: FieldInfo) -> str:
    out = []
    for m in info.metadata:
        for attr, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sym} {v}")
    return ", ".join(out)


def _default(info: FieldInfo) -> str:
    factory = info.default_factory
    value = factory() if factory is not None else info.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, enum.Enum):
        value = value.value
    text = repr(value) if not isinstance(value, str) else f"`{value}`"
    return text.replace("|", "\\|")


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.extend(_rows(ann, f"{path}."))
            continue
        desc = info.description or NOTES.get(path, "")
        rows.append(
            f"| `{path}` | {_type_name(ann)} | {_default(info)} | {_constraints(info)} | {desc} |"
        )
    return rows


def render() -> str:
    head = [
        "# Configuration reference",
        "",
        "Generated from the pydantic models by `python -m config.docgen` (a test keeps this",
        "file in sync). putdesk reads `$PUTDESK_CONFIG`, else your user config file",
        "(`putdesk config path`), else the shipped `config/putdesk.yaml`. Any setting can be",
        "overridden from the environment with a `PUTDESK_` prefix and `__` between levels,",
        "for example `PUTDESK_BUDGET__MARGIN_PCT_OF_NLV=15`. Unknown keys are errors.",
        "`putdesk config check [FILE]` validates a file and names file, line and field of",
        "every problem.",
        "",
        "Secrets are never written in these files: the Anthropic key is read from the",
        "environment variable named by `ai.api_key_env`; the Flex token from `flex.token_env`",
        "or the owner-only file `flex.token_file`.",
        "",
        "## putdesk.yaml",
        "",
        "| setting | type | default | allowed | meaning |",
        "|---|---|---|---|---|",
        *_rows(PutdeskConfig, ""),
        "",
        "Cross-field rules: selection weights sum to 1; `delta_min <= delta_target <= delta_max`;",
        "`dte_min <= dte_max`; `scan_at <= stage2_at <= tier1_at`;",
        "`reconnect_initial_s <= reconnect_max_s`.",
        "",
        *ACCOUNTS_SECTION,
        "## daily_spx_options.yaml (NakedTrader)",
        "",
        "Every value can be overridden on the command line (`putdesk nt --delta-target 0.07`)",
        "or with `PUTDESK_NT__<KEY>`.",
        "",
        "| setting | type | default | allowed | meaning |",
        "|---|---|---|---|---|",
        *_rows(NakedTraderConfig, ""),
        "",
        "Cross-field rules: `delta_min <= delta_target <= delta_max`; `entry_start < entry_end`;",
        "`trading_class` must be listed for the instrument (SPX: SPXW, SPX; XSP: XSP, XSPW;",
        "SPY: SPY).",
        "",
    ]
    return "\n".join(head)


if __name__ == "__main__":
    print(render(), end="")
