"""Fixtures for tests that talk to the IB gateway simulator with the real ib_async client.

Every test here runs under ``ib_log_guard`` (autouse): ib_async logs a malformed message instead
of raising, so a decoder error (or any ib_async log line about parsing) fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from qt.live.ibsim.simulator import GatewaySimulator
from qt.testing.panels import daily_panel

#: Messages ib_async logs when it cannot make sense of what it received.
PARSE_ERRORS = re.compile(
    r"Error handling fields|Error for \w+\(|No order found for orderId|Unknown reqId|"
    r"unpack|could not convert|invalid literal|IndexError|ValueError|TypeError"
)


class IbLogGuard(logging.Handler):
    """Collects ib_async's decoder errors and parsing complaints."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" [{record.exc_info[1]!r}]"
        decoder = record.name.lower().startswith("ib_async.decoder") and record.levelno >= logging.WARNING
        if decoder or (record.levelno >= logging.ERROR and PARSE_ERRORS.search(text)):
            self.problems.append(f"{record.name} {record.levelname}: {text}")


@pytest.fixture(autouse=True)
def ib_log_guard() -> Any:
    """Fail the test if ib_async logged a decoder error or a parsing complaint while it ran."""
    guard = IbLogGuard()
    logger = logging.getLogger("ib_async")
    old_level = logger.level
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    logger.addHandler(guard)
    try:
        yield guard
    finally:
        logger.removeHandler(guard)
        logger.setLevel(old_level)
    if guard.problems:
        pytest.fail("ib_async reported decoder/parsing errors:\n" + "\n".join(guard.problems), pytrace=False)


@pytest.fixture
def panel() -> Any:
    """Three stocks over eight days; the closes are the numbers tests check fills against."""
    close = [
        [100.0, 200.0, 10.0],
        [101.0, 201.0, 11.0],
        [102.0, 202.0, 12.0],
        [103.0, 203.0, 13.0],  # bar 3: "now" when the gateway starts with start=3
        [104.0, 204.0, 14.0],
        [105.0, 205.0, 15.0],
        [106.0, 206.0, 16.0],
        [107.0, 207.0, 17.0],
    ]
    volume = [[1000.0 * (i + 1)] * 3 for i in range(8)]
    return daily_panel(close, symbols=["AAPL", "MSFT", "GE"], start="2024-01-01", volume=volume)


Body = Callable[[GatewaySimulator], Awaitable[Any]]


@pytest.fixture
def run_gateway(panel: Any) -> Callable[..., Any]:
    """``run_gateway(body, **simulator_kwargs)``: start a simulator on port 0, await ``body(gw)``, stop it.

    The whole run is capped at ``timeout`` seconds; any failure inside the simulator's handlers fails the test.
    """

    def run(body: Body, *, timeout: float = 10.0, **kwargs: Any) -> Any:
        kwargs.setdefault("panel", panel)
        kwargs.setdefault("start", 3)

        async def main() -> Any:
            gw = GatewaySimulator(**kwargs)
            await gw.start()
            try:
                return await asyncio.wait_for(body(gw), timeout)
            finally:
                await gw.stop()
                assert gw.errors == [], gw.errors

        return asyncio.run(main())

    return run


@pytest.fixture
def connect() -> Callable[..., contextlib.AbstractAsyncContextManager[Any]]:
    """``async with connect(gw, client_id=7) as ib``: a real ib_async IB connected with raiseSyncErrors=True."""

    @contextlib.asynccontextmanager
    async def connected(gw: GatewaySimulator, client_id: int = 7, timeout: float = 3.0) -> AsyncIterator[Any]:
        from ib_async import IB

        ib = IB()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=client_id, timeout=timeout, raiseSyncErrors=True)
        try:
            yield ib
        finally:
            ib.disconnect()

    return connected
