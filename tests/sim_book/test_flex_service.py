"""The simulated Flex Web Service over HTTP on 127.0.0.1 (urllib and ibflex.client)."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import AsyncIterator

import pytest
from ibflex import client, parser

from engine.sim.flex_service import FlexService

from .conftest import Env
from .fakes import contract, lmt


def get(url: str) -> str:
    req = urllib.request.Request(url, headers={"User-Agent": "putdesk-test"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        body: bytes = resp.read()
    return body.decode()


async def aget(url: str) -> str:
    return await asyncio.to_thread(get, url)


def code(body: str) -> str | None:
    m = re.search(r"<ErrorCode>(\d+)</ErrorCode>", body)
    return m.group(1) if m else None


@pytest.fixture
async def service(env: Env) -> AsyncIterator[FlexService]:
    env.book.place(1, contract(env.ko45), lmt(1, "SELL", 1, 0.50, orderRef="flex-1"))
    env.book.on_tick()
    svc = FlexService(env.book, rate_limit=False)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


async def test_send_request_then_1019_then_statement(service: FlexService) -> None:
    body = await aget(f"{service.base_url}?t=simtoken&q=111111&v=3")
    assert "<Status>Success</Status>" in body
    ref = re.search(r"<ReferenceCode>(\d+)</ReferenceCode>", body).group(1)  # type: ignore[union-attr]
    url = re.search(r"<Url>(.+)</Url>", body).group(1)  # type: ignore[union-attr]
    assert url.startswith(f"http://127.0.0.1:{service.port}/") and url.endswith("/GetStatement")
    first = await aget(f"{url}?t=simtoken&q={ref}&v=3")
    assert code(first) == "1019" and "<Status>Warn</Status>" in first
    assert "Statement generation in progress. Please try again shortly." in first
    statement = await aget(f"{url}?t=simtoken&q={ref}&v=3")
    [stmt] = parser.parse(statement.encode()).FlexStatements
    assert [t.orderReference for t in stmt.Trades] == ["flex-1"]


async def test_trade_confirm_query_and_dates(service: FlexService) -> None:
    body = await aget(f"{service.base_url}?t=simtoken&q=222222&v=3&fd=20261124&td=20261124")
    ref = re.search(r"<ReferenceCode>(\d+)</ReferenceCode>", body).group(1)  # type: ignore[union-attr]
    url = f"{service.statement_url}?t=simtoken&q={ref}&v=3"
    assert code(await aget(url)) == "1019"
    response = parser.parse((await aget(url)).encode())
    assert response.type == "TCF"
    assert len(response.FlexStatements[0].TradeConfirms) == 1
    body = await aget(f"{service.base_url}?t=simtoken&q=111111&v=3&fd=20261125&td=20261130")
    ref = re.search(r"<ReferenceCode>(\d+)</ReferenceCode>", body).group(1)  # type: ignore[union-attr]
    url = f"{service.statement_url}?t=simtoken&q={ref}&v=3"
    await aget(url)
    assert parser.parse((await aget(url)).encode()).FlexStatements[0].Trades == ()


async def test_errors(service: FlexService) -> None:
    base = service.base_url
    assert code(await aget(f"{base}?t=wrong&q=111111&v=3")) == "1015"
    assert code(await aget(f"{base}?t=simtoken&q=999&v=3")) == "1014"
    assert code(await aget(f"{base}?t=simtoken&v=3")) == "1020"
    assert code(await aget(f"{base}?t=simtoken&q=111111&v=3&fd=2026")) == "1020"
    assert code(await aget(f"{service.statement_url}?t=simtoken&q=123&v=3")) == "1017"
    service.expire_token()
    assert code(await aget(f"{base}?t=simtoken&q=111111&v=3")) == "1012"
    assert code(await aget(f"{service.statement_url}?t=simtoken&q=123&v=3")) == "1012"


async def test_rate_limit(env: Env) -> None:
    now = [1000.0]
    svc = FlexService(env.book, token="tok", monotonic=lambda: now[0])
    await svc.start()
    try:
        url = f"{svc.base_url}?t=tok&q=111111&v=3"
        assert code(await aget(url)) is None
        assert code(await aget(url)) == "1018"  # second request within 1 s
        for _ in range(9):
            now[0] += 1.5
            assert code(await aget(url)) is None
        now[0] += 1.5
        assert code(await aget(url)) == "1018"  # 11th in a minute
        now[0] += 60
        assert code(await aget(url)) is None
    finally:
        await svc.stop()


async def test_configured_expired_token(env: Env) -> None:
    svc = FlexService(env.book, token_expired=True)
    await svc.start()
    try:
        assert code(await aget(f"{svc.base_url}?t=simtoken&q=111111&v=3")) == "1012"
    finally:
        await svc.stop()


async def test_ibflex_client_download(
    service: FlexService, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(client, "REQUEST_URL", service.base_url)
    monkeypatch.setattr(client.time, "sleep", sleeps.append)
    raw = await asyncio.to_thread(client.download, "simtoken", "111111")
    assert 5 in sleeps  # it was told 1019 once
    [stmt] = parser.parse(raw).FlexStatements
    assert stmt.Trades[0].orderReference == "flex-1"
    with pytest.raises(client.ResponseCodeError) as err:
        await asyncio.to_thread(client.download, "bad", "111111")
    assert err.value.code == "1015"
