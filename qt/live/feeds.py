"""Where live bars come from: a feed yields bars as they arrive and says when the next one is due.

``ReplayFeed`` replays a data source's bars from ``live.start``: as fast as possible, at
``live.speed`` (a multiple of market time: ``60`` is a minute of market time per second), or at
``live.bar_seconds`` (wall seconds per bar: ``0.24`` plays a year of daily bars in a minute). It is
a rehearsal of live trading on history. The IB feed lives in ``qt/live/ib``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from qt.data.panel import BarPanel
from qt.live.history import BarRow

if TYPE_CHECKING:
    from qt.live.settings import LiveSettings


@runtime_checkable
class Feed(Protocol):
    """Bars in time order, and when the bar after a given one is due."""

    def bars(self) -> AsyncIterator[BarRow]:
        """The bars, as they arrive."""
        ...

    def next_due(self, after: np.datetime64) -> np.datetime64 | None:
        """The time of the bar expected after ``after`` (None: no more bars are expected)."""
        ...


def expected_bars(feed: object) -> int | None:
    """How many bars ``feed`` will deliver in all (a replay knows; a real-time feed does not: None)."""
    n = getattr(feed, "expected", None)
    return int(n) if isinstance(n, int) else None


class ReplayFeed:
    """Bars ``start`` .. end of ``panel``, paced by ``speed`` (x market time) or ``bar_seconds`` (wall s per bar).

    Neither set: as fast as possible. The pace is kept against the wall clock from the first bar
    (bar k is due ``k * pace`` after it), so the time the session spends on a bar does not add up
    over the replay. ``stall_after`` (tests and rehearsals) stops delivering after that many bars, as
    a feed that went silent would.

    Examples
    --------
    >>> from qt.data.sources.synthetic import SyntheticData
    >>> panel = SyntheticData(n_assets=2, n_days=10).load()
    >>> ReplayFeed(panel, start=4, bar_seconds=0.5).expected
    6
    """

    replayable = True  # a restart replays the same bars: the driver may commit their records in groups

    def __init__(
        self,
        panel: BarPanel,
        *,
        start: int,
        speed: float | None = None,
        bar_seconds: float | None = None,
        stall_after: int | None = None,
    ) -> None:
        if speed is not None and bar_seconds is not None:
            raise ValueError("a replay is paced by speed or by bar_seconds, not both")
        for name, value in (("speed", speed), ("bar_seconds", bar_seconds)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        self.panel = panel
        self.start = start
        self.speed = speed
        self.bar_seconds = bar_seconds
        self.stall_after = stall_after
        self._times = panel.timestamps

    @classmethod
    def from_settings(cls, panel: BarPanel, *, start: int, settings: LiveSettings) -> ReplayFeed:
        """The replay ``live.speed`` / ``live.bar_seconds`` / ``live.stall_after`` describe, from bar ``start``."""
        speed = None if settings.speed == "max" else float(settings.speed)
        bar_seconds = getattr(settings, "bar_seconds", None)
        return cls(panel, start=start, speed=speed, bar_seconds=bar_seconds, stall_after=settings.stall_after)

    @property
    def expected(self) -> int:
        """Bars this replay delivers (fewer when ``stall_after`` silences it)."""
        n = max(self.panel.n_bars - self.start, 0)
        return n if self.stall_after is None else min(n, self.stall_after)

    def offset(self, t: int) -> float:
        """Wall seconds from the first replayed bar to bar ``t`` (0 at max speed)."""
        if self.bar_seconds is not None:
            return (t - self.start) * self.bar_seconds
        if self.speed is not None:
            market = (self._times[t] - self._times[self.start]) / np.timedelta64(1, "s")
            return float(market) / self.speed
        return 0.0

    async def bars(self) -> AsyncIterator[BarRow]:
        """Each bar from ``start`` on, each at its due time (at once at max speed)."""
        fields = self.panel.fields
        paced = self.speed is not None or self.bar_seconds is not None
        began = time.monotonic()
        for k, t in enumerate(range(self.start, self.panel.n_bars)):
            if self.stall_after is not None and k >= self.stall_after:
                await asyncio.Event().wait()  # silent forever: the driver's stale-data watchdog must notice
            wait = began + self.offset(t) - time.monotonic() if paced else 0.0
            await asyncio.sleep(max(wait, 0.0))
            yield BarRow(self._times[t], {f: a[t] for f, a in fields.items()})

    def next_due(self, after: np.datetime64) -> np.datetime64 | None:
        """The data's next bar time after ``after`` (the rehearsal follows the data's own calendar)."""
        i = int(np.searchsorted(self._times, after, side="right"))
        return self._times[i] if i < len(self._times) else None
