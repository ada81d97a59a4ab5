"""The real ib_async IB client against SimGateway with the real market model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from ib_async import IB, Option, Stock

from engine.sim.server import SimGateway
from engine.sim.testing import connected_ib, running_sim


@pytest.fixture
async def gw() -> AsyncIterator[SimGateway]:
    async with running_sim(tick_interval=0.05) as g:
        yield g


async def _until(cond, timeout: float = 3.0) -> bool:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if cond():
            return True
        await asyncio.sleep(0.02)
    return bool(cond())


async def test_connect_accounts_and_values(gw: SimGateway) -> None:
    errors: list[int] = []
    async with connected_ib(gw) as ib:
        ib.errorEvent += lambda rid, code, msg, c: errors.append(code)
        assert ib.managedAccounts() == ["DU1234567"]
        tags = {v.tag: v.value for v in ib.accountValues()}
        assert float(tags["NetLiquidation"]) > 0
        summary = await ib.accountSummaryAsync()
        assert any(v.tag == "NetLiquidation" for v in summary)
        assert ib.positions() == []
        t = await ib.reqCurrentTimeAsync()
        assert t.year == 2026
    assert gw.stats()["errors_by_code"]["2104"] == 1


async def test_live_style_account_id() -> None:
    async with running_sim(account_id="U1234567") as g, connected_ib(g) as ib:
        assert ib.managedAccounts() == ["U1234567"]


async def test_qualify_known_and_unknown(gw: SimGateway) -> None:
    async with connected_ib(gw) as ib:
        errors: list[int] = []
        ib.errorEvent += lambda rid, code, msg, c: errors.append(code)
        aapl, bogus = await ib.qualifyContractsAsync(
            Stock("AAPL", "SMART", "USD"), Stock("NOSUCH", "SMART", "USD")
        )
        assert aapl is not None and aapl.conId == 265598 and aapl.primaryExchange
        assert bogus is None and 200 in errors
        [cd] = await ib.reqContractDetailsAsync(Stock("AAPL", "SMART", "USD"))
        assert cd.longName and cd.industry and cd.category


async def test_chain_and_per_expiry_strikes(gw: SimGateway) -> None:
    async with connected_ib(gw) as ib:
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        chains = await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", aapl.conId)
        chain = next(c for c in chains if c.exchange == "SMART")
        assert chain.expirations and chain.strikes and int(chain.underlyingConId) == aapl.conId
        exp = chain.expirations[0]
        details = await ib.reqContractDetailsAsync(
            Option("AAPL", exp, 0, "P", "SMART", tradingClass=chain.tradingClass)
        )
        strikes = sorted(d.contract.strike for d in details)
        assert strikes and set(strikes) <= set(chain.strikes)
        assert all(d.contract.lastTradeDateOrContractMonth == exp for d in details)
        missing = [k for k in chain.strikes if k not in strikes]
        errors: list[int] = []
        ib.errorEvent += lambda rid, code, msg, c: errors.append(code)
        if missing:
            got = await ib.reqContractDetailsAsync(
                Option("AAPL", exp, missing[0], "P", "SMART", tradingClass=chain.tradingClass)
            )
            assert got == [] and 200 in errors


async def _an_option(ib: IB) -> Option:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    chains = await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", aapl.conId)
    chain = chains[0]
    exp = chain.expirations[1]
    details = await ib.reqContractDetailsAsync(
        Option("AAPL", exp, 0, "P", "SMART", tradingClass=chain.tradingClass)
    )
    return details[len(details) // 2].contract  # type: ignore[return-value]


async def test_streamed_option_gets_model_greeks(gw: SimGateway) -> None:
    async with connected_ib(gw) as ib:
        opt = await _an_option(ib)
        t = ib.reqMktData(opt, "100,101,106")
        assert await _until(lambda: t.modelGreeks is not None and t.bid == t.bid)
        assert t.modelGreeks.delta is not None and -1 < t.modelGreeks.delta < 0
        assert t.bid > 0 and t.ask >= t.bid and t.putOpenInterest > 0
        assert gw.stats()["market_data_lines"] == 1
        ib.cancelMktData(opt)
        assert await _until(lambda: gw.stats()["market_data_lines"] == 0)


async def test_snapshot_and_414(gw: SimGateway) -> None:
    async with connected_ib(gw) as ib:
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        [t] = await ib.reqTickersAsync(aapl)
        assert t.last > 0 and t.close > 0
        errors: list[int] = []
        ib.errorEvent += lambda rid, code, msg, c: errors.append(code)
        ib.reqMktData(aapl, "106", snapshot=True)
        assert await _until(lambda: 414 in errors)


async def test_delayed_greeks_use_tick_83(gw: SimGateway) -> None:
    async with connected_ib(gw) as ib:
        ib.reqMarketDataType(3)
        opt = await _an_option(ib)
        t = ib.reqMktData(opt)
        assert await _until(lambda: t.modelGreeks is not None)
        assert t.marketDataType == 3
        assert any(tick.tickType == 66 for tick in t.ticks)


async def test_line_limit_gives_101() -> None:
    async with running_sim(max_lines=2) as g, connected_ib(g) as ib:
        errors: list[int] = []
        ib.errorEvent += lambda rid, code, msg, c: errors.append(code)
        stocks = await ib.qualifyContractsAsync(
            *(Stock(sym, "SMART", "USD") for sym in ("AAPL", "MSFT", "KO"))
        )
        for c in stocks:
            ib.reqMktData(c)
        assert await _until(lambda: 101 in errors)
        assert g.stats()["peak_market_data_lines"] == 2


async def test_duplicate_client_id_gets_326(gw: SimGateway) -> None:
    async with connected_ib(gw, client_id=5):
        ib2 = IB()
        with pytest.raises((TimeoutError, ConnectionError, asyncio.TimeoutError)):
            await ib2.connectAsync("127.0.0.1", gw.port, clientId=5, timeout=1)
        ib2.disconnect()
    assert gw.stats()["errors_by_code"]["326"] == 1


async def test_message_rate_error_100_disconnects(gw: SimGateway) -> None:
    async with connected_ib(gw) as ib:
        errors: list[int] = []
        ib.errorEvent += lambda rid, code, msg, c: errors.append(code)
        ib.client.MaxRequests = 0
        for _ in range(80):
            ib.client.reqCurrentTime()
        assert await _until(lambda: not ib.isConnected())
        assert 100 in errors
    assert gw.stats()["disconnects_for_pacing"] == 1


async def test_reconnect_after_drop_and_restart(gw: SimGateway) -> None:
    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=1)
    assert await gw.drop_connections() == 1
    assert await _until(lambda: not ib.isConnected())
    await ib.connectAsync("127.0.0.1", gw.port, clientId=1)
    assert ib.isConnected()
    port = gw.port
    await gw.restart()
    assert await _until(lambda: not ib.isConnected())
    await ib.connectAsync("127.0.0.1", port, clientId=1)
    assert ib.isConnected() and gw.port == port
    ib.disconnect()


async def test_connectivity_codes_and_competing_session(gw: SimGateway) -> None:
    async with connected_ib(gw) as ib:
        errors: list[int] = []
        ib.errorEvent += lambda rid, code, msg, c: errors.append(code)
        gw.send_connectivity(1100)
        gw.send_connectivity(1102)
        assert await _until(lambda: 1100 in errors and 1102 in errors)
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        gw.set_competing_session(True)
        ib.reqMktData(aapl)
        assert await _until(lambda: 10197 in errors)
        gw.set_competing_session(False)


async def test_historical_bars_and_pacing_162(gw: SimGateway) -> None:
    async with connected_ib(gw) as ib:
        errors: list[int] = []
        ib.errorEvent += lambda rid, code, msg, c: errors.append(code)
        c = Stock("AAPL", "SMART", "USD")
        bars = await ib.reqHistoricalDataAsync(c, "", "20 D", "1 day", "TRADES", True)
        assert len(bars) >= 10 and bars[-1].close > 0
        again = await ib.reqHistoricalDataAsync(c, "", "20 D", "1 day", "TRADES", True)
        assert len(again) == 0
        assert await _until(lambda: 162 in errors)


async def test_scanner(gw: SimGateway) -> None:
    from ib_async import ScannerSubscription

    async with connected_ib(gw) as ib:
        sub = ScannerSubscription(
            instrument="STK", locationCode="STK.US.MAJOR", scanCode="HIGH_OPT_IMP_VOLAT"
        )
        rows = await ib.reqScannerDataAsync(sub)
        assert rows and rows[0].contractDetails.contract.conId
        xml = await ib.reqScannerParametersAsync()
        assert "HIGH_OPT_IMP_VOLAT" in xml


async def test_greeks_delay_and_summary_resubscribe_after_1102(gw: SimGateway) -> None:
    async with connected_ib(gw) as ib:
        first = await ib.accountSummaryAsync()
        assert first
        gw.set_greeks(delay=0.4)
        opt = await _an_option(ib)
        t = ib.reqMktData(opt)
        assert await _until(lambda: t.bid == t.bid)
        assert t.modelGreeks is None
        assert await _until(lambda: t.modelGreeks is not None)
        received = gw.stats()["messages_received"]
        gw.send_connectivity(1102)  # ib_async answers by re-requesting the account summary
        assert await _until(lambda: gw.stats()["messages_received"] > received)
        assert ib.isConnected()


async def test_unserved_request_ends_with_354(gw: SimGateway) -> None:
    async with connected_ib(gw) as ib:
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        errors: list[int] = []
        ib.errorEvent += lambda rid, code, msg, c: errors.append(code)
        head = await ib.reqHeadTimeStampAsync(aapl, "TRADES", True, 1)
        assert 354 in errors and not head
