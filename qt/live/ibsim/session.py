"""One client connection of the gateway simulator: its negotiated version, client id and subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from qt.live.ibsim.wire import encode

log = logging.getLogger("qt.live.ibsim.simulator")


class Session:
    """One client connection: its negotiated version, client id and subscriptions."""

    def __init__(self, number: int, writer: asyncio.StreamWriter, version: int, write_limit: int) -> None:
        self.number = number
        self.writer = writer
        self.version = version
        self.client_id: int | None = None
        self.positions_subscribed = False
        self.account_subscribed = False
        self.real_time_bars: dict[int, str] = {}
        self.live_history: dict[int, str] = {}
        self.market_data: dict[int, str] = {}
        self._write_limit = write_limit
        #: Called with (session number, client id, fields) for every message sent (the ``--record`` file).
        self.on_send: Callable[[int, int | None, list[object]], None] | None = None
        self._arrivals: deque[float] = deque()

    def over_rate(self, limit: int) -> bool:
        """Count one message received now; whether more than ``limit`` arrived within the last second."""
        now = time.monotonic()
        self._arrivals.append(now)
        while now - self._arrivals[0] > 1.0:
            self._arrivals.popleft()
        return len(self._arrivals) > limit

    @property
    def open(self) -> bool:
        """Whether the connection can still be written to."""
        return not self.writer.is_closing()

    def send(self, fields: list[object]) -> None:
        """Queue one message; a client that stops reading is disconnected instead of buffering without end."""
        if self.writer.is_closing():
            return
        if self.on_send is not None:
            self.on_send(self.number, self.client_id, fields)
        self.writer.write(encode(fields))
        if self.writer.transport.get_write_buffer_size() > self._write_limit:
            log.warning("ib-gateway: session %d stopped reading; closing it", self.number)
            self.close()

    def close(self) -> None:
        """Close the socket now (the reader loop then ends)."""
        with contextlib.suppress(Exception):
            self.writer.transport.abort()
