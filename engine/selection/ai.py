"""Claude assessment of candidates through the `anthropic` SDK, behind a small interface.

`ClaudeAdvisor.assess` sends one prompt with every candidate and the portfolio context and
expects JSON: a list of {symbol, score 0-100, reason}. Anything short of a complete, valid
answer (no key, HTTP error, timeout, malformed JSON, a candidate missing) turns the AI off
for the scan: `AIVerdict.on` is False and `reason` says why ("AI off: HTTP 429 ...").
The API key is read at call time and never logged, stored or put in a reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator

from config.models import AIConfig
from config.secrets import Secret, SecretError, get_secret

SYSTEM_PROMPT = (
    "You are a risk analyst for a trader who sells cash-secured or margined short puts on US "
    "stocks. Risk comes before premium: a margin call is worse than a missed trade. For each "
    "candidate judge the chance that the put ends in the money or forces a loss, and whether "
    "the premium pays for that risk, given the portfolio. Answer with JSON only: a list with "
    'one object per candidate, {"symbol": str, "score": 0-100 (100 = best trade), '
    '"reason": one short line}. No prose outside the JSON.'
)


@dataclass(frozen=True)
class AICandidate:
    """What the prompt says about one candidate."""

    symbol: str
    sector: str
    underlying_price: float
    strike: float
    expiry: str
    dte: int
    bid: float
    ask: float
    mid: float
    iv: float | None
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    otm_pct: float
    open_interest: float | None
    volume: float | None
    margin: float
    return_on_margin: float


@dataclass(frozen=True)
class PortfolioContext:
    net_liquidation: float | None
    margin_in_use: float | None
    budget: float | None
    sectors_held: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AIVerdict:
    """`scores[symbol] = (score, reason)` when `on`; else empty with the reason it is off."""

    on: bool
    reason: str
    scores: dict[str, tuple[float, str]] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "on" if self.on else "off"


class Advisor(Protocol):
    async def assess(
        self, candidates: Sequence[AICandidate], portfolio: PortfolioContext
    ) -> AIVerdict: ...


class Assessment(BaseModel):
    """One validated item of the answer."""

    symbol: str = Field(min_length=1, max_length=12)
    score: float = Field(ge=0, le=100)
    reason: str = Field(min_length=1, max_length=400)

    @field_validator("symbol")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.strip().upper()

    @field_validator("reason")
    @classmethod
    def _one_line(cls, v: str) -> str:
        return " ".join(v.split())


_ANSWER = TypeAdapter(list[Assessment])
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def off(why: str) -> AIVerdict:
    return AIVerdict(False, f"AI off: {why}")


def build_prompt(candidates: Sequence[AICandidate], portfolio: PortfolioContext) -> str:
    """The user message: portfolio context and one JSON object per candidate."""

    def r(x: float | None, n: int = 4) -> float | None:
        return None if x is None else round(x, n)

    items = [
        {
            "symbol": c.symbol,
            "sector": c.sector,
            "underlying_price": r(c.underlying_price, 2),
            "strike": c.strike,
            "expiry": c.expiry,
            "dte": c.dte,
            "bid": r(c.bid, 2),
            "ask": r(c.ask, 2),
            "mid": r(c.mid, 3),
            "iv": r(c.iv),
            "delta": r(c.delta),
            "gamma": r(c.gamma, 5),
            "theta": r(c.theta),
            "vega": r(c.vega),
            "otm_pct": r(c.otm_pct, 2),
            "open_interest": c.open_interest,
            "volume": c.volume,
            "margin_per_contract": r(c.margin, 2),
            "return_on_margin_pct": r(c.return_on_margin * 100, 3),
        }
        for c in candidates
    ]
    context = {
        "net_liquidation": portfolio.net_liquidation,
        "margin_in_use": portfolio.margin_in_use,
        "margin_budget": portfolio.budget,
        "underlyings_held_per_sector": portfolio.sectors_held,
    }
    return (
        "Portfolio:\n"
        + json.dumps(context, sort_keys=True)
        + f"\n\nCandidates ({len(items)}), one short put each:\n"
        + json.dumps(items, sort_keys=True)
        + "\n\nScore every candidate. Reply with the JSON list only."
    )


def parse_answer(text: str, symbols: Sequence[str]) -> AIVerdict:
    """Validate the model's text: a JSON list (optionally fenced, or under "assessments")
    covering every symbol asked about."""
    m = _FENCE.search(text)
    body = (m.group(1) if m else text).strip()
    try:
        data: Any = json.loads(body)
    except json.JSONDecodeError as exc:
        return off(f"malformed answer (not JSON: {exc.msg} at char {exc.pos})")
    if isinstance(data, dict) and isinstance(data.get("assessments"), list):
        data = data["assessments"]
    try:
        items = _ANSWER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return off(f"malformed answer ({where}: {first['msg']})")
    scores = {a.symbol: (a.score, a.reason) for a in items}
    missing = [s for s in symbols if s.upper() not in scores]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        return off(f"answer missing {len(missing)} of {len(symbols)} candidates ({shown})")
    wanted = {s.upper() for s in symbols}
    return AIVerdict(True, "AI on", {s: v for s, v in scores.items() if s in wanted})


def describe_error(exc: BaseException) -> str:
    """A short, key-free description of an SDK or transport error."""
    import anthropic

    if isinstance(exc, anthropic.APITimeoutError):
        return "request timed out"
    if isinstance(exc, anthropic.APIStatusError):
        etype = ""
        body = exc.body
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict):
                etype = str(err.get("type") or "")
        return f"HTTP {exc.status_code} {etype}".strip()
    if isinstance(exc, anthropic.APIConnectionError):
        return "cannot reach the API"
    return f"{type(exc).__name__}"


class ClaudeAdvisor:
    """The Anthropic Messages API as an `Advisor`. `key_fn` defaults to the env var named in
    config (config.secrets); tests pass their own and `max_retries=0`."""

    def __init__(
        self,
        cfg: AIConfig,
        *,
        key_fn: Callable[[], Secret | None] | None = None,
        max_retries: int = 2,
    ) -> None:
        self.cfg = cfg
        self._key_fn = key_fn or (lambda: get_secret(cfg.api_key_env))
        self.max_retries = max_retries

    def _key(self) -> tuple[Secret | None, AIVerdict]:
        """The key when the AI may be asked, and the verdict on readiness."""
        if not self.cfg.enabled:
            return None, off("disabled in settings")
        try:
            key = self._key_fn()
        except SecretError as exc:
            return None, off(f"API key unreadable ({exc})")
        if key is None:
            return None, off(f"no API key (set {self.cfg.api_key_env})")
        return key, AIVerdict(True, f"AI on: {self.cfg.model}")

    def readiness(self) -> AIVerdict:
        """Whether a scan would ask Claude now (enabled, a key readable), without calling the
        API; the reason says why not, or which model is used."""
        return self._key()[1]

    async def assess(
        self, candidates: Sequence[AICandidate], portfolio: PortfolioContext
    ) -> AIVerdict:
        if not self.cfg.enabled:
            return off("disabled in settings")
        if not candidates:
            return off("no candidates to assess")
        key, ready = self._key()
        if key is None:
            return ready
        import anthropic

        client = anthropic.AsyncAnthropic(
            api_key=key.reveal(),
            base_url=self.cfg.base_url,
            timeout=self.cfg.timeout_s,
            max_retries=self.max_retries,
        )
        try:
            msg = await client.messages.create(
                model=self.cfg.model,
                max_tokens=self.cfg.max_tokens,
                system=SYSTEM_PROMPT,
                messages=[{"role": "user", "content": build_prompt(candidates, portfolio)}],
            )
        except Exception as exc:  # every SDK/transport failure turns the AI off
            return off(describe_error(exc))
        finally:
            await client.close()
        text = "".join(getattr(block, "text", "") for block in msg.content if block.type == "text")
        if not text.strip():
            return off("empty answer")
        return parse_answer(text, [c.symbol for c in candidates])
