"""Download Flex statements from the Flex Web Service (v3), with IBKR's error handling.

Two steps, as `ibflex.client` does: SendRequest (token + query id, optional fd/td date
range) answers a reference code and a GetStatement URL; GetStatement is polled until the
statement is ready. Transient codes (1001, 1004-1009, 1019, 1021) are retried with
exponential backoff, 1018 (rate limit) waits at least a minute, permanent codes (1003,
1010-1017, 1020) stop at once with a clear `FlexError`. Every request sends a User-Agent.

The token is a `config.secrets.Secret`: it is revealed only into the query string of the
request and never appears in a log line, an exception message or a stored row (URLs are
logged without their query string).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from config.models import FlexConfig
from config.secrets import Secret, SecretError, get_secret

log = logging.getLogger(__name__)

USER_AGENT = "putdesk/0.1.0 (Python; Flex Web Service v3)"
TRANSIENT = frozenset({"1001", "1004", "1005", "1006", "1007", "1008", "1009", "1019", "1021"})
RATE_LIMIT = "1018"
PERMANENT = frozenset(
    {"1003", "1010", "1011", "1012", "1013", "1014", "1015", "1016", "1017", "1020"}
)
MESSAGES = {
    "1001": "statement could not be generated at this time",
    "1003": "statement is not available",
    "1004": "statement is incomplete at this time",
    "1005": "settlement data is not ready",
    "1006": "FIFO P/L data is not ready",
    "1007": "MTM P/L data is not ready",
    "1008": "MTM and FIFO P/L data are not ready",
    "1009": "the server is under heavy load",
    "1010": "legacy Flex Queries are no longer supported: convert it to an Activity Flex Query",
    "1011": "the Flex service account is inactive",
    "1012": "the Flex token has expired: create a new one in Client Portal (Reports > Settings)",
    "1013": "IP restriction: this address may not use the Flex token",
    "1014": "the Flex query id is invalid",
    "1015": "the Flex token is invalid",
    "1016": "the account is invalid",
    "1017": "the reference code is invalid",
    "1018": "too many requests from this token (limits: 1/s, 10/min)",
    "1019": "statement generation in progress",
    "1020": "invalid request or unable to validate request",
    "1021": "statement could not be retrieved at this time",
}

Sleep = Callable[[float], Awaitable[None]]
Progress = Callable[[str], None]


class FlexError(Exception):
    """A Flex download failed. `code` is IBKR's error code when there is one."""

    def __init__(self, message: str, *, code: str | None = None, permanent: bool = False):
        super().__init__(message)
        self.code = code
        self.permanent = permanent


@dataclass(frozen=True)
class FlexDownload:
    """A downloaded statement and how it was obtained."""

    data: bytes
    query_id: str
    reference_code: str | None
    from_date: dt.date | None
    to_date: dt.date | None
    attempts: int


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes


_TOKEN_PARAM = re.compile(r"([?&]t=)[^&\s\"']+")


class _RedactToken(logging.Filter):
    """Masks `t=<token>` in records of HTTP libraries (urllib3 logs full URLs at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            return True
        if "t=" in text:
            record.msg = _TOKEN_PARAM.sub(r"\1********", text)
            record.args = None
        return True


_REDACTOR = _RedactToken()


def _install_redaction() -> None:
    for name in ("urllib3.connectionpool", "urllib3", "requests"):
        lg = logging.getLogger(name)
        if _REDACTOR not in lg.filters:
            lg.addFilter(_REDACTOR)


def _public(url: str) -> str:
    """A URL without its query string (where the token travels), safe to log."""
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path, "", ""))


class FlexClient:
    """Flex Web Service client. Use `FlexClient.from_config(cfg.flex)` in the engine."""

    def __init__(
        self,
        base_url: str,
        token: Secret,
        *,
        user_agent: str = USER_AGENT,
        max_wait_s: float = 300.0,
        request_timeout_s: float = 30.0,
        poll_initial_s: float = 5.0,
        poll_max_s: float = 60.0,
        rate_limit_wait_s: float = 60.0,
        sleep: Sleep | None = None,
    ):
        if not isinstance(token, Secret):
            raise TypeError("token must be a config.secrets.Secret")
        self.base_url = base_url
        self._token = token
        self.user_agent = user_agent
        self.max_wait_s = max_wait_s
        self.request_timeout_s = request_timeout_s
        self.poll_initial_s = poll_initial_s
        self.poll_max_s = poll_max_s
        self.rate_limit_wait_s = max(rate_limit_wait_s, 0.0)
        self._sleep: Sleep = sleep or asyncio.sleep
        self.waited_s = 0.0
        self.requests = 0
        _install_redaction()

    @classmethod
    def from_config(cls, flex: FlexConfig, **kw: object) -> FlexClient:
        """Build from the `flex:` settings; the token comes from env or an owner-only file."""
        try:
            token = get_secret(flex.token_env, flex.token_file)
        except SecretError as exc:
            raise FlexError(f"the Flex token could not be read: {exc}", permanent=True) from None
        if token is None:
            where = f"${flex.token_env}" + (f" or {flex.token_file}" if flex.token_file else "")
            raise FlexError(
                f"no Flex token: set {where} (Client Portal > Reports > Settings > Flex Web "
                "Service)",
                permanent=True,
            )
        return cls(flex.base_url, token, max_wait_s=flex.max_wait_s, **kw)  # type: ignore[arg-type]

    # --- HTTP ----------------------------------------------------------------------------

    def _get_sync(self, url: str, params: dict[str, str]) -> _Reply:
        import requests

        try:
            r = requests.get(
                url,
                params={**params, "t": self._token.reveal(), "v": "3"},
                headers={"User-Agent": self.user_agent},
                timeout=self.request_timeout_s,
            )
        except requests.RequestException as exc:
            kind = type(exc).__name__
            failure = FlexError(
                f"could not reach the Flex Web Service at {_public(url)} ({kind})", code=None
            )
        else:
            return _Reply(r.status_code, r.content)
        raise failure

    async def _get(self, url: str, params: dict[str, str]) -> _Reply:
        self.requests += 1
        log.debug("Flex GET %s q=%s", _public(url), params.get("q"))
        return await asyncio.to_thread(self._get_sync, url, params)

    async def _wait(self, seconds: float, why: str, progress: Progress | None) -> None:
        if self.waited_s + seconds > self.max_wait_s:
            raise FlexError(
                f"gave up after waiting {self.waited_s:.0f}s for the Flex Web Service ({why}); "
                f"limit flex.max_wait_s={self.max_wait_s:g}",
                code=None,
            )
        self.waited_s += seconds
        msg = f"Flex: {why}; retrying in {seconds:g}s"
        log.info(msg)
        if progress is not None:
            progress(msg)
        await self._sleep(seconds)

    # --- protocol ------------------------------------------------------------------------

    @staticmethod
    def _status(body: bytes) -> tuple[str, ET.Element | None]:
        """('statement', None) | ('response', element) | ('bad', None)."""
        if b"<FlexQueryResponse" in body[:4096]:
            return "statement", None
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return "bad", None
        if root.tag == "FlexStatementResponse":
            return "response", root
        return "bad", None

    def _error_of(self, root: ET.Element, step: str) -> FlexError:
        code = (root.findtext("ErrorCode") or "").strip() or None
        text = (root.findtext("ErrorMessage") or "").strip()
        known = MESSAGES.get(code or "", text or "unknown error")
        return FlexError(
            f"Flex {step} failed with code {code}: {known}",
            code=code,
            permanent=(code in PERMANENT) or code is None,
        )

    async def _call(
        self, step: str, url: str, params: dict[str, str], progress: Progress | None
    ) -> tuple[str, ET.Element | None, bytes]:
        """One step with retries; returns the final ('statement'|'response', root, body)."""
        delay = self.poll_initial_s
        while True:
            reply = await self._get(url, params)
            if reply.status >= 500 or reply.status == 429:
                await self._wait(delay, f"{step}: HTTP {reply.status}", progress)
                delay = min(delay * 2, self.poll_max_s)
                continue
            if reply.status >= 400:
                raise FlexError(
                    f"Flex {step} was refused with HTTP {reply.status} by {_public(url)}",
                    permanent=True,
                )
            kind, root = self._status(reply.body)
            if kind == "statement":
                return kind, None, reply.body
            if kind == "bad" or root is None:
                raise FlexError(
                    f"Flex {step} answered something that is neither a statement nor a "
                    f"status ({len(reply.body)} bytes from {_public(url)})"
                )
            status = (root.findtext("Status") or "").strip()
            if status == "Success":
                return "response", root, reply.body
            err = self._error_of(root, step)
            if err.code == RATE_LIMIT:
                await self._wait(
                    max(self.rate_limit_wait_s, delay), f"{step}: code 1018 rate limit", progress
                )
                continue
            if err.code in TRANSIENT:
                await self._wait(delay, f"{step}: code {err.code} {MESSAGES[err.code]}", progress)
                delay = min(delay * 2, self.poll_max_s)
                continue
            raise err

    async def fetch(
        self,
        query_id: str,
        *,
        from_date: dt.date | None = None,
        to_date: dt.date | None = None,
        progress: Progress | None = None,
    ) -> FlexDownload:
        """Request and download one statement (dates: at most 365 days, IBKR's limit)."""
        if from_date and to_date and (to_date - from_date).days >= 365:
            raise FlexError("a Flex request may cover at most 365 days", permanent=True)
        self.waited_s = 0.0
        self.requests = 0
        params = {"q": query_id}
        if from_date is not None:
            params["fd"] = from_date.strftime("%Y%m%d")
        if to_date is not None:
            params["td"] = to_date.strftime("%Y%m%d")
        if progress:
            progress(f"Flex: requesting query {query_id}")
        kind, root, body = await self._call("SendRequest", self.base_url, params, progress)
        if kind == "statement":
            return FlexDownload(body, query_id, None, from_date, to_date, self.requests)
        assert root is not None
        ref = (root.findtext("ReferenceCode") or "").strip()
        url = (root.findtext("Url") or "").strip() or self.base_url.replace(
            "SendRequest", "GetStatement"
        )
        if not ref:
            raise FlexError("Flex SendRequest succeeded but gave no reference code")
        if progress:
            progress(f"Flex: statement {ref} requested; downloading")
        kind, root, body = await self._call("GetStatement", url, {"q": ref}, progress)
        if kind != "statement":
            raise FlexError("Flex GetStatement answered a status instead of the statement")
        log.info("Flex: downloaded %d bytes for query %s", len(body), query_id)
        return FlexDownload(body, query_id, ref, from_date, to_date, self.requests)
