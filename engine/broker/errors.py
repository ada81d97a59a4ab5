"""Broker failures carry a Reason (stable code + human text); IBKR error codes classified."""

from __future__ import annotations

from engine.domain import Reason

#: IBKR codes that only inform (farm status, warnings ib_async also treats as warnings).
INFO_CODES = frozenset({2104, 2106, 2107, 2108, 2119, 2158, 399, 10167})
#: Codes about the session rather than one request.
CONNECTIVITY_LOST = 1100
RESTORED_DATA_LOST = 1101
RESTORED_DATA_KEPT = 1102
CLIENT_ID_IN_USE = 326
COMPETING_SESSION = 10197
PACING_CODES = frozenset({100, 101, 162})
MARKET_DATA_NOT_SUBSCRIBED = frozenset({354, 10089, 10090, 10168, 10186})


class BrokerError(Exception):
    """Raised by everything in engine.broker when IBKR did not give what was asked for."""

    def __init__(self, reason: Reason):
        self.reason = reason
        super().__init__(str(reason))

    @classmethod
    def of(cls, code: str, text: str) -> BrokerError:
        return cls(Reason(code, text))


def reason_for_ib_error(code: int, message: str) -> Reason:
    """A Reason for one IBKR error code, with putdesk's code namespace `ib.<code>`."""
    known = {
        100: "message rate exceeded (IBKR pacing)",
        101: "too many market-data lines",
        162: "historical data pacing violation",
        200: "no security definition (unknown or ambiguous contract)",
        201: "order rejected",
        202: "order cancelled",
        326: "client id already in use",
        354: "market data not subscribed",
        1100: "connectivity between IBKR and the gateway lost",
        1101: "connectivity restored, market data lost",
        1102: "connectivity restored, data maintained",
        10089: "market data requires an additional subscription",
        10090: "part of the market data is not subscribed",
        10168: "delayed market data not enabled",
        10197: "no market data during a competing live session",
    }
    label = known.get(code, "IBKR error")
    return Reason(f"ib.{code}", f"{label}: {message}" if message else label)
