r"""The TWS API wire format: length-prefixed frames of NUL-terminated text fields, message ids, versions.

A frame is a 4-byte big-endian length followed by the message; a message is text fields
each ended by a NUL byte, the first field being the message id. The handshake differs:
the client opens with ``API\0`` and a frame holding ``v{min}..{max}``; the server answers
a frame of two fields, its version and the connection time.
"""

from __future__ import annotations

import asyncio
import math
import re
import struct
from collections.abc import Iterable
from enum import IntEnum

#: The server version the simulator answers unless told otherwise (ib_async 2.1.0 speaks 157..178).
SERVER_VERSION = 178
#: The server versions the simulator can encode messages for.
SUPPORTED_SERVER_VERSIONS = range(157, 179)
#: IB's "no value" sentinels, as ib_async sends them when not blanked.
UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1
#: Largest frame the simulator accepts from a client (IB's own limit is 16 MB).
MAX_FRAME = 16 * 1024 * 1024

_HEADER = struct.Struct(">I")
_VERSION_RANGE = re.compile(r"^v(\d+)(?:\.\.(\d+))?(?: .*)?$")


class InMsg(IntEnum):
    """Ids of the client-to-gateway messages the simulator understands."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCOUNT_UPDATES = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DETAILS = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCOUNTS = 17
    REQ_HISTORICAL_DATA = 20
    CANCEL_HISTORICAL_DATA = 25
    REQ_CURRENT_TIME = 49
    REQ_REAL_TIME_BARS = 50
    CANCEL_REAL_TIME_BARS = 51
    REQ_GLOBAL_CANCEL = 58
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_COMPLETED_ORDERS = 99


class OutMsg(IntEnum):
    """Ids of the gateway-to-client messages the simulator sends."""

    ORDER_STATUS = 3
    ERROR = 4
    OPEN_ORDER = 5
    ACCOUNT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCOUNT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCOUNTS = 15
    HISTORICAL_DATA = 17
    CURRENT_TIME = 49
    REAL_TIME_BARS = 50
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCOUNT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    HISTORICAL_DATA_UPDATE = 90
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102


class WireError(Exception):
    """A peer broke the framing or the handshake (the session is closed, nothing is raised to users)."""


def field_text(value: object) -> str:
    """One field as TWS writes it: bools as 1/0, None and IB's unset sentinels as empty, floats without noise.

    Examples
    --------
    >>> [field_text(v) for v in (True, None, 1.5, 100.0, 7, "AAPL")]
    ['1', '', '1.5', '100', '7', 'AAPL']
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if value is None:
        return ""
    if kind is bool:
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value) or value == UNSET_DOUBLE:
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, int):
        return "" if value == UNSET_INTEGER else str(value)
    return str(value)


def encode(fields: Iterable[object]) -> bytes:
    r"""One framed message from its fields.

    Examples
    --------
    >>> encode([9, 1, 12])
    b'\x00\x00\x00\x079\x001\x0012\x00'
    """
    body = "".join(field_text(f) + "\0" for f in fields).encode()
    return _HEADER.pack(len(body)) + body


def encode_handshake_reply(server_version: int, connection_time: str) -> bytes:
    """The server's answer to the handshake: version and connection time, framed like any message."""
    return encode([server_version, connection_time])


def decode(body: bytes) -> list[str]:
    r"""The fields of one message body (the frame without its length prefix).

    Examples
    --------
    >>> decode(b'71\x002\x007\x00\x00')
    ['71', '2', '7', '']
    """
    text = body.decode(errors="backslashreplace")
    fields = text.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


def parse_version_range(text: str) -> tuple[int, int]:
    """The client's ``v{min}..{max}`` (optionally followed by connect options) as two ints.

    Examples
    --------
    >>> parse_version_range("v157..178")
    (157, 178)
    >>> parse_version_range("v100")
    (100, 100)
    """
    match = _VERSION_RANGE.match(text.strip())
    if match is None:
        raise WireError(f"handshake: expected 'v<min>..<max>', got {text[:40]!r}")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    return low, high


async def read_frame(reader: asyncio.StreamReader, timeout: float | None) -> bytes:
    """The body of the next frame; EOF raises IncompleteReadError, silence past ``timeout`` TimeoutError."""
    header = await asyncio.wait_for(reader.readexactly(4), timeout)
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise WireError(f"frame of {size} bytes is larger than {MAX_FRAME}")
    return await asyncio.wait_for(reader.readexactly(size), timeout)


async def read_handshake(reader: asyncio.StreamReader, timeout: float) -> tuple[int, int]:
    r"""Read ``API\0`` and the version frame; returns the client's (min, max) versions."""
    prefix = await asyncio.wait_for(reader.readexactly(4), timeout)
    if prefix != b"API\0":
        raise WireError(f"handshake: expected b'API\\0', got {prefix!r}")
    body = await read_frame(reader, timeout)
    return parse_version_range(body.decode(errors="replace"))
