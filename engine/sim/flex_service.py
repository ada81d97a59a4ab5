"""A simulated IBKR Flex Web Service (v3) on 127.0.0.1, serving the book's statements.

`GET .../FlexWebService/SendRequest?t=TOKEN&q=QUERY_ID&v=3[&fd=yyyymmdd&td=yyyymmdd]`
answers a reference code and the GetStatement URL; `GET .../GetStatement?t=TOKEN&q=REF&v=3`
answers 1019 "generation in progress" on the first poll of a reference, then the statement.
Errors as IBKR: 1012 token expired, 1014 invalid query, 1015 invalid token, 1017 invalid
reference code, 1018 too many requests (SendRequest only: more than 1/s or 10/min per
token), 1020 invalid request. A tiny HTTP/1.1 server: one request per connection.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from engine.sim.flex_statements import activity_statement, trade_confirm_statement

ET = ZoneInfo("America/New_York")
BASE_PATH = "/AccountManagement/FlexWebService"
MAX_DAYS = 365

MESSAGES = {
    1012: "Token has expired.",
    1014: "Query is invalid.",
    1015: "Token is invalid.",
    1017: "Reference code is invalid.",
    1018: "Too many requests have been made from this token. Please try again shortly.",
    1019: "Statement generation in progress. Please try again shortly.",
    1020: "Invalid request or unable to validate request.",
}


@dataclass
class _Pending:
    query_id: str
    from_date: date | None
    to_date: date | None
    polls: int = 0


def _timestamp(now: datetime) -> str:
    """IBKR's FlexStatementResponse timestamp: `24 November, 2026 10:48 AM EST`."""
    local = now.astimezone(ET)
    zone = "EDT" if local.dst() else "EST"
    return local.strftime("%d %B, %Y %I:%M %p ") + zone


def _yyyymmdd(text: str) -> date:
    if len(text) != 8 or not text.isdigit():
        raise ValueError(text)
    return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))


class FlexService:
    """The Flex Web Service for one simulated book."""

    def __init__(
        self,
        book: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "simtoken",
        activity_query_id: str = "111111",
        trade_confirm_query_id: str = "222222",
        rate_limit: bool = True,
        token_expired: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.book = book
        self.host = host
        self._requested_port = port
        self.token = token
        self.activity_query_id = activity_query_id
        self.trade_confirm_query_id = trade_confirm_query_id
        self.rate_limit = rate_limit
        self.token_expired = token_expired
        self._monotonic = monotonic
        self._server: asyncio.Server | None = None
        self._pending: dict[str, _Pending] = {}
        self._recent: dict[str, deque[float]] = {}
        self._refs = itertools.count(
            7_000_000_000 + (zlib.crc32(token.encode()) % 1_000_000) * 1000
        )
        self.port = 0
        self.requests = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self._requested_port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def base_url(self) -> str:
        """The SendRequest URL (ibflex.client.REQUEST_URL)."""
        return f"http://{self.host}:{self.port}{BASE_PATH}/SendRequest"

    @property
    def statement_url(self) -> str:
        return f"http://{self.host}:{self.port}{BASE_PATH}/GetStatement"

    def expire_token(self, expired: bool = True) -> None:
        """Make every later request answer 1012 (token expired)."""
        self.token_expired = expired

    # --- HTTP -----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[0] not in {"GET", "POST"}:
            status, body = "400 Bad Request", b""
        else:
            status, body = "200 OK", self.respond(parts[1])
        writer.write(
            (
                f"HTTP/1.1 {status}\r\nContent-Type: text/xml;charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode("ascii")
            + body
        )
        try:
            await writer.drain()
        finally:
            writer.close()

    # --- the service ----------------------------------------------------------------------

    def _now(self) -> datetime:
        now: datetime = self.book.clock.now()
        return now.astimezone(UTC)

    def _error(self, code: int, status: str = "Fail") -> bytes:
        return (
            f'<FlexStatementResponse timestamp="{_timestamp(self._now())}">\n'
            f"<Status>{status}</Status>\n<ErrorCode>{code}</ErrorCode>\n"
            f"<ErrorMessage>{escape(MESSAGES[code])}</ErrorMessage>\n"
            "</FlexStatementResponse>\n"
        ).encode()

    def _throttled(self, token: str) -> bool:
        if not self.rate_limit:
            return False
        now = self._monotonic()
        recent = self._recent.setdefault(token, deque())
        while recent and now - recent[0] >= 60:
            recent.popleft()
        if (recent and now - recent[-1] < 1.0) or len(recent) >= 10:
            return True
        recent.append(now)
        return False

    def respond(self, target: str) -> bytes:
        """The response body for one request target (path + query)."""
        self.requests += 1
        url = urlsplit(target)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        endpoint = url.path.rstrip("/").rsplit("/", 1)[-1]
        token, query = params.get("t", ""), params.get("q", "")
        if endpoint not in {"SendRequest", "GetStatement"} or not token or not query:
            return self._error(1020)
        if params.get("v", "3") != "3":
            return self._error(1020)
        if token != self.token:
            return self._error(1015)
        if self.token_expired:
            return self._error(1012)
        if endpoint == "SendRequest":
            return self._send_request(token, query, params)
        return self._get_statement(query)

    def _send_request(self, token: str, query: str, params: dict[str, str]) -> bytes:
        if self._throttled(token):
            return self._error(1018, "Warn")
        if query not in {self.activity_query_id, self.trade_confirm_query_id}:
            return self._error(1014)
        try:
            fd = _yyyymmdd(params["fd"]) if params.get("fd") else None
            td = _yyyymmdd(params["td"]) if params.get("td") else None
        except ValueError:
            return self._error(1020)
        if fd and td and (td < fd or (td - fd).days >= MAX_DAYS):
            return self._error(1020)
        ref = str(next(self._refs))
        self._pending[ref] = _Pending(query, fd, td)
        return (
            f'<FlexStatementResponse timestamp="{_timestamp(self._now())}">\n'
            f"<Status>Success</Status>\n<ReferenceCode>{ref}</ReferenceCode>\n"
            f"<Url>{self.statement_url}</Url>\n</FlexStatementResponse>\n"
        ).encode()

    def _get_statement(self, ref: str) -> bytes:
        pending = self._pending.get(ref)
        if pending is None:
            return self._error(1017)
        pending.polls += 1
        if pending.polls == 1:
            return self._error(1019, "Warn")
        if pending.query_id == self.trade_confirm_query_id:
            return trade_confirm_statement(self.book, pending.from_date, pending.to_date)
        return activity_statement(self.book, pending.from_date, pending.to_date)
