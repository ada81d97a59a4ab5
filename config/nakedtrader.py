"""Pydantic model of `daily_spx_options.yaml`: the NakedTrader daily index put strategy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from config.models import Strict

#: The trading classes IBKR lists per instrument (XSPW is not confirmed, so XSP is the default).
TRADING_CLASSES: dict[str, tuple[str, ...]] = {
    "SPX": ("SPXW", "SPX"),
    "XSP": ("XSP", "XSPW"),
    "SPY": ("SPY",),
}


class NakedTraderConfig(Strict):
    """Settings of the mechanical daily put sale on SPX, XSP or SPY."""

    enabled: bool = False
    instrument: Literal["SPX", "XSP", "SPY"] = "XSP"
    trading_class: str | None = Field(None, description="Default: SPXW / XSP / SPY")
    dte: int = Field(1, ge=0, le=10)
    delta_target: float = Field(0.065, gt=0, lt=0.5)
    delta_min: float = Field(0.055, gt=0, lt=0.5)
    delta_max: float = Field(0.075, gt=0, lt=0.5)
    widen_step: float = Field(0.01, gt=0, le=0.1, description="How far each widening goes")
    widen_limit: int = Field(3, ge=0, le=10, description="Max widening steps")
    contracts: int = Field(1, ge=1, le=100)
    limit_price: Literal["mid", "bid", "mid_minus_tick"] = "mid"
    min_premium: Decimal = Field(Decimal("0.10"), ge=0)
    profit_take_pct: float = Field(50.0, gt=0, lt=100)
    stop_multiple: float | None = Field(3.0, gt=1, le=20)
    entry_start: dt.time = dt.time(9, 45)
    entry_end: dt.time = dt.time(15, 30)
    max_daily_trades: int = Field(1, ge=1, le=20)
    account: str | None = None

    @model_validator(mode="after")
    def _check(self) -> NakedTraderConfig:
        if self.delta_min > self.delta_max:
            raise ValueError(
                f"delta range is inverted: delta_min {self.delta_min} > delta_max {self.delta_max}"
            )
        if not self.delta_min <= self.delta_target <= self.delta_max:
            raise ValueError(
                f"delta_target {self.delta_target} must lie within "
                f"[{self.delta_min}, {self.delta_max}]"
            )
        if self.entry_start >= self.entry_end:
            raise ValueError("entry window is empty: entry_start must be before entry_end")
        if (
            self.trading_class is not None
            and self.trading_class not in TRADING_CLASSES[self.instrument]
        ):
            allowed = ", ".join(TRADING_CLASSES[self.instrument])
            raise ValueError(
                f"trading_class {self.trading_class!r} is not listed for {self.instrument} "
                f"(allowed: {allowed})"
            )
        return self

    @property
    def effective_trading_class(self) -> str:
        return self.trading_class or TRADING_CLASSES[self.instrument][0]
