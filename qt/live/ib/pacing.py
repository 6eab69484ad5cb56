"""Pacing: a token bucket (a small burst, then an even rate), the rest queued in order and sent as tokens come.

IB disconnects a client that sends more than 50 messages in a second, and ib_async's own throttle
(45 per window, sent in clumps) can exceed that in the gateway's own count when its loop is busy.
qt's orders, cancels, contract and history requests and subscriptions go through this pacer first:
at most ``burst`` at once, then evenly ``rate`` a second, so any one-second window holds at most
``burst + rate`` of them. A burst is spread over time, never dropped: what waits is visible
(``waiting``) and can be withdrawn.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Job:
    key: str
    send: Callable[[], None]


class Pacer:
    """Sends ``send()`` callables in arrival order, ``burst`` at once then ``rate`` per second.

    Examples
    --------
    >>> sent = []
    >>> p = Pacer(rate=2, burst=2, clock=lambda: 0.0)
    >>> [p.submit(k, lambda k=k: sent.append(k)) for k in "abc"]
    [True, True, False]
    >>> sent, p.waiting()
    (['a', 'b'], ['c'])
    """

    def __init__(self, *, rate: float, burst: int = 5, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._tokens = float(burst)
        self._at = clock()
        self._queue: deque[_Job] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def below(cls, per_second: int, burst: int = 10) -> Pacer:
        """A pacer whose every one-second window holds at most ``per_second`` messages, ``burst`` of them at once."""
        burst = max(1, min(burst, per_second - 1))
        return cls(rate=per_second - burst, burst=burst)

    def submit(self, key: str, send: Callable[[], None]) -> bool:
        """Send now if a token is free (True), else queue it behind the others (False)."""
        self._queue.append(_Job(key, send))
        self.drain()
        return not any(j.key == key for j in self._queue)

    async def turn(self) -> None:
        """Wait for a token (for requests that are awaited, such as contract details and history)."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def release() -> None:
            if not ready.done():
                ready.set_result(None)

        self.submit(f"request:{id(ready)}", release)
        await ready

    def drain(self) -> None:
        """Send what the tokens allow; schedule the rest on the running loop."""
        self._timer = None
        now = self.clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now
        while self._queue and self._tokens >= 1.0:
            job = self._queue.popleft()
            self._tokens -= 1.0
            job.send()
        if self._queue and self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.call_later((1.0 - self._tokens) / self.rate + 1e-4, self.drain)

    def waiting(self) -> list[str]:
        """Keys still queued, oldest first."""
        return [j.key for j in self._queue]

    def withdraw_prefix(self, prefix: str) -> list[str]:
        """Remove every queued key starting with ``prefix``; the keys removed."""
        return [k for k in self.waiting() if k.startswith(prefix) for _ in self.withdraw(k)]

    def withdraw(self, key: str | None = None) -> list[str]:
        """Remove ``key`` (or everything) from the queue; the keys removed."""
        gone = [j.key for j in self._queue if key is None or j.key == key]
        self._queue = deque(j for j in self._queue if not (key is None or j.key == key))
        if not self._queue and self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return gone
