"""Pacing: at most N messages in any one-second window, the rest queued in order and sent as the window frees.

IB disconnects a client that sends more than 50 messages in a second; ib_async throttles itself
to 45. qt's orders and cancels go through this pacer first (default 40 a second), so a burst is
spread over time, never dropped: what waits is visible (``waiting``) and can be withdrawn.
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
    """Sends ``send()`` callables at most ``rate`` per ``window`` seconds, in arrival order.

    Examples
    --------
    >>> sent = []
    >>> p = Pacer(rate=2, clock=lambda: 0.0)
    >>> for k in "abc":
    ...     p.submit(k, lambda k=k: sent.append(k))
    >>> sent, p.waiting()
    (['a', 'b'], ['c'])
    """

    def __init__(self, *, rate: int, window: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.window, self.clock = rate, window, clock
        self._times: deque[float] = deque()
        self._queue: deque[_Job] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def submit(self, key: str, send: Callable[[], None]) -> bool:
        """Send now if the window allows (True), else queue it behind the others (False)."""
        self._queue.append(_Job(key, send))
        self.drain()
        return not any(j.key == key for j in self._queue)

    def drain(self) -> None:
        """Send what the window allows; schedule the rest on the running loop."""
        self._timer = None
        now = self.clock()
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        while self._queue and len(self._times) < self.rate:
            job = self._queue.popleft()
            self._times.append(now)
            job.send()
        if self._queue and self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            delay = max(0.0, self._times[0] + self.window - now) + 1e-3
            self._timer = loop.call_later(delay, self.drain)

    def waiting(self) -> list[str]:
        """Keys still queued, oldest first."""
        return [j.key for j in self._queue]

    def withdraw(self, key: str | None = None) -> list[str]:
        """Remove ``key`` (or everything) from the queue; the keys removed."""
        gone = [j.key for j in self._queue if key is None or j.key == key]
        self._queue = deque(j for j in self._queue if not (key is None or j.key == key))
        if not self._queue and self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return gone
