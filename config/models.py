"""Pydantic models for every putdesk setting (product.md), validated strictly.

Unknown keys are refused (`extra="forbid"`) so a typo never silently falls back to a default.
Secrets (Anthropic key, Flex token) are never stored here as plain fields: only the name of the
environment variable or an owner-only file they are read from, resolved at use time by
`config.secrets`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)


class Strict(BaseModel):
    """Base for all config sections: unknown keys are errors, assignment is validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AutomationLevel(StrEnum):
    """A: assisted, B: semi-auto (Auto-Select fills the lineup), C: full auto (headless)."""

    A = "A"
    B = "B"
    C = "C"


def account_id_problem(v: str) -> str | None:
    if v[:1] in {"U", "D", "F", "I"} and v[1:].strip("U").isalnum():
        return None
    return f"{v!r}: account ids look like DU1234567 (paper) or U1234567 (live)"


class IBKRConfig(Strict):
    """Connection to IB Gateway / TWS. `simulated: true` (or no host) uses the embedded gateway."""

    simulated: bool = Field(True, description="Use the embedded simulated gateway")
    host: str = Field("127.0.0.1", description="Gateway host")
    port: int = Field(4002, ge=1, le=65535, description="Gateway API port (4002 paper, 4001 live)")
    client_id: int = Field(17, ge=0, le=2_147_483_646, description="API client id for orders")
    account: str | None = Field(None, description="Account id (DU... paper, U... live)")
    read_only: bool = Field(False, description="Never place orders")
    expected_mode: Literal["paper", "live"] = Field(
        "paper", description="Which kind of account you expect to connect to"
    )
    connect_timeout_s: float = Field(8.0, gt=0, le=120)
    request_timeout_s: float = Field(15.0, gt=0, le=300)
    reconnect_initial_s: float = Field(2.0, gt=0, le=300)
    reconnect_max_s: float = Field(120.0, gt=0, le=3600)
    max_messages_per_s: int = Field(45, ge=1, le=49, description="Request budget (IBKR limit 50)")
    market_data_lines: int = Field(
        90, ge=1, le=10_000, description="Market-data lines putdesk may hold (IBKR default 100)"
    )
    market_data_type: Literal[1, 2, 3, 4] = Field(1, description="1 live, 2 frozen, 3/4 delayed")

    @field_validator("account")
    @classmethod
    def _account_shape(cls, v: str | None) -> str | None:
        problem = account_id_problem(v) if v is not None else None
        if problem:
            raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _backoff_order(self) -> IBKRConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        return self


class Weights(Strict):
    """Composite score weights; must sum to 1."""

    safety: float = Field(0.40, ge=0, le=1)
    liquidity: float = Field(0.30, ge=0, le=1)
    ai: float = Field(0.20, ge=0, le=1)
    efficiency: float = Field(0.10, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> Weights:
        total = self.safety + self.liquidity + self.ai + self.efficiency
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"weights must sum to 1 (safety+liquidity+ai+efficiency = {total:g})")
        return self


class RegimeGuardConfig(Strict):
    """Market-regime guard on new puts (VIX level, VIX/VIX3M term structure, SPX vs its 200-day
    average). Off by default; when on and IBKR gives no regime data, nothing new is selected or
    sent (no data, no trade)."""

    enabled: bool = Field(False, description="Refuse new puts when the regime trips a limit")
    max_vix: float = Field(
        30.0, gt=0, le=200, description="Refuse at or above this VIX (30 = stress band)"
    )
    block_backwardation: bool = Field(
        True, description="Refuse while VIX is above VIX3M (term structure inverted)"
    )
    block_downtrend: bool = Field(False, description="Refuse while SPX is below its 200-day SMA")
    max_age_min: int = Field(
        30, ge=1, le=1440, description="A regime reading older than this is read again"
    )


class ABTestConfig(Strict):
    """A/B test of scoring weights: arm A scores with `selection.weights`, arm B with
    `weights_b`; each trading day's scans use one arm, alternating by date, and every lineup
    entry and trade carries its arm (`putdesk outcomes --by arm` compares them)."""

    enabled: bool = Field(False, description="Alternate the scoring weights by trading day")
    name: str = Field("weights-ab", min_length=1, max_length=40, description="Test name")
    weights_b: Weights = Weights(safety=0.50, liquidity=0.25, ai=0.15, efficiency=0.10)


class SelectionConfig(Strict):
    """How the scanner picks one best strike per symbol."""

    weights: Weights = Weights()
    delta_target: float = Field(0.065, gt=0, lt=1, description="Target |delta| of the put")
    delta_min: float = Field(0.05, gt=0, lt=1)
    delta_max: float = Field(0.30, gt=0, lt=1)
    min_otm_pct: float = Field(10.0, ge=0, lt=100, description="Minimum % out of the money")
    dte_min: int = Field(1, ge=0, le=365)
    dte_max: int = Field(14, ge=0, le=365)
    dte_preference: Literal["shortest", "closest_to_target"] = "shortest"
    dte_target: int = Field(7, ge=0, le=365)
    min_premium: Decimal = Field(Decimal("0.10"), ge=0, description="Minimum bid per share")
    max_spread_pct: float = Field(25.0, gt=0, le=200, description="Max bid/ask spread as % of mid")
    min_volume: int = Field(0, ge=0)
    min_open_interest: int = Field(50, ge=0)
    finalists_per_symbol: int = Field(3, ge=1, le=10, description="Strikes sent to what-if")
    contracts_per_trade: int = Field(1, ge=1, le=100)
    sizing: Literal["fixed", "margin_share"] = "fixed"
    max_contracts_per_symbol: int = Field(5, ge=1, le=1000)
    sector_overrides: dict[str, str] = Field(default_factory=dict)
    regime_guard: RegimeGuardConfig = RegimeGuardConfig()
    ab_test: ABTestConfig = ABTestConfig()

    @model_validator(mode="after")
    def _ranges(self) -> SelectionConfig:
        if self.delta_min > self.delta_max:
            raise ValueError(
                f"delta range is inverted: delta_min {self.delta_min} > delta_max {self.delta_max}"
            )
        if not self.delta_min <= self.delta_target <= self.delta_max:
            raise ValueError(
                f"delta_target {self.delta_target} must lie within "
                f"[{self.delta_min}, {self.delta_max}]"
            )
        if self.dte_min > self.dte_max:
            raise ValueError(f"DTE window is inverted: dte_min {self.dte_min} > {self.dte_max}")
        return self


class BudgetConfig(Strict):
    """Margin budget and concentration limits."""

    margin_pct_of_nlv: float = Field(
        20.0,
        gt=0,
        le=100,
        description="Total margin ceiling (in use + orders working + lineup), % of net liquidation",
    )
    max_per_sector: int = Field(
        5,
        ge=1,
        le=100,
        description="Max underlyings per sector (positions held, orders working and the lineup)",
    )
    overallocation_enabled: bool = False
    overallocation_pct: float = Field(15.0, ge=0, le=50)


class UniverseConfig(Strict):
    """Where symbols come from."""

    watchlist: list[str] = Field(
        default_factory=lambda: [
            "AAPL",
            "MSFT",
            "NVDA",
            "AMZN",
            "GOOGL",
            "META",
            "JPM",
            "XOM",
            "UNH",
            "HD",
        ]
    )
    use_ibkr_scanner: bool = False
    scanner_code: str = "HIGH_OPT_IMP_VOLAT"
    scanner_rows: int = Field(50, ge=1, le=50)
    scanner_min_price: float = Field(20.0, ge=0)
    scanner_min_volume: int = Field(1_000_000, ge=0)
    barchart_csv: Path | None = None

    @field_validator("watchlist")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        out = []
        for s in v:
            s = s.strip().upper()
            if not s or not s.replace(".", "").replace(" ", "").isalnum():
                raise ValueError(f"not a ticker symbol: {s!r}")
            out.append(s)
        return out


class ExecutionConfig(Strict):
    """Stage 2, two-tier pricing and brackets."""

    max_strikes_moved: int = Field(3, ge=0, le=20)
    tier1_price: Literal["mid", "mid_minus_tick", "ask_minus_tick"] = "mid"
    tier2_wait_s: int = Field(120, ge=5, le=3600)
    tier2_step: float = Field(
        0.5, gt=0, le=1, description="Fraction of the way from the limit to the bid"
    )
    after_tier2: Literal["leave", "cancel"] = "leave"
    partial_fill: Literal["complete", "cancel"] = "complete"
    take_profit_pct: float = Field(
        50.0, gt=0, lt=100, description="Buy back when this % of premium is captured"
    )
    stop_multiple: float | None = Field(
        3.0, gt=1, le=20, description="Stop at this multiple of premium; null for none"
    )
    min_liquidity_oi: int = Field(10, ge=0)


class AIConfig(Strict):
    """Claude assessment of candidates."""

    enabled: bool = True
    model: str = "claude-sonnet-5-5"
    timeout_s: float = Field(30.0, gt=0, le=600)
    api_key_env: str = Field("ANTHROPIC_API_KEY", description="Env var holding the key")
    base_url: str | None = Field(None, description="API base URL (tests use a local stand-in)")
    max_tokens: int = Field(2000, ge=100, le=32000)


class FlexConfig(Strict):
    """Flex Web Service: token from env or an owner-only file, never from this file."""

    token_env: str = "PUTDESK_FLEX_TOKEN"
    token_file: Path | None = None
    activity_query_id: str | None = None
    trade_confirm_query_id: str | None = None
    base_url: str = (
        "https://ndcdyn.interactivebrokers.com/AccountManagement/FlexWebService/SendRequest"
    )
    max_wait_s: float = Field(300.0, gt=0, le=3600)


def _t(s: str) -> dt.time:
    return dt.time.fromisoformat(s)


class ScheduleConfig(Strict):
    """Times of the day, in America/New_York, for the headless engine's jobs."""

    enabled: bool = True
    scan_at: dt.time = _t("09:15")
    stage2_at: dt.time = _t("09:28")
    tier1_at: dt.time = _t("09:30")
    nakedtrader_at: dt.time = _t("09:45")
    reconcile_at: dt.time = _t("16:30")
    flex_sync_at: dt.time = _t("17:30")
    catch_up_grace_min: int = Field(
        20, ge=0, le=600, description="A missed job may still run this many minutes late"
    )

    @model_validator(mode="after")
    def _order(self) -> ScheduleConfig:
        if not self.scan_at <= self.stage2_at <= self.tier1_at:
            raise ValueError("schedule must satisfy scan_at <= stage2_at <= tier1_at")
        return self


class ConsoleConfig(Strict):
    theme: str = "putdesk-dark"
    keymap: dict[str, str] = Field(default_factory=dict, description="binding id -> keys")
    local_timezone: str | None = Field(None, description="IANA zone; default: the system's")
    animations: bool = False

    @field_validator("local_timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {v!r} (use an IANA name like Australia/Sydney)"
            ) from exc
        return v


class PathsConfig(Strict):
    """Where state lives. Defaults come from platformdirs (see config.paths)."""

    state_dir: Path | None = None
    database: Path | None = None
    log_dir: Path | None = None


class SimConfig(Strict):
    """The embedded simulated gateway used when `ibkr.simulated` is true."""

    seed: int = 7
    speed: float = Field(1.0, gt=0, le=10_000)
    start: Literal["before_open", "now"] = "before_open"
    minutes_before_open: int = Field(20, ge=0, le=600)
    account_kind: Literal["paper", "live"] = "paper"
    flex_port: int = Field(0, ge=0, le=65535)
    port: int = Field(0, ge=0, le=65535)


#: The sections an account profile may override (the rest are the console's or the machine's).
ACCOUNT_SECTIONS = (
    "ibkr",
    "universe",
    "selection",
    "budget",
    "execution",
    "ai",
    "flex",
    "schedule",
    "sim",
)


class AccountProfile(Strict):
    """One IBKR account of several (`accounts.<id>`): a label and the settings that differ
    from the top-level ones for it (each section is merged over the top-level section)."""

    label: str = Field("", max_length=40, description="Name shown in the console")
    automation_level: AutomationLevel | None = None
    nakedtrader_config: Path | None = None
    ibkr: dict[str, Any] = Field(default_factory=dict)
    universe: dict[str, Any] = Field(default_factory=dict)
    selection: dict[str, Any] = Field(default_factory=dict)
    budget: dict[str, Any] = Field(default_factory=dict)
    execution: dict[str, Any] = Field(default_factory=dict)
    ai: dict[str, Any] = Field(default_factory=dict)
    flex: dict[str, Any] = Field(default_factory=dict)
    schedule: dict[str, Any] = Field(default_factory=dict)
    sim: dict[str, Any] = Field(default_factory=dict)

    @field_validator("ibkr")
    @classmethod
    def _no_account_inside(cls, v: dict[str, Any]) -> dict[str, Any]:
        if "account" in v:
            raise ValueError("the account id is the profile's key; remove ibkr.account here")
        return v


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `extra` merged in: nested mappings merge key by key, other values replace."""
    out = dict(base)
    for k, v in extra.items():
        nested = isinstance(v, Mapping) and isinstance(out.get(k), dict)
        out[k] = deep_merge(out[k], v) if nested else v
    return out


class PutdeskConfig(Strict):
    """The whole putdesk.yaml."""

    ibkr: IBKRConfig = IBKRConfig()
    automation_level: AutomationLevel = AutomationLevel.B
    universe: UniverseConfig = UniverseConfig()
    selection: SelectionConfig = SelectionConfig()
    budget: BudgetConfig = BudgetConfig()
    execution: ExecutionConfig = ExecutionConfig()
    ai: AIConfig = AIConfig()
    flex: FlexConfig = FlexConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    console: ConsoleConfig = ConsoleConfig()
    paths: PathsConfig = PathsConfig()
    sim: SimConfig = SimConfig()
    nakedtrader_config: Path | None = Field(
        None, description="Path of daily_spx_options.yaml (default: beside this file)"
    )
    accounts: dict[str, AccountProfile] = Field(
        default_factory=dict,
        description="Several IBKR accounts: id -> label and the settings that differ for it",
    )

    @field_validator("accounts")
    @classmethod
    def _profiles_valid(
        cls, v: dict[str, AccountProfile], info: ValidationInfo
    ) -> dict[str, AccountProfile]:
        """Keys are account ids, and every profile merged over the top-level settings is
        itself valid (checked once the other fields, validated first, are)."""
        problems = [p for p in map(account_id_problem, v) if p]
        if problems:
            raise ValueError("; ".join(problems))
        fields = set(cls.model_fields) - {"accounts"}
        if not v or not fields <= set(info.data):
            return v
        base = cls.model_construct(**info.data, accounts=v)
        for acct in v:
            try:
                base.for_account(acct)
            except ValidationError as exc:
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                )
                raise ValueError(f"account {acct}: {detail}") from None
        return v

    def default_account(self) -> str | None:
        """The account used when none is named: `ibkr.account`, else the first profile."""
        return self.ibkr.account or next(iter(self.accounts), None)

    def account_ids(self) -> list[str]:
        """Every account this config knows, the default first."""
        first = self.default_account()
        ids = [first] if first else []
        return ids + [a for a in self.accounts if a != first]

    def account_label(self, account: str | None) -> str:
        prof = self.accounts.get(account or "")
        return prof.label if prof is not None and prof.label else (account or "")

    def for_account(self, account: str | None = None) -> PutdeskConfig:
        """The settings of one account: its profile's sections merged over the top-level ones
        and `ibkr.account` set to it (`account=None`: the default account). A config without
        profiles and without an account is returned unchanged."""
        acct = account or self.default_account()
        if acct is None:
            return self
        problem = account_id_problem(acct)
        if problem:
            raise ValueError(problem)
        prof = self.accounts.get(acct)
        if prof is None and acct == self.ibkr.account:
            return self
        data = self.model_dump(mode="python", exclude={"accounts"})
        if prof is not None:
            for section in ACCOUNT_SECTIONS:
                extra = getattr(prof, section)
                if extra:
                    data[section] = deep_merge(data[section], extra)
            if prof.automation_level is not None:
                data["automation_level"] = prof.automation_level
            if prof.nakedtrader_config is not None:
                data["nakedtrader_config"] = prof.nakedtrader_config
        data["ibkr"]["account"] = acct
        merged = PutdeskConfig.model_validate(data)
        return merged.model_copy(update={"accounts": self.accounts})
