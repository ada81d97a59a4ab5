"""The Claude advisor against a local Messages API stand-in: good, malformed, missing
candidates, 429, 500, timeout, no key. Every failure turns the AI off with a reason."""

from __future__ import annotations

import json
from typing import Any

from config.models import AIConfig
from config.secrets import Secret, SecretError
from engine.selection.ai import (
    AICandidate,
    ClaudeAdvisor,
    PortfolioContext,
    build_prompt,
    parse_answer,
)
from tests.selection.standin import StandIn, error, message

KEY = "sk-test-not-a-real-key-123"


def cand(sym: str) -> AICandidate:
    return AICandidate(
        symbol=sym,
        sector="Technology",
        underlying_price=100.0,
        strike=88.0,
        expiry="20261204",
        dte=10,
        bid=0.55,
        ask=0.60,
        mid=0.575,
        iv=0.45,
        delta=-0.07,
        gamma=0.01,
        theta=-0.03,
        vega=0.04,
        otm_pct=12.0,
        open_interest=1200,
        volume=300,
        margin=1800.0,
        return_on_margin=0.0305,
    )


CANDS = [cand("AAPL"), cand("MSFT")]


def sent_key(headers: dict[str, str]) -> str:
    """The key as the SDK sent it (x-api-key, or a bearer token in newer SDKs)."""
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


CTX = PortfolioContext(1_000_000.0, 50_000.0, 200_000.0, {"Technology": 2})


def good(req: dict[str, Any]) -> tuple[int, Any]:
    items = [
        {"symbol": "AAPL", "score": 72, "reason": "solid\\nbuffer"},
        {"symbol": "MSFT", "score": 55.5, "reason": "earnings soon"},
    ]
    return 200, message("```json\n" + json.dumps(items) + "\n```")


async def run(reply: Any, *, delay: float = 0.0, timeout: float = 5.0, key: str | None = KEY):
    srv = await StandIn(reply, delay=delay).start()
    try:
        cfg = AIConfig(base_url=srv.url, timeout_s=timeout, model="claude-test")
        adv = ClaudeAdvisor(cfg, key_fn=lambda: Secret(key) if key else None, max_retries=0)
        verdict = await adv.assess(CANDS, CTX)
    finally:
        await srv.close()
    return verdict, srv


async def test_good_answer_scores_every_candidate() -> None:
    verdict, srv = await run(good)
    assert verdict.on and verdict.reason == "AI on"
    assert verdict.scores == {"AAPL": (72.0, "solid\\nbuffer"), "MSFT": (55.5, "earnings soon")}
    req = srv.requests[0]
    assert req["model"] == "claude-test"
    prompt = req["messages"][0]["content"]
    for needle in (
        "AAPL",
        "Technology",
        "88.0",
        "20261204",
        "open_interest",
        "theta",
        "margin_per_contract",
        "return_on_margin_pct",
        "net_liquidation",
        "margin_budget",
        "underlyings_held_per_sector",
    ):
        assert needle in prompt
    assert sent_key(srv.headers[0]) == KEY  # sent to the API, and only there
    assert KEY not in prompt and KEY not in verdict.reason


async def test_malformed_json() -> None:
    verdict, _ = await run(lambda r: (200, message("I think AAPL is fine.")))
    assert not verdict.on and verdict.reason.startswith("AI off: malformed answer (not JSON")


async def test_wrong_shape_and_out_of_range_score() -> None:
    bad = [{"symbol": "AAPL", "score": 140, "reason": "x"}, {"symbol": "MSFT", "score": 3}]
    verdict, _ = await run(lambda r: (200, message(json.dumps(bad))))
    assert not verdict.on and "malformed answer" in verdict.reason


async def test_missing_candidate() -> None:
    one = [{"symbol": "AAPL", "score": 60, "reason": "ok"}]
    verdict, _ = await run(lambda r: (200, message(json.dumps({"assessments": one}))))
    assert not verdict.on
    assert verdict.reason == "AI off: answer missing 1 of 2 candidates (MSFT)"


async def test_http_429() -> None:
    verdict, _ = await run(lambda r: (429, error("rate_limit_error", "slow down")))
    assert verdict.reason == "AI off: HTTP 429 rate_limit_error"


async def test_http_500() -> None:
    verdict, _ = await run(lambda r: (500, error("api_error", "boom")))
    assert verdict.reason == "AI off: HTTP 500 api_error"


async def test_timeout() -> None:
    verdict, _ = await run(good, delay=2.0, timeout=0.3)
    assert verdict.reason == "AI off: request timed out"


async def test_no_key_makes_no_request() -> None:
    verdict, srv = await run(good, key=None)
    assert verdict.reason == "AI off: no API key (set ANTHROPIC_API_KEY)"
    assert srv.requests == []


async def test_key_from_environment(monkeypatch: Any) -> None:
    srv = await StandIn(good).start()
    try:
        monkeypatch.setenv("PUTDESK_TEST_AI_KEY", KEY)
        cfg = AIConfig(base_url=srv.url, api_key_env="PUTDESK_TEST_AI_KEY", model="claude-test")
        verdict = await ClaudeAdvisor(cfg, max_retries=0).assess(CANDS, CTX)
    finally:
        await srv.close()
    assert verdict.on and sent_key(srv.headers[0]) == KEY


async def test_disabled_in_settings() -> None:
    verdict = await ClaudeAdvisor(AIConfig(enabled=False)).assess(CANDS, CTX)
    assert verdict.reason == "AI off: disabled in settings"


def test_readiness_says_on_or_why_off_without_calling_the_api() -> None:
    def unreadable() -> Secret | None:
        raise SecretError("key file is readable by others")

    cfg = AIConfig(model="claude-test")
    assert ClaudeAdvisor(AIConfig(enabled=False)).readiness().reason == (
        "AI off: disabled in settings"
    )
    off_ = ClaudeAdvisor(cfg, key_fn=lambda: None).readiness()
    assert not off_.on and off_.reason == "AI off: no API key (set ANTHROPIC_API_KEY)"
    bad = ClaudeAdvisor(cfg, key_fn=unreadable).readiness()
    assert not bad.on and "unreadable (key file is readable by others)" in bad.reason
    on = ClaudeAdvisor(cfg, key_fn=lambda: Secret(KEY)).readiness()
    assert on.on and on.reason == "AI on: claude-test" and KEY not in on.reason


def test_parse_answer_bare_list_and_prompt_shape() -> None:
    v = parse_answer('[{"symbol": "aapl", "score": 10, "reason": "a\\n b"}]', ["AAPL"])
    assert v.on and v.scores == {"AAPL": (10.0, "a b")}
    p = build_prompt(CANDS, CTX)
    assert p.count('"symbol"') == 2
