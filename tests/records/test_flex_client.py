"""The Flex Web Service client against a scripted local HTTP server (127.0.0.1 only)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from config.secrets import Secret
from engine.records.flex_client import FlexClient, FlexError
from tests.records.conftest import ORCL

TOKEN = "SeCrEt-Flex-Token-987654321"


def _status(code: str, status: str = "Warn") -> bytes:
    return (
        f'<FlexStatementResponse timestamp="24 November, 2026 10:48 AM EST"><Status>{status}'
        f"</Status><ErrorCode>{code}</ErrorCode><ErrorMessage>m</ErrorMessage>"
        "</FlexStatementResponse>"
    ).encode()


class Scripted:
    """SendRequest / GetStatement answers taken in order from per-path lists."""

    def __init__(self) -> None:
        self.send: list[bytes] = []
        self.get: list[bytes] = []
        self.seen: list[tuple[str, dict[str, list[str]], str | None]] = []
        self.port = 0

    def ok_reference(self) -> bytes:
        return (
            '<FlexStatementResponse timestamp="24 November, 2026 10:48 AM EST">'
            "<Status>Success</Status><ReferenceCode>REF42</ReferenceCode>"
            f"<Url>http://127.0.0.1:{self.port}/FlexWebService/GetStatement</Url>"
            "</FlexStatementResponse>"
        ).encode()


@pytest.fixture
def server() -> Iterator[Scripted]:
    script = Scripted()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            script.seen.append((parts.path, parse_qs(parts.query), self.headers.get("User-Agent")))
            queue = script.send if parts.path.endswith("SendRequest") else script.get
            body = queue.pop(0) if queue else _status("1020", "Fail")
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    script.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield script
    finally:
        httpd.shutdown()
        httpd.server_close()


def _client(script: Scripted, sleeps: list[float], **kw: object) -> FlexClient:
    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    return FlexClient(
        f"http://127.0.0.1:{script.port}/FlexWebService/SendRequest",
        Secret(TOKEN),
        sleep=fake_sleep,
        **kw,  # type: ignore[arg-type]
    )


async def test_1019_then_statement(server: Scripted, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.send = [server.ok_reference()]
    server.get = [_status("1019"), _status("1019"), ORCL.read_bytes()]
    sleeps: list[float] = []
    dl = await _client(server, sleeps).fetch("123456")
    assert dl.data == ORCL.read_bytes() and dl.reference_code == "REF42"
    assert sleeps == [5.0, 10.0]  # exponential backoff while generating
    assert [p for p, _, _ in server.seen] == [
        "/FlexWebService/SendRequest",
        "/FlexWebService/GetStatement",
        "/FlexWebService/GetStatement",
        "/FlexWebService/GetStatement",
    ]
    assert all(ua and ua.startswith("putdesk/") for _, _, ua in server.seen)
    assert server.seen[0][1]["q"] == ["123456"] and server.seen[0][1]["v"] == ["3"]
    assert server.seen[1][1]["q"] == ["REF42"]
    assert TOKEN not in caplog.text


async def test_dates_are_sent(server: Scripted) -> None:
    import datetime as dt

    server.send = [server.ok_reference()]
    server.get = [ORCL.read_bytes()]
    await _client(server, []).fetch("1", from_date=dt.date(2025, 1, 2), to_date=dt.date(2025, 3, 4))
    q = server.seen[0][1]
    assert q["fd"] == ["20250102"] and q["td"] == ["20250304"]


async def test_1018_waits_at_least_a_minute(server: Scripted) -> None:
    server.send = [_status("1018"), server.ok_reference()]
    server.get = [ORCL.read_bytes()]
    sleeps: list[float] = []
    await _client(server, sleeps).fetch("1")
    assert len(sleeps) == 1 and sleeps[0] >= 60


@pytest.mark.parametrize("code", ["1015", "1012", "1014", "1003"])
async def test_permanent_codes_stop_at_once(
    server: Scripted, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.send = [_status(code, "Fail"), server.ok_reference()]
    sleeps: list[float] = []
    with pytest.raises(FlexError) as info:
        await _client(server, sleeps).fetch("1")
    assert info.value.permanent and info.value.code == code
    assert f"code {code}" in str(info.value)
    assert sleeps == [] and len(server.seen) == 1
    assert TOKEN not in str(info.value) and TOKEN not in caplog.text
    assert TOKEN not in repr(info.value.__context__) and info.value.__cause__ is None


async def test_gives_up_after_max_wait(server: Scripted) -> None:
    server.send = [server.ok_reference()]
    server.get = [_status("1019")] * 50
    sleeps: list[float] = []
    with pytest.raises(FlexError, match="gave up"):
        await _client(server, sleeps, max_wait_s=30).fetch("1")
    assert sum(sleeps) <= 30


async def test_unreachable_service_error_has_no_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = FlexClient(f"http://127.0.0.1:{port}/x/SendRequest", Secret(TOKEN))
    with pytest.raises(FlexError) as info:
        await client.fetch("1")
    text = f"{info.value!s} {info.value!r} {info.value.__context__!r} {info.value.__cause__!r}"
    assert TOKEN not in text and TOKEN not in caplog.text
    assert "could not reach" in str(info.value)


def test_token_must_be_a_secret() -> None:
    with pytest.raises(TypeError):
        FlexClient("http://127.0.0.1:1/SendRequest", TOKEN)  # type: ignore[arg-type]


def test_missing_token_is_a_clear_error() -> None:
    from config.models import FlexConfig

    with pytest.raises(FlexError, match="PUTDESK_FLEX_TOKEN"):
        FlexClient.from_config(FlexConfig())
