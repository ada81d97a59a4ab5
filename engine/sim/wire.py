"""TWS API framing and field encoding: 4-byte big-endian length prefix, NUL-terminated fields.

Encoding follows what a real gateway sends at server version 178: unset doubles are
`1.7976931348623157E308`, unset ints `2147483647`, bools `0`/`1`, `None` an empty field,
Decimals in plain notation (never exponent form).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from decimal import Decimal

UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1
UNSET_DOUBLE_TEXT = "1.7976931348623157E308"
SERVER_VERSION = 178
MIN_CLIENT_VERSION = 157
HEADER = struct.Struct(">I")
MAX_MESSAGE = 16 * 1024 * 1024


def fmt_float(value: float) -> str:
    """A double as TWS writes it (`1.7976931348623157E308` when unset, `1.5`, `100.0`)."""
    if value == UNSET_DOUBLE:
        return UNSET_DOUBLE_TEXT
    if value != value:  # NaN
        return UNSET_DOUBLE_TEXT
    return repr(float(value))


def fmt_decimal(value: Decimal) -> str:
    """A Decimal in plain notation without trailing exponent (`100`, `1.5`)."""
    if not value.is_finite():
        return UNSET_DOUBLE_TEXT
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def fmt(value: object) -> str:
    """One field's text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return fmt_float(value)
    if isinstance(value, Decimal):
        return fmt_decimal(value)
    return str(value)


def frame(payload: bytes) -> bytes:
    """Prefix a payload with its length."""
    return HEADER.pack(len(payload)) + payload


def encode(fields: Iterable[object]) -> bytes:
    """A whole message: length prefix + NUL-terminated fields."""
    payload = "".join(fmt(f) + "\0" for f in fields).encode()
    return HEADER.pack(len(payload)) + payload


def split_fields(payload: bytes) -> list[str]:
    """The text fields of one message payload (the trailing empty element dropped)."""
    parts = payload.decode(errors="backslashreplace").split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


class FrameBuffer:
    """Accumulates socket bytes and yields complete message payloads."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        pos = 0
        n = len(self._buf)
        while n - pos >= 4:
            (size,) = HEADER.unpack_from(self._buf, pos)
            if size > MAX_MESSAGE:
                raise ValueError(f"message too large: {size} bytes")
            end = pos + 4 + size
            if end > n:
                break
            out.append(bytes(self._buf[pos + 4 : end]))
            pos = end
        if pos:
            del self._buf[:pos]
        return out

    def take_raw(self, count: int) -> bytes | None:
        """Remove and return `count` leading raw bytes (the `API\\0` handshake prefix)."""
        if len(self._buf) < count:
            return None
        raw = bytes(self._buf[:count])
        del self._buf[:count]
        return raw

    def __len__(self) -> int:
        return len(self._buf)


def parse_version_range(text: str) -> tuple[int, int] | None:
    """`v157..178` (optionally followed by connect options) -> (157, 178)."""
    head = text.strip().split(" ", 1)[0]
    if not head.startswith("v"):
        return None
    body = head[1:]
    try:
        if ".." in body:
            lo, hi = body.split("..", 1)
            return int(lo), int(hi)
        v = int(body)
    except ValueError:
        return None
    return v, v
